/**
 * Tests of the pull request comment adapters against a local HTTP server standing in for each
 * provider's comment API (GitHub issue comments, GitLab merge request notes, Gitea issue comments,
 * Bitbucket Cloud pull request comments): the first preview creates Cairn's comment, the next one
 * finds it by its marker (past other people's comments, across pages) and edits it in place.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EnvSecrets } from '../../lib/adapters/env-secrets.js';
import { createPullRequestComments, noPullRequestComments, PullRequestCommentError } from '../../lib/adapters/pr-comments/index.js';
import type { Provider } from '../../lib/core/source-config.js';
import { previewMarker } from '../../lib/ports/pr-comments.js';

const TOKEN = 'tok-pr-comments-very-secret';
const secrets = new EnvSecrets({ env: { GIT_TOKEN: TOKEN } });

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** Each provider's comments as the fake API keeps them: id and markdown. */
let comments: { id: number; body: string }[];
let received: Received[];
let failWith: number | undefined;
let server: Server;
let base: string;

/** The request path of a provider's list/create URL and of one comment, and how it pages. */
const API: Record<Exclude<Provider, 'generic' | 'forgejo'>, { apiBase: (base: string) => string; list: string; item: (id: number) => string; edit: string; text: (b: Record<string, unknown>) => string }> = {
  github: { apiBase: (b) => `${b}/api/v3`, list: '/api/v3/repos/org/infra/issues/7/comments', item: (id) => `/api/v3/repos/org/infra/issues/comments/${id}`, edit: 'PATCH', text: (b) => String(b['body']) },
  gitlab: { apiBase: (b) => `${b}/api/v4`, list: '/api/v4/projects/org%2Finfra/merge_requests/7/notes', item: (id) => `/api/v4/projects/org%2Finfra/merge_requests/7/notes/${id}`, edit: 'PUT', text: (b) => String(b['body']) },
  gitea: { apiBase: (b) => `${b}/api/v1`, list: '/api/v1/repos/org/infra/issues/7/comments', item: (id) => `/api/v1/repos/org/infra/issues/comments/${id}`, edit: 'PATCH', text: (b) => String(b['body']) },
  bitbucket: { apiBase: (b) => `${b}/2.0`, list: '/2.0/repositories/org/infra/pullrequests/7/comments', item: (id) => `/2.0/repositories/org/infra/pullrequests/7/comments/${id}`, edit: 'PUT', text: (b) => String((b['content'] as { raw: string }).raw) },
};

let provider: keyof typeof API = 'github';

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base);
      const r: Received = { method: req.method ?? '', path: url.pathname, headers: req.headers, body: text ? JSON.parse(text) : {} };
      received.push(r);
      const api = API[provider];
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (failWith) return send(failWith, { message: `refused ${TOKEN}` });
      if (r.method === 'GET' && r.path === api.list) {
        // Two comments a page, so finding Cairn's takes following the next page.
        const page = Number(url.searchParams.get('page') ?? '1');
        const slice = comments.slice((page - 1) * 2, page * 2);
        const more = comments.length > page * 2;
        const nextUrl = `${base}${api.list}?page=${page + 1}`;
        if (provider === 'bitbucket') return send(200, { values: slice.map((c) => ({ id: c.id, content: { raw: c.body } })), ...(more ? { next: nextUrl } : {}) });
        return send(200, slice, more ? { link: `<${nextUrl}>; rel="next"` } : {});
      }
      if (r.method === 'POST' && r.path === api.list) {
        const c = { id: 100 + comments.length, body: api.text(r.body) };
        comments.push(c);
        return send(201, { id: c.id });
      }
      const target = comments.find((c) => api.item(c.id) === r.path);
      if (r.method === api.edit && target) {
        target.body = api.text(r.body);
        return send(200, { id: target.id });
      }
      send(404, { message: 'Not Found' });
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
  failWith = undefined;
  comments = [
    { id: 1, body: 'Looks good to me' },
    { id: 2, body: 'Please rebase' },
    { id: 3, body: 'CI is green' },
  ];
});

const marker = previewMarker('prod');

describe.each(Object.keys(API) as (keyof typeof API)[])('PullRequestComments: %s', (name) => {
  const comments$ = () =>
    createPullRequestComments({ provider: name, repoUrl: `${base}/org/infra.git`, tokenSecret: 'GIT_TOKEN', secrets, apiBaseUrl: API[name].apiBase(base) });

  it('creates the comment once, then updates the same comment in place', async () => {
    provider = name;
    const port = comments$();
    expect(await port.upsert({ number: 7, marker, body: `${marker}\nfirst preview` })).toBe('created');
    expect(await port.upsert({ number: 7, marker, body: `${marker}\nsecond preview` })).toBe('updated');
    const ours = comments.filter((c) => c.body.includes(marker));
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body).toBe(`${marker}\nsecond preview`);
    // Other people's comments are left as they were.
    expect(comments.map((c) => c.body).slice(0, 3)).toEqual(['Looks good to me', 'Please rebase', 'CI is green']);
    // The second preview read past the first page to find the comment, and edited it rather than posting again.
    const edits = received.filter((r) => r.method === API[name].edit);
    expect(edits).toHaveLength(1);
    expect(received.filter((r) => r.method === 'POST')).toHaveLength(1);
    const auth = String(received[0]!.headers['authorization'] ?? received[0]!.headers['private-token']);
    expect(auth).toContain(TOKEN);
  });

  it('keeps a comment of another source apart', async () => {
    provider = name;
    const port = comments$();
    await port.upsert({ number: 7, marker: previewMarker('staging'), body: `${previewMarker('staging')}\nstaging` });
    await port.upsert({ number: 7, marker, body: `${marker}\nprod` });
    expect(comments.filter((c) => c.body.includes('cairn:preview'))).toHaveLength(2);
  });

  it('throws a redacted error when the provider refuses', async () => {
    provider = name;
    failWith = 403;
    const error = await comments$()
      .upsert({ number: 7, marker, body: `${marker}\nx` })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullRequestCommentError);
    expect((error as PullRequestCommentError).httpStatus).toBe(403);
    expect((error as Error).message).toContain('HTTP 403');
    expect((error as Error).message).not.toContain(TOKEN);
  });
});

describe('createPullRequestComments', () => {
  it('posts nothing without a token or for a generic Git server', () => {
    expect(createPullRequestComments({ provider: 'github', repoUrl: 'https://github.com/org/infra.git', secrets })).toBe(noPullRequestComments);
    expect(createPullRequestComments({ provider: 'generic', repoUrl: 'https://git.example.com/org/infra.git', tokenSecret: 'GIT_TOKEN', secrets })).toBe(noPullRequestComments);
  });
});
