/**
 * CairnAlarms: what a person must hear about. The dead-letter queue is not empty; a source's
 * reconciles keep failing; a source is stalled (a person must act on the commit); drift was
 * detected. Each notifies an SNS topic made for the listed email addresses and/or an existing
 * topic, on alarm and on recovery.
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData, type IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { sourceMetric } from './metrics.js';

/** A transient failure retries once and clears; two within this window mean it keeps failing. */
export const FAILURE_WINDOW = Duration.minutes(30);
export const FAILURE_THRESHOLD = 2;

export interface CairnAlarmsProps {
  /** Prefix of every alarm name, so two Cairn stacks in one account stay apart. */
  namePrefix: string;
  sources: string[];
  deadLetterQueue: IQueue;
  sweepIntervalMinutes: number;
  emails: string[];
  topicArn: string | undefined;
}

export class CairnAlarms extends Construct {
  readonly alarms: Alarm[] = [];
  /** Created when email addresses are configured. */
  readonly topic: Topic | undefined;

  constructor(scope: Construct, id: string, props: CairnAlarmsProps) {
    super(scope, id);
    const topics: ITopic[] = [];
    if (props.emails.length > 0) {
      this.topic = new Topic(this, 'Topic', { displayName: `${props.namePrefix} alarms`, enforceSSL: true });
      for (const email of props.emails) this.topic.addSubscription(new EmailSubscription(email));
      topics.push(this.topic);
    }
    if (props.topicArn) topics.push(Topic.fromTopicArn(this, 'ExistingTopic', props.topicArn));
    const actions: IAlarmAction[] = topics.map((t) => new SnsAction(t));

    // Stalled and drift are re-reported by every sweep while they last; two sweep intervals per
    // period keep the alarm in ALARM between sweeps instead of flapping (at most one day).
    const sweepPeriod = Duration.minutes(Math.min(2 * props.sweepIntervalMinutes, 24 * 60));

    const add = (alarm: Alarm): void => {
      for (const action of actions) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
      this.alarms.push(alarm);
    };

    add(
      new Alarm(this, 'DeadLetters', {
        alarmName: `${props.namePrefix}-dead-letters`,
        alarmDescription:
          'Work messages reached the dead-letter queue: they failed every receive or name an unknown source. ' +
          'Read them, fix the cause, then redrive or purge (docs/deploy.md).',
        metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );

    for (const source of props.sources) {
      add(
        new Alarm(this, `ReconcileFailures-${source}`, {
          alarmName: `${props.namePrefix}-${source}-reconcile-failures`,
          alarmDescription: `Reconciles of ${source} keep failing (transient errors that did not clear on retry). The reconcile function's log says why.`,
          metric: sourceMetric('ReconcilesFailed', source, { statistic: 'Sum', period: FAILURE_WINDOW }),
          threshold: FAILURE_THRESHOLD,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      add(
        new Alarm(this, `Stalled-${source}`, {
          alarmName: `${props.namePrefix}-${source}-stalled`,
          alarmDescription: `${source} is stalled: a person must act (invalid repository, blocked change, failed stack). The commit status and the reconcile log say what to change.`,
          metric: sourceMetric('ReconcilesStalled', source, { statistic: 'Sum', period: sweepPeriod }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      add(
        new Alarm(this, `Drift-${source}`, {
          alarmName: `${props.namePrefix}-${source}-drift`,
          alarmDescription: `Drift detected on stacks of ${source}: resources were changed outside Git. The sweep's log lists each drifted resource and property.`,
          metric: sourceMetric('DriftedStacks', source, { statistic: 'Sum', period: sweepPeriod }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }
  }
}
