/**
 * End to end: pull-request previews. A real repository over git's smart HTTP (its pull request head
 * at `refs/pull/N/head`, as GitHub keeps it), signed GitHub `pull_request` webhooks to the embedded
 * runtime, and a fake GitHub API capturing the comment: opening the pull request posts one preview
 * comment and a status on its head, a second push to it updates the same comment, a destructive
 * change shows blocked with the line that would allow it, no stack is changed, and closing the
 * pull request deletes the preview change sets left behind.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnvSecrets } from '../../lib/adapters/env-secrets.js';
import { createPullRequestComments } from '../../lib/adapters/pr-comments/index.js';
import { previewMarker } from '../../lib/ports/pr-comments.js';
import { git, type Files, type TestRepo } from '../helpers/git-server.js';
import { SECRET, startPipeline, type Pipeline } from '../helpers/pipeline.js';
import { deliveryHeaders, githubPullRequest } from '../webhooks/deliveries.js';
import { exampleFiles } from '../../lib/cli/example.js';



interface FakeGitHub {
  url: string;
  comments: { id: number; body: string }[];
  requests: { method: string; path: string }[];
  stop(): Promise<void>;
}

/** GitHub's issue comments API for one repository, in memory. */
async function fakeGitHub(): Promise<FakeGitHub> {
  const comments: FakeGitHub['comments'] = [{ id: 1, body: 'Someone else: looks fine' }];
  const requests: FakeGitHub['requests'] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      requests.push({ method: req.method ?? '', path });
      const send = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/repos/org/platform/issues/1/comments' && req.method === 'GET') return send(200, comments);
      if (path === '/repos/org/platform/issues/1/comments' && req.method === 'POST') {
        const c = { id: 500 + comments.length, body: (JSON.parse(text) as { body: string }).body };
        comments.push(c);
        return send(201, c);
      }
      const edit = /^\/repos\/org\/platform\/issues\/comments\/(\d+)$/.exec(path);
      const target = edit && comments.find((c) => c.id === Number(edit[1]));
      if (target && req.method === 'PATCH') {
        target.body = (JSON.parse(text) as { body: string }).body;
        return send(200, target);
      }
      send(404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    comments,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Commit `files` on top of `parentRef` onto the pull request's branch, and move `refs/pull/1/head` there as GitHub does. */
async function pushToPullRequest(repo: TestRepo, files: Files, parentRef: string): Promise<string> {
  const dir = repo.bareDir;
  const parent = await git(['rev-parse', parentRef], dir);
  // An index of our own builds the new tree, so the bare repository needs no work tree.
  const env = { GIT_INDEX_FILE: join(dir, 'pr-index') };
  await run(['read-tree', `${parent}^{tree}`], dir, { env });
  for (const [path, content] of Object.entries(files)) {
    const oid = await run(['hash-object', '-w', '--stdin'], dir, { input: String(content) });
    await run(['update-index', '--add', '--cacheinfo', `100644,${oid},${path}`], dir, { env });
  }
  const tree = await run(['write-tree'], dir, { env });
  const sha = await run(['commit-tree', tree, '-p', parent, '-m', 'Change in the pull request'], dir, { env: { GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'dev@example.invalid', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'dev@example.invalid' } });
  await git(['update-ref', 'refs/heads/feature', sha], dir);
  await git(['update-ref', 'refs/pull/1/head', sha], dir);
  return sha;
}

function run(args: string[], cwd: string, options: { env?: Record<string, string>; input?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', ...options.env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`git ${args.join(' ')} exited ${code}: ${err}`))));
    // git may exit before reading a stdin it does not need.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
  });
}

let pipeline: Pipeline | undefined;
let github: FakeGitHub | undefined;
afterEach(async () => {
  await pipeline?.stop();
  await github?.stop();
  pipeline = undefined;
  github = undefined;
});

describe('End to end: pull-request previews', () => {
  it('comments a preview on the pull request, updates it in place on a push, shows a destructive change blocked, and cleans up on close', async () => {
    const gh = (github = await fakeGitHub());
    const comments = createPullRequestComments({
      provider: 'github',
      repoUrl: 'https://github.example.com/org/platform.git',
      apiBaseUrl: gh.url,
      tokenSecret: 'GIT_TOKEN',
      secrets: new EnvSecrets({ env: { GIT_TOKEN: 'ghp-e2e-token' } }),
    });
    const p = (pipeline = await startPipeline({ 'README.md': 'empty\n', 'cairn.yaml': 'version: 1\nstacks: {}\n' }, { pullRequestComments: comments }));
    const files = exampleFiles();
    const base = await p.push(files);
    await p.settled(base);
    const stacksBefore = await p.account.gateway().listStacks();

    const send = async (action: string, head: string): Promise<void> => {
      const body = githubPullRequest(action, head);
      const response = await fetch(`${p.runtime.url}/hooks/platform`, { method: 'POST', headers: deliveryHeaders('github', { source: 'platform', body, secret: SECRET, event: 'pull_request' }), body });
      expect(response.status).toBe(202);
      expect(await response.json()).toMatchObject({ queued: true, pullRequest: 1 });
    };
    const previewed = (sha: string) => p.waitFor((e) => e.type === 'log' && e.commit === sha && e.message.startsWith('pull request #1 previewed'));

    // Opened: the app's timeout changes, shown with CloudFormation's old → new value.
    const first = await pushToPullRequest(p.repo, { 'stacks/app.yaml': files['stacks/app.yaml']!.replace('Default: 30', 'Default: 45') }, 'refs/heads/main');
    let seen = previewed(first);
    await send('opened', first);
    await seen;
    const ours = () => gh.comments.filter((c) => c.body.includes(previewMarker('platform')));
    expect(ours()).toHaveLength(1);
    const opened = ours()[0]!;
    expect(opened.body).toContain(`at ${first.slice(0, 7)}`);
    expect(opened.body).toContain('merging would apply cleanly: 1 to update');
    expect(opened.body).toMatch(/`app`: update/);
    expect(opened.body).toMatch(/VisibilityTimeout: `30` → `45`/);
    expect(p.statuses.find((s) => s.commit === first)).toMatchObject({ state: 'success', context: 'cairn/platform/preview', description: 'merging would apply cleanly: 1 to update' });

    // A second push to the pull request: the table's key changes, which would replace it.
    const second = await pushToPullRequest(p.repo, { 'stacks/data.yaml': files['stacks/data.yaml']!.replace(/AttributeName: id/g, 'AttributeName: orderId') }, 'refs/pull/1/head');
    seen = previewed(second);
    await send('synchronize', second);
    await seen;
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.id).toBe(opened.id);
    const updated = ours()[0]!.body;
    expect(updated).toContain(`at ${second.slice(0, 7)}`);
    expect(updated).toContain('merging would be blocked');
    expect(updated).toMatch(/`data`: blocked/);
    // The first push's change is still in the pull request, and still shown.
    expect(updated).toMatch(/`app`: update/);
    expect(updated).toContain('**Blocked** (DestructiveChangeBlocked)');
    expect(updated).toContain('`allowDestructive: [Orders]`');
    expect(gh.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(gh.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
    expect(p.statuses.find((s) => s.commit === second)).toMatchObject({ state: 'failure', context: 'cairn/platform/preview' });

    // Nothing was applied: the same stacks, untouched, and no preview change set left by the previews themselves.
    const stacksAfter = await p.account.gateway().listStacks();
    expect(stacksAfter.map((s) => [s.stackName, s.updatedAt ?? s.createdAt])).toEqual(stacksBefore.map((s) => [s.stackName, s.updatedAt ?? s.createdAt]));
    expect(p.sink.ofType('stack.action').filter((e) => e.commit === first || e.commit === second)).toEqual([]);

    // A preview cut short leaves its change set; closing the pull request removes it.
    const gateway = p.account.gateway();
    const template = await gateway.getTemplate('data');
    const data = stacksAfter.find((s) => s.stackName === 'data')!;
    await gateway.createChangeSet({ stackName: 'data', changeSetName: 'cairn-preview-leftover', changeSetType: 'UPDATE', templateBody: template, parameters: [], tags: data.tags, capabilities: [], roleArn: undefined, clientToken: 'leftover' });
    expect((await gateway.listChangeSets('data')).map((c) => c.changeSetName)).toContain('cairn-preview-leftover');
    const closed = p.waitFor((e) => e.type === 'log' && e.message.startsWith('pull request closed'));
    await send('closed', second);
    expect(await closed).toMatchObject({ message: 'pull request closed: 1 preview change set removed' });
    expect((await gateway.listChangeSets('data')).filter((c) => c.changeSetName.startsWith('cairn-preview-'))).toEqual([]);
  }, 60_000);
});
