/**
 * The stand-in provider API the demo and the tests post to: Cairn's own adapters (comments, commit
 * statuses) work against it for GitHub and GitLab, it refuses a wrong token, pages like the
 * providers, and answers the collaborator-permission and member lookups from what it was given.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EnvSecrets } from '../../lib/adapters/env-secrets.js';
import { createCommitStatusReporter, SentStatuses } from '../../lib/adapters/commit-status/index.js';
import { createPullRequestComments, PullRequestCommentError } from '../../lib/adapters/pr-comments/index.js';
import { GITLAB_ACCESS, startFakeProviderApi, type FakeProviderApi } from '../../lib/local/fake-provider-api.js';
import { postingRepoUrl } from '../../lib/local/provider-posting.js';
import { createProviderAccess } from '../../lib/adapters/provider-access.js';

const TOKEN = 'fake-api-token';
const secrets = new EnvSecrets({ env: { TOKEN } });
let api: FakeProviderApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe('The fake provider API', () => {
  it('takes GitHub comments and statuses from the real adapters: one comment created, then edited in place, past other people\'s comments on later pages', async () => {
    const others = Array.from({ length: 120 }, (_, i) => ({ repository: 'org/platform', number: 7, body: `comment ${i}` }));
    const a = (api = await startFakeProviderApi({ token: TOKEN, repositories: ['org/platform'], comments: others }));
    const options = { provider: 'github' as const, repoUrl: postingRepoUrl({ apiUrl: a.url, repository: 'org/platform' }), apiBaseUrl: a.url, tokenSecret: 'TOKEN', secrets };
    const comments = createPullRequestComments(options);
    const marker = '<!-- cairn:preview source=prod -->';
    expect(await comments.upsert({ number: 7, marker, body: `${marker}\nfirst` })).toBe('created');
    expect(await comments.upsert({ number: 7, marker, body: `${marker}\nsecond` })).toBe('updated');
    const ours = a.comments.filter((c) => c.body.includes(marker));
    expect(ours).toEqual([expect.objectContaining({ repository: 'org/platform', number: 7, body: `${marker}\nsecond`, user: 'cairn-bot' })]);
    // Each upsert followed the Link header to the second page, where Cairn's comment is (once made).
    expect(a.received.filter((r) => r.method === 'GET').map((r) => r.query['page'] ?? '1')).toEqual(['1', '2', '1', '2']);
    expect(a.received.filter((r) => r.method !== 'GET').map((r) => r.method)).toEqual(['POST', 'PATCH']);
    expect(a.received.every((r) => r.authorized)).toBe(true);

    const errors: string[] = [];
    const reporter = createCommitStatusReporter({ ...options, memory: new SentStatuses(), onError: (e) => errors.push(e.message) });
    await reporter.report({ commit: 'a'.repeat(40), state: 'success', description: 'x'.repeat(300), context: 'cairn/prod' });
    expect(errors).toEqual([]);
    expect(a.statuses).toEqual([{ repository: 'org/platform', sha: 'a'.repeat(40), state: 'success', context: 'cairn/prod', description: `${'x'.repeat(139)}…`, targetUrl: undefined }]);
  });

  it('refuses a wrong token (401, nothing stored) and a repository it does not hold (404)', async () => {
    const a = (api = await startFakeProviderApi({ token: TOKEN, repositories: ['org/platform'] }));
    const wrong = createPullRequestComments({ provider: 'github', repoUrl: 'https://github.com/org/platform.git', apiBaseUrl: a.url, tokenSecret: 'TOKEN', secrets: new EnvSecrets({ env: { TOKEN: 'not-it' } }) });
    await expect(wrong.upsert({ number: 1, marker: 'm', body: 'm' })).rejects.toMatchObject({ name: 'PullRequestCommentError', httpStatus: 401 });
    const elsewhere = createPullRequestComments({ provider: 'github', repoUrl: 'https://github.com/org/other.git', apiBaseUrl: a.url, tokenSecret: 'TOKEN', secrets });
    await expect(elsewhere.upsert({ number: 1, marker: 'm', body: 'm' })).rejects.toBeInstanceOf(PullRequestCommentError);
    expect(a.comments).toEqual([]);
    expect(a.received.map((r) => [r.authorized, r.status])).toEqual([
      [false, 401],
      [true, 404],
    ]);
    // The token is never recorded.
    expect(JSON.stringify(a.received)).not.toContain(TOKEN);
  });

  it('answers GitHub collaborator permissions and GitLab members from what it was given, 404 for anyone else', async () => {
    const a = (api = await startFakeProviderApi({ token: TOKEN, permissions: { alice: 'write', bob: 'maintain', eve: 'none' }, gitlabMembers: { '42': GITLAB_ACCESS.developer, '7': { accessLevel: GITLAB_ACCESS.reporter, username: 'rita' } } }));
    const get = async (path: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => {
      const r = await fetch(`${a.url}${path}`, { headers });
      return [r.status, await r.json()];
    };
    expect(await get('/repos/org/platform/collaborators/alice/permission')).toEqual([200, { permission: 'write', role_name: 'write', user: { login: 'alice' } }]);
    expect(await get('/repos/org/platform/collaborators/bob/permission')).toEqual([200, { permission: 'write', role_name: 'maintain', user: { login: 'bob' } }]);
    expect(await get('/repos/org/platform/collaborators/eve/permission')).toEqual([200, { permission: 'none', role_name: 'none', user: { login: 'eve' } }]);
    expect((await get('/repos/org/platform/collaborators/mallory/permission'))[0]).toBe(404);
    a.setPermission('mallory', 'admin');
    expect((await get('/api/v3/repos/org/platform/collaborators/mallory/permission'))[1]).toMatchObject({ permission: 'admin' });
    expect((await get('/repos/org/platform/collaborators/alice/permission', { authorization: 'Bearer nope' }))[0]).toBe(401);

    const gl = { 'private-token': TOKEN };
    expect(await get('/api/v4/projects/group%2Fplatform/members/all/42', gl)).toEqual([200, { id: 42, username: 'user42', access_level: 30, state: 'active' }]);
    expect((await get('/projects/group%2Fplatform/members/all/7', gl))[1]).toMatchObject({ username: 'rita', access_level: 20 });
    expect((await get('/projects/group%2Fplatform/members/all/8', gl))[0]).toBe(404);
    a.setGitlabMember('42', undefined);
    expect((await get('/projects/group%2Fplatform/members/all/42', gl))[0]).toBe(404);
  });

  it('takes GitLab merge request notes and statuses from the real adapters, under a subgroup', async () => {
    const a = (api = await startFakeProviderApi({ token: TOKEN, repositories: ['group/sub/platform'] }));
    const apiUrl = `${a.url}/api/v4`;
    const options = { provider: 'gitlab' as const, repoUrl: postingRepoUrl({ apiUrl, repository: 'group/sub/platform' }), apiBaseUrl: apiUrl, tokenSecret: 'TOKEN', secrets };
    const comments = createPullRequestComments(options);
    expect(await comments.upsert({ number: 3, marker: '<!-- m -->', body: '<!-- m --> one' })).toBe('created');
    expect(await comments.upsert({ number: 3, marker: '<!-- m -->', body: '<!-- m --> two' })).toBe('updated');
    expect(a.comments.map((c) => [c.repository, c.number, c.body])).toEqual([['group/sub/platform', 3, '<!-- m --> two']]);
    const errors: string[] = [];
    await createCommitStatusReporter({ ...options, memory: new SentStatuses(), onError: (e) => errors.push(e.message) }).report({ commit: 'b'.repeat(40), state: 'pending', description: 'applying', context: 'cairn/prod' });
    expect(errors).toEqual([]);
    expect(a.statuses).toEqual([expect.objectContaining({ repository: 'group/sub/platform', state: 'running', context: 'cairn/prod' })]);
  });

  it('can play an outage', async () => {
    const a = (api = await startFakeProviderApi({ token: TOKEN }));
    a.failWith(503);
    expect((await fetch(`${a.url}/repos/o/r/issues/1/comments`, { headers: { authorization: `token ${TOKEN}` } })).status).toBe(503);
    a.failWith(undefined);
    expect((await fetch(`${a.url}/repos/o/r/issues/1/comments`, { headers: { authorization: `token ${TOKEN}` } })).status).toBe(200);
  });

  it('answers what comment commands ask, for GitHub and GitLab, through the real ProviderAccess', async () => {
    const a = (api = await startFakeProviderApi({ token: TOKEN, repositories: ['org/platform'], permissions: { ana: 'maintain', rob: 'triage' }, gitlabMembers: { '5': GITLAB_ACCESS.developer, '6': GITLAB_ACCESS.reporter } }));
    const sha = 'b'.repeat(40);
    a.setPullRequest(3, { merged: true, mergeCommit: sha });
    a.setPullRequest(4, { merged: false });
    for (const provider of ['github', 'gitlab'] as const) {
      const access = createProviderAccess({ provider, repoUrl: postingRepoUrl({ apiUrl: a.url, repository: 'org/platform' }), apiBaseUrl: a.url, tokenSecret: 'TOKEN', secrets });
      const [writer, reader, stranger] = provider === 'github' ? [{ login: 'ana' }, { login: 'rob' }, { login: 'eve' }] : [{ login: 'ana', id: '5' }, { login: 'rob', id: '6' }, { login: 'eve', id: '7' }];
      expect(await access.writeAccess(writer)).toMatchObject({ allowed: true });
      expect(await access.writeAccess(reader)).toMatchObject({ allowed: false });
      expect(await access.writeAccess(stranger)).toMatchObject({ allowed: false });
      expect(await access.mergedPullRequest(3)).toEqual({ merged: true, commit: sha });
      expect(await access.mergedPullRequest(4)).toEqual({ merged: false });
      await access.reply({ kind: 'commit', sha }, `answer on ${provider}`);
    }
    expect(a.commitComments).toEqual([
      { repository: 'org/platform', sha, body: 'answer on github' },
      { repository: 'org/platform', sha, body: 'answer on gitlab' },
    ]);
  });
});
