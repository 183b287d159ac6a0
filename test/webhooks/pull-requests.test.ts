/**
 * Pull request (merge request) events per provider, as each documents its payload: verified exactly
 * as pushes are, normalised to one preview message (number, action, head, fetch ref, fork flag) for
 * a pull request into the source's branch; other bases, forks not allowed, and actions that do not
 * change the head are acknowledged without queueing.
 */
import { describe, expect, it } from 'vitest';
import type { Provider } from '../../lib/core/source-config.js';
import { handleWebhook } from '../../lib/webhooks/intake.js';
import { config, delivery, testDeps } from './deliveries.js';

const HEAD = 'c0ffee'.padEnd(40, '1');
const SECRET = 'pr-secret';

interface Case {
  provider: Provider;
  event: string;
  /** A payload for `action`, into `base`, from a fork or not. */
  payload(action: string, base: string, fork: boolean): unknown;
  actions: Record<string, string>;
  fetchRef: string;
}

const CASES: Case[] = [
  {
    provider: 'github',
    event: 'pull_request',
    actions: { opened: 'opened', synchronize: 'updated', reopened: 'reopened', closed: 'closed' },
    fetchRef: 'refs/pull/12/head',
    payload: (action, base, fork) => ({
      action,
      number: 12,
      pull_request: {
        number: 12,
        html_url: 'https://github.com/org/infra/pull/12',
        head: { ref: 'feature', sha: HEAD, repo: { full_name: fork ? 'someone/infra' : 'org/infra' } },
        base: { ref: base, repo: { full_name: 'org/infra' } },
      },
      repository: { full_name: 'org/infra' },
    }),
  },
  {
    provider: 'gitea',
    event: 'pull_request',
    actions: { opened: 'opened', synchronized: 'updated', reopened: 'reopened', closed: 'closed' },
    fetchRef: 'refs/pull/12/head',
    payload: (action, base, fork) => ({
      action,
      number: 12,
      pull_request: {
        id: 991,
        number: 12,
        html_url: 'https://gitea.example.com/org/infra/pulls/12',
        head: { ref: 'feature', label: 'feature', sha: HEAD, repo_id: fork ? 8 : 7, repo: { full_name: fork ? 'someone/infra' : 'org/infra' } },
        base: { ref: base, label: base, sha: 'b'.repeat(40), repo_id: 7, repo: { full_name: 'org/infra' } },
      },
      repository: { full_name: 'org/infra' },
    }),
  },
  {
    provider: 'forgejo',
    event: 'pull_request',
    actions: { opened: 'opened', synchronized: 'updated', reopened: 'reopened', closed: 'closed' },
    fetchRef: 'refs/pull/12/head',
    payload: (action, base, fork) => ({
      action,
      number: 12,
      pull_request: { number: 12, head: { ref: 'feature', sha: HEAD, repo: { full_name: fork ? 'someone/infra' : 'org/infra' } }, base: { ref: base, repo: { full_name: 'org/infra' } } },
      repository: { full_name: 'org/infra' },
    }),
  },
  {
    provider: 'gitlab',
    event: 'Merge Request Hook',
    actions: { open: 'opened', update: 'updated', reopen: 'reopened', close: 'closed', merge: 'closed' },
    fetchRef: 'refs/merge-requests/12/head',
    payload: (action, base, fork) => ({
      object_kind: 'merge_request',
      event_type: 'merge_request',
      project: { id: 7, path_with_namespace: 'org/infra', web_url: 'https://gitlab.example.com/org/infra' },
      object_attributes: {
        id: 99001,
        iid: 12,
        action,
        source_branch: 'feature',
        target_branch: base,
        source_project_id: fork ? 8 : 7,
        target_project_id: 7,
        last_commit: { id: HEAD, message: 'Change' },
        url: 'https://gitlab.example.com/org/infra/-/merge_requests/12',
      },
    }),
  },
  {
    provider: 'bitbucket',
    event: 'pullrequest:created',
    actions: { 'pullrequest:created': 'opened', 'pullrequest:updated': 'updated', 'pullrequest:fulfilled': 'closed', 'pullrequest:rejected': 'closed' },
    fetchRef: 'refs/heads/feature',
    payload: (_action, base, fork) => ({
      pullrequest: {
        id: 12,
        title: 'Change',
        source: { branch: { name: 'feature' }, commit: { hash: HEAD.slice(0, 12) }, repository: { full_name: fork ? 'someone/infra' : 'org/infra' } },
        destination: { branch: { name: base }, commit: { hash: 'bbbbbbbbbbbb' }, repository: { full_name: 'org/infra' } },
        links: { html: { href: 'https://bitbucket.org/org/infra/pull-requests/12' } },
      },
      repository: { full_name: 'org/infra' },
    }),
  },
];

function setup(provider: Provider, previews?: { forks: boolean }) {
  return testDeps({
    config: config({ name: 'infra', repoUrl: 'https://git.example.com/org/infra.git', branch: 'main', provider, webhookSecretName: 'hook', ...(previews ? { previews } : {}) }),
    secrets: { hook: SECRET },
  });
}

/** GitHub-style providers put the action in the body, Bitbucket in the event key. */
function send(c: Case, action: string, options: { base?: string; fork?: boolean; previews?: { forks: boolean }; secret?: string } = {}) {
  const d = setup(c.provider, options.previews);
  const event = c.provider === 'bitbucket' ? action : c.event;
  const body = JSON.stringify(c.payload(action, options.base ?? 'main', options.fork ?? false));
  return { d, response: handleWebhook(delivery(c.provider, { source: 'infra', body, secret: options.secret ?? SECRET, event, deliveryId: `d-${action}` }), d) };
}

describe.each(CASES)('Pull request events: $provider', (c) => {
  it.each(Object.entries(c.actions))('queues a preview for %s as %s', async (action, expected) => {
    const { d, response } = send(c, action);
    expect(await response).toMatchObject({ statusCode: 202, body: { queued: true, pullRequest: 12, source: 'infra', branch: 'main' } });
    expect(d.queue.sent).toHaveLength(1);
    expect(d.queue.sent[0]).toMatchObject({ source: 'infra', kind: 'preview', dedupId: `d-${action}`, pullRequest: { number: 12, action: expected, headRef: 'feature', fetchRef: c.fetchRef, fork: false } });
    // Bitbucket Cloud names the head by 12 digits only: the preview reads the branch's commit instead.
    if (c.provider === 'bitbucket') expect(d.queue.sent[0]!.commit).toBeUndefined();
    else expect(d.queue.sent[0]!.commit).toBe(HEAD);
  });

  it('refuses a delivery whose signature or token does not match, as for pushes', async () => {
    const { d, response } = send(c, Object.keys(c.actions)[0]!, { secret: 'wrong' });
    expect((await response).statusCode).toBe(401);
    expect(d.queue.sent).toEqual([]);
  });

  it('ignores a pull request into another branch', async () => {
    const { d, response } = send(c, Object.keys(c.actions)[0]!, { base: 'develop' });
    expect(await response).toMatchObject({ statusCode: 202, body: { queued: false, ignored: 'other-branch' } });
    expect(d.queue.sent).toEqual([]);
  });

  it('previews a fork only when the source allows it', async () => {
    const refused = send(c, Object.keys(c.actions)[0]!, { fork: true });
    expect(await refused.response).toMatchObject({ statusCode: 202, body: { queued: false, ignored: 'fork' } });
    expect(refused.d.queue.sent).toEqual([]);
    const allowed = send(c, Object.keys(c.actions)[0]!, { fork: true, previews: { forks: true } });
    expect(await allowed.response).toMatchObject({ statusCode: 202, body: { queued: true } });
    expect(allowed.d.queue.sent[0]!.pullRequest).toMatchObject({ fork: true, fetchRef: c.fetchRef });
  });
});

describe('Pull request events: actions that do not change the head', () => {
  it.each([
    ['github', 'pull_request', { action: 'labeled', pull_request: {} }],
    ['gitea', 'pull_request', { action: 'edited', pull_request: {} }],
    ['gitlab', 'Merge Request Hook', { object_attributes: { action: 'approved', iid: 1 } }],
    ['bitbucket', 'pullrequest:approved', { pullrequest: { id: 1 } }],
  ] as const)('%s %s is acknowledged without a preview', async (provider, event, payload) => {
    const d = setup(provider);
    const response = await handleWebhook(delivery(provider, { source: 'infra', body: JSON.stringify(payload), secret: SECRET, event }), d);
    expect(response).toMatchObject({ statusCode: 202, body: { queued: false, ignored: 'not-a-push' } });
    expect(d.queue.sent).toEqual([]);
  });

  it('answers 400 for a pull request payload without its head branch', async () => {
    const d = setup('github');
    const body = JSON.stringify({ action: 'opened', number: 3, pull_request: { number: 3, base: { ref: 'main' }, head: { sha: HEAD } } });
    const response = await handleWebhook(delivery('github', { source: 'infra', body, secret: SECRET, event: 'pull_request' }), d);
    expect(response).toMatchObject({ statusCode: 400, body: { error: 'GitHub pull_request payload: head.ref must be a non-empty string' } });
  });
});
