/**
 * GitSource: the SourceRepo that reads a branch of a repository over smart HTTP(S), for the
 * reconciler in Lambda and `cairn` pointed at a URL.
 *
 * A snapshot costs one ref advertisement. When the branch head is a commit already in the cache
 * (see git-cache.ts), that is all: no pack is requested. Otherwise the head the advertisement named
 * is fetched at depth 1 (git-fetch.ts), into the cached gitdir (only the objects the cached commits
 * lack) or a fresh one, and everything after that is read by the commit SHA (git-objects.ts).
 * Credentials go in a preemptive Authorization header (no unauthenticated probe), and the token
 * never reaches a message, a URL or a report.
 */
import { mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CairnError, messageOf } from '../core/errors.js';
import type { SecretProvider } from '../ports/secrets.js';
import type { ProgressListener } from '../ports/progress.js';
import type { SourceRepo, SourceSnapshot } from '../ports/source-repo.js';
import { gitHttpRequest } from './git-http-client.js';
import { advertisedRefs, fetchPack, indexPack, type SmartHttpRequest, type SmartHttpResponse } from './git-fetch.js';
import { atomicWriteFile, GitCache, needsNewGeneration, nextState, objectCacheFor, type CacheEntry, type CacheState } from './git-cache.js';
import {
  basicAuthHeader,
  credentialsFromSecret,
  detectProvider,
  parseRemoteUrl,
  headersForRedirect,
  redactUrl,
  scrubber,
  type BasicCredentials,
  type GitProvider,
} from './git-credentials.js';
import { BadBytes, CorruptObjectStoreError, isBrokenObjectStore } from './git-objects.js';
import { GitCommitSnapshot } from './git-snapshot.js';
import {
  MANIFEST_FILE,
  normaliseSourcePath,
  requireManifest,
  SourceAccessDeniedError,
  SourceInvalidError,
  SourceUnavailableError,
  type SourceLocation,
} from './source-errors.js';


/**
 * How many cached commits, newest first, a fetch names as haves. A push's new head usually has the
 * last one as its parent, so that one alone spares nearly every object; each further have costs
 * the server time (upload-pack took 9 ms with one and 13 ms with forty, here), for objects only a
 * commit restoring older content would share. Objects the named ones lack are sent again.
 */
const NEGOTIATED_TIPS = 2;
export interface GitSourceOptions {
  /** http(s) clone URL. Credentials in it are accepted and never printed. */
  url: string;
  branch: string;
  /** A full ref read instead of the branch (a pull request's head, e.g. `refs/pull/7/head`). */
  ref?: string;
  /** The directory inside the repository that holds cairn.yaml (default the root). */
  path?: string;
  /** How a token is presented; detected from well-known hosts, else `generic`. */
  provider?: GitProvider;
  /** Name of the secret holding the token (read through `secrets` on every snapshot, so rotation applies). */
  tokenSecret?: string;
  secrets?: SecretProvider;
  /** Default `<os.tmpdir()>/cairn-git`. */
  cacheDir?: string;
  /** Bound on the whole cache directory; least-recently-used repositories are deleted past it. */
  maxCacheBytes?: number;
  /** A fetch whose pack would be larger fails with SourceInvalid. */
  maxPackBytes?: number;
  /** Bound on one snapshot: ref advertisement, waiting for the lock and fetching. */
  timeoutMs?: number;
  /** The file a snapshot must contain (default `cairn.yaml`). */
  manifestFile?: string;
  /** Called once per successful snapshot, for logs and metrics. */
  onSnapshot?: (report: GitSnapshotReport) => void;
  /** Told how a snapshot's fetch is going (the CLI's progress line). */
  progress?: ProgressListener;
}

/** What one snapshot cost. Safe to log: it holds no credentials. */
export interface GitSnapshotReport {
  source: string;
  branch: string;
  commit: string;
  /** none: the head was cached; incremental: a pack on top of the cache; full: a new depth-1 fetch. */
  fetched: 'none' | 'incremental' | 'full';
  /** Bytes of upload-pack responses received. */
  packBytes: number;
  /** HTTP requests made. */
  requests: number;
  durationMs: number;
  /** Cache entries deleted to stay under maxCacheBytes. */
  evicted: number;
}

export const GIT_SOURCE_DEFAULTS = {
  maxCacheBytes: 512 * 1024 * 1024,
  maxPackBytes: 100 * 1024 * 1024,
  timeoutMs: 30_000,
  cacheDir: (): string => join(tmpdir(), 'cairn-git'),
} as const;

/** As many redirects as git itself follows by default for smart HTTP's first request. */
const MAX_REDIRECTS = 5;

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
]);

/** Race a promise against the abort signal, so a stalled socket cannot outlive the deadline. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A failure that discarded the cache entry's generation, so reading again fetches the head whole. */
function isBrokenCache(err: unknown): boolean {
  return err instanceof CorruptObjectStoreError || (err instanceof SourceUnavailableError && isBrokenObjectStore(err.cause));
}

/**
 * The HTTP client for one snapshot: a deadline on every request and every chunk, a byte budget on
 * packs, and what the ref advertisement said the server can do, for the fetch that follows it.
 */
class Exchange {
  readonly signal: AbortSignal;
  readonly http = (req: SmartHttpRequest): Promise<SmartHttpResponse> => this.request(req);
  /** Set when the exchange was cut short by a limit of ours; it wins over whatever the library threw. */
  failure: Error | undefined;
  packBytes = 0;
  /** Told of every chunk of pack received, and of the step the fetch is at (the CLI's progress line). */
  report: ((stage?: string) => void) | undefined;
  requests = 0;
  /** Set once the server's pack was received whole: a failure after that is local, not the server's. */
  packReceived = false;
  /** The capabilities the ref advertisement listed. */
  capabilities = new Set<string>();
  private readonly controller = new AbortController();

  private readonly deadline: NodeJS.Timeout;

  constructor(
    private readonly maxPackBytes: number,
    private readonly tooLarge: () => Error,
    timeoutMs: number,
  ) {
    // A timer of our own rather than AbortSignal.timeout: a timeout signal held only through
    // AbortSignal.any can be collected before it fires, and then nothing ends the snapshot.
    this.signal = this.controller.signal;
    this.deadline = setTimeout(() => this.controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    this.deadline.unref();
  }

  /** The snapshot is over: its deadline no longer matters. */
  finish(): void {
    clearTimeout(this.deadline);
  }

  get timedOut(): boolean {
    return this.signal.aborted && this.failure === undefined;
  }

  private async request(req: SmartHttpRequest): Promise<SmartHttpResponse> {
    this.requests++;
    const res = await this.follow(req);
    return { ...res, body: this.guard(res.body, req.url.endsWith('/git-upload-pack')) };
  }

  /**
   * Send a request, following up to MAX_REDIRECTS redirects ourselves: the library's client keeps
   * Authorization on a redirect to the same host name, even on another port or from https to http.
   * Here credentials go only to the origin the request started at.
   */
  private async follow(req: SmartHttpRequest): Promise<SmartHttpResponse> {
    const origin = new URL(req.url).origin;
    let current = req;
    for (let hops = 0; ; hops++) {
      const res = await abortable(gitHttpRequest({ ...current, signal: this.signal }), this.signal);
      const location = res.headers?.['location'];
      if (res.statusCode < 300 || res.statusCode >= 400 || !location) return res;
      await res.body?.return?.();
      if (hops >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      let next: URL;
      try {
        next = new URL(location, current.url);
      } catch {
        throw new Error(`HTTP ${res.statusCode} redirected to a location that is not a URL`);
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new Error(`HTTP ${res.statusCode} redirected to a ${next.protocol} URL`);
      const toGet = current.method === 'POST' && res.statusCode <= 303;
      current = { ...current, url: next.toString(), headers: headersForRedirect(current.headers, origin, next), ...(toGet ? { method: 'GET' as const, body: undefined } : {}) };
    }
  }

  private async *guard(body: AsyncIterableIterator<Uint8Array> | undefined, isPack: boolean): AsyncIterableIterator<Uint8Array> {
    if (!body) return;
    const it = body[Symbol.asyncIterator]();
    try {
      for (;;) {
        const { value, done } = await abortable(it.next(), this.signal);
        if (done) return;
        if (!value) continue;
        if (isPack) {
          this.packBytes += value.byteLength;
          if (this.packBytes > this.maxPackBytes) {
            this.failure = this.tooLarge();
            this.controller.abort(this.failure);
            throw this.failure;
          }
          this.report?.('Receiving objects');
        }
        yield value;
      }
    } finally {
      await it.return?.();
    }
  }
}

/**
 * A bare gitdir for the cache's packs: what git itself needs to read it (and git-objects.ts only
 * the packs), so a person can inspect a cache entry with `git --git-dir`.
 */
async function initGitdir(gitdir: string, branch: string): Promise<void> {
  await mkdir(join(gitdir, 'objects', 'pack'), { recursive: true });
  await mkdir(join(gitdir, 'refs'), { recursive: true });
  await atomicWriteFile(join(gitdir, 'HEAD'), `ref: refs/heads/${branch}\n`);
  await atomicWriteFile(join(gitdir, 'config'), '[core]\n\trepositoryformatversion = 0\n\tbare = true\n');
}

export class GitSource implements SourceRepo {
  readonly description: string;
  /** The URL without credentials, as used in requests, the cache key and every message. */
  readonly url: string;
  readonly branch: string;
  /** The source's directory inside the repository, `''` for the root. */
  readonly path: string;
  private readonly at: SourceLocation;
  private readonly provider: GitProvider;
  private readonly urlCredentials: BasicCredentials | undefined;
  private readonly cache: GitCache;
  private readonly maxPackBytes: number;
  private readonly timeoutMs: number;
  /** The ref read on the server, and the name it is cached and tracked under. */
  private readonly remoteRef: string;
  private readonly track: string;

  constructor(private readonly options: GitSourceOptions) {
    let remote;
    try {
      remote = parseRemoteUrl(options.url);
    } catch (err) {
      throw new SourceInvalidError({ source: redactUrl(options.url), branch: options.branch }, messageOf(err));
    }
    this.url = remote.url;
    this.branch = options.branch;
    this.path = normaliseSourcePath(options.path, { source: this.url, branch: this.branch });
    this.at = { source: this.url, branch: this.branch, ...(this.path ? { path: this.path } : {}) };
    this.description = `${this.url}@${this.branch}${this.path ? `:${this.path}` : ''}`;
    this.provider = options.provider ?? detectProvider(this.url);
    this.urlCredentials =
      remote.username !== undefined || remote.password !== undefined
        ? { username: remote.username ?? '', password: remote.password ?? '' }
        : undefined;
    if (options.tokenSecret && !options.secrets) {
      throw new SourceInvalidError(this.at, `the token secret "${options.tokenSecret}" is named but no secret provider was given`);
    }
    this.cache = new GitCache(options.cacheDir ?? GIT_SOURCE_DEFAULTS.cacheDir(), options.maxCacheBytes ?? GIT_SOURCE_DEFAULTS.maxCacheBytes);
    this.maxPackBytes = options.maxPackBytes ?? GIT_SOURCE_DEFAULTS.maxPackBytes;
    this.timeoutMs = options.timeoutMs ?? GIT_SOURCE_DEFAULTS.timeoutMs;
    this.remoteRef = options.ref ?? `refs/heads/${this.branch}`;
    this.track = options.ref ? options.ref.replace(/^refs\//, '') : this.branch;
  }

  atRef(ref: string): GitSource {
    return new GitSource({ ...this.options, ref });
  }

  async snapshot(): Promise<SourceSnapshot> {
    const started = performance.now();
    const exchange = new Exchange(
      this.maxPackBytes,
      () =>
        new SourceInvalidError(this.at, `the pack for the branch head is larger than maxPackBytes (${this.maxPackBytes} bytes)`, {
          hint: 'Raise maxPackBytes, or move large files out of the repository Cairn reads.',
        }),
      this.timeoutMs,
    );
    // Everything that could be a credential, scrubbed from any text a server or library gave back.
    const secrets = [this.urlCredentials?.password].filter((s): s is string => Boolean(s));
    let creds: BasicCredentials | undefined = this.urlCredentials;
    const progress = this.options.progress;
    let stage: string | undefined;
    if (progress) {
      exchange.report = (next) => {
        stage = next ?? stage;
        progress({ phase: 'fetch', url: this.url, bytes: exchange.packBytes, ...(stage ? { stage } : {}) });
      };
    }
    try {
      exchange.report?.();
      creds = await this.credentials((value) => secrets.push(value));
      const headers = (): Record<string, string> => (creds ? { Authorization: basicAuthHeader(creds) } : {});
      const head = await this.resolveHead(exchange, headers());
      const entry = this.cache.entry(this.url, this.track);
      // A cache found broken (objects missing or corrupt, a fetch that failed after its pack arrived)
      // has been discarded by then: the second attempt fetches the head whole into a new generation.
      try {
        return await this.readHead(entry, exchange, headers(), head, started);
      } catch (err) {
        if (!isBrokenCache(err)) throw err;
        return await this.readHead(entry, exchange, headers(), head, started);
      }
    } catch (err) {
      throw this.translate(err, exchange, scrubber(secrets, creds));
    } finally {
      exchange.finish();
      progress?.({ phase: 'fetch', finished: true });
    }
  }

  /** The snapshot of `head`, fetched into the cache first unless it is there already. */
  private async readHead(entry: CacheEntry, exchange: Exchange, headers: Record<string, string>, head: string, started: number): Promise<SourceSnapshot> {
    let state = await entry.read();
    let fetched: GitSnapshotReport['fetched'] = 'none';
    let evicted = 0;
    if (!state?.tips.includes(head)) {
      ({ state, fetched } = await entry.withLock(exchange.signal, () => this.fetchHead(entry, exchange, headers, head)));
      // Only a full fetch adds much; incremental packs are bounded by needsNewGeneration.
      if (fetched === 'full') evicted = (await this.cache.evict(entry)).length;
    }
    // A fetch has just written meta.json; otherwise mark the entry used for eviction's sake.
    if (fetched === 'none') await entry.touch();
    const { generation } = state;
    const snapshot = new GitCommitSnapshot({
      store: objectCacheFor(entry.gitdir(generation)).store,
      commit: head,
      at: this.at,
      root: this.path,
      onBroken: () => entry.withLock(AbortSignal.timeout(this.timeoutMs), () => entry.discard(generation)),
    });
    await requireManifest(snapshot, this.at, this.options.manifestFile ?? MANIFEST_FILE);
    this.options.onSnapshot?.({
      source: this.url,
      branch: this.branch,
      commit: head,
      fetched,
      packBytes: exchange.packBytes,
      requests: exchange.requests,
      durationMs: performance.now() - started,
      evicted,
    });
    return snapshot;
  }

  /** Credentials from the token secret, else from the URL, else none. */
  private async credentials(remember: (secret: string) => unknown): Promise<BasicCredentials | undefined> {
    const { tokenSecret, secrets } = this.options;
    if (tokenSecret && secrets) {
      let value: string;
      try {
        value = await secrets.get(tokenSecret);
      } catch (err) {
        if (err instanceof CairnError) throw err;
        throw new SourceUnavailableError(this.at, `the token secret "${tokenSecret}" could not be read: ${messageOf(err)}`);
      }
      remember(value);
      try {
        return credentialsFromSecret(this.provider, value, this.urlCredentials?.password ? undefined : this.urlCredentials?.username);
      } catch (err) {
        throw new SourceInvalidError(this.at, `the token secret "${tokenSecret}" cannot be used: ${messageOf(err)}`);
      }
    }
    return this.urlCredentials;
  }

  /** The branch head from one ref advertisement. */
  private async resolveHead(exchange: Exchange, headers: Record<string, string>): Promise<string> {
    const ref = this.remoteRef;
    const { refs, capabilities } = await advertisedRefs(exchange.http, this.url, headers);
    exchange.capabilities = capabilities;
    const head = refs.get(ref);
    if (!head) {
      throw new SourceInvalidError(this.at, this.options.ref ? `the ref ${ref} does not exist on the remote` : `the branch ${this.branch} does not exist on the remote`, {
        hint: 'Push the branch, or point the source at a branch that exists.',
      });
    }
    return head;
  }

  /** Under the entry's lock: fetch `head` unless another snapshot just did. */
  private async fetchHead(
    entry: CacheEntry,
    exchange: Exchange,
    headers: Record<string, string>,
    head: string,
  ): Promise<{ state: CacheState; fetched: GitSnapshotReport['fetched'] }> {
    const current = await entry.read();
    if (current?.tips.includes(head)) return { state: current, fetched: 'none' };
    const incremental =
      current !== undefined &&
      !needsNewGeneration(current) &&
      (await stat(entry.gitdir(current.generation)).then(
        () => true,
        () => false,
      ));
    const generation = incremental ? current.generation : await entry.newGeneration();
    const gitdir = entry.gitdir(generation);
    const tips = incremental ? current.tips : [];
    try {
      // The new head at depth 1, the newest cached commits named as haves (and as shallow): the
      // server sends only the objects those commits lack, as a thin pack on top of the cached ones.
      const haves = tips.slice(0, NEGOTIATED_TIPS);
      const pack = await fetchPack(exchange.http, { url: this.url, headers, capabilities: exchange.capabilities, want: head, haves });
      exchange.packReceived = true;
      if (exchange.failure) throw exchange.failure;
      if (!incremental) await initGitdir(gitdir, this.track);
      const store = objectCacheFor(gitdir).store;
      let packBytes = 0;
      if (pack.length > 0) {
        exchange.report?.('Indexing objects');
        const indexed = await indexPack(pack, { external: (oid) => store.readObject(oid), signal: exchange.signal });
        if (!indexed.oids.has(head)) throw new SourceUnavailableError(this.at, `the server's pack for ${head} does not hold that commit`);
        // The pack before its index: a reader lists indexes, so it never finds one without its pack.
        const base = join(gitdir, 'objects', 'pack', `pack-${indexed.checksum}`);
        await atomicWriteFile(`${base}.pack`, pack);
        await atomicWriteFile(`${base}.idx`, indexed.index);
        packBytes = pack.length;
      } else if (!incremental) throw new SourceUnavailableError(this.at, `the server sent no pack for ${head}`);
      const state = nextState(incremental ? current : undefined, { url: this.url, branch: this.track, generation, head, packBytes });
      // What git itself would read: the commits whose parents the cache does not hold.
      await atomicWriteFile(join(gitdir, 'shallow'), `${state.tips.join('\n')}\n`);
      await entry.write(state);
      if (!incremental) await entry.removeGenerations(generation);
      return { state, fetched: incremental ? 'incremental' : 'full' };
    } catch (err) {
      if (!incremental) await this.cache.trash(gitdir);
      else if (exchange.packReceived && !exchange.failure) {
        // The server sent its pack and indexing it against the cached packs failed (a base missing
        // or corrupt, or a cycle): that generation cannot take more packs.
        await entry.discard(generation);
        if (err instanceof CorruptObjectStoreError) throw err;
        if (!exchange.signal.aborted) throw new CorruptObjectStoreError(gitdir, `the pack fetched for ${head}`, messageOf(err), { cause: err });
      }
      if (err instanceof BadBytes) throw new SourceUnavailableError(this.at, `the server's pack for ${head} cannot be read: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** Every failure as a source error naming the redacted URL and branch, with no credential in it. */
  private translate(err: unknown, exchange: Exchange, scrub: (text: string) => string): Error {
    if (err instanceof CairnError) return err;
    if (exchange.failure) return exchange.failure;
    if (exchange.timedOut) {
      return new SourceUnavailableError(this.at, `reading the branch head took longer than timeoutMs (${this.timeoutMs} ms)`);
    }
    const e = err as { code?: string; data?: { statusCode?: number; statusMessage?: string; response?: string } };
    const cause = new Error(scrub(messageOf(err)));
    if (e.code === 'HttpError' && e.data?.statusCode !== undefined) {
      const status = e.data.statusCode;
      const said = scrub(`${status} ${e.data.statusMessage ?? ''}`.trim());
      if (status === 401 || status === 403) {
        const { tokenSecret } = this.options;
        const what = tokenSecret
          ? `the token from secret "${tokenSecret}" was refused`
          : this.urlCredentials
            ? 'the credentials in the URL were refused'
            : 'no token is configured';
        return new SourceAccessDeniedError(this.at, `${what} (HTTP ${said})`, {
          cause,
          hint: tokenSecret
            ? `Check that the token in "${tokenSecret}" is valid, unexpired and can read the repository (provider ${this.provider}).`
            : this.urlCredentials
              ? 'Check the credentials in the URL, or set tokenSecret to a secret holding a token instead.'
              : 'Set tokenSecret to a secret holding a token that can read the repository.',
        });
      }
      if (status === 404) {
        return new SourceInvalidError(this.at, `there is no repository at this URL (HTTP ${said})`, {
          cause,
          hint: 'Check the URL, and that the token can see the repository.',
        });
      }
      if (status === 408 || status === 429 || status >= 500) {
        return new SourceUnavailableError(this.at, `the server answered HTTP ${said}`, { cause });
      }
      return new SourceInvalidError(this.at, `the server answered HTTP ${said}`, { cause });
    }
    if (e.code === 'SmartHttpError') {
      return new SourceInvalidError(this.at, 'the URL does not serve Git over smart HTTP', { cause });
    }
    if (e.code === 'RemoteCapabilityError') {
      return new SourceInvalidError(this.at, 'the server does not support shallow fetches, which Cairn needs', { cause });
    }
    if (e.code && NETWORK_ERRORS.has(e.code)) {
      return new SourceUnavailableError(this.at, `cannot reach ${new URL(this.url).host} (${e.code})`, { cause });
    }
    return new SourceUnavailableError(this.at, scrub(messageOf(err)), { cause });
  }
}
