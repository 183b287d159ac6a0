/** One reconcile step of a source: what a source that cannot be read, and a commit stalled earlier, report. */
import { describe, expect, it } from 'vitest';
import { SourceAccessDeniedError, SourceInvalidError, SourceUnavailableError } from '../../lib/adapters/source-errors.js';
import type { CommitStatus } from '../../lib/ports/commit-status.js';
import type { SourceRepo, SourceSnapshot } from '../../lib/ports/source-repo.js';
import { reconcileSource, type ReconcileContext } from '../../lib/reconcile/reconcile-source.js';
import { StallMemory } from '../../lib/reconcile/stall-memory.js';
import { MemoryRepo } from '../helpers/memory-source.js';
import { repo, world } from '../helpers/world.js';

const AT = { source: 'https://git.example.com/acme/platform.git', branch: 'main' };

/** A repository whose next snapshot fails with `failure` while it is set, else reads `files`. */
class FlakyRepo implements SourceRepo {
  readonly description = 'flaky://platform';
  failure: Error | undefined;
  readonly inner = new MemoryRepo(repo());
  async snapshot(): Promise<SourceSnapshot> {
    if (this.failure) throw this.failure;
    return this.inner.snapshot();
  }
}

function setup(): { ctx: ReconcileContext; source: FlakyRepo; statuses: CommitStatus[]; sink: ReturnType<typeof world>['sink'] } {
  const w = world();
  const source = new FlakyRepo();
  const statuses: CommitStatus[] = [];
  const ctx: ReconcileContext = {
    source: 'platform',
    statusContext: 'cairn/platform',
    repo: source,
    gateways: w.gateways,
    sink: w.sink,
    stalls: new StallMemory(),
    commitStatus: { report: async (s) => void statuses.push(s) },
    step: { pollMs: 500, changeSetWaitMs: 5_000, sleep: w.sleep },
  };
  return { ctx, source, statuses, sink: w.sink };
}

describe('reconcileSource', () => {
  it('stalls on a branch that does not exist, says why in the events, and resumes at once when it is pushed', async () => {
    const { ctx, source, sink, statuses } = setup();
    source.failure = new SourceInvalidError(AT, 'the branch main does not exist on the remote');
    const outcome = await reconcileSource(ctx, { kind: 'push' });
    expect(outcome).toMatchObject({ outcome: 'stalled', error: { reason: 'SourceInvalid' } });
    expect(sink.ofType('reconcile.finished').at(-1)).toMatchObject({ outcome: 'stalled', reason: 'SourceInvalid', summary: expect.stringContaining('does not exist') });
    // No commit to put a status on.
    expect(statuses).toEqual([]);
    source.failure = undefined;
    const next = await reconcileSource(ctx, { kind: 'push' });
    expect(next.outcome).toBe('progressing');
    expect(ctx.stalls.get('platform')).toBeUndefined();
  });

  it('stalls on a refused token instead of failing into the dead-letter queue', async () => {
    const { ctx, source, sink } = setup();
    source.failure = new SourceAccessDeniedError(AT, 'the token from secret "GIT_TOKEN" was refused (HTTP 401)');
    expect(await reconcileSource(ctx, { kind: 'sweep' })).toMatchObject({ outcome: 'stalled', error: { reason: 'AccessDenied' } });
    expect(sink.ofType('reconcile.finished').at(-1)).toMatchObject({ outcome: 'stalled', reason: 'AccessDenied' });
  });

  it('puts a commit without cairn.yaml on the commit status as a failure', async () => {
    const { ctx, source, statuses } = setup();
    const commit = 'c'.repeat(40);
    source.failure = new SourceInvalidError(AT, `there is no cairn.yaml at ${commit}`, { commit });
    expect(await reconcileSource(ctx, { kind: 'push' })).toMatchObject({ outcome: 'stalled', commit });
    expect(statuses).toEqual([expect.objectContaining({ commit, state: 'failure', description: expect.stringContaining('there is no cairn.yaml') })]);
  });

  it('lets a transient source error through, to be retried', async () => {
    const { ctx, source } = setup();
    source.failure = new SourceUnavailableError(AT, 'the server answered HTTP 503');
    await expect(reconcileSource(ctx, { kind: 'push' })).rejects.toThrow('HTTP 503');
  });

  it('reports a commit stalled earlier as stalled on every later wake-up, without working on it', async () => {
    const { ctx, source, sink } = setup();
    source.inner.push(repo({ cairn: 'version: 1\nstacks:\n  app: {templte: app.yaml}\n' }));
    expect((await reconcileSource(ctx, { kind: 'push' })).outcome).toBe('stalled');
    for (let sweep = 0; sweep < 3; sweep++) expect((await reconcileSource(ctx, { kind: 'sweep' })).outcome).toBe('skipped');
    const finished = sink.ofType('reconcile.finished');
    expect(finished.map((e) => e.outcome)).toEqual(['stalled', 'stalled', 'stalled', 'stalled']);
    expect(finished.every((e) => e.reason === 'ManifestInvalid')).toBe(true);
    expect(sink.ofType('reconcile.started')).toHaveLength(1);
  });
});
