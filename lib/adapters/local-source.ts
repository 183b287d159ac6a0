/**
 * Sources on disk, for the CLI and the embedded runtime, and `openSource`, which picks the adapter
 * for what the user pointed at:
 *
 * - an http(s) URL → GitSource (the branch is `ref`, default `main`);
 * - a bare repository, or any repository with `ref` → LocalGitSource: the commit `ref` names
 *   (default the repository's HEAD), read from its objects with no checkout and no network;
 * - any other directory → WorkingTreeSource: the files as they are on disk, uncommitted edits
 *   included. Its `commit` is `sha256:<hex>`, a digest of every file's path and content (`.git`
 *   and `.cairn` left out), so an unchanged directory always gets the same digest and one changed
 *   byte gets a new one. A read after the snapshot that finds different content throws
 *   SourceUnavailableError rather than mixing two versions.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, type Dirent } from 'node:fs';
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandOid, resolveRef } from 'isomorphic-git';
import { PathOutsideRepoError, type SourceRepo, type SourceSnapshot } from '../ports/source-repo.js';
import { gitFs } from './git-cache.js';
import { ObjectStore } from './git-objects.js';
import { GitCommitSnapshot, pathSegments } from './git-snapshot.js';
import { GitSource, type GitSourceOptions } from './git-source.js';
import { MANIFEST_FILE, requireManifest, SourceInvalidError, SourceUnavailableError, type SourceLocation } from './source-errors.js';

/** Directories that are never part of a working tree's content. */
const IGNORED_DIRS = new Set(['.git', '.cairn']);
const HASH_CONCURRENCY = 64;

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export interface LocalGitSourceOptions {
  /** A bare repository, or a working tree with `.git` (a directory, or a file naming the gitdir as in a linked worktree). */
  path: string;
  /** Branch, tag, full ref or commit SHA (abbreviated is accepted). Default: the repository's HEAD. */
  ref?: string;
  manifestFile?: string;
}

/** A repository on disk read at a commit, like GitSource but with no network and no cache. */
export class LocalGitSource implements SourceRepo {
  readonly description: string;
  readonly path: string;
  /** Where HEAD is (a linked worktree has its own). */
  readonly gitdir: string;
  /** Where refs and objects are (the main repository's gitdir, for a linked worktree). */
  readonly commondir: string;
  private readonly at: SourceLocation;

  constructor(private readonly options: LocalGitSourceOptions) {
    this.path = resolve(options.path);
    const kind = gitKind(this.path);
    if (kind === 'plain') throw new SourceInvalidError({ source: this.path, branch: options.ref }, 'is not a Git repository');
    this.gitdir = kind === 'bare' ? this.path : join(this.path, '.git');
    if (exists(this.gitdir, 'file')) {
      // `gitdir: <path>`, written by `git worktree add` and for submodules.
      this.gitdir = resolve(this.path, readFileSync(this.gitdir, 'utf8').replace(/^gitdir:\s*/, '').trim());
    }
    const common = join(this.gitdir, 'commondir');
    this.commondir = exists(common, 'file') ? resolve(this.gitdir, readFileSync(common, 'utf8').trim()) : this.gitdir;
    this.at = { source: this.path, branch: options.ref ?? 'HEAD' };
    this.description = `${this.path}@${options.ref ?? 'HEAD'}`;
  }

  async snapshot(): Promise<SourceSnapshot> {
    // A fresh store each time: `git gc` may replace this repository's packs between snapshots.
    const store = new ObjectStore(this.commondir);
    const commit = await this.resolveCommit(store, this.options.ref ?? (await this.head()));
    const snapshot = new GitCommitSnapshot({ store, commit, at: this.at });
    await requireManifest(snapshot, this.at, this.options.manifestFile ?? MANIFEST_FILE);
    return snapshot;
  }

  /** What HEAD names: a ref such as `refs/heads/main`, or a commit when it is detached. */
  private async head(): Promise<string> {
    const head = (await readFile(join(this.gitdir, 'HEAD'), 'utf8')).trim();
    return head.startsWith('ref: ') ? head.slice('ref: '.length) : head;
  }

  private async resolveCommit(store: ObjectStore, ref: string): Promise<string> {
    let oid: string;
    try {
      oid = await resolveRef({ fs: gitFs, gitdir: this.commondir, ref });
    } catch (err) {
      if (!/^[0-9a-f]{4,40}$/i.test(ref)) {
        throw new SourceInvalidError(this.at, `the ref ${ref} does not exist in the repository`, { cause: err });
      }
      oid = await expandOid({ fs: gitFs, gitdir: this.commondir, oid: ref.toLowerCase() }).catch((e: unknown) => {
        throw new SourceInvalidError(this.at, `no commit matches ${ref} in the repository`, { cause: e });
      });
    }
    // Annotated tags point at a tag object; a snapshot is addressed by the commit it names.
    const commit = await store.peelToCommit(oid).catch((e: unknown) => {
      throw new SourceInvalidError(this.at, `the object ${oid} that ${ref} names is missing from the repository`, { cause: e });
    });
    if (!commit) throw new SourceInvalidError(this.at, `${ref} does not name a commit`);
    return commit;
  }
}

export interface WorkingTreeSourceOptions {
  /** The directory whose files are the source, as they are on disk. */
  dir: string;
  manifestFile?: string;
}

/** A directory read as it is on disk (the CLI's default, and `cairn serve` on a checkout). */
export class WorkingTreeSource implements SourceRepo {
  readonly description: string;
  readonly dir: string;

  constructor(private readonly options: WorkingTreeSourceOptions) {
    this.dir = resolve(options.dir);
    this.description = this.dir;
  }

  async snapshot(): Promise<SourceSnapshot> {
    const at: SourceLocation = { source: this.dir };
    let root: string;
    try {
      root = await realpath(this.dir);
      if (!(await stat(root)).isDirectory()) throw new SourceInvalidError(at, 'is not a directory');
    } catch (err) {
      if (err instanceof SourceInvalidError) throw err;
      throw new SourceInvalidError(at, 'does not exist or cannot be read', { cause: err });
    }
    const files = await digestTree(root);
    const lines = [...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, h]) => `${p}\0${h}\n`);
    const snapshot = new WorkingTreeSnapshot(root, `sha256:${sha256(lines.join(''))}`, files, at);
    await requireManifest(snapshot, at, this.options.manifestFile ?? MANIFEST_FILE);
    return snapshot;
  }
}

/**
 * Every regular file under `root` by its `/`-separated relative path, with the sha256 of its
 * content; a symbolic link is recorded by its target (`link:<target>`) and never followed, so a
 * link out of the directory or a loop cannot pull anything into the digest.
 */
async function digestTree(root: string): Promise<Map<string, string>> {
  const files: string[] = [];
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      // A directory removed while walking is simply not part of this snapshot.
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (!IGNORED_DIRS.has(e.name)) await walk(full);
      } else if (e.isSymbolicLink()) {
        out.set(toRepoPath(root, full), `link:${await readlink(full)}`);
      } else if (e.isFile()) files.push(full);
    }
  };
  await walk(root);
  for (let i = 0; i < files.length; i += HASH_CONCURRENCY) {
    await Promise.all(
      files.slice(i, i + HASH_CONCURRENCY).map(async (full) => {
        try {
          out.set(toRepoPath(root, full), sha256(await readFile(full)));
        } catch (err) {
          if (errno(err) !== 'ENOENT') throw err;
        }
      }),
    );
  }
  return out;
}

function toRepoPath(root: string, full: string): string {
  return relative(root, full).split(sep).join('/');
}

class WorkingTreeSnapshot implements SourceSnapshot {
  constructor(
    private readonly root: string,
    readonly commit: string,
    private readonly files: Map<string, string>,
    private readonly at: SourceLocation,
  ) {}

  async readFile(path: string): Promise<Uint8Array | undefined> {
    const full = join(this.root, ...pathSegments(path));
    let real: string;
    try {
      real = await realpath(full);
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      if (code === 'ELOOP') throw new SourceInvalidError(this.at, `${path} is a loop of symbolic links`);
      throw err;
    }
    const rel = relative(this.root, real);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new PathOutsideRepoError(path, `is a symbolic link (or passes through one) to ${real}, which leaves ${this.root}`);
    }
    const expected = this.files.get(rel.split(sep).join('/'));
    // Not a file of this snapshot: a directory, under .git or .cairn, or created after it was taken.
    if (expected === undefined) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(real);
    } catch (err) {
      if (errno(err) === 'ENOENT') return this.changed(path);
      throw err;
    }
    return sha256(bytes) === expected ? bytes : this.changed(path);
  }

  private changed(path: string): never {
    throw new SourceUnavailableError(this.at, `${path} changed on disk after the snapshot ${this.commit} was taken; take a new snapshot`);
  }
}

type GitKind = 'bare' | 'worktree' | 'plain';

function exists(path: string, kind: 'dir' | 'file' | 'any'): boolean {
  try {
    const s = statSync(path);
    return kind === 'any' || (kind === 'dir' ? s.isDirectory() : s.isFile());
  } catch {
    return false;
  }
}

/** What kind of directory `path` is: a bare repository, a working tree with .git, or neither. */
function gitKind(path: string): GitKind {
  if (exists(join(path, '.git'), 'any')) return 'worktree';
  if (exists(join(path, 'HEAD'), 'file') && exists(join(path, 'objects'), 'dir') && exists(join(path, 'refs'), 'dir')) return 'bare';
  return 'plain';
}

export interface OpenSourceOptions extends Omit<GitSourceOptions, 'url' | 'branch'> {
  /** An http(s) URL, a `file://` URL, or a path (relative to the current directory). */
  repo?: string;
  /** Branch for a URL (default `main`); branch, tag or commit for a local repository. */
  ref?: string;
  /** A directory to read, when `repo` is not given (default the current directory). */
  dir?: string;
}

/** The SourceRepo for what the user pointed at; see the top of this file for the rules. */
export function openSource(options: OpenSourceOptions): SourceRepo {
  const { repo, ref, dir, ...rest } = options;
  const target = repo ?? dir ?? '.';
  if (/^https?:\/\//i.test(target)) return new GitSource({ ...rest, url: target, branch: ref ?? 'main' });
  let path: string;
  if (/^file:\/\//i.test(target)) path = fileURLToPath(target);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target) || /^[^/\\]+@[^/\\:]+:/.test(target)) {
    throw new SourceInvalidError(
      { source: target.replace(/\/\/[^/@]*@/, '//'), branch: ref },
      'only http(s) URLs and local paths are supported',
      { hint: 'Use the https clone URL, with a token secret for a private repository.' },
    );
  } else path = resolve(target);
  if (!exists(path, 'dir')) throw new SourceInvalidError({ source: path, branch: ref }, 'is not a directory');
  const kind = gitKind(path);
  const manifest = rest.manifestFile ? { manifestFile: rest.manifestFile } : {};
  if (kind === 'bare' || (kind === 'worktree' && ref !== undefined)) return new LocalGitSource({ path, ref, ...manifest });
  if (ref !== undefined) {
    throw new SourceInvalidError({ source: path, branch: ref }, 'a ref was given but this directory is not a Git repository');
  }
  return new WorkingTreeSource({ dir: path, ...manifest });
}
