import { describe, expect, it } from 'vitest';
import { StalledError, TransientError } from '../../lib/core/errors.js';
import { MemorySink } from '../../lib/ports/events.js';
import { processBatch, type BatchRecord } from '../../lib/reconcile/process-batch.js';
import type { ReconcileOutcome, Trigger } from '../../lib/reconcile/reconcile-source.js';

const msg = (id: string, source: string, kind = 'push', receivedAt = '2026-11-22T10:00:00.000Z'): BatchRecord => ({
  messageId: id,
  receiveCount: 1,
  body: JSON.stringify({ source, kind, dedupId: id, receivedAt }),
});

function deps(outcomes: Record<string, ReconcileOutcome | Error>) {
  const calls: { source: string; trigger: Trigger }[] = [];
  const later: { ids: string[]; seconds: number }[] = [];
  const sink = new MemorySink();
  return {
    calls,
    later,
    sink,
    deps: {
      knownSource: (name: string) => name in outcomes,
      reconcile: async (source: string, trigger: Trigger) => {
        calls.push({ source, trigger });
        const o = outcomes[source]!;
        if (o instanceof Error) throw o;
        return o;
      },
      retryLater: async (records: BatchRecord[], seconds: number) => {
        later.push({ ids: records.map((r) => r.messageId), seconds });
      },
      sink,
    },
  };
}

describe('Function: reconcile batch semantics', () => {
  it('folds every message of one source into one reconcile, triggered by the earliest push', async () => {
    const d = deps({ a: { outcome: 'succeeded', commit: 'c', summary: '1 stack updated' } });
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
    const d = deps({ a: { outcome: 'stalled', commit: 'c', summary: 'blocked', error: new StalledError('DestructiveChangeBlocked', 'x') } });
    expect((await processBatch([msg('1', 'a')], d.deps)).batchItemFailures).toEqual([]);
  });

  it('brings a waiting source back after the retry delay by failing it with a longer visibility', async () => {
    const d = deps({ a: { outcome: 'waiting', commit: 'c', summary: 'waiting on app', retryAfterSeconds: 30 } });
    const result = await processBatch([msg('1', 'a'), msg('2', 'a')], d.deps);
    expect(d.later).toEqual([{ ids: ['1', '2'], seconds: 30 }]);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['1', '2']);
  });

  it('fails malformed and unknown-source messages so they reach the dead-letter queue', async () => {
    const d = deps({ a: { outcome: 'succeeded', commit: 'c', summary: 'ok' } });
    const result = await processBatch([{ messageId: 'x', body: 'not json', receiveCount: 3 }, msg('y', 'ghost'), msg('z', 'a')], d.deps);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'x' }, { itemIdentifier: 'y' }]);
    expect(result.outcomes).toMatchObject({ x: 'rejected', y: 'rejected', z: 'succeeded' });
    expect(d.calls.map((c) => c.source)).toEqual(['a']);
  });

  it('lets a retry request outrank everything else in the batch', async () => {
    const d = deps({ a: { outcome: 'succeeded', commit: 'c', summary: 'ok' } });
    await processBatch([msg('1', 'a', 'sweep'), msg('2', 'a', 'retry')], d.deps);
    expect(d.calls[0]!.trigger.kind).toBe('retry');
  });
});
