import { describe, expect, it } from 'vitest';
import { StalledError, TransientError } from '../../lib/core/errors.js';
import { MemorySink } from '../../lib/ports/events.js';
import type { WorkMessage } from '../../lib/ports/work-queue.js';
import { processBatch, type BatchRecord } from '../../lib/reconcile/process-batch.js';
import type { StepOutcome, Trigger } from '../../lib/reconcile/reconcile-source.js';
import type { Reconciler } from '../../lib/reconcile/reconciler.js';
import { failureDelaySeconds, MAX_DELAY_SECONDS, settle, waitDelaySeconds, type Settled } from '../../lib/reconcile/settle.js';
import { StallMemory } from '../../lib/reconcile/stall-memory.js';

const msg = (id: string, source: string, kind = 'push', receivedAt = '2026-11-22T10:00:00.000Z'): BatchRecord => ({
  messageId: id,
  receiveCount: 1,
  body: JSON.stringify({ source, kind, dedupId: id, receivedAt }),
});

const counts = { created: 0, updated: 1, replaced: 0, deleted: 0, reverted: 0, blocked: 0, unchanged: 0 };

/** Each source's step ends as `outcomes` says (an Error: it threw) and is settled by the real settle step. */
function deps(outcomes: Record<string, StepOutcome | Error>) {
  const calls: { source: string; trigger: Trigger }[] = [];
  const later: { ids: string[]; seconds: number }[] = [];
  const sink = new MemorySink();
  const stalls = new StallMemory();
  const reconciler: Reconciler = {
    knownSource: (name) => name in outcomes,
    reconcile: async (source, trigger, attempt = { waits: 0, receiveCount: 1 }) => {
      calls.push({ source, trigger });
      const o = outcomes[source]!;
      const outcome: Settled = o instanceof Error ? { outcome: 'failed', error: o } : o;
      const action = await settle(outcome, { source, statusContext: `cairn/${source}`, commitStatus: { report: async () => undefined }, sink, stalls, startedAt: Date.now(), attempt });
      return { outcome, action };
    },
  };
  return {
    calls,
    later,
    sink,
    deps: {
      reconciler,
      retryFailedLater: async () => undefined,
      retryLater: async (records: BatchRecord[], seconds: number) => {
        later.push({ ids: records.map((r) => r.messageId), seconds });
      },
      sink,
    },
  };
}

describe('Function: reconcile batch semantics', () => {
  it('folds every message of one source into one reconcile, triggered by the earliest push', async () => {
    const d = deps({ a: { outcome: 'succeeded', commit: 'c', summary: '1 stack updated', counts } });
    const result = await processBatch(
      [msg('1', 'a', 'push', '2026-11-22T10:00:02.000Z'), msg('2', 'a', 'push', '2026-11-22T10:00:01.000Z'), msg('3', 'a', 'stack-event')],
      d.deps,
    );
    expect(d.calls).toEqual([{ source: 'a', trigger: { kind: 'push', receivedAt: '2026-11-22T10:00:01.000Z' } }]);
    expect(result.batchItemFailures).toEqual([]);
  });

  it('reports only the failed source as batch item failures', async () => {
    const d = deps({
      ok: { outcome: 'progressing', commit: 'c', summary: 'started app', retryAfterSeconds: 10 },
      bad: new TransientError('SourceUnavailable', 'git host unreachable'),
    });
    const result = await processBatch([msg('1', 'ok'), msg('2', 'bad'), msg('3', 'bad', 'sweep')], d.deps);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: '2' }, { itemIdentifier: '3' }]);
    expect(d.sink.ofType('reconcile.finished')[0]).toMatchObject({ source: 'bad', outcome: 'failed', reason: 'SourceUnavailable' });
  });

  it('acknowledges a stalled source so the same commit is not retried', async () => {
    const d = deps({ a: { outcome: 'stalled', commit: 'c', summary: 'blocked', error: new StalledError('DestructiveChangeBlocked', 'x'), repeated: false } });
    expect((await processBatch([msg('1', 'a')], d.deps)).batchItemFailures).toEqual([]);
  });

  it('brings a waiting source back after the retry delay by failing it with a longer visibility', async () => {
    const d = deps({ a: { outcome: 'waiting', commit: 'c', summary: 'waiting on app', retryAfterSeconds: 30 } });
    const result = await processBatch([msg('1', 'a'), msg('2', 'a')], d.deps);
    expect(d.later).toEqual([{ ids: ['1', '2'], seconds: 30 }]);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['1', '2']);
  });

  it('fails malformed and unknown-source messages so they reach the dead-letter queue', async () => {
    const d = deps({ a: { outcome: 'succeeded', commit: 'c', summary: 'ok', counts } });
    const result = await processBatch([{ messageId: 'x', body: 'not json', receiveCount: 3 }, msg('y', 'ghost'), msg('z', 'a')], d.deps);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'x' }, { itemIdentifier: 'y' }]);
    expect(result.outcomes).toMatchObject({ x: 'rejected', y: 'rejected', z: 'succeeded' });
    expect(d.calls.map((c) => c.source)).toEqual(['a']);
  });

  it('lets a retry request outrank everything else in the batch', async () => {
    const d = deps({ a: { outcome: 'succeeded', commit: 'c', summary: 'ok', counts } });
    await processBatch([msg('1', 'a', 'sweep'), msg('2', 'a', 'retry')], d.deps);
    expect(d.calls[0]!.trigger.kind).toBe('retry');
  });

  it('moves a malformed message to the dead-letter queue on its first receive, with a log line', async () => {
    const d = deps({ a: { outcome: 'succeeded', commit: 'c', summary: 'ok', counts } });
    const moved: { id: string; reason: string }[] = [];
    const result = await processBatch([{ messageId: 'x', body: '{"kind":"push"}', receiveCount: 1 }, msg('y', 'ghost')], {
      ...d.deps,
      deadLetter: async (r, reason) => void moved.push({ id: r.messageId, reason }),
    });
    expect(moved).toEqual([
      { id: 'x', reason: 'is not a Cairn work message' },
      { id: 'y', reason: 'names unknown source "ghost"' },
    ]);
    expect(result.batchItemFailures).toEqual([]);
    expect(d.sink.ofType('log').filter((e) => e.level === 'error').map((e) => e.message)).toEqual([
      expect.stringMatching(/^message x is not a Cairn work message; it was moved to the dead-letter queue \(body: \{"kind":"push"\}\)$/),
      expect.stringMatching(/^message y names unknown source "ghost"; it was moved/),
    ]);
  });

  it('fails a malformed message as before when it cannot be moved', async () => {
    const d = deps({});
    const result = await processBatch([{ messageId: 'x', body: 'not json', receiveCount: 1 }], {
      ...d.deps,
      deadLetter: async () => {
        throw new Error('AccessDenied');
      },
    });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'x' }]);
    expect(d.sink.ofType('log').map((e) => e.message)).toEqual([expect.stringContaining('could not be moved to the dead-letter queue: AccessDenied'), expect.stringContaining('after its last receive')]);
  });

  it('brings a transient failure back after a short delay that grows with each receive', async () => {
    const d = deps({ bad: new TransientError('ServiceUnavailable', 'CloudFormation answered 503') });
    const failed: { ids: string[]; seconds: number }[] = [];
    const retryFailedLater = async (records: BatchRecord[], seconds: number) => void failed.push({ ids: records.map((r) => r.messageId), seconds });
    await processBatch([msg('1', 'bad')], { ...d.deps, retryFailedLater });
    await processBatch([{ ...msg('1', 'bad'), receiveCount: 3 }], { ...d.deps, retryFailedLater });
    expect(failed).toEqual([
      { ids: ['1'], seconds: 5 },
      { ids: ['1'], seconds: 20 },
    ]);
    expect(d.sink.ofType('reconcile.finished')[0]!.summary).toBe('will retry in 5 s: CloudFormation answered 503');
    expect(failureDelaySeconds(30)).toBe(MAX_DELAY_SECONDS);
  });

  it('backs off a source that keeps waiting, and starts over when a push arrives', async () => {
    const d = deps({ a: { outcome: 'waiting', commit: 'c', summary: 'waiting on app', retryAfterSeconds: 10 } });
    const requeued: WorkMessage[] = [];
    const requeue = async (m: WorkMessage) => void requeued.push(m);
    // First wait: the push is held 10 s, a fresh message carries the work with no waits before it.
    await processBatch([msg('1', 'a')], { ...d.deps, requeue });
    // The held push comes back with the requeued message: the second wait in a row, 20 s.
    const again = (m: WorkMessage, id: string): BatchRecord => ({ messageId: id, receiveCount: 1, body: JSON.stringify(m) });
    await processBatch([{ ...msg('1', 'a'), receiveCount: 2 }, again(requeued[0]!, 'r1')], { ...d.deps, requeue });
    await processBatch([again(requeued[1]!, 'r2')], { ...d.deps, requeue });
    // A new push means something changed: back to the stack's own retry time.
    await processBatch([again(requeued[2]!, 'r3'), msg('p', 'a')], { ...d.deps, requeue });
    expect(d.later.map((l) => l.seconds)).toEqual([10, 20, 40, 10]);
    expect(requeued.map((m) => m.waits)).toEqual([0, 1, 2, 0]);
    expect(waitDelaySeconds(10, 20)).toBe(MAX_DELAY_SECONDS);
  });
});
