/**
 * The pull-request preview apart from any provider: the comment's markdown for every kind of stack
 * plan (create, update, replace, revert of drift a merge would overwrite, delete, blocked) and for
 * validation problems; preview messages in a FIFO group of their own, folded apart from the
 * source's steps in a batch; and a preview step that plans a memory repository's pull request head
 * against the embedded account, never changing a stack.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import { SourceInvalidError } from '../../lib/adapters/source-errors.js';
import { InProcessQueue } from '../../lib/adapters/in-process-queue.js';
import type { Plan, StackPlan } from '../../lib/core/model.js';
import { MemorySink } from '../../lib/ports/events.js';
import type { PullRequestComment } from '../../lib/ports/pr-comments.js';
import type { SourceRepo } from '../../lib/ports/source-repo.js';
import { messageGroup, type PullRequestWork } from '../../lib/ports/work-queue.js';
import { processBatch } from '../../lib/reconcile/process-batch.js';
import { COMMENT_MAX_CHARS, renderPreviewComment, previewVerdict } from '../../lib/reconcile/preview-comment.js';
import { previewPullRequest } from '../../lib/reconcile/preview-pr.js';
import { reconcileSource } from '../../lib/reconcile/reconcile-source.js';
import { StallMemory } from '../../lib/reconcile/stall-memory.js';
import type { Reconciler } from '../../lib/reconcile/reconciler.js';
import { LocalGitSource } from '../../lib/adapters/local-source.js';
import { commit, createBranch, createRepo } from '../helpers/git-server.js';
import { memorySnapshot, type MemoryFiles } from '../helpers/memory-source.js';

const stack = (over: Partial<StackPlan>): StackPlan => ({
  id: 'app',
  stackName: 'app',
  region: undefined,
  action: 'none',
  wave: 0,
  reason: 'in sync',
  recreate: false,
  waiting: false,
  resources: [],
  parameters: [],
  desiredHash: 'h1',
  actualHash: 'h1',
  ...over,
});

const plan = (stacks: StackPlan[]): Plan => ({ source: 'prod', commit: 'a'.repeat(40), stacks, changes: stacks.some((s) => s.action !== 'none') });

describe('Preview comment', () => {
  it('says per stack what a merge does, with old → new values, the drift it would overwrite and what is blocked', () => {
    const body = renderPreviewComment({
      source: 'prod',
      commit: 'abcdef1234567890abcdef1234567890abcdef12',
      result: {
        plan: plan([
          stack({ id: 'network', stackName: 'network', action: 'create', reason: 'not deployed yet', resources: [{ logicalId: 'Vpc', type: 'AWS::EC2::VPC', change: 'add', properties: [] }] }),
          stack({
            id: 'app',
            stackName: 'prod-app',
            action: 'update',
            reason: 'template changed',
            preview: { state: 'ready', changes: [{ action: 'Modify', logicalId: 'Queue', physicalId: 'q', resourceType: 'AWS::SQS::Queue', replacement: 'False', properties: ['VisibilityTimeout'], values: [{ path: '/Properties/VisibilityTimeout', before: '30', after: '45', requiresRecreation: 'Never' }] }] },
          }),
          stack({ id: 'cache', stackName: 'cache', action: 'update', recreate: true, reason: 'failed create left ROLLBACK_COMPLETE' }),
          stack({ id: 'edge', stackName: 'edge', action: 'revert', reason: 'drifted: Topic DisplayName changed outside Cairn' }),
          stack({ id: 'data', stackName: 'data', action: 'blocked', blockedBy: 'DestructiveChangeBlocked', reason: 'destructive change blocked: Orders would be replaced; add `allowDestructive: [Orders]` to stacks.data in cairn.yaml' }),
          stack({ id: 'old', stackName: 'old', action: 'delete', reason: 'removed from cairn.yaml (prune)' }),
          stack({ id: 'quiet', stackName: 'quiet' }),
        ]),
      },
    });
    expect(body.startsWith('<!-- cairn:preview source=prod -->\n')).toBe(true);
    expect(body).toContain('### Cairn preview: `prod` at abcdef1');
    expect(body).toContain('**merging would be blocked: 1 stack blocked**');
    expect(body).toContain('#### ➕ `network`: create');
    expect(body).toContain('#### ✏️ `app` (prod-app): update');
    expect(body).toContain('- `Queue` VisibilityTimeout: `30` → `45`');
    expect(body).toContain('#### ♻️ `cache`: replace');
    expect(body).toContain('#### ↩️ `edge`: revert');
    expect(body).toContain('> Merging overwrites drift: drifted: Topic DisplayName changed outside Cairn');
    expect(body).toContain('> **Blocked** (DestructiveChangeBlocked): destructive change blocked: Orders would be replaced; add `allowDestructive: [Orders]`');
    expect(body).toContain('#### 🗑️ `old`: delete');
    expect(body).toContain('1 stack unchanged.');
    expect(body).not.toContain('`quiet`');
  });

  it('lists validation problems with their file and line', () => {
    const input = { source: 'prod', commit: 'b'.repeat(40), result: { problems: [{ file: 'stacks/app.yaml', path: 'Resources.Queue.Type', line: 12, message: 'unknown resource type AWS::SQS::Queu' }] } };
    expect(previewVerdict(input)).toBe('cairn.yaml or a template is invalid: 1 problem');
    expect(renderPreviewComment(input)).toContain('- ❌ stacks/app.yaml:12: Resources.Queue.Type: unknown resource type AWS::SQS::Queu');
  });

  it('shows the warnings of a head that loads, and cuts a comment longer than providers accept, saying so', () => {
    const withWarning = renderPreviewComment({ source: 'prod', commit: 'd'.repeat(40), result: { plan: plan([stack({})]), findings: [{ file: 'app.yaml', path: 'Resources.Fn.Properties.Runtime', line: 7, message: 'nodejs16.x is deprecated', severity: 'warning' }] } });
    expect(withWarning).toContain('- ⚠️ app.yaml:7: Resources.Fn.Properties.Runtime: warning: nodejs16.x is deprecated');
    const many = Array.from({ length: 3000 }, (_, i) => stack({ id: `s${i}`, stackName: `s${i}`, action: 'create', reason: 'not deployed yet '.repeat(3) }));
    const long = renderPreviewComment({ source: 'prod', commit: 'e'.repeat(40), result: { plan: plan(many) } });
    expect(long.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    expect(long).toContain('(cut: the whole plan is longer than a comment may be');
    expect(long.startsWith('<!-- cairn:preview source=prod -->')).toBe(true);
  });

  it('says a merge that changes nothing changes nothing', () => {
    expect(previewVerdict({ source: 'prod', commit: 'c'.repeat(40), result: { plan: plan([stack({})]) } })).toBe('merging changes nothing');
  });
});

const pr = (number: number, action: PullRequestWork['action'] = 'opened'): PullRequestWork => ({ number, action, headRef: 'feature', fetchRef: `refs/pull/${number}/head`, fork: false });

describe('Preview messages in the queue', () => {
  it('have a FIFO group per pull request, so a source busy applying does not hold them', () => {
    const queue = new InProcessQueue({ visibilityTimeoutMs: 10_000, maxReceives: 3 });
    expect(messageGroup({ source: 'prod', kind: 'preview', dedupId: 'x', receivedAt: '', pullRequest: pr(7) })).toBe('prod#pr-7');
    expect(messageGroup({ source: 'prod', kind: 'push', dedupId: 'y', receivedAt: '' })).toBe('prod');
    void queue.send({ source: 'prod', kind: 'push', dedupId: 'p1', receivedAt: '' });
    const first = queue.receive({ max: 10, visibilityTimeoutMs: 10_000 });
    expect(first).toHaveLength(1);
    void queue.send({ source: 'prod', kind: 'preview', dedupId: 'pr1', receivedAt: '', pullRequest: pr(7) });
    void queue.send({ source: 'prod', kind: 'push', dedupId: 'p2', receivedAt: '' });
    // The source's group is in flight; the preview's is not.
    const second = queue.receive({ max: 10, visibilityTimeoutMs: 10_000 });
    expect(second.map((m) => m.message.kind)).toEqual(['preview']);
  });

  it('are folded into one preview step per pull request, apart from the source reconcile, the latest event deciding', async () => {
    const previews: { source: string; pr: PullRequestWork }[] = [];
    const reconciles: string[] = [];
    const reconciler: Reconciler = {
      knownSource: () => true,
      reconcile: async (source) => {
        reconciles.push(source);
        return { outcome: { outcome: 'succeeded', commit: 'c', summary: 'in sync', counts: { created: 0, updated: 0, replaced: 0, deleted: 0, reverted: 0, blocked: 0, unchanged: 1 } }, action: { kind: 'delete' } };
      },
      preview: async (source, pullRequest) => {
        previews.push({ source, pr: pullRequest });
        return pullRequest.number === 9 ? { outcome: { outcome: 'failed', error: new Error('GitHub is down') }, action: { kind: 'retry', seconds: 5 } } : { outcome: { outcome: 'closed', removed: 0 }, action: { kind: 'delete' } };
      },
    };
    const body = (dedupId: string, extra: object) => JSON.stringify({ source: 'prod', dedupId, receivedAt: '2026-12-01T00:00:00Z', ...extra });
    const result = await processBatch(
      [
        { messageId: 'm1', receiveCount: 1, body: body('a', { kind: 'preview', pullRequest: pr(7) }) },
        { messageId: 'm2', receiveCount: 1, body: body('b', { kind: 'push' }) },
        { messageId: 'm3', receiveCount: 1, body: body('c', { kind: 'preview', pullRequest: pr(7, 'closed') }) },
        { messageId: 'm4', receiveCount: 1, body: body('d', { kind: 'preview', pullRequest: pr(9) }) },
        { messageId: 'm5', receiveCount: 1, body: body('e', { kind: 'preview' }) },
      ],
      { reconciler, sink: new MemorySink(), retryLater: async () => undefined, retryFailedLater: async () => undefined },
    );
    expect(reconciles).toEqual(['prod']);
    expect(previews.map((p) => [p.pr.number, p.pr.action])).toEqual([
      [7, 'closed'],
      [9, 'opened'],
    ]);
    // The failed preview is retried; a preview message without its pull request is poison.
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m4', 'm5']);
    expect(result.outcomes).toMatchObject({ m1: 'closed', m2: 'succeeded', m3: 'closed', m4: 'failed', m5: 'rejected' });
  });
});

const TEMPLATE = (timeout: number) => `Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: ${timeout}\n`;

/** A repository whose branch and pull request refs are memory snapshots. */
function repoWith(refs: Record<string, MemoryFiles>, base: MemoryFiles): SourceRepo {
  const at = (files: MemoryFiles | undefined, name: string): SourceRepo => ({
    description: `memory://${name}`,
    snapshot: async () => {
      if (!files) throw new SourceInvalidError({ source: 'memory', branch: name }, `the ref ${name} does not exist`);
      return memorySnapshot(files);
    },
    atRef: (ref) => at(refs[ref], ref),
  });
  return at(base, 'main');
}

describe('Preview step', () => {
  let home: string | undefined;
  afterEach(() => home && rmSync(home, { recursive: true, force: true }));

  it('plans the head with a preview change set, comments and reports it, and leaves the stack as it was', async () => {
    home = mkdtempSync(join(tmpdir(), 'cairn-preview-pr-'));
    const account = new EmbeddedAccount({ home, operationMs: 1, autoAdvance: true, pollMs: 5 });
    try {
      const gateway = account.gateway();
      const manifest = 'version: 1\nsource: prod\nstacks:\n  app:\n    template: app.yaml\n';
      // Deployed once from the base branch, by the same step a push takes.
      const base = { 'cairn.yaml': manifest, 'app.yaml': TEMPLATE(30) };
      const sink = new MemorySink();
      for (let i = 0; i < 20; i++) {
        const step = await reconcileSource({ source: 'prod', repo: repoWith({}, base), gateways: () => gateway, sink, stalls: new StallMemory(), step: { pollMs: 5, changeSetWaitMs: 5_000 } }, { kind: 'push' });
        if (step.outcome === 'succeeded') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const before = (await gateway.listStacks()).map((s) => [s.stackName, s.status, s.updatedAt ?? s.createdAt]);
      expect(before).toHaveLength(1);

      const posted: PullRequestComment[] = [];
      const statuses: unknown[] = [];
      // The head of a same-repository pull request is read by its branch when no pull request ref exists (a local repository in serve).
      const repo = repoWith({ 'refs/heads/feature': { 'cairn.yaml': manifest, 'app.yaml': TEMPLATE(60) } }, base);
      const outcome = await previewPullRequest(
        {
          source: 'prod',
          repo,
          gateways: () => gateway,
          sink,
          comments: {
            upsert: async (c) => {
              posted.push(c);
              return 'created';
            },
          },
          commitStatus: { report: async (s) => void statuses.push(s) },
          statusContext: 'cairn/prod/preview',
          changeSetWaitMs: 5_000,
          pollMs: 5,
        },
        pr(4),
      );
      expect(outcome).toMatchObject({ outcome: 'previewed', clean: true, summary: 'merging would apply cleanly: 1 to update', comment: 'created' });
      expect(posted).toHaveLength(1);
      expect(posted[0]).toMatchObject({ number: 4, marker: '<!-- cairn:preview source=prod -->' });
      expect(posted[0]!.body).toContain('VisibilityTimeout: `30` → `60`');
      expect(statuses).toEqual([expect.objectContaining({ state: 'success', context: 'cairn/prod/preview' })]);
      expect((await gateway.listStacks()).map((s) => [s.stackName, s.status, s.updatedAt ?? s.createdAt])).toEqual(before);
      expect((await gateway.listChangeSets('app')).filter((c) => c.changeSetName.startsWith('cairn-preview-'))).toEqual([]);
    } finally {
      account.close();
    }
  });

  it('reads a pull request of a repository on disk by its branch, as cairn serve has no pull request refs, and says so when neither exists', async () => {
    home = mkdtempSync(join(tmpdir(), 'cairn-preview-local-'));
    const account = new EmbeddedAccount({ home, operationMs: 1, autoAdvance: true, pollMs: 5 });
    try {
      const manifest = 'version: 1\nsource: prod\nstacks:\n  app:\n    template: app.yaml\n';
      const repo = await createRepo(home, 'infra', { 'cairn.yaml': manifest, 'app.yaml': TEMPLATE(30) });
      await createBranch(repo, 'feature');
      const head = await commit({ ...repo, branch: 'feature' }, { 'app.yaml': TEMPLATE(90) });
      const posted: string[] = [];
      const ctx = {
        source: 'prod',
        repo: new LocalGitSource({ path: repo.bareDir, ref: 'main' }),
        gateways: () => account.gateway(),
        sink: new MemorySink(),
        comments: {
          upsert: async (c: PullRequestComment) => {
            posted.push(c.body);
            return posted.length === 1 ? ('created' as const) : ('updated' as const);
          },
        },
        commitStatus: { report: async () => undefined },
        statusContext: 'cairn/prod/preview',
        changeSetWaitMs: 5_000,
        pollMs: 5,
      };
      // Nothing deployed yet: the merge would create the stack, read at the branch's head commit.
      expect(await previewPullRequest(ctx, pr(2))).toMatchObject({ outcome: 'previewed', commit: head, clean: true, summary: 'merging would apply cleanly: 1 to create' });
      expect(posted[0]).toContain(`at ${head.slice(0, 7)}`);
      // A fork's head is never looked for under a branch of the base repository.
      expect(await previewPullRequest(ctx, { ...pr(3), fork: true })).toMatchObject({ outcome: 'previewed', commit: '', clean: false });
      expect(posted[1]).toContain('could not plan: ');
      expect(posted[1]).toContain('refs/pull/3/head');
      expect(await account.gateway().listStacks()).toEqual([]);
    } finally {
      account.close();
    }
  });
});
