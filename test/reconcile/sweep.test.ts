import { describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../lib/adapters/in-process-queue.js';
import { withRetries } from '../../lib/adapters/retrying-gateway.js';
import { shareOf, sweep } from '../../lib/reconcile/sweep.js';
import { world, type World } from '../helpers/world.js';

const BUCKET = 'Resources:\n  Uploads: {Type: AWS::S3::Bucket, Properties: {BucketName: uploads-1, VersioningConfiguration: {Status: Enabled}}}\n';
const QUEUE = 'Resources:\n  Jobs: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30}}\n';

function driftRepo(policy: 'alert' | 'revert', extra = '') {
  return {
    'cairn.yaml': `version: 1\ndefaults: {drift: ${policy}}\nstacks:\n  data: {template: data.yaml${extra}}\n  jobs: {template: jobs.yaml}\n`,
    'data.yaml': BUCKET,
    'jobs.yaml': QUEUE,
  };
}

async function runSweep(w: World, queue = new InProcessQueue()) {
  return sweep({ sources: ['src'], queue, gateways: w.gateways, sink: w.sink, intervalMs: 3_600_000, sleep: (ms) => w.sleep(ms), pollMs: 500 });
}

describe('Use case: drift sweep', () => {
  it('finds injected drift with the property path, expected and actual values', async () => {
    const w = world();
    await w.converge(await w.desired(driftRepo('alert')));
    w.account.injectDrift({ stackName: 'data', logicalId: 'Uploads', path: 'VersioningConfiguration.Status', value: 'Suspended' });
    const report = await runSweep(w);
    expect(report).toMatchObject({ owned: 2, checked: 2, drifted: 1, enqueued: ['src'] });
    const drift = w.sink.ofType('drift.detected')[0]!;
    expect(drift).toMatchObject({ stack: 'data', policy: 'alert' });
    expect(drift.resources[0]).toMatchObject({ logicalId: 'Uploads', status: 'MODIFIED' });
    expect(drift.resources[0]!.differences).toEqual([expect.objectContaining({ path: '/VersioningConfiguration/Status', expected: 'Enabled', actual: 'Suspended' })]);
    expect(w.sink.ofType('drift.in-sync').map((e) => e.stack)).toEqual(['jobs']);
  });

  it('changes nothing under the alert policy', async () => {
    const w = world();
    const desired = await w.desired(driftRepo('alert'));
    await w.converge(desired);
    w.account.injectDrift({ stackName: 'data', logicalId: 'Uploads', path: 'VersioningConfiguration.Status', value: 'Suspended' });
    await runSweep(w);
    w.account.resetCalls();
    expect((await w.converge(desired)).outcome).toBe('succeeded');
    expect(w.account.callCount('createChangeSet')).toBe(0);
    expect((await w.gateway.describeStack('data'))!.driftStatus).toBe('DRIFTED');
  });

  it('reverts drift under the revert policy, after which detection reports IN_SYNC', async () => {
    const w = world();
    const desired = await w.desired(driftRepo('revert'));
    await w.converge(desired);
    w.account.injectDrift({ stackName: 'data', logicalId: 'Uploads', path: 'VersioningConfiguration.Status', value: 'Suspended' });
    await runSweep(w);
    const result = await w.converge(desired);
    expect(result.outcome).toBe('succeeded');
    expect(w.sink.ofType('stack.action').filter((e) => e.action === 'revert-drift')).toEqual([expect.objectContaining({ stack: 'data', summary: expect.stringMatching(/reverting 1 drifted resource \(Uploads\)/) })]);
    w.sink.events.length = 0;
    await runSweep(w);
    expect(w.sink.ofType('drift.detected')).toEqual([]);
    expect((await w.gateway.describeStack('data'))!.driftStatus).toBe('IN_SYNC');
  });

  it('blocks a revert that would replace a protected resource', async () => {
    const w = world();
    const desired = await w.desired(driftRepo('revert'));
    await w.converge(desired);
    w.account.injectDrift({ stackName: 'data', logicalId: 'Uploads', path: 'BucketName', value: 'renamed-by-hand' });
    await runSweep(w);
    const result = await w.converge(desired);
    expect(result.outcome).toBe('stalled');
    if (result.outcome !== 'stalled') return;
    expect(result.error).toMatchObject({ reason: 'DestructiveChangeBlocked', stackId: 'data' });
    expect(result.error.message).toMatch(/drift revert blocked: Uploads \(AWS::S3::Bucket\) would be replaced/);
    expect((await w.gateway.listChangeSets('data')).filter((c) => c.executionStatus === 'AVAILABLE')).toEqual([]);
  });

  it('re-applies a stack whose template was changed outside Git when the sweep verifies it', async () => {
    const w = world();
    const desired = await w.desired(driftRepo('alert'));
    await w.converge(desired);
    w.account.updateStackOutsideCairn({ stackName: 'jobs', templateBody: JSON.stringify({ Resources: { Jobs: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 99 } } } }) });
    w.account.settle();
    const result = await w.converge(desired, { verifyTemplates: 10 });
    expect(result.outcome).toBe('succeeded');
    expect(w.sink.ofType('stack.action').filter((e) => e.stack === 'jobs').map((e) => e.action)).toEqual(['create', 'update']);
    expect(await w.gateway.getTemplate('jobs')).toContain('"VisibilityTimeout":30');
  });

  it('checks never-checked stacks first, and only its share per run', async () => {
    expect(shareOf(1000, 15 * 60_000, 3_600_000)).toBe(250);
    expect(shareOf(3, 60_000, 3_600_000)).toBe(1);
    const w = world();
    await w.converge(await w.desired(driftRepo('alert')));
    const first = await sweep({ sources: ['src'], queue: new InProcessQueue(), gateways: w.gateways, sink: w.sink, intervalMs: 60_000, sleep: (ms) => w.sleep(ms), pollMs: 500 });
    expect(first).toMatchObject({ checked: 1, deferred: 1 });
    const firstChecked = w.sink.ofType('drift.in-sync').map((e) => e.stack);
    await sweep({ sources: ['src'], queue: new InProcessQueue(), gateways: w.gateways, sink: w.sink, intervalMs: 60_000, sleep: (ms) => w.sleep(ms), pollMs: 500 });
    const all = w.sink.ofType('drift.in-sync').map((e) => e.stack);
    expect(new Set(all)).toEqual(new Set(['data', 'jobs']));
    expect(all[1]).not.toBe(firstChecked[0]);
  });

  it('slows down under throttling without losing a stack', async () => {
    const w = world({ gateways: (base) => (r) => withRetries(base(r), { sleep: (ms) => w.sleep(ms), maxAttempts: 20 }) });
    const many = {
      'cairn.yaml': `version: 1\nstacks:\n${Array.from({ length: 12 }, (_, i) => `  s${i}: {template: t.yaml}`).join('\n')}\n`,
      't.yaml': QUEUE,
    };
    await w.converge(await w.desired(many));
    w.account.faults.set({ throttlePerSecond: 2 });
    const report = await runSweep(w);
    expect(report).toMatchObject({ owned: 12, checked: 12, failed: [] });
    expect(w.sink.ofType('drift.in-sync')).toHaveLength(12);
  });

  it('enqueues a reconcile of every source even when detection fails', async () => {
    const w = world();
    const queue = new InProcessQueue();
    w.account.faults.set({ errorRate: 1 });
    await expect(sweep({ sources: ['a', 'b'], queue, gateways: w.gateways, sink: w.sink, intervalMs: 60_000 })).rejects.toThrow();
    expect(queue.depth().visible).toBe(2);
  });

  it('gives up on a detection stuck in progress at its deadline, and still enqueues every source', async () => {
    const w = world();
    await w.converge(await w.desired(driftRepo('alert')));
    const stuck = (r: string | undefined) => {
      const g = w.gateways(r);
      return Object.assign(Object.create(g) as typeof g, { describeDriftDetection: async () => ({ status: 'DETECTION_IN_PROGRESS' as const }) });
    };
    const queue = new InProcessQueue();
    let slept = 0;
    const report = await sweep({
      sources: ['src', 'other'],
      queue,
      gateways: stuck,
      sink: w.sink,
      intervalMs: 3_600_000,
      pollMs: 1_000,
      detectionTimeoutMs: 10_000,
      sleep: async (ms) => void (slept += ms),
    });
    expect(report.checked).toBe(0);
    expect(report.failed.map((f) => f.stackName).sort()).toEqual(['data', 'jobs']);
    expect(report.failed[0]!.reason).toMatch(/still DETECTION_IN_PROGRESS after 10 s/);
    expect(report.enqueued).toEqual(['src', 'other']);
    expect(queue.depth().visible).toBe(2);
    // Two detections at once, ten polls each: the deadline, not a Lambda timeout, ended them.
    expect(slept).toBe(20_000);
  });

  it('queues the other sources when one cannot be queued, then says which failed', async () => {
    const w = world();
    const sent: string[] = [];
    const queue = {
      send: async (m: { source: string }) => {
        if (m.source === 'a') throw new Error('queue refused a');
        sent.push(m.source);
        return { messageId: m.source, duplicate: false };
      },
    };
    await expect(sweep({ sources: ['a', 'b'], queue, gateways: w.gateways, sink: w.sink, intervalMs: 60_000 })).rejects.toThrow(/could not queue 1 of 2 sources: queue refused a/);
    expect(sent).toEqual(['b']);
  });
});
