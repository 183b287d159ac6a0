/**
 * `cairn serve` posting to a provider's API, as a user runs it: a child process following a real
 * repository over git smart HTTP, signed GitHub webhooks, and the stand-in GitHub API
 * (lib/local/fake-provider-api.ts) in this process. With --provider and --api-url, a pull request
 * gets one preview comment, updated in place on the next push, and commit statuses on its heads
 * and on pushes; without them nothing is posted, and serve says so once at start-up.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NOT_POSTED } from '../../lib/cli/commands/serve.js';
import { startFakeProviderApi, type FakeProviderApi } from '../../lib/local/fake-provider-api.js';
import { previewMarker } from '../../lib/ports/pr-comments.js';
import { cairn, STACK_TRACE, startServe, until } from '../helpers/cli.js';
import { commit, createBranch, createRepo, git, startGitServer, type TestRepo } from '../helpers/git-server.js';
import { deliveryHeaders, githubPullRequest } from '../webhooks/deliveries.js';
import { exampleFiles } from '../../lib/cli/example.js';


const SECRET = 'serve-pr-secret';
const TOKEN = 'provider-token-for-serve';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A repository of the example on a git server, and `cairn serve` following it with `args`. */
async function serve(args: string[], env: Record<string, string> = {}): Promise<{ repo: TestRepo; url: string; output: () => string; files: Record<string, string> }> {
  const home = mkdtempSync(join(tmpdir(), 'cairn-serve-pr-'));
  const server = await startGitServer();
  cleanup.push(() => rmSync(home, { recursive: true, force: true }), () => server.stop());
  const files = exampleFiles();
  const repo = await createRepo(server, 'platform', files);
  const { url, output, stop } = await startServe(['--repo', repo.url!, '--port', '0', '--sweep-every', '0', ...args], { CAIRN_HOME: home, CAIRN_WEBHOOK_SECRET: SECRET, TMPDIR: home, ...env });
  cleanup.push(stop);
  await until('the first commit to be applied', async () => (/succeeded: 4 stacks created/.test(output()) ? true : undefined));
  return { repo, url, output, files };
}

/** Commit on the pull request's branch and move `refs/pull/1/head` there, as GitHub does. */
async function pushToPullRequest(repo: TestRepo, files: Record<string, string>): Promise<string> {
  const sha = await commit({ ...repo, branch: 'feature' }, files, 'Change in the pull request');
  await git(['update-ref', 'refs/pull/1/head', sha], repo.bareDir);
  return sha;
}

async function pullRequest(url: string, action: string, head: string): Promise<void> {
  const body = githubPullRequest(action, head);
  const response = await fetch(`${url}/hooks/platform`, { method: 'POST', headers: deliveryHeaders('github', { source: 'platform', body, secret: SECRET, event: 'pull_request' }), body });
  expect(response.status).toBe(202);
}

describe('End to end: cairn serve and a provider API', () => {
  it('with --provider and --api-url, comments once on a pull request, updates that comment on the next push, and sets commit statuses on its heads and on pushes', async () => {
    const api: FakeProviderApi = await startFakeProviderApi({ token: TOKEN, repositories: ['org/platform'] });
    cleanup.push(() => api.close());
    const { repo, url, output, files } = await serve(['--provider', 'github', '--api-url', api.url, '--api-repo', 'org/platform'], { CAIRN_PROVIDER_TOKEN: TOKEN });
    expect(output()).toContain(`posts    PR preview comments and commit statuses to org/platform on the github API at ${api.url} (token from $CAIRN_PROVIDER_TOKEN)`);
    expect(output()).not.toContain(NOT_POSTED);
    // The reconcile at start-up reported on the branch head.
    const main = await git(['rev-parse', 'main'], repo.bareDir);
    expect(api.statuses.filter((s) => s.sha === main && s.context === 'cairn/platform').map((s) => s.state)).toContain('success');

    await createBranch(repo, 'feature');
    const first = await pushToPullRequest(repo, { 'stacks/app.yaml': files['stacks/app.yaml']!.replace('Default: 30', 'Default: 45') });
    await pullRequest(url, 'opened', first);
    const ours = () => api.comments.filter((c) => c.number === 1 && c.body.includes(previewMarker('platform')));
    await until('the preview comment', async () => (ours().length > 0 ? true : undefined));
    expect(ours()).toHaveLength(1);
    const opened = ours()[0]!;
    expect(opened).toMatchObject({ repository: 'org/platform' });
    expect(opened.body).toContain(`at ${first.slice(0, 7)}`);
    expect(opened.body).toMatch(/VisibilityTimeout: `30` → `45`/);
    await until('the status on the first head', async () => api.statuses.find((s) => s.sha === first));
    expect(api.statuses.filter((s) => s.sha === first)).toEqual([
      { repository: 'org/platform', sha: first, state: 'success', context: 'cairn/platform/preview', description: 'merging would apply cleanly: 1 to update', targetUrl: 'https://github.example.com/org/platform/pull/1' },
    ]);

    const second = await pushToPullRequest(repo, { 'stacks/data.yaml': files['stacks/data.yaml']!.replace(/AttributeName: id/g, 'AttributeName: orderId') });
    await pullRequest(url, 'synchronize', second);
    await until('the comment to show the second head', async () => (ours()[0]?.body.includes(`at ${second.slice(0, 7)}`) ? true : undefined));
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.id).toBe(opened.id);
    expect(ours()[0]!.body).toContain('merging would be blocked');
    const commentWrites = api.received.filter((r) => r.path.includes('/comments') && r.method !== 'GET');
    expect(commentWrites.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/repos/org/platform/issues/1/comments', 201],
      ['PATCH', `/repos/org/platform/issues/comments/${opened.id}`, 200],
    ]);
    await until('the status on the second head', async () => api.statuses.find((s) => s.sha === second));
    expect(api.statuses.find((s) => s.sha === second)).toMatchObject({ state: 'failure', context: 'cairn/platform/preview' });
    expect(api.received.every((r) => r.authorized)).toBe(true);
    // serve logs the preview after posting it: the log line may come a moment after the API saw the edit.
    await until('the log of the update', async () => (/pull request #1 previewed \(comment updated\)/.test(output()) ? true : undefined));
    expect(output()).toMatch(/pull request #1 previewed \(comment created\)/);
  });

  it('without --api-url posts nothing: it says so once at start-up, and a pull request is previewed in the log only', async () => {
    // A token in the environment alone turns nothing on.
    const { repo, url, output, files } = await serve([], { CAIRN_PROVIDER_TOKEN: TOKEN });
    expect(output().split(NOT_POSTED)).toHaveLength(2);
    await createBranch(repo, 'feature');
    const head = await pushToPullRequest(repo, { 'stacks/app.yaml': files['stacks/app.yaml']!.replace('Default: 30', 'Default: 45') });
    await pullRequest(url, 'opened', head);
    await until('the preview in the log', async () => (/pull request #1 previewed \(comment not posted\): merging would apply cleanly: 1 to update/.test(output()) ? true : undefined));
    expect(output()).not.toMatch(/commit status .* was not set|comment on pull request #1 was not posted/);
  });

  it('refuses options that could not post, before starting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-serve-opts-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { CAIRN_HOME: dir, CAIRN_PROVIDER_TOKEN: '' };
    const cases: [string[], RegExp][] = [
      [['--api-repo', 'org/platform'], /--api-repo says how to post to the provider's API, which --api-url URL turns on/],
      [['--repo', 'https://github.com/org/platform.git', '--api-url', 'https://api.github.com'], /the environment variable CAIRN_PROVIDER_TOKEN is not set/],
      [['--repo', dir, '--api-url', 'https://api.github.com', '--api-token-file', join(dir, 't')], /the repository is on disk, so say which repository on the provider it is with --api-repo OWNER\/NAME/],
      [['--repo', 'https://github.com/org/platform.git', '--api-url', 'https://x:y@api.github.com'], /--api-url: the URL carries credentials/],
      [['--repo', 'https://git.example.com/platform.git', '--provider', 'generic', '--api-url', 'https://git.example.com/api'], /a generic Git server has no pull request or commit status API/],
      [['--repo', 'https://git.example.com/platform.git', '--api-url', 'https://git.example.com/api/v3', '--api-token-file', join(dir, 't')], /--api-url: cannot tell the repository from .*; name the repository on the provider with --api-repo OWNER\/NAME/],
      [['--repo', dir, '--api-url', 'not a url', '--api-repo', 'org/platform'], /--api-url: "not a url" is not a URL/],
    ];
    writeFileSync(join(dir, 't'), 'token\n');
    for (const [args, message] of cases) {
      const r = cairn(['serve', '--port', '0', ...args], { env });
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    }
  });
});
