/**
 * Approving and rejecting by comment (`/cairn approve STACK`) on GitHub and GitLab, from the
 * providers' published example payloads: the author's write access is asked of the provider's API
 * (a stand-in answering as GitHub's and GitLab's REST APIs document), the decision is bound to the
 * change set and commit the stack awaits, written with who, when and where, answered on the pull
 * request or commit, and a reconcile is queued; the reconciler then executes it. Anyone without
 * write access, an unmerged pull request, another commit or a stack not waiting changes nothing.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import { FileApprovals } from '../../lib/adapters/file-approvals.js';
import { commentCommandsWith } from '../../lib/adapters/provider-access.js';
import type { ApprovalState } from '../../lib/ports/approvals.js';
import { parseCommands } from '../../lib/webhooks/comment-commands.js';
import { handleWebhook } from '../../lib/webhooks/intake.js';
import { repo, world } from '../helpers/world.js';
import { config, delivery, testDeps } from './deliveries.js';

const SECRET = 'hook-secret';
const MERGE = '9'.repeat(40);

type Example = Record<string, unknown>;
const exampleOf = (name: string): Example => {
  const group = (examples as unknown as { name: string; examples: Example[] }[]).find((e) => e.name === name)!;
  return structuredClone(group.examples.find((e) => e['action'] === 'created')!);
};

/** GitHub's issue_comment example, on a pull request's conversation, saying `body`. */
function githubPrComment(body: string, login = 'alice', number = 7): string {
  const e = exampleOf('issue_comment');
  const issue = e['issue'] as Record<string, unknown>;
  issue['number'] = number;
  issue['pull_request'] = { url: `https://api.github.com/repos/org/infra/pulls/${number}`, html_url: `https://github.com/org/infra/pull/${number}`, merged_at: null };
  const comment = e['comment'] as Record<string, unknown>;
  comment['body'] = body;
  (comment['user'] as Record<string, unknown>)['login'] = login;
  (comment['user'] as Record<string, unknown>)['type'] = 'User';
  comment['html_url'] = `https://github.com/org/infra/pull/${number}#issuecomment-1`;
  return JSON.stringify(e);
}

/** GitHub's commit_comment example, on `sha`, saying `body`. */
function githubCommitComment(body: string, sha: string, login = 'alice'): string {
  const e = exampleOf('commit_comment');
  const comment = e['comment'] as Record<string, unknown>;
  comment['body'] = body;
  comment['commit_id'] = sha;
  (comment['user'] as Record<string, unknown>)['login'] = login;
  return JSON.stringify(e);
}

const fixture = (name: string): Example => JSON.parse(readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url), 'utf8')) as Example;

/** A stand-in for the providers' REST APIs: the calls Cairn makes, answered as documented, and recorded. */
function providerApi(options: { github?: Record<string, string>; gitlab?: Record<string, number>; merged?: Record<number, string | undefined>; token: string }) {
  const calls: { method: string; url: string; body?: unknown; auth?: string }[] = [];
  const json = (status: number, value: unknown) => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    const headers = init?.headers as Record<string, string>;
    const auth = headers['authorization'] ?? headers['private-token'];
    calls.push({ method, url, ...(init?.body ? { body: JSON.parse(String(init.body)) } : {}), ...(auth ? { auth } : {}) });
    if (auth !== `Bearer ${options.token}` && auth !== options.token) return json(401, { message: 'Bad credentials' });
    let m = /^https:\/\/api\.github\.com\/repos\/org\/infra\/collaborators\/([^/]+)\/permission$/.exec(url);
    if (m && method === 'GET') {
      const permission = options.github?.[decodeURIComponent(m[1]!)];
      return permission ? json(200, { permission, role_name: permission, user: { login: m[1] } }) : json(404, { message: 'Not Found' });
    }
    m = /^https:\/\/(?:api\.github\.com\/repos\/org\/infra\/pulls|gitlab\.com\/api\/v4\/projects\/org%2Finfra\/merge_requests)\/(\d+)$/.exec(url);
    if (m && method === 'GET') {
      const commit = options.merged?.[Number(m[1])];
      return url.includes('gitlab') ? json(200, { iid: Number(m[1]), state: commit ? 'merged' : 'opened', merge_commit_sha: commit ?? null }) : json(200, { number: Number(m[1]), merged: Boolean(commit), merge_commit_sha: commit ?? MERGE.replace(/9/g, '8') });
    }
    m = /^https:\/\/gitlab\.com\/api\/v4\/projects\/org%2Finfra\/members\/all\/(\d+)$/.exec(url);
    if (m && method === 'GET') {
      const level = options.gitlab?.[m[1]!];
      return level === undefined ? json(404, { message: '404 Not found' }) : json(200, { id: Number(m[1]), access_level: level, state: 'active' });
    }
    if (method === 'POST') return json(201, { id: calls.length });
    return json(404, { message: `no such endpoint: ${method} ${url}` });
  }) as typeof globalThis.fetch;
  return { fetch, calls, replies: () => calls.filter((c) => c.method === 'POST') };
}

const QUEUE = (t: number) => `Resources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: ${t}}}\n`;
const files = (t: number) => repo({ cairn: `version: 1\nstacks:\n  app: {template: app.yaml, approval: manual}\n`, files: { 'app.yaml': QUEUE(t) } });

function setup(provider: 'github' | 'gitlab', api: ReturnType<typeof providerApi>) {
  const approvals = new FileApprovals(mkdtempSync(join(tmpdir(), 'cairn-approvals-')));
  const deps = testDeps({
    config: config({ name: 'src', repoUrl: provider === 'github' ? 'https://github.com/org/infra.git' : 'https://gitlab.com/org/infra.git', provider, webhookSecretName: 'hook', gitTokenSecretName: 'token' }),
    secrets: { hook: SECRET, token: 'tok-123' },
  });
  deps.commentCommands = commentCommandsWith({ approvals: async () => approvals, secrets: deps.secrets, fetch: api.fetch, now: () => new Date('2026-03-01T12:00:00.000Z') });
  return { approvals, deps };
}

const awaiting = (commit: string, changeSetName = 'cairn-abc-new'): ApprovalState => ({ source: 'src', stack: 'app', state: 'awaiting', changeSetName, commit, action: 'create', since: '2026-03-01T11:00:00.000Z' });

describe('Comment commands: parsing', () => {
  it('reads one command per line, several stacks each, and leaves quotes and code alone', () => {
    expect(parseCommands('LGTM\n/cairn approve app db\n> /cairn approve quoted\n```\n/cairn reject fenced\n```\n/cairn reject net,  dns')).toEqual({
      commands: [
        { verb: 'approve', stack: 'app' },
        { verb: 'approve', stack: 'db' },
        { verb: 'reject', stack: 'net' },
        { verb: 'reject', stack: 'dns' },
      ],
      problems: [],
    });
    expect(parseCommands('looks good to me').commands).toEqual([]);
  });

  it('says what is wrong with a command it cannot read', () => {
    expect(parseCommands('/cairn deploy app').problems).toEqual(['`/cairn deploy app`: the commands are `/cairn approve STACK` and `/cairn reject STACK`']);
    expect(parseCommands('/cairn approve').problems).toEqual(["`/cairn approve` names no stack: write `/cairn approve STACK` with the stack's id in cairn.yaml"]);
    expect(parseCommands('/cairn approve 9lives').problems[0]).toMatch(/`9lives` is not a stack id/);
  });
});

describe('Comment commands: GitHub', () => {
  it('records an approval from a writer on a merged pull request, bound to the change set and merge commit, replies, and queues a reconcile', async () => {
    const api = providerApi({ github: { alice: 'write' }, merged: { 7: MERGE }, token: 'tok-123' });
    const { approvals, deps } = setup('github', api);
    await approvals.putState(awaiting(MERGE));
    const response = await handleWebhook(delivery('github', { source: 'src', body: githubPrComment('/cairn approve app'), secret: SECRET, event: 'issue_comment', deliveryId: 'c-1' }), deps);
    expect(response).toMatchObject({ statusCode: 202, body: { queued: true, deliveryId: 'c-1', commit: MERGE } });
    expect(await approvals.get('src', 'app', 'cairn-abc-new')).toEqual({
      source: 'src',
      stack: 'app',
      changeSetName: 'cairn-abc-new',
      commit: MERGE,
      decision: 'approved',
      by: 'alice (github)',
      at: '2026-03-01T12:00:00.000Z',
      via: 'https://github.com/org/infra/pull/7#issuecomment-1',
    });
    expect(deps.queue.sent).toEqual([{ source: 'src', kind: 'approval', dedupId: 'c-1', commit: MERGE, receivedAt: expect.any(String) }]);
    // Asked of the provider with the source's token, and answered where the comment was made.
    expect(api.calls.slice(0, 2).map((c) => `${c.method} ${c.url} ${c.auth}`)).toEqual([
      'GET https://api.github.com/repos/org/infra/collaborators/alice/permission Bearer tok-123',
      'GET https://api.github.com/repos/org/infra/pulls/7 Bearer tok-123',
    ]);
    expect(api.replies()).toEqual([expect.objectContaining({ url: 'https://api.github.com/repos/org/infra/issues/7/comments', body: { body: expect.stringContaining('✓ approved change set `cairn-abc-new` of stack `app` at 9999999') } })]);
  });

  it('refuses a user without write access, and writes nothing', async () => {
    const api = providerApi({ github: { alice: 'write', bob: 'read' }, merged: { 7: MERGE }, token: 'tok-123' });
    const { approvals, deps } = setup('github', api);
    await approvals.putState(awaiting(MERGE));
    for (const login of ['bob', 'mallory']) {
      const response = await handleWebhook(delivery('github', { source: 'src', body: githubPrComment('/cairn approve app', login), secret: SECRET, event: 'issue_comment' }), deps);
      expect(response.body).toMatchObject({ queued: false, ignored: 'command-refused', reason: expect.stringContaining(`@${login} may not approve or reject: that needs write access`) });
    }
    expect(await approvals.get('src', 'app', 'cairn-abc-new')).toBeUndefined();
    expect(deps.queue.sent).toEqual([]);
    expect(api.replies()).toHaveLength(2);
  });

  it('refuses an unmerged pull request, another commit than the one awaited, and a stack not waiting', async () => {
    const api = providerApi({ github: { alice: 'admin' }, merged: { 7: undefined, 8: MERGE }, token: 'tok-123' });
    const { approvals, deps } = setup('github', api);
    await approvals.putState(awaiting('a'.repeat(40)));
    const send = (body: string, event = 'issue_comment') => handleWebhook(delivery('github', { source: 'src', body, secret: SECRET, event }), deps);
    expect((await send(githubPrComment('/cairn approve app', 'alice', 7))).body.reason).toMatch(/pull request #7 is not merged/);
    expect((await send(githubPrComment('/cairn approve app', 'alice', 8))).body.reason).toMatch(/stack `app` awaits approval at aaaaaaa, not 9999999: a decision counts only for the commit it names/);
    expect((await send(githubCommitComment('/cairn approve web', 'a'.repeat(40)), 'commit_comment')).body.reason).toMatch(/stack `web` is not awaiting approval/);
    expect(await approvals.get('src', 'app', 'cairn-abc-new')).toBeUndefined();
    expect(deps.queue.sent).toEqual([]);
  });

  it('takes a rejection on the commit itself', async () => {
    const sha = 'c'.repeat(40);
    const api = providerApi({ github: { alice: 'maintain' }, token: 'tok-123' });
    const { approvals, deps } = setup('github', api);
    await approvals.putState(awaiting(sha));
    const response = await handleWebhook(delivery('github', { source: 'src', body: githubCommitComment('/cairn reject app', sha), secret: SECRET, event: 'commit_comment' }), deps);
    expect(response.body).toMatchObject({ queued: true });
    expect(await approvals.get('src', 'app', 'cairn-abc-new')).toMatchObject({ decision: 'rejected', commit: sha, by: 'alice (github)' });
    expect(api.replies()[0]!.url).toBe(`https://api.github.com/repos/org/infra/commits/${sha}/comments`);
  });

  it('ignores comments without a command, from bots, and everywhere commands are not enabled', async () => {
    const api = providerApi({ github: { alice: 'write' }, token: 'tok-123' });
    const { deps } = setup('github', api);
    const plain = await handleWebhook(delivery('github', { source: 'src', body: githubPrComment('nice work'), secret: SECRET, event: 'issue_comment' }), deps);
    expect(plain.body).toMatchObject({ queued: false, ignored: 'not-a-command' });
    const bot = JSON.parse(githubPrComment('/cairn approve app')) as Example;
    ((bot['comment'] as Example)['user'] as Example)['type'] = 'Bot';
    expect((await handleWebhook(delivery('github', { source: 'src', body: JSON.stringify(bot), secret: SECRET, event: 'issue_comment' }), deps)).body).toMatchObject({ ignored: 'not-a-command' });
    expect(api.calls).toEqual([]);
    const off = { ...deps };
    delete off.commentCommands;
    expect((await handleWebhook(delivery('github', { source: 'src', body: githubPrComment('/cairn approve app'), secret: SECRET, event: 'issue_comment' }), off)).body).toMatchObject({ ignored: 'commands-off' });
  });

  it('answers 503 and records nothing when the provider does not answer in time', async () => {
    const approvals = new FileApprovals(mkdtempSync(join(tmpdir(), 'cairn-approvals-')));
    await approvals.putState(awaiting(MERGE));
    const deps = testDeps({ config: config({ name: 'src', repoUrl: 'https://github.com/org/infra.git', provider: 'github', webhookSecretName: 'hook', gitTokenSecretName: 'token' }), secrets: { hook: SECRET, token: 'tok-123' } });
    // A provider that never answers: only the call's own time limit ends the wait.
    const silent = ((_url: string, init?: RequestInit) => new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)))) as typeof fetch;
    deps.commentCommands = commentCommandsWith({ approvals: async () => approvals, secrets: deps.secrets, fetch: silent, timeoutMs: 50 });
    const response = await handleWebhook(delivery('github', { source: 'src', body: githubPrComment('/cairn approve app'), secret: SECRET, event: 'issue_comment' }), deps);
    expect(response.statusCode).toBe(503);
    expect(response.body.error).toMatch(/could not be checked with the provider/);
    expect(await approvals.get('src', 'app', 'cairn-abc-new')).toBeUndefined();
    expect(deps.queue.sent).toEqual([]);
  });

  it('never acts on an unsigned comment', async () => {
    const api = providerApi({ github: { alice: 'write' }, merged: { 7: MERGE }, token: 'tok-123' });
    const { approvals, deps } = setup('github', api);
    await approvals.putState(awaiting(MERGE));
    const response = await handleWebhook(delivery('github', { source: 'src', body: githubPrComment('/cairn approve app'), secret: 'wrong', event: 'issue_comment' }), deps);
    expect(response.statusCode).toBe(401);
    expect(api.calls).toEqual([]);
    expect(await approvals.get('src', 'app', 'cairn-abc-new')).toBeUndefined();
  });
});

describe('Comment commands: GitLab', () => {
  it('records an approval from a Developer on a commit note, refuses a Reporter', async () => {
    const note = fixture('gitlab-note-commit.json');
    const sha = (note['commit'] as Example)['id'] as string;
    const api = providerApi({ gitlab: { '1': 30, '2': 20 }, token: 'tok-123' });
    const { approvals, deps } = setup('gitlab', api);
    await approvals.putState(awaiting(sha));
    const say = (text: string, id: number, username: string) => {
      const body = structuredClone(note);
      (body['object_attributes'] as Example)['note'] = text;
      body['user'] = { ...(body['user'] as Example), id, username };
      return handleWebhook(delivery('gitlab', { source: 'src', body: JSON.stringify(body), secret: SECRET, event: 'Note Hook' }), deps);
    };
    expect((await say('/cairn approve app', 2, 'rita')).body).toMatchObject({ ignored: 'command-refused', reason: expect.stringContaining('(the provider says: Reporter)') });
    expect(await approvals.get('src', 'app', 'cairn-abc-new')).toBeUndefined();
    expect((await say('/cairn approve app', 1, 'root')).body).toMatchObject({ queued: true, commit: sha });
    expect(await approvals.get('src', 'app', 'cairn-abc-new')).toMatchObject({ decision: 'approved', by: 'root (gitlab)', via: (note['object_attributes'] as Example)['url'] });
    expect(api.calls[0]).toMatchObject({ method: 'GET', url: 'https://gitlab.com/api/v4/projects/org%2Finfra/members/all/2', auth: 'tok-123' });
    expect(api.replies().map((r) => r.url)).toEqual([`https://gitlab.com/api/v4/projects/org%2Finfra/repository/commits/${sha}/comments`, `https://gitlab.com/api/v4/projects/org%2Finfra/repository/commits/${sha}/comments`]);
  });

  it('binds a merge request note to the merge commit', async () => {
    const note = fixture('gitlab-note-merge-request.json');
    (note['object_attributes'] as Example)['note'] = '/cairn approve app';
    const api = providerApi({ gitlab: { '1': 40 }, merged: { 1: MERGE }, token: 'tok-123' });
    const { approvals, deps } = setup('gitlab', api);
    await approvals.putState(awaiting(MERGE));
    const response = await handleWebhook(delivery('gitlab', { source: 'src', body: JSON.stringify(note), secret: SECRET, event: 'Note Hook' }), deps);
    expect(response.body).toMatchObject({ queued: true, commit: MERGE });
    expect(api.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET https://gitlab.com/api/v4/projects/org%2Finfra/members/all/1',
      'GET https://gitlab.com/api/v4/projects/org%2Finfra/merge_requests/1',
      'POST https://gitlab.com/api/v4/projects/org%2Finfra/merge_requests/1/notes',
    ]);
  });
});

describe('Comment commands: with the reconciler', () => {
  it('a stack held for approval runs once a writer approves it by comment, and the approval is on record', async () => {
    const w = world();
    const desired = await w.desired(files(30));
    const api = providerApi({ github: { alice: 'write' }, token: 'tok-123' });
    const { approvals, deps } = setup('github', api);
    const notices: { commit: string; markdown: string }[] = [];
    const approvalNotices = { awaiting: async (commit: string, markdown: string) => void notices.push({ commit, markdown }) };
    const held = await w.converge(desired, { approvals, approvalNotices });
    expect(held.outcome).toBe('progressing');
    const state = await approvals.getState('src', 'app');
    expect(state).toMatchObject({ state: 'awaiting', commit: desired.commit, action: 'create', summary: expect.stringContaining('1 to add') });
    // Held again: neither the log nor the commit hears about it twice.
    await w.step(desired, { approvals, approvalNotices });
    expect(w.sink.events.filter((e) => e.type === 'log' && /awaiting approval/.test(e.message))).toHaveLength(1);
    expect(notices).toEqual([{ commit: desired.commit, markdown: expect.stringContaining(`change set \`${state!.changeSetName}\` of stack \`app\``) }]);
    expect(notices[0]!.markdown).toContain('| Add | `Queue` | AWS::SQS::Queue |');
    expect(notices[0]!.markdown).toContain('Comment `/cairn approve app` here to execute it');

    const response = await handleWebhook(delivery('github', { source: 'src', body: githubCommitComment('/cairn approve app', desired.commit), secret: SECRET, event: 'commit_comment' }), deps);
    expect(response.body).toMatchObject({ queued: true });
    expect((await w.converge(desired, { approvals })).outcome).toBe('succeeded');
    expect((await w.gateway.describeStack('app'))?.status).toBe('CREATE_COMPLETE');
    expect(await approvals.getState('src', 'app')).toMatchObject({ state: 'approved', changeSetName: state!.changeSetName, decision: { by: 'alice (github)', decision: 'approved' } });
    expect(w.sink.events).toContainEqual(expect.objectContaining({ type: 'log', message: expect.stringMatching(/approved by alice \(github\) at .* \(https:\/\/github\.com\//) }));
  });

  it('a newer commit supersedes an approval given by comment for the older one', async () => {
    const w = world();
    const first = await w.desired(files(30));
    const api = providerApi({ github: { alice: 'write' }, token: 'tok-123' });
    const { approvals, deps } = setup('github', api);
    await w.converge(first, { approvals });
    await handleWebhook(delivery('github', { source: 'src', body: githubCommitComment('/cairn approve app', first.commit), secret: SECRET, event: 'commit_comment' }), deps);
    const second = await w.desired(files(60), 'e'.repeat(40));
    const result = await w.converge(second, { approvals });
    expect(result.outcome).toBe('progressing');
    expect(w.account.callCount('executeChangeSet')).toBe(0);
    expect(await approvals.getState('src', 'app')).toMatchObject({ state: 'awaiting', commit: 'e'.repeat(40) });
    // The old commit's approval no longer binds: a comment on it is refused.
    const late = await handleWebhook(delivery('github', { source: 'src', body: githubCommitComment('/cairn approve app', first.commit), secret: SECRET, event: 'commit_comment' }), deps);
    expect(late.body.reason).toMatch(/awaits approval at eeeeeee/);
  });
});
