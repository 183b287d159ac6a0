/**
 * Tests of the commit status reporters against a local HTTP server standing in for each provider's
 * API: method, path, headers and body per provider, state mapping, derived API hosts, deduplication,
 * and failures that never throw and never carry the token.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EnvSecrets } from '../../lib/adapters/env-secrets.js';
import {
  BitbucketStatusReporter,
  CommitStatusError,
  createCommitStatusReporter,
  DedupingReporter,
  GiteaStatusReporter,
  GitHubStatusReporter,
  GitLabStatusReporter,
  noCommitStatus,
  SentStatuses,
  type CommitStatusOptions,
} from '../../lib/adapters/commit-status/index.js';
import type { CommitStatus, CommitStatusReporter } from '../../lib/ports/commit-status.js';

const TOKEN = 'tok-4f9a2c-very-secret';
const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';
const secrets = new EnvSecrets({
  env: {
    GIT_TOKEN: TOKEN,
    GIT_BASIC: `alice:${TOKEN}`,
    GIT_OAUTH: `oauth2:${TOKEN}`,
    GIT_JSON: JSON.stringify({ token: TOKEN }),
  },
});

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

type Reply = (r: Received) => { status: number; body?: unknown; hang?: boolean };

let server: Server;
let base: string;
let received: Received[];
let reply: Reply;

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : {} };
      received.push(r);
      const answer = reply(r);
      if (answer.hang) return;
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body === undefined ? '{}' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received = [];
  reply = () => ({ status: 201 });
});

const status = (over: Partial<CommitStatus> = {}): CommitStatus => ({
  commit: SHA,
  state: 'success',
  description: '2 stacks updated, 7 unchanged',
  context: 'cairn/prod',
  ...over,
});

/** A reporter's options with an error collector; the server is the provider. */
function options(repoUrl: string, over: Partial<{ tokenSecret: string; apiBaseUrl: string; timeoutMs: number }> = {}) {
  const errors: CommitStatusError[] = [];
  return {
    errors,
    options: { repoUrl, secrets, tokenSecret: 'GIT_TOKEN', onError: (e: CommitStatusError) => errors.push(e), ...over },
  };
}

/** A fetch that records the URL and answers 201 without any network. */
function recordingFetch(): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  const fake = (async (input: string | URL | Request) => {
    urls.push(String(input));
    return new Response('{}', { status: 201 });
  }) as typeof fetch;
  return { fetch: fake, urls };
}

describe('Adapter: GitHub commit status', () => {
  it('posts to the Enterprise API on the repository host with a Bearer token', async () => {
    const { options: o, errors } = options(`${base.replace('//', '//deploy:pw-in-url@')}/acme/platform.git`);
    await new GitHubStatusReporter(o).report(status({ targetUrl: 'https://console.example/run/1' }));
    expect(errors).toEqual([]);
    expect(received).toHaveLength(1);
    const [r] = received;
    expect(r!.method).toBe('POST');
    expect(r!.path).toBe(`/api/v3/repos/acme/platform/statuses/${SHA}`);
    expect(r!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(r!.headers.accept).toBe('application/vnd.github+json');
    expect(r!.headers['x-github-api-version']).toBe('2022-11-28');
    expect(r!.headers['content-type']).toBe('application/json');
    expect(r!.body).toEqual({
      state: 'success',
      context: 'cairn/prod',
      description: '2 stacks updated, 7 unchanged',
      target_url: 'https://console.example/run/1',
    });
  });

  it('sends each of Cairn states as GitHub names it', async () => {
    const reporter = new GitHubStatusReporter(options(`${base}/acme/platform`).options);
    for (const state of ['pending', 'success', 'failure', 'error'] as const) await reporter.report(status({ state }));
    expect(received.map((r) => r.body.state)).toEqual(['pending', 'success', 'failure', 'error']);
  });

  it('cuts the description to one line of 140 characters', async () => {
    await new GitHubStatusReporter(options(`${base}/acme/platform`).options).report(status({ description: `app: blocked\n${'x'.repeat(300)}` }));
    const description = received[0]!.body.description as string;
    expect(description).toHaveLength(140);
    expect(description.startsWith('app: blocked x')).toBe(true);
    expect(description.endsWith('…')).toBe(true);
    expect(received[0]!.body).not.toHaveProperty('target_url');
  });

  it('talks to api.github.com for github.com repositories', async () => {
    const { fetch, urls } = recordingFetch();
    await new GitHubStatusReporter({ ...options('https://github.com/acme/platform.git').options, fetch }).report(status());
    expect(urls).toEqual([`https://api.github.com/repos/acme/platform/statuses/${SHA}`]);
  });
});

describe('Adapter: GitLab commit status', () => {
  it('posts to the project by its URL-encoded path, subgroups included, with PRIVATE-TOKEN', async () => {
    const { options: o, errors } = options(`${base}/platform/infra/aws/stacks.git`);
    await new GitLabStatusReporter(o).report(status({ state: 'pending', description: 'Cairn is applying this commit' }));
    expect(errors).toEqual([]);
    const [r] = received;
    expect(r!.method).toBe('POST');
    expect(r!.path).toBe(`/api/v4/projects/platform%2Finfra%2Faws%2Fstacks/statuses/${SHA}`);
    expect(r!.headers['private-token']).toBe(TOKEN);
    expect(r!.headers.authorization).toBeUndefined();
    expect(r!.body).toEqual({ state: 'running', name: 'cairn/prod', description: 'Cairn is applying this commit' });
  });

  it('maps pending to running and failure and error to failed', async () => {
    const reporter = new GitLabStatusReporter(options(`${base}/g/p`).options);
    for (const state of ['pending', 'success', 'failure', 'error'] as const) await reporter.report(status({ state }));
    expect(received.map((r) => r.body.state)).toEqual(['running', 'success', 'failed', 'failed']);
  });

  it('leaves a relative URL root out of the project path when apiBaseUrl names it', async () => {
    const { options: o } = options('https://git.example.com/gitlab/team/app.git', { apiBaseUrl: `${base}/gitlab/api/v4` });
    await new GitLabStatusReporter(o).report(status());
    expect(received[0]!.path).toBe(`/gitlab/api/v4/projects/team%2Fapp/statuses/${SHA}`);
  });

  it('takes the token from an oauth2:<token> secret', async () => {
    await new GitLabStatusReporter(options(`${base}/g/p`, { tokenSecret: 'GIT_OAUTH' }).options).report(status());
    expect(received[0]!.headers['private-token']).toBe(TOKEN);
  });

  it('treats "Cannot transition status" as a status already set, not an error', async () => {
    reply = () => ({ status: 400, body: { message: 'Cannot transition status via :run from :running' } });
    const { options: o, errors } = options(`${base}/g/p`);
    await new GitLabStatusReporter(o).report(status({ state: 'pending' }));
    expect(received).toHaveLength(1);
    expect(errors).toEqual([]);
  });
});

describe('Adapter: Gitea and Forgejo commit status', () => {
  it('posts to /api/v1/repos/{owner}/{repo}/statuses/{sha} with Authorization: token', async () => {
    const { options: o, errors } = options(`${base}/ops/infra.git`);
    await new GiteaStatusReporter(o).report(status({ state: 'failure', description: 'app: DestructiveChangeBlocked' }));
    expect(errors).toEqual([]);
    const [r] = received;
    expect(r!.method).toBe('POST');
    expect(r!.path).toBe(`/api/v1/repos/ops/infra/statuses/${SHA}`);
    expect(r!.headers.authorization).toBe(`token ${TOKEN}`);
    expect(r!.body).toEqual({ state: 'failure', context: 'cairn/prod', description: 'app: DestructiveChangeBlocked' });
  });

  it('keeps a server sub-path in the API root and names Forgejo in its errors', async () => {
    reply = () => ({ status: 422, body: { message: 'invalid state' } });
    const { options: o, errors } = options(`${base}/forge/ops/infra`);
    await new GiteaStatusReporter(o, 'Forgejo').report(status({ state: 'error' }));
    expect(received[0]!.path).toBe(`/forge/api/v1/repos/ops/infra/statuses/${SHA}`);
    expect(received[0]!.body.state).toBe('error');
    expect(errors[0]!.message).toMatch(/^Forgejo commit status error for 9fceb02d0ae5 \(cairn\/prod\) was not set: HTTP 422 .*invalid state/);
    expect(errors[0]!.reason).toBe('Rejected');
  });
});

describe('Adapter: Bitbucket Cloud build status', () => {
  it('posts a keyed build status with the repository as its link when there is no target URL', async () => {
    const { options: o, errors } = options('https://bitbucket.org/acme/platform.git', { apiBaseUrl: `${base}/2.0` });
    await new BitbucketStatusReporter(o).report(status({ state: 'pending', description: 'Cairn is applying this commit' }));
    expect(errors).toEqual([]);
    const [r] = received;
    expect(r!.method).toBe('POST');
    expect(r!.path).toBe(`/2.0/repositories/acme/platform/commit/${SHA}/statuses/build`);
    expect(r!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(r!.body).toEqual({
      key: 'cairn/prod',
      state: 'INPROGRESS',
      name: 'cairn/prod',
      description: 'Cairn is applying this commit',
      url: 'https://bitbucket.org/acme/platform',
    });
  });

  it('maps states to INPROGRESS, SUCCESSFUL and FAILED and links the target URL when given', async () => {
    const reporter = new BitbucketStatusReporter(options('https://bitbucket.org/acme/platform', { apiBaseUrl: `${base}/2.0` }).options);
    for (const state of ['pending', 'success', 'failure', 'error'] as const) await reporter.report(status({ state, targetUrl: 'https://ci.example/1' }));
    expect(received.map((r) => r.body.state)).toEqual(['INPROGRESS', 'SUCCESSFUL', 'FAILED', 'FAILED']);
    expect(received.every((r) => r.body.url === 'https://ci.example/1')).toBe(true);
  });

  it('keeps a long context to a stable, distinct key of at most 40 characters', async () => {
    const reporter = new BitbucketStatusReporter(options('https://bitbucket.org/acme/platform', { apiBaseUrl: `${base}/2.0` }).options);
    const long = `cairn/${'production-eu-west-1-'.repeat(3)}`;
    await reporter.report(status({ context: `${long}a` }));
    await reporter.report(status({ context: `${long}a` }));
    await reporter.report(status({ context: `${long}b` }));
    const keys = received.map((r) => r.body.key as string);
    expect(keys.every((k) => k.length <= 40)).toBe(true);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(received[0]!.body.name).toBe(`${long}a`);
  });

  it('uses basic auth for a user:app-password secret', async () => {
    const { options: o } = options('https://bitbucket.org/acme/platform', { apiBaseUrl: `${base}/2.0`, tokenSecret: 'GIT_BASIC' });
    await new BitbucketStatusReporter(o).report(status());
    expect(received[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`alice:${TOKEN}`).toString('base64')}`);
  });

  it('talks to api.bitbucket.org for bitbucket.org repositories', async () => {
    const { fetch, urls } = recordingFetch();
    await new BitbucketStatusReporter({ ...options('https://bitbucket.org/acme/platform.git').options, fetch }).report(status());
    expect(urls).toEqual([`https://api.bitbucket.org/2.0/repositories/acme/platform/commit/${SHA}/statuses/build`]);
  });

  it('reports a self-hosted Bitbucket without apiBaseUrl as misconfigured instead of guessing', async () => {
    const { options: o, errors } = options(`${base}/scm/acme/platform.git`);
    await new BitbucketStatusReporter(o).report(status());
    expect(received).toHaveLength(0);
    expect(errors[0]!.reason).toBe('Misconfigured');
    expect(errors[0]!.message).toContain('not Bitbucket Cloud');
  });
});

describe('Adapter: commit status failures', () => {
  it('never puts the token in an error, even when the provider echoes it back', async () => {
    reply = (r) => ({ status: 401, body: { message: `Bad credentials: ${r.headers.authorization} ${TOKEN}` } });
    const collected: CommitStatusError[] = [];
    for (const tokenSecret of ['GIT_TOKEN', 'GIT_BASIC', 'GIT_JSON']) {
      const { options: o, errors } = options(`${base.replace('//', `//bot:${TOKEN}@`)}/acme/platform.git`, { tokenSecret });
      await new GitHubStatusReporter(o).report(status());
      collected.push(...errors);
    }
    expect(collected).toHaveLength(3);
    const basic = Buffer.from(`alice:${TOKEN}`).toString('base64');
    for (const error of collected) {
      expect(error.reason).toBe('Unauthorized');
      expect(error.httpStatus).toBe(401);
      expect(error.cause).toBeUndefined();
      for (const text of [error.message, String(error.stack), JSON.stringify(error), String(error)]) {
        expect(text).not.toContain(TOKEN);
        expect(text).not.toContain(basic);
      }
      expect(error.message).toContain('***');
      expect(error.message).toContain('secret');
    }
  });

  it('hands a server error to onError and resolves', async () => {
    reply = () => ({ status: 502, body: '<html>bad gateway</html>' });
    const { options: o, errors } = options(`${base}/acme/platform`);
    await expect(new GitHubStatusReporter(o).report(status())).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CommitStatusError);
    expect(errors[0]!.reason).toBe('ServerError');
    expect(errors[0]!.status).toEqual(status());
    expect(errors[0]!.message).toContain('HTTP 502');
    expect(errors[0]!.message).toContain('bad gateway');
  });

  it('reports 404 and 429 with their own reasons', async () => {
    const reporter = (o: CommitStatusOptions['onError']) => new GiteaStatusReporter({ repoUrl: `${base}/a/b`, secrets, tokenSecret: 'GIT_TOKEN', onError: o! });
    const errors: CommitStatusError[] = [];
    reply = () => ({ status: 404, body: { message: 'repo not found' } });
    await reporter((e) => errors.push(e)).report(status());
    reply = () => ({ status: 429 });
    await reporter((e) => errors.push(e)).report(status());
    expect(errors.map((e) => e.reason)).toEqual(['NotFound', 'RateLimited']);
  });

  it('gives up after timeoutMs on a provider that does not answer', async () => {
    reply = () => ({ status: 0, hang: true });
    const { options: o, errors } = options(`${base}/acme/platform`, { timeoutMs: 150 });
    const started = Date.now();
    await new GitHubStatusReporter(o).report(status());
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(errors[0]!.reason).toBe('Timeout');
    expect(errors[0]!.message).toContain('within 150 ms');
  });

  it('reports an unreachable provider', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { options: o, errors } = options(`http://127.0.0.1:${port}/acme/platform`);
    await new GitHubStatusReporter(o).report(status());
    expect(errors[0]!.reason).toBe('Unreachable');
    expect(errors[0]!.message).toContain('ECONNREFUSED');
  });

  it('reports a missing token secret without calling the provider', async () => {
    const { options: o, errors } = options(`${base}/acme/platform`, { tokenSecret: 'NOT_SET' });
    await new GitHubStatusReporter(o).report(status());
    expect(received).toHaveLength(0);
    expect(errors[0]!.reason).toBe('TokenUnavailable');
    expect(errors[0]!.message).toContain('NOT_SET');
  });

  it('reports a repository URL it cannot read instead of throwing', async () => {
    const { options: o, errors } = options(`https://user:${TOKEN}@example.com/only-one-segment`);
    const reporter = new GitHubStatusReporter(o);
    await reporter.report(status());
    expect(errors[0]!.reason).toBe('Misconfigured');
    expect(errors[0]!.message).toContain('https://example.com/only-one-segment');
    expect(errors[0]!.message).not.toContain(TOKEN);
  });

  it('does not let a throwing onError escape report', async () => {
    reply = () => ({ status: 500 });
    const reporter = new GitHubStatusReporter({
      repoUrl: `${base}/acme/platform`,
      secrets,
      tokenSecret: 'GIT_TOKEN',
      onError: () => {
        throw new Error('callback failed');
      },
    });
    await expect(reporter.report(status())).resolves.toBeUndefined();
  });
});

describe('Adapter: createCommitStatusReporter', () => {
  const create = (over: Partial<CommitStatusOptions> = {}) => {
    const errors: CommitStatusError[] = [];
    const reporter = createCommitStatusReporter({
      provider: 'gitea',
      repoUrl: `${base}/ops/infra.git`,
      tokenSecret: 'GIT_TOKEN',
      secrets,
      memory: new SentStatuses(),
      onError: (e) => errors.push(e),
      ...over,
    });
    return { reporter, errors };
  };

  it('reports nothing without a token secret or for a generic Git server', async () => {
    const { fetch, urls } = recordingFetch();
    expect(create({ tokenSecret: undefined, fetch }).reporter).toBe(noCommitStatus);
    expect(create({ provider: 'generic', fetch }).reporter).toBe(noCommitStatus);
    await noCommitStatus.report(status());
    expect(urls).toEqual([]);
  });

  it('builds the reporter of each provider', async () => {
    const paths: Record<string, string> = {};
    for (const provider of ['github', 'gitlab', 'gitea', 'forgejo', 'bitbucket'] as const) {
      received = [];
      const { reporter, errors } = create({ provider, ...(provider === 'bitbucket' ? { apiBaseUrl: `${base}/2.0` } : {}) });
      await reporter.report(status());
      expect(errors).toEqual([]);
      paths[provider] = received[0]!.path;
    }
    expect(paths).toEqual({
      github: `/api/v3/repos/ops/infra/statuses/${SHA}`,
      gitlab: `/api/v4/projects/ops%2Finfra/statuses/${SHA}`,
      gitea: `/api/v1/repos/ops/infra/statuses/${SHA}`,
      forgejo: `/api/v1/repos/ops/infra/statuses/${SHA}`,
      bitbucket: `/2.0/repositories/ops/infra/commit/${SHA}/statuses/build`,
    });
  });

  it('sends an identical status for one commit and context once', async () => {
    const { reporter } = create();
    await reporter.report(status({ state: 'pending', description: 'Cairn is applying this commit' }));
    await reporter.report(status({ state: 'pending', description: 'Cairn is applying this commit' }));
    await reporter.report(status({ state: 'pending', description: 'Cairn is applying this commit', context: 'cairn/staging' }));
    await reporter.report(status({ state: 'success' }));
    await reporter.report(status({ state: 'success' }));
    expect(received.map((r) => [r.body.context, r.body.state])).toEqual([
      ['cairn/prod', 'pending'],
      ['cairn/staging', 'pending'],
      ['cairn/prod', 'success'],
    ]);
  });

  it('dedupes across reporters built per invocation through the shared memory', async () => {
    const memory = new SentStatuses();
    await create({ memory }).reporter.report(status());
    await create({ memory }).reporter.report(status());
    expect(received).toHaveLength(1);
  });

  it('sends an identical status again after it failed', async () => {
    const { reporter, errors } = create();
    reply = () => ({ status: 503 });
    await reporter.report(status());
    reply = () => ({ status: 201 });
    await reporter.report(status());
    await reporter.report(status());
    expect(errors).toHaveLength(1);
    expect(received).toHaveLength(2);
  });
});

describe('Adapter: DedupingReporter', () => {
  it('skips a concurrent identical report and forgets only the status it is told', async () => {
    const sent: CommitStatus[] = [];
    const inner: CommitStatusReporter = { report: async (s) => void sent.push(s) };
    const reporter = new DedupingReporter(inner);
    await Promise.all([reporter.report(status()), reporter.report(status())]);
    expect(sent).toHaveLength(1);
    reporter.forget(status({ description: 'something else' }));
    await reporter.report(status());
    expect(sent).toHaveLength(1);
    reporter.forget(status());
    await reporter.report(status());
    expect(sent).toHaveLength(2);
  });

  it('does not count the target URL as a difference', async () => {
    const inner = { report: vi.fn(async () => undefined) };
    const reporter = new DedupingReporter(inner);
    await reporter.report(status({ targetUrl: 'https://a' }));
    await reporter.report(status({ targetUrl: 'https://b' }));
    expect(inner.report).toHaveBeenCalledTimes(1);
  });

  it('keeps a bounded memory, forgetting the oldest commit first', async () => {
    const memory = new SentStatuses(2);
    const inner = { report: vi.fn(async () => undefined) };
    const reporter = new DedupingReporter(inner, { memory });
    await reporter.report(status({ commit: 'a' }));
    await reporter.report(status({ commit: 'b' }));
    await reporter.report(status({ commit: 'c' }));
    expect(memory.size).toBe(2);
    await reporter.report(status({ commit: 'c' }));
    await reporter.report(status({ commit: 'a' }));
    expect(inner.report).toHaveBeenCalledTimes(4);
  });
});
