/**
 * One reconcile step of a source, settled as the Lambda and `cairn serve` settle it: what a source
 * that cannot be read and a commit stalled earlier report, and what the success summary counts.
 */
import { describe, expect, it } from 'vitest';
import { SourceAccessDeniedError, SourceInvalidError, SourceUnavailableError } from '../../lib/adapters/source-errors.js';
import type { CommitStatus } from '../../lib/ports/commit-status.js';
import type { SourceRepo, SourceSnapshot } from '../../lib/ports/source-repo.js';
import type { Trigger } from '../../lib/reconcile/reconcile-source.js';
import { createReconciler } from '../../lib/reconcile/reconciler.js';
import { StallMemory } from '../../lib/reconcile/stall-memory.js';
import { MemoryRepo } from '../helpers/memory-source.js';
import { APP, repo, world } from '../helpers/world.js';

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

function setup() {
  const w = world();
  const source = new FlakyRepo();
  const statuses: CommitStatus[] = [];
  const stalls = new StallMemory();
  const reconciler = createReconciler({
    sources: [{ name: 'platform' }],
    repos: new Map([['platform', source]]),
    gateways: () => w.gateways,
    sink: w.sink,
    stalls,
    commitStatus: () => ({ report: async (s) => void statuses.push(s) }),
    step: () => ({ pollMs: 500, changeSetWaitMs: 5_000, sleep: w.sleep }),
  });
  const step = async (kind: Trigger['kind'] = 'push') => reconciler.reconcile('platform', { kind });
  /** Steps until the commit is applied or stalled, letting the account's operations finish between them. */
  const settle = async (kind: Trigger['kind'] = 'push') => {
    for (let i = 0; i < 20; i++) {
      const r = await step(i === 0 ? kind : 'stack-event');
      if (r.outcome.outcome === 'succeeded' || r.outcome.outcome === 'stalled') return r;
      await w.sleep(5_000);
    }
    throw new Error('did not settle');
  };
  return { reconciler, source, statuses, stalls, sink: w.sink, step, settle };
}

describe('reconcileSource, settled', () => {
  it('stalls on a branch that does not exist, says why in the events, and resumes at once when it is pushed', async () => {
    const { source, sink, statuses, stalls, step } = setup();
    source.failure = new SourceInvalidError(AT, 'the branch main does not exist on the remote');
    const first = await step();
    expect(first).toMatchObject({ outcome: { outcome: 'stalled', error: { reason: 'SourceInvalid' } }, action: { kind: 'delete' } });
    expect(sink.ofType('reconcile.finished').at(-1)).toMatchObject({ outcome: 'stalled', reason: 'SourceInvalid', summary: expect.stringContaining('does not exist') });
    // No commit to put a status on.
    expect(statuses).toEqual([]);
    source.failure = undefined;
    const next = await step();
    expect(next.outcome.outcome).toBe('progressing');
    expect(stalls.get('platform')).toBeUndefined();
  });

  it('stalls on a refused token instead of failing into the dead-letter queue', async () => {
    const { source, sink, step } = setup();
    source.failure = new SourceAccessDeniedError(AT, 'the token from secret "GIT_TOKEN" was refused (HTTP 401)');
    expect((await step('sweep')).outcome).toMatchObject({ outcome: 'stalled', error: { reason: 'AccessDenied' } });
    expect(sink.ofType('reconcile.finished').at(-1)).toMatchObject({ outcome: 'stalled', reason: 'AccessDenied' });
  });

  it('puts a commit without cairn.yaml on the commit status as a failure', async () => {
    const { source, statuses, step } = setup();
    const commit = 'c'.repeat(40);
    source.failure = new SourceInvalidError(AT, `there is no cairn.yaml at ${commit}`, { commit });
    expect((await step()).outcome).toMatchObject({ outcome: 'stalled', commit });
    expect(statuses).toEqual([expect.objectContaining({ commit, state: 'failure', description: expect.stringContaining('there is no cairn.yaml') })]);
  });

  it('settles a transient source error as failed, to be retried after a short delay', async () => {
    const { source, sink, step } = setup();
    source.failure = new SourceUnavailableError(AT, 'the server answered HTTP 503');
    const r = await step();
    expect(r).toMatchObject({ outcome: { outcome: 'failed' }, action: { kind: 'retry', seconds: 5 } });
    expect(sink.ofType('reconcile.finished').at(-1)).toMatchObject({ outcome: 'failed', summary: expect.stringMatching(/^will retry in 5 s: .*the server answered HTTP 503$/) });
  });

  it('reports a commit stalled earlier as stalled on every later wake-up, without working on it', async () => {
    const { source, sink, statuses, step } = setup();
    source.inner.push(repo({ cairn: 'version: 1\nstacks:\n  app: {templte: app.yaml}\n' }));
    expect((await step()).outcome.outcome).toBe('stalled');
    for (let sweep = 0; sweep < 3; sweep++) expect((await step('sweep')).outcome).toMatchObject({ outcome: 'stalled', repeated: true });
    const finished = sink.ofType('reconcile.finished');
    expect(finished.map((e) => e.outcome)).toEqual(['stalled', 'stalled', 'stalled', 'stalled']);
    expect(finished.every((e) => e.reason === 'ManifestInvalid')).toBe(true);
    expect(sink.ofType('reconcile.started')).toHaveLength(1);
    // The commit's status is written once.
    expect(statuses.filter((s) => s.state === 'failure')).toHaveLength(1);
  });

  it('counts what the commit\'s steps did, and says "in sync" when a later step finds nothing to do', async () => {
    const { sink, statuses, settle } = setup();
    const applied = await settle();
    expect(applied.outcome).toMatchObject({ outcome: 'succeeded', summary: '3 stacks created', counts: { created: 3, updated: 0, deleted: 0, unchanged: 0 } });
    expect(statuses.at(-1)).toMatchObject({ state: 'success', description: '3 stacks created' });
    expect(sink.ofType('reconcile.finished').at(-1)).toMatchObject({ outcome: 'succeeded', summary: '3 stacks created', counts: { created: 3 } });
    // A sweep of the in-sync source: nothing done, nothing remembered.
    const again = await settle('sweep');
    expect(again.outcome).toMatchObject({ outcome: 'succeeded', summary: 'in sync: 3 stacks unchanged', counts: { created: 0, updated: 0, unchanged: 3 } });
    expect(sink.ofType('reconcile.finished').at(-1)).toMatchObject({ summary: 'in sync: 3 stacks unchanged', counts: { unchanged: 3 } });
  });

  it('counts an update and a prune\'s deletion, with the stacks left alone as unchanged', async () => {
    const { source, statuses, settle } = setup();
    await settle();
    const files = repo({
      cairn: ['version: 1', 'defaults: {prune: true}', 'stacks:', '  network: {template: network.yaml, parameters: {Cidr: 10.0.0.0/16}}', '  app:', '    template: app.yaml', '    parameters: {VpcId: {fromStack: network, output: VpcId}}'].join('\n'),
      files: { 'app.yaml': APP.replace('Properties: {', 'Properties: {VisibilityTimeout: 60, ') },
    });
    source.inner.push(files);
    const applied = await settle();
    expect(applied.outcome).toMatchObject({ outcome: 'succeeded', counts: { created: 0, updated: 1, deleted: 1, unchanged: 1 } });
    expect(applied.outcome.outcome === 'succeeded' && applied.outcome.summary).toBe('1 stack updated, 1 deleted, 1 unchanged');
    expect(statuses.at(-1)).toMatchObject({ state: 'success', description: '1 stack updated, 1 deleted, 1 unchanged' });
  });
});
