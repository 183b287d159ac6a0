/**
 * Tests of the Powertools sink: what Lambda would write to stdout and stderr, captured at the
 * stream, parsed as the JSON log lines and EMF records CloudWatch reads.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Logger } from '@aws-lambda-powertools/logger';
import { METRICS, METRICS_NAMESPACE, PowertoolsSink, SERVICE_NAME, SOURCE_DIMENSION } from '../../lib/adapters/powertools-sink.js';
import type { CairnEvent } from '../../lib/ports/events.js';

const COMMIT = '9fceb02d0ae598e95dc970b74767f19372d61af8';

interface Emf {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

let lines: Record<string, unknown>[];

beforeEach(() => {
  vi.stubEnv('POWERTOOLS_DEV', 'false');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
  lines = [];
  // Powertools writes through its own Console over process.stdout/stderr, so the streams are where to listen.
  const capture = (chunk: unknown): boolean => {
    for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** A sink over a logger made now, so it reads the log level this test set (the functions' logger is made once, at import). */
const newSink = (): PowertoolsSink => new PowertoolsSink({ logger: new Logger({ serviceName: SERVICE_NAME }) });

const logs = (): Record<string, unknown>[] => lines.filter((l) => !('_aws' in l));
const emf = (): Emf[] => lines.filter((l): l is Emf => '_aws' in l);

/** The value of a metric in an EMF record: a number, or the list of samples. */
const valueOf = (record: Emf, name: string): unknown => record[name];

describe('Adapter: PowertoolsSink logs', () => {
  it('writes one JSON line per event keyed by source, commit, stack and correlation id', () => {
    const sink = newSink();
    sink.setCorrelationId('msg-0001');
    sink.emit({ source: 'platform', commit: COMMIT, type: 'reconcile.started', trigger: 'push' });
    sink.emit({
      source: 'platform',
      commit: COMMIT,
      type: 'stack.action',
      stack: 'app',
      stackName: 'prod-app',
      action: 'update',
      summary: '1 to add, 2 to modify, 0 to remove',
      pushToApplyMs: 4200,
    });
    const [started, action] = logs();
    expect(logs()).toHaveLength(2);
    expect(started).toMatchObject({ level: 'INFO', service: 'cairn', event: 'reconcile.started', source: 'platform', commit: COMMIT, correlationId: 'msg-0001', trigger: 'push' });
    expect(started).not.toHaveProperty('stack');
    expect(action).toMatchObject({
      event: 'stack.action',
      source: 'platform',
      commit: COMMIT,
      stack: 'app',
      stackName: 'prod-app',
      action: 'update',
      summary: '1 to add, 2 to modify, 0 to remove',
      pushToApplyMs: 4200,
      correlationId: 'msg-0001',
    });
    expect(action!.message).toBe('update: 1 to add, 2 to modify, 0 to remove');
    expect(typeof action!.timestamp).toBe('string');
  });

  it('summarises a change set and lists its resources', () => {
    newSink().emit({
      source: 'platform',
      commit: COMMIT,
      type: 'changeset.created',
      stack: 'network',
      stackName: 'network',
      changeSetName: 'cairn-abc',
      changes: [
        { action: 'Add', logicalId: 'Subnet', physicalId: undefined, resourceType: 'AWS::EC2::Subnet', replacement: undefined, properties: [] },
        { action: 'Modify', logicalId: 'Vpc', physicalId: 'vpc-1', resourceType: 'AWS::EC2::VPC', replacement: 'True', properties: ['CidrBlock'] },
      ],
    });
    const [line] = logs();
    expect(line).toMatchObject({
      event: 'changeset.created',
      stack: 'network',
      changeSetName: 'cairn-abc',
      changes: { add: 1, modify: 1, remove: 0, replace: 1 },
      resources: [
        { action: 'Add', logicalId: 'Subnet', resourceType: 'AWS::EC2::Subnet' },
        { action: 'Modify', logicalId: 'Vpc', resourceType: 'AWS::EC2::VPC', replacement: 'True', properties: ['CidrBlock'] },
      ],
    });
    expect(line!.message).toBe('change set cairn-abc: 1 to add, 1 to modify (1 replaced), 0 to remove');
  });

  it('logs one record per drifted resource with property path, expected and actual', () => {
    newSink().emit({
      source: 'platform',
      commit: COMMIT,
      type: 'drift.detected',
      stack: 'data',
      stackName: 'prod-data',
      policy: 'alert',
      resources: [
        {
          logicalId: 'Bucket',
          resourceType: 'AWS::S3::Bucket',
          status: 'MODIFIED',
          differences: [{ path: '/VersioningConfiguration/Status', expected: 'Enabled', actual: 'Suspended', kind: 'NOT_EQUAL' }],
        },
        { logicalId: 'Queue', resourceType: 'AWS::SQS::Queue', status: 'DELETED', differences: [] },
      ],
    });
    const records = logs();
    expect(records.map((r) => r.event)).toEqual(['drift.detected', 'drift.resource', 'drift.resource']);
    expect(records[0]).toMatchObject({ level: 'WARN', stack: 'data', policy: 'alert', driftedResources: 2 });
    expect(records[1]).toMatchObject({
      level: 'WARN',
      source: 'platform',
      stack: 'data',
      logicalId: 'Bucket',
      resourceType: 'AWS::S3::Bucket',
      driftStatus: 'MODIFIED',
      differences: [{ path: '/VersioningConfiguration/Status', expected: 'Enabled', actual: 'Suspended', kind: 'NOT_EQUAL' }],
    });
    expect(records[2]).toMatchObject({ logicalId: 'Queue', driftStatus: 'DELETED', differences: [] });
  });

  it('logs a stall as an error and a blocked change as a warning, never overwriting the log message', () => {
    const sink = newSink();
    sink.emit({ source: 'platform', commit: COMMIT, type: 'stack.blocked', stack: 'db', stackName: 'db', reason: 'DestructiveChangeBlocked', message: 'would replace Table' });
    sink.emit({ source: 'platform', commit: COMMIT, type: 'reconcile.finished', outcome: 'stalled', summary: 'db: blocked', durationMs: 900, reason: 'DestructiveChangeBlocked' });
    sink.emit({ source: 'platform', type: 'log', level: 'debug', message: 'cache hit' });
    const [blocked, finished, debug] = logs();
    expect(blocked).toMatchObject({ level: 'WARN', message: 'blocked: would replace Table', reason: 'DestructiveChangeBlocked', detail: 'would replace Table' });
    expect(finished).toMatchObject({ level: 'ERROR', outcome: 'stalled', durationMs: 900, reason: 'DestructiveChangeBlocked' });
    expect(debug).toMatchObject({ level: 'DEBUG', message: 'cache hit', event: 'log' });
  });

  it('drops the correlation id once it is cleared', () => {
    const sink = newSink();
    sink.setCorrelationId('msg-1');
    sink.emit({ source: 'platform', type: 'drift.in-sync', stack: 'a', stackName: 'a' });
    sink.setCorrelationId(undefined);
    sink.emit({ source: 'platform', type: 'drift.in-sync', stack: 'a', stackName: 'a' });
    expect(logs().map((l) => l.correlationId)).toEqual(['msg-1', undefined]);
  });
});

describe('Adapter: PowertoolsSink metrics', () => {
  const finished = (source: string, outcome: 'succeeded' | 'failed' | 'stalled' | 'progressing', durationMs: number, unchanged?: number): Extract<CairnEvent, { type: 'reconcile.finished' }> => ({
    source,
    commit: COMMIT,
    type: 'reconcile.finished',
    outcome,
    summary: outcome,
    durationMs,
    ...(unchanged !== undefined ? { counts: { created: 1, updated: 0, deleted: 0, unchanged } } : {}),
  });
  const action = (source: string, a: 'create' | 'update' | 'delete' | 'recreate' | 'adopt', pushToApplyMs?: number): CairnEvent => ({
    source,
    commit: COMMIT,
    type: 'stack.action',
    stack: 's',
    stackName: 's',
    action: a,
    summary: '',
    ...(pushToApplyMs !== undefined ? { pushToApplyMs } : {}),
  });

  it('writes nothing until flush, then EMF under namespace Cairn with Source as the only dimension', () => {
    const sink = newSink();
    sink.emit(finished('platform', 'succeeded', 1200, 7));
    expect(emf()).toHaveLength(0);
    sink.flush();
    const records = emf();
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record!._aws.CloudWatchMetrics).toHaveLength(1);
    const directive = record!._aws.CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(METRICS_NAMESPACE).toBe('Cairn');
    expect(directive.Dimensions).toEqual([[SOURCE_DIMENSION]]);
    expect(record![SOURCE_DIMENSION]).toBe('platform');
    expect(record).not.toHaveProperty('service');
    expect(typeof record!._aws.Timestamp).toBe('number');
    expect(directive.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'ReconcilesSucceeded', Unit: 'Count' },
        { Name: 'ReconcileDuration', Unit: 'Milliseconds' },
        { Name: 'StacksUnchanged', Unit: 'Count' },
      ]),
    );
    expect(valueOf(record!, METRICS.ReconcilesSucceeded)).toBe(1);
    expect(valueOf(record!, METRICS.ReconcileDuration)).toBe(1200);
    expect(valueOf(record!, METRICS.StacksUnchanged)).toBe(7);
    // The commit's counts, as its summary shows them; counts of nothing are not published.
    expect(valueOf(record!, METRICS.StacksCreated)).toBe(1);
    expect(record).not.toHaveProperty(METRICS.StacksUpdated);
  });

  it('counts outcomes and what each commit did, from the counts its summary shows, and keeps every timing sample', () => {
    const sink = newSink();
    const applied = (counts: NonNullable<Extract<CairnEvent, { type: 'reconcile.finished' }>['counts']>, outcome: 'succeeded' | 'stalled' = 'succeeded'): CairnEvent => ({
      ...finished('platform', outcome, 100),
      counts,
    });
    for (const e of [
      applied({ created: 2, updated: 1, replaced: 3, deleted: 1, reverted: 0, blocked: 0, unchanged: 4 }),
      finished('platform', 'succeeded', 300),
      applied({ created: 0, updated: 1, replaced: 0, deleted: 0, reverted: 1, blocked: 1, unchanged: 2 }, 'stalled'),
      finished('platform', 'failed', 0),
      finished('platform', 'progressing', 80),
      // Stack actions give the push-to-apply latency only: the commit's counts carry the operations.
      action('platform', 'create', 5000),
      action('platform', 'update', 7000),
      action('platform', 'delete'),
    ]) sink.emit(e);
    sink.emit({
      source: 'platform',
      type: 'drift.detected',
      stack: 'data',
      stackName: 'data',
      policy: 'alert',
      resources: [
        { logicalId: 'A', resourceType: 'T', status: 'MODIFIED', differences: [] },
        { logicalId: 'B', resourceType: 'T', status: 'DELETED', differences: [] },
      ],
    });
    sink.flush();
    const [record] = emf();
    expect(emf()).toHaveLength(1);
    expect({
      succeeded: valueOf(record!, METRICS.ReconcilesSucceeded),
      stalled: valueOf(record!, METRICS.ReconcilesStalled),
      failed: valueOf(record!, METRICS.ReconcilesFailed),
      duration: valueOf(record!, METRICS.ReconcileDuration),
      created: valueOf(record!, METRICS.StacksCreated),
      updated: valueOf(record!, METRICS.StacksUpdated),
      deleted: valueOf(record!, METRICS.StacksDeleted),
      reverted: valueOf(record!, METRICS.StacksReverted),
      replaced: valueOf(record!, METRICS.ResourcesReplaced),
      unchanged: valueOf(record!, METRICS.StacksUnchanged),
      latency: valueOf(record!, METRICS.PushToApplyLatency),
      blocked: valueOf(record!, METRICS.StacksBlocked),
      driftedStacks: valueOf(record!, METRICS.DriftedStacks),
      driftedResources: valueOf(record!, METRICS.DriftedResources),
    }).toEqual({
      succeeded: 2,
      stalled: 1,
      failed: 1,
      duration: [100, 300, 100, 80],
      created: 2,
      updated: 2,
      deleted: 1,
      reverted: 1,
      replaced: 3,
      // Unchanged is a sample per applied commit; a stalled one has no such count.
      unchanged: 4,
      latency: [5000, 7000],
      blocked: 1,
      driftedStacks: 1,
      driftedResources: 2,
    });
    const names = record!._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name);
    expect(names.every((n) => Object.values(METRICS).includes(n as never))).toBe(true);
  });

  it('writes each source in its own record', () => {
    const sink = newSink();
    sink.emit(finished('platform', 'succeeded', 10));
    sink.emit(finished('payments', 'stalled', 20));
    sink.emit(finished('platform', 'succeeded', 30));
    sink.flush();
    const bySource = Object.fromEntries(emf().map((r) => [r[SOURCE_DIMENSION], r]));
    expect(Object.keys(bySource).sort()).toEqual(['payments', 'platform']);
    expect(valueOf(bySource.platform!, METRICS.ReconcilesSucceeded)).toBe(2);
    expect(valueOf(bySource.platform!, METRICS.ReconcileDuration)).toEqual([10, 30]);
    expect(valueOf(bySource.payments!, METRICS.ReconcilesStalled)).toBe(1);
    expect(bySource.payments).not.toHaveProperty(METRICS.ReconcilesSucceeded);
  });

  it('splits more than 99 samples over several records without losing the Source dimension', () => {
    const sink = newSink();
    for (let i = 0; i < 250; i++) sink.emit({ ...finished('platform', 'succeeded', i), counts: { updated: 1 } });
    sink.flush();
    const records = emf();
    expect(records.length).toBe(3);
    for (const r of records) {
      expect(r._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([[SOURCE_DIMENSION]]);
      expect(r[SOURCE_DIMENSION]).toBe('platform');
    }
    const samples = records.flatMap((r) => {
      const v = valueOf(r, METRICS.ReconcileDuration);
      return Array.isArray(v) ? v : [v];
    });
    expect(samples).toHaveLength(250);
    expect(records.map((r) => valueOf(r, METRICS.StacksUpdated)).filter((v) => v !== undefined)).toEqual([250]);
  });

  it('publishes nothing on a flush with no metrics, and empties the buffer on flush', () => {
    const sink = newSink();
    sink.emit({ source: 'platform', type: 'drift.in-sync', stack: 'a', stackName: 'a' });
    sink.flush();
    expect(emf()).toHaveLength(0);
    sink.emit(finished('platform', 'stalled', 5));
    sink.flush();
    sink.flush();
    expect(emf()).toHaveLength(1);
  });

  it('names every metric once, in PascalCase, as its own key', () => {
    const entries = Object.entries(METRICS);
    expect(entries.length).toBe(14);
    for (const [key, name] of entries) {
      expect(name).toBe(key);
      expect(name).toMatch(/^[A-Z][A-Za-z]+$/);
    }
  });
});
