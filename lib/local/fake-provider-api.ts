/**
 * A stand-in for a Git provider's REST API, for `cairn demo` and the tests: it is not GitHub or
 * GitLab, only the few endpoints Cairn calls, answered from memory on 127.0.0.1 the way those
 * providers document them. It checks the token on every request, records what it received, and
 * keeps the comments and commit statuses it was sent so a test can read them back.
 *
 * GitHub (REST v3; also under `/api/v3`, as GitHub Enterprise Server serves it):
 *   GET    /repos/{owner}/{repo}/issues/{n}/comments       paged by `per_page` and `page`, with a Link header
 *   POST   /repos/{owner}/{repo}/issues/{n}/comments       `{ body }` → 201
 *   PATCH  /repos/{owner}/{repo}/issues/comments/{id}      `{ body }` → 200
 *   POST   /repos/{owner}/{repo}/statuses/{sha}            `{ state, context, description, target_url }` → 201
 *   GET    /repos/{owner}/{repo}/collaborators/{user}/permission
 *          → `{ permission, role_name, user: { login } }` from `permissions`; 404 for a user not listed
 *   GET    /repos/{owner}/{repo}/pulls/{n}                 → `{ number, merged, merge_commit_sha }` from `setPullRequest`
 *   POST   /repos/{owner}/{repo}/commits/{sha}/comments    `{ body }` → 201 (kept in `commitComments`)
 * GitLab (REST v4; also under `/api/v4`):
 *   GET    /projects/{id}/merge_requests/{iid}/notes        paged like GitHub's
 *   POST   /projects/{id}/merge_requests/{iid}/notes        `{ body }` → 201
 *   PUT    /projects/{id}/merge_requests/{iid}/notes/{id}   `{ body }` → 200
 *   POST   /projects/{id}/statuses/{sha}                    `{ state, name, description, target_url }` → 201
 *   GET    /projects/{id}/members/all/{user_id}
 *          → `{ id, username, access_level, state }` from `gitlabMembers`; 404 for a user not listed
 *   GET    /projects/{id}/merge_requests/{iid}             → `{ iid, state, merge_commit_sha }` from `setPullRequest`
 *   POST   /projects/{id}/repository/commits/{sha}/comments `{ note }` → 201 (kept in `commitComments`)
 *
 * The token goes in `Authorization: Bearer|token T` or `PRIVATE-TOKEN: T`; without it, or with
 * another, the answer is 401 and nothing is stored. A project `{id}` is the URL-encoded path
 * (`group%2Fproject`). Anything else is answered 404 and recorded too.
 *
 * ```ts
 * const api = await startFakeProviderApi({ token: 't0ken', permissions: { alice: 'write', mallory: 'read' } });
 * createPullRequestComments({ provider: 'github', repoUrl: 'https://github.com/org/repo.git', apiBaseUrl: api.url, ... });
 * api.comments;   // [{ id, repository: 'org/repo', number: 1, body, user, ... }] as they are now
 * api.statuses;   // [{ repository, sha, state, context, description, targetUrl }] in the order received
 * api.received;   // every request: method, path, query, body, whether the token was right, the status answered
 * api.setPermission('mallory', 'admin');
 * await api.close();
 * ```
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A GitHub repository role; `permission` in the answer is its base permission (maintain → write, triage → read). */
export type GitHubRole = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

/** GitLab's access levels. */
export const GITLAB_ACCESS = { none: 0, minimal: 5, guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50 } as const;

export interface FakeProviderApiOptions {
  /** The token every request must carry. */
  token: string;
  /** GitHub users' roles on every repository; a user not listed is answered 404, as GitHub answers for a user it does not know. */
  permissions?: Record<string, GitHubRole>;
  /** GitLab members by user id (as a string): access level, and optionally user name. A user not listed is answered 404. */
  gitlabMembers?: Record<string, number | { accessLevel: number; username?: string }>;
  /** The repositories (`owner/repo`, GitLab's `group/project`) that exist; others are answered 404. Default: all. */
  repositories?: string[];
  /** Comments already on pull requests when the server starts (someone else's, say). */
  comments?: { repository: string; number: number; body: string; user?: string }[];
  /** The login that comments created through the API belong to (default `cairn-bot`). */
  login?: string;
  host?: string;
  port?: number;
}

export interface FakeComment {
  id: number;
  repository: string;
  /** The pull request's number (GitLab's iid). */
  number: number;
  body: string;
  user: string;
  createdAt: string;
  updatedAt: string;
}

export interface FakeStatus {
  repository: string;
  sha: string;
  state: string;
  /** GitHub's `context`, GitLab's `name`. */
  context: string;
  description: string | undefined;
  targetUrl: string | undefined;
}

/** A comment posted on a commit (Cairn's answers to comment commands made there). */
export interface FakeCommitComment {
  repository: string;
  sha: string;
  body: string;
}

export interface ReceivedRequest {
  method: string;
  /** The path as sent (URL-encoded, any `/api/v3` or `/api/v4` prefix kept), without the query. */
  path: string;
  query: Record<string, string>;
  /** The JSON body, parsed (undefined when there was none or it was not JSON). */
  body: unknown;
  /** Whether it carried the right token. The token itself is never recorded. */
  authorized: boolean;
  /** The status code it was answered with. */
  status: number;
}

export interface FakeProviderApi {
  /** The API root to give Cairn (`apiBaseUrl`, `cairn serve --api-url`): `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every request, in order. */
  readonly received: ReceivedRequest[];
  /** Every comment on every pull request, as it is now. */
  readonly comments: FakeComment[];
  /** Every commit status set, in order. */
  readonly statuses: FakeStatus[];
  /** Every comment posted on a commit, in order. */
  readonly commitComments: FakeCommitComment[];
  /** Say whether pull request `number` is merged, and as which commit (unknown ones are answered 404). */
  setPullRequest(number: number, state: { merged: boolean; mergeCommit?: string }): void;
  /** Change a GitHub user's role (undefined removes the user: 404). */
  setPermission(user: string, role: GitHubRole | undefined): void;
  /** Change a GitLab member's access level (undefined removes the member: 404). */
  setGitlabMember(userId: string, accessLevel: number | undefined, username?: string): void;
  /** Answer every request with this status (a provider outage) until called with undefined. */
  failWith(status: number | undefined): void;
  close(): Promise<void>;
}

const GITHUB_STATES = new Set(['error', 'failure', 'pending', 'success']);
const GITLAB_STATES = new Set(['pending', 'running', 'success', 'failed', 'canceled', 'skipped']);
const BASE_PERMISSION: Record<GitHubRole, 'admin' | 'write' | 'read' | 'none'> = { admin: 'admin', maintain: 'write', write: 'write', triage: 'read', read: 'read', none: 'none' };
const MAX_BODY_BYTES = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeProviderApi(options: FakeProviderApiOptions): Promise<FakeProviderApi> {
  if (!options.token) throw new TypeError('the fake provider API needs a token to check');
  const permissions = new Map(Object.entries(options.permissions ?? {}));
  const members = new Map(
    Object.entries(options.gitlabMembers ?? {}).map(([id, m]) => [id, typeof m === 'number' ? { accessLevel: m } : m] as const),
  );
  const repositories = options.repositories ? new Set(options.repositories.map((r) => r.toLowerCase())) : undefined;
  const login = options.login ?? 'cairn-bot';
  const received: ReceivedRequest[] = [];
  const comments: FakeComment[] = [];
  const statuses: FakeStatus[] = [];
  const commitComments: FakeCommitComment[] = [];
  const pulls = new Map<number, { merged: boolean; mergeCommit?: string }>();
  let nextId = 1001;
  let failing: number | undefined;
  const now = (): string => new Date().toISOString();
  for (const c of options.comments ?? []) {
    comments.push({ id: nextId++, repository: c.repository, number: c.number, body: c.body, user: c.user ?? 'someone', createdAt: now(), updatedAt: now() });
  }
  let url = '';

  const repository = (name: string): string => {
    if (repositories && !repositories.has(name.toLowerCase())) throw new HttpError(404, 'Not Found');
    return name;
  };
  const bodyText = (body: unknown): string => {
    const text = (body as { body?: unknown } | undefined)?.body;
    if (typeof text !== 'string' || text === '') throw new HttpError(422, 'body is missing or not a string');
    return text;
  };
  const githubComment = (c: FakeComment): unknown => ({
    id: c.id,
    body: c.body,
    user: { login: c.user },
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    html_url: `${url}/${c.repository}/pull/${c.number}#issuecomment-${c.id}`,
  });
  const gitlabNote = (c: FakeComment): unknown => ({ id: c.id, body: c.body, author: { username: c.user }, created_at: c.createdAt, updated_at: c.updatedAt, noteable_iid: c.number, system: false });
  /** One page of `items` and the Link header to the next, GitHub's and GitLab's way. */
  const page = (items: unknown[], query: Record<string, string>, path: string, defaultSize: number): { items: unknown[]; link?: string } => {
    const size = Math.min(Math.max(Number(query['per_page'] ?? defaultSize) || defaultSize, 1), 100);
    const n = Math.max(Number(query['page'] ?? 1) || 1, 1);
    const slice = items.slice((n - 1) * size, n * size);
    if (n * size >= items.length) return { items: slice };
    const next = new URL(path, url);
    for (const [k, v] of Object.entries({ ...query, per_page: String(size), page: String(n + 1) })) next.searchParams.set(k, v);
    return { items: slice, link: `<${next.toString()}>; rel="next"` };
  };
  const edit = (c: FakeComment | undefined, body: unknown): FakeComment => {
    if (!c) throw new HttpError(404, 'Not Found');
    c.body = bodyText(body);
    c.updatedAt = now();
    return c;
  };
  const create = (repo: string, number: number, body: unknown): FakeComment => {
    const c: FakeComment = { id: nextId++, repository: repo, number, body: bodyText(body), user: login, createdAt: now(), updatedAt: now() };
    comments.push(c);
    return c;
  };
  const status = (repo: string, sha: string, body: unknown, gitlab: boolean): FakeStatus => {
    const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const state = o['state'];
    if (typeof state !== 'string' || !(gitlab ? GITLAB_STATES : GITHUB_STATES).has(state)) throw new HttpError(gitlab ? 400 : 422, `state ${JSON.stringify(state)} is not one of ${[...(gitlab ? GITLAB_STATES : GITHUB_STATES)].join(', ')}`);
    if (!/^[0-9a-f]{7,64}$/i.test(sha)) throw new HttpError(422, `no commit ${sha}`);
    const description = typeof o['description'] === 'string' ? o['description'] : undefined;
    if (!gitlab && description !== undefined && description.length > 140) throw new HttpError(422, 'description is too long (maximum is 140 characters)');
    const context = (gitlab ? o['name'] : o['context']) ?? 'default';
    const s: FakeStatus = { repository: repo, sha, state, context: String(context), description, targetUrl: typeof o['target_url'] === 'string' ? o['target_url'] : undefined };
    statuses.push(s);
    return s;
  };

  type Answer = { status: number; body: unknown; headers?: Record<string, string> };
  const route = (method: string, path: string, query: Record<string, string>, body: unknown): Answer => {
    const p = path.replace(/^\/api\/v[34](?=\/)/, '');
    let m: RegExpExecArray | null;
    // GitHub
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(p))) {
      const repo = repository(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
      const number = Number(m[3]);
      if (method === 'GET') {
        const { items, link } = page(comments.filter((c) => c.repository === repo && c.number === number).map(githubComment), query, path, 30);
        return { status: 200, body: items, ...(link ? { headers: { link } } : {}) };
      }
      if (method === 'POST') return { status: 201, body: githubComment(create(repo, number, body)) };
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/.exec(p))) {
      const repo = repository(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
      const id = Number(m[3]);
      if (method === 'PATCH') return { status: 200, body: githubComment(edit(comments.find((c) => c.repository === repo && c.id === id), body)) };
      if (method === 'GET') {
        const c = comments.find((x) => x.repository === repo && x.id === id);
        if (!c) throw new HttpError(404, 'Not Found');
        return { status: 200, body: githubComment(c) };
      }
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/statuses\/([^/]+)$/.exec(p)) && method === 'POST') {
      const repo = repository(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
      const s = status(repo, decodeURIComponent(m[3]!), body, false);
      return { status: 201, body: { state: s.state, context: s.context, description: s.description ?? null, target_url: s.targetUrl ?? null } };
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/.exec(p)) && method === 'GET') {
      repository(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
      const user = decodeURIComponent(m[3]!);
      const role = permissions.get(user);
      if (role === undefined) throw new HttpError(404, 'Not Found');
      return { status: 200, body: { permission: BASE_PERMISSION[role], role_name: role, user: { login: user } } };
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)$/.exec(p)) && method === 'GET') {
      repository(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
      const pr = pulls.get(Number(m[3]));
      if (!pr) throw new HttpError(404, 'Not Found');
      return { status: 200, body: { number: Number(m[3]), state: pr.merged ? 'closed' : 'open', merged: pr.merged, merge_commit_sha: pr.mergeCommit ?? null } };
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/commits\/([0-9a-f]{7,64})\/comments$/i.exec(p)) && method === 'POST') {
      const repo = repository(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`);
      commitComments.push({ repository: repo, sha: m[3]!, body: bodyText(body) });
      return { status: 201, body: { id: nextId++, commit_id: m[3], body: bodyText(body), user: { login } } };
    }
    // GitLab
    if ((m = /^\/projects\/([^/]+)\/merge_requests\/(\d+)$/.exec(p)) && method === 'GET') {
      repository(decodeURIComponent(m[1]!));
      const pr = pulls.get(Number(m[2]));
      if (!pr) throw new HttpError(404, '404 Not found');
      return { status: 200, body: { iid: Number(m[2]), state: pr.merged ? 'merged' : 'opened', merge_commit_sha: pr.mergeCommit ?? null } };
    }
    if ((m = /^\/projects\/([^/]+)\/repository\/commits\/([0-9a-f]{7,64})\/comments$/i.exec(p)) && method === 'POST') {
      const repo = repository(decodeURIComponent(m[1]!));
      const note = (body as { note?: unknown } | undefined)?.note;
      if (typeof note !== 'string' || note === '') throw new HttpError(400, 'note is missing');
      commitComments.push({ repository: repo, sha: m[2]!, body: note });
      return { status: 201, body: { note, author: { username: login } } };
    }
    if ((m = /^\/projects\/([^/]+)\/merge_requests\/(\d+)\/notes$/.exec(p))) {
      const repo = repository(decodeURIComponent(m[1]!));
      const number = Number(m[2]);
      if (method === 'GET') {
        const { items, link } = page(comments.filter((c) => c.repository === repo && c.number === number).map(gitlabNote), query, path, 20);
        return { status: 200, body: items, ...(link ? { headers: { link } } : {}) };
      }
      if (method === 'POST') return { status: 201, body: gitlabNote(create(repo, number, body)) };
    }
    if ((m = /^\/projects\/([^/]+)\/merge_requests\/(\d+)\/notes\/(\d+)$/.exec(p)) && method === 'PUT') {
      const repo = repository(decodeURIComponent(m[1]!));
      const number = Number(m[2]);
      const id = Number(m[3]);
      return { status: 200, body: gitlabNote(edit(comments.find((c) => c.repository === repo && c.number === number && c.id === id), body)) };
    }
    if ((m = /^\/projects\/([^/]+)\/statuses\/([^/]+)$/.exec(p)) && method === 'POST') {
      const repo = repository(decodeURIComponent(m[1]!));
      const s = status(repo, decodeURIComponent(m[2]!), body, true);
      return { status: 201, body: { sha: s.sha, status: s.state, name: s.context, description: s.description ?? null, target_url: s.targetUrl ?? null } };
    }
    if ((m = /^\/projects\/([^/]+)\/members\/all\/([^/]+)$/.exec(p)) && method === 'GET') {
      repository(decodeURIComponent(m[1]!));
      const id = decodeURIComponent(m[2]!);
      const member = members.get(id);
      if (!member) throw new HttpError(404, '404 Not found');
      return { status: 200, body: { id: Number(id), username: member.username ?? `user${id}`, access_level: member.accessLevel, state: 'active' } };
    }
    throw new HttpError(404, 'Not Found');
  };

  const tokenOf = (req: IncomingMessage): string | undefined => {
    const auth = req.headers['authorization'];
    const bearer = typeof auth === 'string' ? /^(?:Bearer|token)\s+(.+)$/i.exec(auth)?.[1] : undefined;
    const privateToken = req.headers['private-token'];
    return bearer ?? (typeof privateToken === 'string' ? privateToken : undefined);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) break;
      chunks.push(chunk as Buffer);
    }
    const target = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(target.searchParams);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const authorized = tokenOf(req) === options.token;
    let answer: Answer;
    if (failing !== undefined) answer = { status: failing, body: { message: `the fake provider API is answering ${failing}` } };
    else if (!authorized) answer = { status: 401, body: { message: 'Bad credentials' } };
    else if (size > MAX_BODY_BYTES) answer = { status: 413, body: { message: 'Payload too large' } };
    else if (text && body === undefined) answer = { status: 400, body: { message: 'Problems parsing JSON' } };
    else {
      try {
        answer = route(method, target.pathname, query, body);
      } catch (error) {
        answer = error instanceof HttpError ? { status: error.status, body: { message: error.message } } : { status: 500, body: { message: String(error) } };
      }
    }
    received.push({ method, path: target.pathname, query, body, authorized, status: answer.status });
    res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const host = options.host ?? '127.0.0.1';
  url = `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    comments,
    statuses,
    commitComments,
    setPullRequest: (number, state) => pulls.set(number, state),
    setPermission: (user, role) => (role === undefined ? permissions.delete(user) : permissions.set(user, role)),
    setGitlabMember: (userId, accessLevel, username) => (accessLevel === undefined ? members.delete(userId) : members.set(userId, { accessLevel, ...(username ? { username } : {}) })),
    failWith: (s) => (failing = s),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
