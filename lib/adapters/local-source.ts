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
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandOid, resolveRef } from 'isomorphic-git';
import type { SourceRepo, SourceSnapshot } from '../ports/source-repo.js';
import { gitFs } from './git-cache.js';
import { ObjectStore } from './git-objects.js';
import { GitCommitSnapshot } from './git-snapshot.js';
import { GitSource, type GitSourceOptions } from './git-source.js';
import { MANIFEST_FILE, requireManifest, SourceInvalidError, type SourceLocation } from './source-errors.js';
import { WorkingTreeSource } from './working-tree-source.js';

export { WorkingTreeSource, type WorkingTreeSourceOptions } from './working-tree-source.js';

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
