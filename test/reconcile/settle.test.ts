/** The settle step: each outcome of a reconcile step mapped once onto the commit status, the events, the memory and the queue. */
import { describe, expect, it } from 'vitest';
import { StalledError, TransientError, ValidationError, WaitingError } from '../../lib/core/errors.js';
import type { CommitStatus } from '../../lib/ports/commit-status.js';
import { MemorySink } from '../../lib/ports/events.js';
import { createReconciler } from '../../lib/reconcile/reconciler.js';
import { MAX_DELAY_SECONDS, settle, type Attempt, type Settled } from '../../lib/reconcile/settle.js';
import { StallMemory } from '../../lib/reconcile/stall-memory.js';
import { MemoryRepo } from '../helpers/memory-source.js';
import { repo, world } from '../helpers/world.js';

const counts = { created: 1, updated: 0, replaced: 0, deleted: 0, reverted: 0, blocked: 0, unchanged: 2 };
const COMMIT = 'a'.repeat(40);

async function run(result: Settled, attempt: Attempt = { waits: 0, receiveCount: 1 }, extra: { followUpSeconds?: number; maxDelaySeconds?: number } = {}) {
  const sink = new MemorySink();
  const statuses: CommitStatus[] = [];
  const stalls = new StallMemory();
  stalls.noteRun('platform', COMMIT, [{ source: 'platform', commit: COMMIT, type: 'stack.action', stack: 'app', stackName: 'app', action: 'create', summary: '' }]);
  const action = await settle(result, { source: 'platform', statusContext: 'cairn/platform', commitStatus: { report: async (s) => void statuses.push(s) }, sink, stalls, startedAt: Date.now(), attempt, ...extra });
  return { action, statuses, finished: sink.ofType('reconcile.finished'), stalls, sink };
}

describe('settle', () => {
  it('puts a success on the commit with the counted summary, forgets the run and deletes the work', async () => {
    const r = await run({ outcome: 'succeeded', commit: COMMIT, summary: '1 stack created, 2 unchanged', counts });
    expect(r.action).toEqual({ kind: 'delete' });
    expect(r.statuses).toEqual([{ commit: COMMIT, state: 'success', description: '1 stack created, 2 unchanged', context: 'cairn/platform' }]);
    expect(r.finished).toEqual([expect.objectContaining({ outcome: 'succeeded', summary: '1 stack created, 2 unchanged', counts })]);
    expect(r.stalls.runOf('platform', COMMIT)).toEqual([]);
  });

  it('leaves a progressing source to its stack events, or follows it up when there are none', async () => {
    const progressing: Settled = { outcome: 'progressing', commit: COMMIT, summary: 'started app', retryAfterSeconds: 10 };
    const r = await run(progressing);
    expect(r.action).toEqual({ kind: 'delete' });
    expect(r.statuses.map((s) => s.state)).toEqual(['pending']);
    // The run is remembered until the commit is applied.
    expect(r.stalls.runOf('platform', COMMIT)).toHaveLength(1);
    expect((await run(progressing, undefined, { followUpSeconds: 10 })).action).toEqual({ kind: 'requeue', seconds: 10 });
  });

  it('says on the commit which change window holds it, and comes back when it ends', async () => {
    const held: Settled = { outcome: 'waiting', commit: COMMIT, summary: 'app held until 18:00 UTC by window business-hours', retryAfterSeconds: 120, held: true };
    const r = await run(held);
    expect(r.statuses).toEqual([{ commit: COMMIT, state: 'pending', description: 'app held until 18:00 UTC by window business-hours', context: 'cairn/platform' }]);
    expect(r.action).toEqual({ kind: 'requeue', seconds: 120, waits: 0 });
  });

  it('requeues a waiting source after its retry time, doubled per wait in a row, at most the cap', async () => {
    const waiting: Settled = { outcome: 'waiting', commit: COMMIT, summary: 'waiting on app', retryAfterSeconds: 15 };
    expect((await run(waiting)).action).toEqual({ kind: 'requeue', seconds: 15, waits: 0 });
    expect((await run(waiting, { waits: 2, receiveCount: 1 })).action).toEqual({ kind: 'requeue', seconds: 60, waits: 2 });
    expect((await run(waiting, { waits: 9, receiveCount: 1 })).action).toEqual({ kind: 'requeue', seconds: MAX_DELAY_SECONDS, waits: 9 });
    expect((await run(waiting, { waits: 3, receiveCount: 1 }, { maxDelaySeconds: 10 })).action).toEqual({ kind: 'requeue', seconds: 10, waits: 3 });
  });

  it('records a stall, puts its first problem on the commit once, and reports a repeated stall without counts or status', async () => {
    const error = new ValidationError([{ file: 'cairn.yaml', path: 'stacks.app', line: 3, message: 'unknown key "templte"' }]);
    const r = await run({ outcome: 'stalled', commit: COMMIT, summary: error.message, error, repeated: false, counts });
    expect(r.action).toEqual({ kind: 'delete' });
    expect(r.statuses).toEqual([expect.objectContaining({ state: 'failure', description: '1 problem: cairn.yaml:3: stacks.app: unknown key "templte"' })]);
    expect(r.stalls.get('platform')).toMatchObject({ commit: COMMIT, reason: 'ManifestInvalid' });
    expect(r.finished[0]).toMatchObject({ outcome: 'stalled', reason: 'ManifestInvalid', counts });
    const again = await run({ outcome: 'stalled', commit: COMMIT, summary: 'commit stalled earlier', error: new StalledError('ManifestInvalid', 'x'), repeated: true });
    expect(again.statuses).toEqual([]);
    expect(again.finished[0]).toMatchObject({ outcome: 'stalled', reason: 'ManifestInvalid' });
    expect(again.finished[0]).not.toHaveProperty('counts');
  });

  it('retries a failed step after 5 s doubled per receive, with the reason', async () => {
    const failed: Settled = { outcome: 'failed', error: new TransientError('ServiceUnavailable', 'CloudFormation answered 503') };
    const r = await run(failed, { waits: 0, receiveCount: 3 });
    expect(r.action).toEqual({ kind: 'retry', seconds: 20 });
    expect(r.finished[0]).toMatchObject({ outcome: 'failed', reason: 'ServiceUnavailable', summary: 'will retry in 20 s: CloudFormation answered 503' });
    expect(r.statuses).toEqual([]);
  });

  it('keeps the outcome when the commit status cannot be written, and says so', async () => {
    const sink = new MemorySink();
    const action = await settle(
      { outcome: 'succeeded', commit: COMMIT, summary: 'in sync', counts },
      { source: 'platform', statusContext: 'cairn/platform', commitStatus: { report: async () => Promise.reject(new Error('HTTP 502')) }, sink, stalls: new StallMemory(), startedAt: Date.now(), attempt: { waits: 0, receiveCount: 1 } },
    );
    expect(action).toEqual({ kind: 'delete' });
    expect(sink.ofType('log')).toEqual([expect.objectContaining({ level: 'warn', message: 'commit status not reported: HTTP 502' })]);
    expect(sink.ofType('reconcile.finished')).toHaveLength(1);
  });

  it('turns a WaitingError thrown inside the step into a wait with its own retry time', async () => {
    let busy = true;
    const w = world({
      gateways: (base) => (region) => {
        const g = base(region);
        return new Proxy(g, {
          get: (target, key, receiver) =>
            key === 'listStacks' && busy
              ? async () => {
                  busy = false;
                  throw new WaitingError('Throttled', 'CloudFormation is throttling this account', 40);
                }
              : Reflect.get(target, key, receiver),
        });
      },
    });
    const reconciler = createReconciler({
      sources: [{ name: 'platform' }],
      repos: new Map([['platform', new MemoryRepo(repo())]]),
      gateways: () => w.gateways,
      sink: w.sink,
      stalls: new StallMemory(),
      commitStatus: () => ({ report: async () => undefined }),
      step: () => ({ pollMs: 500, changeSetWaitMs: 5_000, sleep: w.sleep }),
    });
    const r = await reconciler.reconcile('platform', { kind: 'push' });
    expect(r.outcome).toMatchObject({ outcome: 'waiting', retryAfterSeconds: 40, summary: 'CloudFormation is throttling this account' });
    expect(r.action).toEqual({ kind: 'requeue', seconds: 40, waits: 0 });
    expect((await reconciler.reconcile('platform', { kind: 'push' })).outcome.outcome).toBe('progressing');
  });
});
