/**
 * PowertoolsSink: Cairn's events in Lambda, as one structured JSON log line per event (Powertools
 * Logger) and CloudWatch metrics in the Embedded Metric Format (Powertools Metrics), namespace
 * `Cairn`, one dimension `Source`. Metrics are buffered per source and written by `flush()` at the
 * end of an invocation, because one batch can hold several sources and an EMF record has one
 * dimension set. METRICS names what the CDK dashboard and alarms query.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { summariseChanges } from '../core/protection.js';
import type { CairnEvent, EventSink } from '../ports/events.js';
import { logger as functionLogger, SERVICE_NAME } from './lambda-logger.js';

export { SERVICE_NAME };

export const METRICS_NAMESPACE = 'Cairn';
export const SOURCE_DIMENSION = 'Source';

/** Every metric Cairn publishes, by the name CloudWatch shows. */
export const METRICS = {
  /** A reconcile that left the source in sync. */
  ReconcilesSucceeded: 'ReconcilesSucceeded',
  /** A reconcile that failed and will be retried (transient). */
  ReconcilesFailed: 'ReconcilesFailed',
  /** A reconcile that needs a person: invalid repository, blocked change, failed stack. */
  ReconcilesStalled: 'ReconcilesStalled',
  /**
   * What a commit's steps did, from the counts of the `reconcile.finished` that reports the commit
   * applied or stalled (run-tally.ts): the numbers its summary and commit status show.
   */
  StacksCreated: 'StacksCreated',
  StacksUpdated: 'StacksUpdated',
  StacksDeleted: 'StacksDeleted',
  /** Stacks whose drift was reverted to their templates. */
  StacksReverted: 'StacksReverted',
  /** Resources replaced inside the updated stacks. */
  ResourcesReplaced: 'ResourcesReplaced',
  /** Stacks already in sync, per reconcile that reports a commit applied. */
  StacksUnchanged: 'StacksUnchanged',
  /** Wall time of one reconcile step that did not fail, milliseconds. */
  ReconcileDuration: 'ReconcileDuration',
  /** From the push reaching Cairn to its change set executing, milliseconds. */
  PushToApplyLatency: 'PushToApplyLatency',
  DriftedStacks: 'DriftedStacks',
  DriftedResources: 'DriftedResources',
  /** Stack changes refused by a policy (destructive change protection). */
  StacksBlocked: 'StacksBlocked',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Counts add up before publishing; timings keep every sample so percentiles stay right. */
const UNITS: Record<MetricName, { unit: Unit; kind: 'count' | 'sample' }> = {
  ReconcilesSucceeded: { unit: MetricUnit.Count, kind: 'count' },
  ReconcilesFailed: { unit: MetricUnit.Count, kind: 'count' },
  ReconcilesStalled: { unit: MetricUnit.Count, kind: 'count' },
  StacksCreated: { unit: MetricUnit.Count, kind: 'count' },
  StacksUpdated: { unit: MetricUnit.Count, kind: 'count' },
  StacksDeleted: { unit: MetricUnit.Count, kind: 'count' },
  StacksReverted: { unit: MetricUnit.Count, kind: 'count' },
  ResourcesReplaced: { unit: MetricUnit.Count, kind: 'count' },
  StacksUnchanged: { unit: MetricUnit.Count, kind: 'sample' },
  ReconcileDuration: { unit: MetricUnit.Milliseconds, kind: 'sample' },
  PushToApplyLatency: { unit: MetricUnit.Milliseconds, kind: 'sample' },
  DriftedStacks: { unit: MetricUnit.Count, kind: 'count' },
  DriftedResources: { unit: MetricUnit.Count, kind: 'sample' },
  StacksBlocked: { unit: MetricUnit.Count, kind: 'count' },
};

/** Powertools publishes (and drops the dimensions) by itself at 100 values of one metric. */
const MAX_VALUES_PER_RECORD = 99;

export interface PowertoolsSinkOptions {
  /** The handler's logger (with its Lambda context); by default the functions' one logger (service `cairn`). */
  logger?: Logger;
  /** By default a Metrics of namespace `Cairn` without the `service` dimension. */
  metrics?: Metrics;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

export class PowertoolsSink implements EventSink {
  readonly logger: Logger;
  private readonly metrics: Metrics;
  private correlationId: string | undefined;
  /** Values per source and metric, until `flush()`. */
  private readonly pending = new Map<string, Map<MetricName, number[]>>();

  constructor(options: PowertoolsSinkOptions = {}) {
    this.logger = options.logger ?? functionLogger;
    this.metrics = options.metrics ?? createCairnMetrics();
  }

  /** The id that ties this invocation's lines together, e.g. the SQS message id; undefined to clear. */
  setCorrelationId(id: string | undefined): void {
    this.correlationId = id;
  }

  emit(event: CairnEvent): void {
    this.log(event);
    this.count(event);
  }

  /** Write the buffered metrics as EMF records, one or more per source. Call once per invocation. */
  flush(): void {
    for (const [source, byName] of this.pending) {
      while (byName.size > 0) {
        this.metrics.addDimension(SOURCE_DIMENSION, source);
        for (const [name, values] of byName) {
          for (const value of values.splice(0, MAX_VALUES_PER_RECORD)) this.metrics.addMetric(name, UNITS[name].unit, value);
          if (values.length === 0) byName.delete(name);
        }
        this.metrics.publishStoredMetrics();
      }
    }
    this.pending.clear();
  }

  private log(event: CairnEvent): void {
    const common = {
      event: event.type,
      source: event.source,
      ...(event.commit ? { commit: event.commit } : {}),
      ...('stack' in event && event.stack ? { stack: event.stack } : {}),
      ...(this.correlationId ? { correlationId: this.correlationId } : {}),
    };
    const write = (level: Level, message: string, fields: Record<string, unknown> = {}): void => {
      this.logger[level](message, { ...common, ...fields });
    };
    switch (event.type) {
      case 'reconcile.started':
        return write('info', `reconciling ${event.source}`, { trigger: event.trigger, receivedAt: event.receivedAt });
      case 'plan.computed':
        return write('info', 'plan computed', { counts: event.counts });
      case 'changeset.created':
        return write('info', `change set ${event.changeSetName}: ${summariseChanges(event.changes)}`, {
          stackName: event.stackName,
          changeSetName: event.changeSetName,
          changes: {
            add: event.changes.filter((c) => c.action === 'Add').length,
            modify: event.changes.filter((c) => c.action === 'Modify').length,
            remove: event.changes.filter((c) => c.action === 'Remove').length,
            replace: event.changes.filter((c) => c.replacement === 'True').length,
          },
          resources: event.changes.map((c) => ({
            action: c.action,
            logicalId: c.logicalId,
            resourceType: c.resourceType,
            ...(c.replacement ? { replacement: c.replacement } : {}),
            ...(c.properties.length ? { properties: c.properties } : {}),
          })),
        });
      case 'changeset.empty':
        return write('info', 'nothing to change', { stackName: event.stackName });
      case 'stack.action':
        return write('info', `${event.action}: ${event.summary}`, {
          stackName: event.stackName,
          action: event.action,
          summary: event.summary,
          pushToApplyMs: event.pushToApplyMs,
        });
      case 'stack.progress':
        return write('info', event.status, { stackName: event.stackName, status: event.status, reason: event.reason });
      case 'stack.settled':
        return write(event.healthy ? 'info' : 'warn', event.status, {
          stackName: event.stackName,
          status: event.status,
          healthy: event.healthy,
          reason: event.reason,
        });
      case 'stack.blocked':
        return write('warn', `blocked: ${event.message}`, { stackName: event.stackName, reason: event.reason, detail: event.message });
      case 'stack.waiting':
        return write('info', `waiting: ${event.status}`, { stackName: event.stackName, status: event.status });
      case 'drift.detected':
        write('warn', `${event.resources.length} drifted resource${event.resources.length === 1 ? '' : 's'}`, {
          stackName: event.stackName,
          policy: event.policy,
          driftedResources: event.resources.length,
        });
        // One record per resource, so Logs Insights can filter and count by resource and property.
        for (const r of event.resources) {
          this.logger.warn(`${r.logicalId} drifted (${r.status})`, {
            ...common,
            event: 'drift.resource',
            stackName: event.stackName,
            policy: event.policy,
            logicalId: r.logicalId,
            resourceType: r.resourceType,
            driftStatus: r.status,
            differences: r.differences.map((d) => ({ path: d.path, expected: d.expected, actual: d.actual, kind: d.kind })),
          });
        }
        return;
      case 'drift.in-sync':
        return write('info', 'no drift', { stackName: event.stackName });
      case 'reconcile.finished':
        return write(
          event.outcome === 'stalled' ? 'error' : event.outcome === 'failed' ? 'warn' : 'info',
          `${event.outcome}: ${event.summary}`,
          { outcome: event.outcome, summary: event.summary, durationMs: event.durationMs, counts: event.counts, reason: event.reason },
        );
      case 'log':
        return write(event.level, event.message);
    }
  }

  private count(event: CairnEvent): void {
    const add = (name: MetricName, value: number): void => this.add(event.source, name, value);
    switch (event.type) {
      case 'reconcile.finished': {
        // A failed step's time says nothing about the work; it is left out.
        if (event.outcome !== 'failed') add(METRICS.ReconcileDuration, event.durationMs);
        if (event.outcome === 'succeeded') add(METRICS.ReconcilesSucceeded, 1);
        else if (event.outcome === 'failed') add(METRICS.ReconcilesFailed, 1);
        else if (event.outcome === 'stalled') add(METRICS.ReconcilesStalled, 1);
        // Counts come once per commit (settle.ts forgets them once reported), so they add up.
        const c = event.counts;
        if (c) {
          const counted: [MetricName, number | undefined][] = [
            [METRICS.StacksCreated, c.created],
            [METRICS.StacksUpdated, c.updated],
            [METRICS.StacksDeleted, c.deleted],
            [METRICS.StacksReverted, c.reverted],
            [METRICS.ResourcesReplaced, c.replaced],
            [METRICS.StacksBlocked, c.blocked],
          ];
          for (const [name, n] of counted) if (n) add(name, n);
          if (event.outcome === 'succeeded' && c.unchanged !== undefined) add(METRICS.StacksUnchanged, c.unchanged);
        }
        return;
      }
      case 'stack.action':
        if (event.pushToApplyMs !== undefined) add(METRICS.PushToApplyLatency, event.pushToApplyMs);
        return;
      case 'drift.detected':
        add(METRICS.DriftedStacks, 1);
        add(METRICS.DriftedResources, event.resources.length);
        return;
      default:
        return;
    }
  }

  private add(source: string, name: MetricName, value: number): void {
    let byName = this.pending.get(source);
    if (!byName) this.pending.set(source, (byName = new Map()));
    const values = byName.get(name);
    if (!values) byName.set(name, [value]);
    else if (UNITS[name].kind === 'count') values[0]! += value;
    else values.push(value);
  }
}

/** Metrics in namespace `Cairn` whose only dimension is the one the sink adds: `Source`. */
export function createCairnMetrics(): Metrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  metrics.clearDefaultDimensions();
  return metrics;
}
