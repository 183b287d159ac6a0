/**
 * The on-disk cache of shallow fetches under the temp directory, which survives warm Lambda
 * invocations and CLI runs. One entry per (URL, branch):
 *
 * ```
 * <root>/<key>/meta.json   what is cached: generation, head, tips, pack sizes (replaced by rename)
 * <root>/<key>/lock        held while fetching: created with O_EXCL, which is atomic across processes
 * <root>/<key>/g-<id>/     a bare gitdir: one full depth-1 fetch plus incremental packs
 * <root>/.trash-<id>/      an evicted entry or generation, renamed away before it is deleted
 * ```
 *
 * Readers never lock: objects are addressed by SHA, packs are only ever added, and every file is
 * written to a temp name and renamed, so a reader sees a pack and its index whole or not at all.
 * Writers take the entry's lock. When incremental packs have grown past the size of the full fetch
 * they sit on, the next fetch starts a new generation and the old one is deleted. After every full
 * fetch, the least-recently-used entries are deleted until the total is under the bound; between
 * full fetches an entry can only grow to about twice its full size (plus 1 MB), so that is also
 * how far over the bound the cache can get.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ObjectStore } from './git-objects.js';

/** What one cache entry holds; the gitdir is `<entry>/<generation>`. */
export interface CacheState {
  version: 1;
  /** Redacted URL and branch, for people reading the cache directory. */
  url: string;
  branch: string;
  generation: string;
  /** The branch head last fetched. */
  head: string;
  /**
   * Commits fetched whole (depth 1) into this generation, newest first: any of them can be read.
   * Every one is named to the server as a `have`, so no object is ever fetched twice into a generation.
   */
  tips: string[];
  /** Pack bytes of the full fetch that started this generation. */
  basePackBytes: number;
  /** Pack bytes in this generation, the full fetch plus every incremental one. */
  packBytes: number;
  packs: number;
}

/** A generation is replaced when its packs reach this many, whatever their size. */
const MAX_PACKS = 64;
/** ... or when it holds this many tips (a fetch that brought nothing new adds a tip but no pack). */
const MAX_TIPS = 2 * MAX_PACKS;
/** Incremental packs may add this much over the base pack before the generation is replaced (small repositories). */
const PACK_SLACK_BYTES = 1024 * 1024;

/** Whether the next fetch should start a new generation rather than add a pack to this one. */
export function needsNewGeneration(state: CacheState): boolean {
  return state.packs >= MAX_PACKS || state.tips.length >= MAX_TIPS || state.packBytes > 2 * state.basePackBytes + PACK_SLACK_BYTES;
}

/** The state after a fetch of `head` whose pack was `packBytes`, into a new generation or the current one. */
export function nextState(
  previous: CacheState | undefined,
  fetched: { url: string; branch: string; generation: string; head: string; packBytes: number },
): CacheState {
  const { url, branch, generation, head, packBytes } = fetched;
  if (!previous || previous.generation !== generation) {
    return { version: 1, url, branch, generation, head, tips: [head], basePackBytes: packBytes, packBytes, packs: 1 };
  }
  return {
    ...previous,
    head,
    tips: [head, ...previous.tips.filter((t) => t !== head)].slice(0, MAX_TIPS),
    packBytes: previous.packBytes + packBytes,
    packs: previous.packs + (packBytes > 0 ? 1 : 0),
  };
}

/** Write `path` whole or not at all: to a temporary name, then renamed into place. */
export async function atomicWriteFile(path: nodeFs.PathLike, data: string | Uint8Array, options?: nodeFs.WriteFileOptions): Promise<void> {
  const tmp = `${String(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, data, options);
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * The `fs` given to isomorphic-git (which reads refs of repositories on disk): node's, except that
 * every write goes to a temp file that is renamed into place.
 */
export const gitFs = { promises: { ...nodeFs.promises, writeFile: atomicWriteFile } };

/** What is kept in memory for one gitdir: the object store its reads and fetches go through. */
export interface ObjectCache {
  store: ObjectStore;
}

const objectCaches = new Map<string, ObjectCache>();
const MAX_OBJECT_CACHES = 4;

/**
 * The in-memory cache for one gitdir, kept across snapshots in this process so a warm invocation
 * neither reloads packs nor re-reads objects it already has. Only the few most recently used
 * gitdirs are kept, which bounds memory.
 */
export function objectCacheFor(gitdir: string): ObjectCache {
  let cache = objectCaches.get(gitdir);
  if (cache) objectCaches.delete(gitdir);
  else cache = { store: new ObjectStore(gitdir) };
  objectCaches.set(gitdir, cache);
  while (objectCaches.size > MAX_OBJECT_CACHES) objectCaches.delete(objectCaches.keys().next().value!);
  return cache;
}

function forgetObjectCaches(prefix: string): void {
  for (const key of [...objectCaches.keys()]) if (key.startsWith(prefix)) objectCaches.delete(key);
}

async function sizeOf(path: string): Promise<number> {
  let total = 0;
  let entries: nodeFs.Dirent[];
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const full = join(path, e.name);
    if (e.isDirectory()) total += await sizeOf(full);
    else total += await stat(full).then((s) => s.size, () => 0);
  }
  return total;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** In-process queues per entry, so two snapshots in one process wait for each other without polling. */
const inProcess = new Map<string, Promise<unknown>>();

/** A lock held longer than this by a process that cannot be checked is taken over. */
const STALE_LOCK_MS = 10 * 60 * 1000;

export class CacheEntry {
  readonly metaFile: string;
  readonly lockFile: string;

  constructor(
    readonly cache: GitCache,
    readonly dir: string,
  ) {
    this.metaFile = join(dir, 'meta.json');
    this.lockFile = join(dir, 'lock');
  }

  gitdir(generation: string): string {
    return join(this.dir, generation);
  }

  async read(): Promise<CacheState | undefined> {
    try {
      const state = JSON.parse(await readFile(this.metaFile, 'utf8')) as CacheState;
      return state.version === 1 ? state : undefined;
    } catch {
      return undefined;
    }
  }

  async write(state: CacheState): Promise<void> {
    await atomicWriteFile(this.metaFile, JSON.stringify(state, null, 2));
  }

  /** Mark the entry used now (eviction removes the least recently used). */
  async touch(): Promise<void> {
    const now = new Date();
    await utimes(this.metaFile, now, now).catch(() => undefined);
  }

  /** A new, empty generation directory (its name), for a full fetch. */
  async newGeneration(): Promise<string> {
    const name = `g-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    await mkdir(this.gitdir(name), { recursive: true });
    return name;
  }

  /**
   * Forget a generation whose objects cannot be read (missing, corrupt, or a fetch that failed
   * after its pack arrived), so the next snapshot fetches the branch head whole into a new one.
   * Call it under the lock. Nothing happens when the entry has moved on to another generation.
   */
  async discard(generation: string): Promise<void> {
    const state = await this.read();
    if (state?.generation !== generation) return;
    await rm(this.metaFile, { force: true });
    forgetObjectCaches(this.gitdir(generation));
    await this.cache.trash(this.gitdir(generation));
  }

  /** Delete every generation but `keep` (only under the lock: nobody else is writing one). */
  async removeGenerations(keep: string | undefined): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.startsWith('g-') && name !== keep) {
        forgetObjectCaches(this.gitdir(name));
        await this.cache.trash(this.gitdir(name));
      }
    }
  }

  /**
   * Run `fn` holding this entry's lock: queued behind other holders in this process, then a lock
   * file across processes (taken over when its owner is gone or it is older than ten minutes).
   */
  async withLock<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const previous = inProcess.get(this.dir) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      await this.acquire(signal);
      try {
        return await fn();
      } finally {
        await rm(this.lockFile, { force: true });
      }
    });
    const tail = run.catch(() => undefined);
    inProcess.set(this.dir, tail);
    void tail.then(() => {
      if (inProcess.get(this.dir) === tail) inProcess.delete(this.dir);
    });
    return run;
  }

  private async acquire(signal: AbortSignal): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const owner = JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() });
    for (;;) {
      signal.throwIfAborted();
      try {
        await writeFile(this.lockFile, owner, { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (await this.lockIsStale()) {
        await rm(this.lockFile, { force: true });
        continue;
      }
      await sleep(25, signal);
    }
  }

  private async lockIsStale(): Promise<boolean> {
    let owner: { pid?: number; host?: string; at?: number };
    try {
      owner = JSON.parse(await readFile(this.lockFile, 'utf8')) as typeof owner;
    } catch {
      // Created but not written yet, or left empty by a crash at that moment.
      const since = await stat(this.lockFile).then((s) => Date.now() - s.mtimeMs, () => 0);
      return since > 5_000;
    }
    if (owner.host === hostname() && typeof owner.pid === 'number') {
      // This process never waits on its own lock (the in-process queue comes first), so our pid
      // here means an earlier process that had the same pid, e.g. a Lambda runtime restarted after a timeout.
      if (owner.pid === process.pid) return true;
      try {
        process.kill(owner.pid, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
      }
    }
    return Date.now() - (owner.at ?? 0) > STALE_LOCK_MS;
  }

  async isLocked(): Promise<boolean> {
    return stat(this.lockFile).then(
      async () => !(await this.lockIsStale()),
      () => false,
    );
  }
}

export class GitCache {
  constructor(
    readonly root: string,
    readonly maxBytes: number,
  ) {}

  /** The entry for a branch of a repository, by a digest of the redacted URL and the branch. */
  entry(url: string, branch: string): CacheEntry {
    const key = createHash('sha256').update(`${url}\n${branch}`).digest('hex').slice(0, 32);
    return new CacheEntry(this, join(this.root, key));
  }

  /** Rename a directory out of the way, then delete it; a concurrent reader fails cleanly rather than reading half of it. */
  async trash(path: string): Promise<void> {
    const target = join(this.root, `.trash-${randomBytes(6).toString('hex')}`);
    try {
      await rename(path, target);
    } catch {
      return;
    }
    await rm(target, { recursive: true, force: true });
  }

  /**
   * Delete least-recently-used entries until the cache is under its bound. `keep` (the entry just
   * used) and entries being fetched into are never deleted, so one entry larger than the bound stays.
   * Returns the directories removed.
   */
  async evict(keep: CacheEntry): Promise<string[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const entries: Array<{ entry: CacheEntry; size: number; usedAt: number }> = [];
    let total = 0;
    for (const name of names) {
      const path = join(this.root, name);
      if (name.startsWith('.trash-')) {
        // Left by a process that died while deleting.
        await rm(path, { recursive: true, force: true });
        continue;
      }
      const entry = new CacheEntry(this, path);
      const usedAt = await stat(entry.metaFile).then(
        (s) => s.mtimeMs,
        () => stat(path).then((s) => s.mtimeMs, () => 0),
      );
      const size = await sizeOf(path);
      total += size;
      entries.push({ entry, size, usedAt });
    }
    const removed: string[] = [];
    entries.sort((a, b) => a.usedAt - b.usedAt);
    for (const { entry, size } of entries) {
      if (total <= this.maxBytes) break;
      if (entry.dir === keep.dir || (await entry.isLocked())) continue;
      forgetObjectCaches(entry.dir);
      await this.trash(entry.dir);
      removed.push(entry.dir);
      total -= size;
    }
    return removed;
  }
}
