/**
 * CairnDashboard: one CloudWatch dashboard for the whole deployment. Per source: reconciles,
 * failures, stalls, stacks changed, drift, push-to-apply latency; for the pipeline: queue age,
 * dead letters, the functions' errors and throttles, the alarms, and the latest warnings and
 * reconcile outcomes from the logs.
 */
import { Duration } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  LogQueryWidget,
  MathExpression,
  TextWidget,
  type IAlarm,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { MetricName } from '../adapters/powertools-sink.js';
import { sourceMetric } from './metrics.js';

const PERIOD = Duration.minutes(5);

export interface CairnDashboardProps {
  dashboardName: string;
  sources: string[];
  /** The webhook Function URL, ending in `/`. */
  webhookUrl: string;
  queue: IQueue;
  deadLetterQueue: IQueue;
  functions: Record<string, IFunction>;
  logGroups: ILogGroup[];
  alarms: IAlarm[];
}

export class CairnDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: CairnDashboardProps) {
    super(scope, id);
    const { sources } = props;
    // One line per source, labelled with its name.
    const perSource = (name: MetricName, statistic = 'Sum'): IMetric[] =>
      sources.map((s) => sourceMetric(name, s, { statistic, period: PERIOD, label: s }));
    const graph = (title: string, left: IMetric[], unit?: string): GraphWidget =>
      new GraphWidget({ title, left, width: 8, height: 6, period: PERIOD, leftYAxis: { min: 0, ...(unit ? { label: unit, showUnits: false } : {}) } });

    const stacksChanged = (source: string, index: number): IMetric => {
      const m = (name: 'StacksCreated' | 'StacksUpdated' | 'StacksDeleted'): IMetric =>
        sourceMetric(name, source, { statistic: 'Sum', period: PERIOD });
      // FILL: a period with updates but no creates must still add up, not vanish. Ids are per
      // source because one graph holds every source's expression.
      return new MathExpression({
        expression: `FILL(created${index}, 0) + FILL(updated${index}, 0) + FILL(deleted${index}, 0)`,
        usingMetrics: { [`created${index}`]: m('StacksCreated'), [`updated${index}`]: m('StacksUpdated'), [`deleted${index}`]: m('StacksDeleted') },
        label: source,
        period: PERIOD,
      });
    };

    const hooks = sources.map((s) => `| ${s} | \`${props.webhookUrl}hooks/${s}\` |`).join('\n');
    const fns = Object.entries(props.functions);
    // Room for the title, the table header and one row per source.
    const headerHeight = Math.max(6, 4 + sources.length);

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(6),
      widgets: [
        [
          new TextWidget({
            markdown: `# Cairn\nGitOps for CloudFormation: each push reconciles its source.\n\n| Source | Webhook address |\n| --- | --- |\n${hooks}`,
            width: 12,
            height: headerHeight,
          }),
          new AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: 12, height: headerHeight }),
        ],
        [
          graph('Reconciles succeeded', perSource('ReconcilesSucceeded')),
          graph('Reconcile failures (retried)', perSource('ReconcilesFailed')),
          graph('Stalled reconciles (a person must act)', perSource('ReconcilesStalled')),
        ],
        [
          graph('Stacks changed (created + updated + deleted)', sources.map(stacksChanged)),
          graph('Drifted stacks detected', perSource('DriftedStacks')),
          graph(
            'Push-to-apply latency (p50, p90)',
            sources.flatMap((s) => [
              sourceMetric('PushToApplyLatency', s, { statistic: 'p50', period: PERIOD, label: `${s} p50` }),
              sourceMetric('PushToApplyLatency', s, { statistic: 'p90', period: PERIOD, label: `${s} p90` }),
            ]),
            'ms',
          ),
        ],
        [
          graph(
            'Work queue: age of oldest message',
            [props.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: PERIOD, label: 'oldest message' })],
            'seconds',
          ),
          graph('Dead-letter queue: messages', [
            props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: PERIOD, label: 'dead letters' }),
          ]),
          graph('Reconcile step duration (p90)', perSource('ReconcileDuration', 'p90'), 'ms'),
        ],
        [
          graph('Function errors', fns.map(([name, fn]) => fn.metricErrors({ statistic: 'Sum', period: PERIOD, label: name }))),
          graph('Function throttles', fns.map(([name, fn]) => fn.metricThrottles({ statistic: 'Sum', period: PERIOD, label: name }))),
          graph('Function duration (p90)', fns.map(([name, fn]) => fn.metricDuration({ statistic: 'p90', period: PERIOD, label: name })), 'ms'),
        ],
        [
          new LogQueryWidget({
            title: 'Reconcile outcomes',
            logGroupNames: props.logGroups.map((g) => g.logGroupName),
            queryLines: [
              'fields @timestamp, source, outcome, summary, commit',
              'filter event = "reconcile.finished"',
              'sort @timestamp desc',
              'limit 50',
            ],
            width: 12,
            height: 8,
          }),
          new LogQueryWidget({
            title: 'Warnings and errors',
            logGroupNames: props.logGroups.map((g) => g.logGroupName),
            queryLines: [
              'fields @timestamp, @log, level, source, message',
              'filter level in ["WARN", "ERROR", "CRITICAL"]',
              'sort @timestamp desc',
              'limit 50',
            ],
            width: 12,
            height: 8,
          }),
        ],
      ],
    });
  }
}
