/**
 * Every example payload in @octokit/webhooks-examples (GitHub.com and each GHES version), signed as
 * GitHub signs it: every push verifies and normalises to the branch and commit it names; every pull
 * request event that changes the head (opened, synchronize, reopened, closed) becomes a preview or is
 * refused for its base or fork; every other event is verified and acknowledged without being queued.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { handleWebhook } from '../../lib/webhooks/intake.js';
import { config, delivery, testDeps } from './deliveries.js';

interface Definition {
  name: string;
  examples: Record<string, unknown>[];
}

const packageDir = dirname(createRequire(import.meta.url).resolve('@octokit/webhooks-examples/package.json'));
const editions = readdirSync(packageDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const definitions = editions.map((edition) => ({
  edition,
  events: JSON.parse(readFileSync(join(packageDir, edition, 'index.json'), 'utf8')) as Definition[],
}));

const pushes = definitions.flatMap(({ edition, events }) =>
  events
    .filter((event) => event.name === 'push')
    .flatMap((event) => event.examples.map((example, index) => ({ label: `${edition} push #${index}`, example }))),
);

const others = definitions.flatMap(({ edition, events }) =>
  events
    .filter((event) => event.name !== 'push' && event.name !== 'pull_request')
    .flatMap((event) => event.examples.map((example, index) => ({ label: `${edition} ${event.name} #${index}`, name: event.name, example }))),
);

const pullRequests = definitions.flatMap(({ edition, events }) =>
  events
    .filter((event) => event.name === 'pull_request')
    .flatMap((event) => event.examples.map((example, index) => ({ label: `${edition} pull_request ${String(example['action'])} #${index}`, example }))),
);

const PREVIEW_ACTIONS = new Set(['opened', 'synchronize', 'reopened', 'closed']);

const SECRET = 'octokit-examples-secret';
const CONFIG = config({ name: 'hello-world', repoUrl: 'https://github.com/Codertocat/Hello-World.git', branch: 'master', provider: 'github', webhookSecretName: 'hook' });

function deps() {
  return testDeps({ config: CONFIG, secrets: { hook: SECRET } });
}

describe('GitHub: @octokit/webhooks-examples', () => {
  it('covers GitHub.com and the GHES editions, with pushes of every kind', () => {
    expect(editions).toContain('api.github.com');
    expect(editions.length).toBeGreaterThan(1);
    const refs = new Set(pushes.map(({ example }) => String(example['ref']).split('/')[1]));
    expect(refs).toEqual(new Set(['heads', 'tags']));
    expect(others.length).toBeGreaterThan(500);
  });

  it.each(pushes)('verifies and normalises $label', async ({ example }) => {
    const d = deps();
    const body = JSON.stringify(example);
    const response = await handleWebhook(delivery('github', { source: 'hello-world', body, secret: SECRET, deliveryId: 'd-1' }), d);
    const ref = example['ref'] as string;
    const after = example['after'] as string;
    if (ref.startsWith('refs/tags/')) {
      expect(response).toMatchObject({ statusCode: 202, body: { queued: false, ignored: 'tag' } });
      expect(d.queue.sent).toEqual([]);
    } else if (example['deleted'] === true) {
      expect(response).toMatchObject({ statusCode: 202, body: { queued: false, ignored: 'branch-deleted' } });
      expect(d.queue.sent).toEqual([]);
    } else {
      expect(ref).toBe('refs/heads/master');
      expect(response).toMatchObject({ statusCode: 202, body: { queued: true, deliveryId: 'd-1', branch: 'master', commit: after } });
      expect(d.queue.sent).toEqual([{ source: 'hello-world', kind: 'push', dedupId: 'd-1', commit: after, receivedAt: expect.any(String) }]);
    }
  });

  it.each(pushes)('rejects $label when one byte of the body changes', async ({ example }) => {
    const d = deps();
    const body = JSON.stringify(example);
    const request = delivery('github', { source: 'hello-world', body, secret: SECRET });
    const response = await handleWebhook({ ...request, body: body.replace('"ref":"', '"ref":" ') }, d);
    expect(response.statusCode).toBe(401);
    expect(d.queue.sent).toEqual([]);
  });

  it('acknowledges every other event type without queueing it', async () => {
    const d = deps();
    const outcomes = new Map<string, number>();
    for (const { name, example } of others) {
      const response = await handleWebhook(delivery('github', { source: 'hello-world', body: JSON.stringify(example), secret: SECRET, event: name }), d);
      const key = `${response.statusCode} ${response.body.ignored ?? (name === 'ping' ? 'ping' : 'queued?')}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      // A new comment on a pull request or a commit is read for a /cairn command; these hold none.
      const comment = (name === 'commit_comment' || (name === 'issue_comment' && isPullRequestIssue(example))) && example['action'] === 'created';
      if (name === 'ping') expect(response.statusCode).toBe(200);
      else if (comment) expect(response.body).toMatchObject({ queued: false, ignored: 'not-a-command' });
      else expect(response.body).toMatchObject({ queued: false, ignored: 'not-a-push', reason: expect.stringMatching(/^event .* is not a push; nothing to do$/) });
    }
    expect(d.queue.sent).toEqual([]);
    expect([...outcomes.keys()].sort()).toEqual(['200 ping', '202 not-a-command', '202 not-a-push']);
  });

  it.each(pullRequests)('verifies and reads $label', async ({ example }) => {
    const d = deps();
    const response = await handleWebhook(delivery('github', { source: 'hello-world', body: JSON.stringify(example), secret: SECRET, event: 'pull_request', deliveryId: 'd-pr' }), d);
    expect(response.statusCode).toBe(202);
    const pr = example['pull_request'] as { number: number; base: { ref: string; repo: { full_name: string } }; head: { sha: string; repo: { full_name: string } | null } };
    if (!PREVIEW_ACTIONS.has(String(example['action']))) {
      expect(response.body).toMatchObject({ queued: false, ignored: 'not-a-push' });
    } else if (pr.base.ref !== 'master') {
      expect(response.body).toMatchObject({ queued: false, ignored: 'other-branch' });
    } else if (pr.head.repo?.full_name !== pr.base.repo.full_name) {
      expect(response.body).toMatchObject({ queued: false, ignored: 'fork' });
    } else {
      expect(response.body).toMatchObject({ queued: true, pullRequest: pr.number, commit: pr.head.sha });
      expect(d.queue.sent).toEqual([
        expect.objectContaining({ source: 'hello-world', kind: 'preview', dedupId: 'd-pr', commit: pr.head.sha, pullRequest: expect.objectContaining({ number: pr.number, fetchRef: `refs/pull/${pr.number}/head`, fork: false }) }),
      ]);
      return;
    }
    expect(d.queue.sent).toEqual([]);
  });

  it('queues a preview for at least one example of each action that changes the head', async () => {
    const queued = new Set<string>();
    for (const { example } of pullRequests) {
      const d = deps();
      await handleWebhook(delivery('github', { source: 'hello-world', body: JSON.stringify(example), secret: SECRET, event: 'pull_request' }), d);
      if (d.queue.sent.length > 0) queued.add(d.queue.sent[0]!.pullRequest!.action);
    }
    expect([...queued].sort()).toEqual(['closed', 'opened', 'reopened', 'updated']);
  });
});

function isPullRequestIssue(example: Record<string, unknown>): boolean {
  const issue = example['issue'] as { pull_request?: unknown } | undefined;
  return typeof issue?.pull_request === 'object' && issue.pull_request !== null;
}
