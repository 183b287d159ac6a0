/**
 * Real Git repositories and a real smart-HTTP server on this machine: `cairn demo` serves its
 * repository with it, and the end-to-end tests and benchmarks use it as their Git provider.
 *
 * Repositories are made with the `git` command (no global identity or config needed) and served by
 * `git http-backend` behind a small Node HTTP server on 127.0.0.1 and a random port. The server can
 * require basic auth, and it records every request by kind so a test can assert "one ref
 * advertisement and no pack".
 *
 * ```ts
 * const server = await startGitServer({ auth: { username: 'x-access-token', password: 'tok' } });
 * const repo = await createRepo(server, 'platform', { 'cairn.yaml': 'version: 1\n', 'stacks/a.yaml': '{}' });
 * repo.url;                                        // http://127.0.0.1:PORT/platform.git (no credentials)
 * const sha = await commit(repo, { 'stacks/a.yaml': 'changed', 'old.yaml': null }); // null deletes
 * await commits(repo, [{ 'a.yaml': '1' }, { 'a.yaml': '2' }]);  // many commits in one process
 * await forcePush(repo, { 'cairn.yaml': 'rewritten' }); // a new head that does not descend from the old one
 * await deleteBranch(repo, 'main');
 * server.count('info-refs'); server.count('upload-pack'); server.resetRequests();
 * server.requests;                                 // kind, repo, status, responseBytes, username of each
 * server.failWith(503); server.delay(1_000);       // an unhealthy or slow server (undefined / 0 restore)
 * await server.stop();
 * ```
 *
 * `createRepo(dir, name, files)` with a directory instead of a server makes the same repository
 * without serving it (for local-source tests). Each repository is a bare repository; commits are
 * written into it with `git fast-import` (no working tree, so 5,000 files or 200 commits take
 * well under a second), and `git(['clone', repo.bareDir, dir])` gives a working clone when needed.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type RequestKind = 'info-refs' | 'upload-pack' | 'receive-pack' | 'other';

export interface RecordedRequest {
  kind: RequestKind;
  /** Repository name, e.g. `platform` for `/platform.git/...`. */
  repo: string;
  status: number;
  /** Bytes in the response body (for upload-pack: the size of the pack plus protocol framing). */
  responseBytes: number;
  /** The user name of the basic-auth credentials sent, if any (never the password). */
  username: string | undefined;
  /** Time from the request's arrival to the end of the response, in ms (for diagnosis, not assertions). */
  durationMs: number;
}

export type AuthCheck = { username: string; password: string } | ((username: string, password: string) => boolean);

export interface GitServerOptions {
  /** Require basic auth: fixed credentials, or a check. Unauthenticated or wrong requests get 401. */
  auth?: AuthCheck;
  /** Directory of bare repositories to serve; a new temp directory when omitted. */
  root?: string;
  /**
   * Echo the credentials a request sent (the Authorization header, the decoded `user:password` and
   * the password) in the reason phrase and body of every error answer, as careless servers do, so
   * tests can prove Cairn never repeats them.
   */
  echoCredentials?: boolean;
}

export interface GitServer {
  /** Directory holding the bare repositories (`<name>.git`). */
  readonly root: string;
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  /** Clone URL of a repository, without credentials. */
  url(repoName: string): string;
  /** Every request served since start or the last reset, in order. */
  readonly requests: readonly RecordedRequest[];
  /** Requests of one kind (optionally for one repository) since start or the last reset. */
  count(kind: RequestKind, repoName?: string): number;
  resetRequests(): void;
  /** Make the next requests answer with this status instead of serving them (e.g. 503); undefined restores. */
  failWith(status: number | undefined): void;
  /** Hold every response this many milliseconds before answering (for timeout tests); 0 restores. */
  delay(ms: number): void;
  /** Answer requests with `handler` instead (it returns false to serve the request normally); undefined restores. */
  intercept(handler: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined): void;
  stop(): Promise<void>;
}

/** A file's content in `createRepo`/`commit`: text, bytes, a symbolic link, or null to delete it. */
export type FileContent = string | Uint8Array | { symlink: string } | null;
export type Files = Record<string, FileContent>;

export interface TestRepo {
  readonly name: string;
  /** Clone URL when served (no credentials); undefined for a repository made without a server. */
  readonly url: string | undefined;
  /** The bare repository. */
  readonly bareDir: string;
  /** The branch commits go to (default `main`). */
  readonly branch: string;
}

const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Cairn',
  GIT_AUTHOR_EMAIL: 'cairn@cairn.invalid',
  GIT_COMMITTER_NAME: 'Cairn',
  GIT_COMMITTER_EMAIL: 'cairn@cairn.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
};

/** Run `git` with a clean identity and config; returns trimmed stdout. */
export async function git(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await execFileAsync(
    'git',
    ['-c', 'init.defaultBranch=main', '-c', 'commit.gpgsign=false', '-c', 'core.symlinks=true', ...args],
    { cwd, env: GIT_ENV, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout.trim();
}

let backendPath: Promise<string> | undefined;
function gitHttpBackend(): Promise<string> {
  backendPath ??= git(['--exec-path']).then((dir) => join(dir, 'git-http-backend'));
  return backendPath;
}

function kindOf(pathname: string, query: URLSearchParams): RequestKind {
  if (pathname.endsWith('/info/refs')) return 'info-refs';
  if (pathname.endsWith('/git-upload-pack')) return 'upload-pack';
  if (pathname.endsWith('/git-receive-pack')) return 'receive-pack';
  return query.get('service') ? 'info-refs' : 'other';
}

function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { username: decoded, password: '' };
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function authorised(check: AuthCheck, creds: { username: string; password: string } | undefined): boolean {
  if (!creds) return false;
  if (typeof check === 'function') return check(creds.username, creds.password);
  return creds.username === check.username && creds.password === check.password;
}

/** Start `git http-backend` behind a Node HTTP server on 127.0.0.1 and a random port. */
export async function startGitServer(options: GitServerOptions = {}): Promise<GitServer> {
  const root = options.root ?? (await mkdtemp(join(tmpdir(), 'cairn-git-server-')));
  const ownsRoot = options.root === undefined;
  const backend = await gitHttpBackend();
  const requests: RecordedRequest[] = [];
  let failure: number | undefined;
  let delayMs = 0;
  let interceptor: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  /** An error answer, echoing the request's credentials when asked to. */
  const refuse = (req: IncomingMessage, res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void => {
    const creds = basicCredentials(req.headers.authorization);
    const echo = options.echoCredentials && req.headers.authorization ? ` (you sent ${req.headers.authorization}, that is ${creds?.username}:${creds?.password}; password ${creds?.password})` : '';
    // A reason phrase is latin1 without control characters; anything else would make Node refuse it.
    const reason = `${text}${echo}`.replace(/[^\x20-\x7e]/g, '?');
    if (echo) res.writeHead(status, reason, { 'content-type': 'text/plain', ...headers });
    else res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(`${text}${echo}\n`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const kind = kindOf(url.pathname, url.searchParams);
    const repo = /^\/([^/]+?)(?:\.git)?\//.exec(url.pathname)?.[1] ?? '';
    const creds = basicCredentials(req.headers.authorization);
    const record: RecordedRequest = { kind, repo, status: 0, responseBytes: 0, username: creds?.username, durationMs: 0 };
    requests.push(record);
    const started = performance.now();
    res.on('close', () => (record.durationMs = performance.now() - started));
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (interceptor?.(req, res)) {
      record.status = res.statusCode;
      return;
    }

    if (failure !== undefined) {
      req.resume();
      record.status = failure;
      refuse(req, res, failure, `failing with ${failure}`);
      return;
    }
    if (options.auth && !authorised(options.auth, creds)) {
      req.resume();
      record.status = 401;
      refuse(req, res, 401, 'unauthorised', { 'www-authenticate': 'Basic realm="cairn"' });
      return;
    }

    const env: NodeJS.ProcessEnv = {
      ...GIT_ENV,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      REMOTE_USER: creds?.username ?? '',
      GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
    };
    if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    const child = spawn(backend, [], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    req.pipe(child.stdin);
    child.stdin.on('error', () => undefined);

    // CGI output: header lines, a blank line, then the body.
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        record.responseBytes += chunk.length;
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      record.status = status;
      res.writeHead(status, headers);
      const rest = head.subarray(end);
      record.responseBytes += rest.length;
      if (rest.length) res.write(rest);
    });
    await new Promise<void>((resolve) => {
      child.on('close', () => {
        if (!headersDone) {
          record.status = 500;
          res.writeHead(500).end();
        } else res.end();
        resolve();
      });
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    root,
    baseUrl,
    url: (name) => `${baseUrl}/${name}.git`,
    get requests() {
      return requests;
    },
    count: (kind, name) => requests.filter((r) => r.kind === kind && (name === undefined || r.repo === name)).length,
    resetRequests: () => {
      requests.length = 0;
    },
    failWith: (status) => {
      failure = status;
    },
    delay: (ms) => {
      delayMs = ms;
    },
    intercept: (handler) => {
      interceptor = handler;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownsRoot) await rm(root, { recursive: true, force: true });
    },
  };
}

let clock = Math.floor(Date.now() / 1000);

function quotePath(path: string): string {
  return /[\s"\\]/.test(path) ? `"${path.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : path;
}

/** The fast-import commands for one commit on `ref`, from `parent` (the first commit of a stream only). */
function commitCommands(ref: string, files: Files, message: string, parent: string | undefined): Buffer[] {
  const out: Buffer[] = [];
  const data = (bytes: Buffer): void => {
    out.push(Buffer.from(`data ${bytes.length}\n`), bytes, Buffer.from('\n'));
  };
  // Distinct timestamps, so re-committing the same content makes a new commit.
  out.push(Buffer.from(`commit ${ref}\ncommitter Cairn <cairn@cairn.invalid> ${++clock} +0000\n`));
  data(Buffer.from(message));
  if (parent) out.push(Buffer.from(`from ${parent}\n`));
  for (const [path, content] of Object.entries(files)) {
    if (content === null) out.push(Buffer.from(`D ${quotePath(path)}\n`));
    else if (typeof content === 'object' && 'symlink' in content) {
      out.push(Buffer.from(`M 120000 inline ${quotePath(path)}\n`));
      data(Buffer.from(content.symlink));
    } else {
      out.push(Buffer.from(`M 100644 inline ${quotePath(path)}\n`));
      data(Buffer.from(content));
    }
  }
  return out;
}

async function fastImport(bareDir: string, stream: Buffer[], force: boolean): Promise<void> {
  const child = spawn('git', ['fast-import', '--quiet', ...(force ? ['--force'] : [])], {
    cwd: bareDir,
    env: GIT_ENV,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import failed (${code}): ${stderr}`))));
  });
  child.stdin.on('error', () => undefined);
  child.stdin.end(Buffer.concat(stream));
  await done;
}

async function head(repo: TestRepo, branch = repo.branch): Promise<string | undefined> {
  return git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], repo.bareDir).catch(() => undefined);
}

/**
 * Make a bare repository `<name>.git` (under the server's root, or under `where` when it is a
 * directory) whose branch holds `files` in one commit. Returns a handle for further commits.
 */
export async function createRepo(
  where: GitServer | string,
  name: string,
  files: Files,
  options: { branch?: string; message?: string } = {},
): Promise<TestRepo> {
  const root = typeof where === 'string' ? where : where.root;
  const branch = options.branch ?? 'main';
  const bareDir = join(root, `${name}.git`);
  await git(['init', '--quiet', '--bare', bareDir]);
  await git(['symbolic-ref', 'HEAD', `refs/heads/${branch}`], bareDir);
  const repo: TestRepo = { name, url: typeof where === 'string' ? undefined : where.url(name), bareDir, branch };
  await commit(repo, files, options.message ?? 'Initial commit');
  return repo;
}

/** Commit `files` (null deletes a path) on top of the branch; returns the new commit SHA. */
export async function commit(repo: TestRepo, files: Files, message = 'Update'): Promise<string> {
  return commits(repo, [files], message);
}

/** Commit each entry of `series` in turn, in one `git fast-import`; returns the last commit SHA. */
export async function commits(repo: TestRepo, series: Files[], message = 'Update'): Promise<string> {
  const ref = `refs/heads/${repo.branch}`;
  let parent = await head(repo);
  const stream: Buffer[] = [];
  for (const files of series) {
    stream.push(...commitCommands(ref, files, message, parent));
    parent = undefined;
  }
  await fastImport(repo.bareDir, stream, false);
  return (await head(repo))!;
}

/**
 * Replace the branch head with a commit that does not descend from it (the old head's parent, or
 * no parent, plus `files`) and force it onto the branch; returns the new commit SHA.
 */
export async function forcePush(repo: TestRepo, files: Files, message = 'Rewritten'): Promise<string> {
  const current = await head(repo);
  const parent = current ? await git(['rev-parse', '--verify', '--quiet', `${current}~1`], repo.bareDir).catch(() => undefined) : undefined;
  const ref = `refs/heads/${repo.branch}`;
  // Without a parent, fast-import makes an orphan commit whose tree holds only `files`.
  await fastImport(repo.bareDir, commitCommands(ref, files, message, parent), true);
  return (await head(repo))!;
}

/** Delete a branch of the repository, even the one its HEAD names. */
export async function deleteBranch(repo: TestRepo, branch = repo.branch): Promise<void> {
  await git(['update-ref', '-d', `refs/heads/${branch}`], repo.bareDir);
}

/** Create `branch` at the head of the repository's branch; returns its commit SHA. */
export async function createBranch(repo: TestRepo, branch: string): Promise<string> {
  const sha = (await head(repo))!;
  await git(['update-ref', `refs/heads/${branch}`, sha], repo.bareDir);
  return sha;
}
