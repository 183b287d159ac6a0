/**
 * Sources on disk, for the CLI and the embedded runtime, and `openSource`, which picks the adapter
 * for what the user pointed at:
 *
 * - an http(s) URL → GitSource (the branch is `ref`, default `main`);
 * - a directory inside a Git repository (the work tree's top, any directory below it, or a bare
 *   repository) → LocalGitSource: the commit `ref` names (default HEAD), read from the repository's
 *   objects with no checkout and no network. A directory below the top becomes the source's `path`,
 *   so `cairn plan envs/prod` and `cairn plan --path envs/prod` read the same thing. The work tree's
 *   uncommitted edits are never read; `uncommitted()` says which of the files a load read differ
 *   from the commit, and `workTree()` reads them as they are only when a user asks for it, under the
 *   commit's SHA with a `-dirty` marker.
 * - a directory outside any repository → WorkingTreeSource: the files as they are on disk, not
 *   versioned; its `commit` is a `sha256:` digest of the content.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceRepo, SourceSnapshot } from '../ports/source-repo.js';
import { gitFs } from './git-cache.js';
import { ObjectStore } from './git-objects.js';
import { GitCommitSnapshot } from './git-snapshot.js';
import { GitSource, type GitSourceOptions } from './git-source.js';
import { gitKind, locateRepository, pathExists as exists } from './repository-location.js';
import { MANIFEST_FILE, normaliseSourcePath, requireManifest, SourceInvalidError, type SourceLocation } from './source-errors.js';
import { WorkingTreeSource } from './working-tree-source.js';

export { WorkingTreeSource, type WorkingTreeSourceOptions } from './working-tree-source.js';

/** The marker a snapshot of uncommitted content carries after the commit SHA it started from. */
export const DIRTY_SUFFIX = '-dirty';

/** A file a load read whose content in the work tree is not what the commit holds. */
export interface UncommittedFile {
  /** Relative to the source's directory, as cairn.yaml names it. */
  path: string;
  /** modified: both have it, with different content; deleted: only the commit has it; untracked: only the work tree has it. */
  change: 'modified' | 'deleted' | 'untracked';
}

export interface LocalGitSourceOptions {
  /** A bare repository, or the top of a work tree with `.git` (a directory, or a file naming the gitdir as in a linked worktree). */
  path: string;
  /** Branch, tag, full ref or commit SHA (abbreviated is accepted). Default: the repository's HEAD, resolved on every snapshot. */
  ref?: string;
  /** The directory inside the repository that holds cairn.yaml (default the root). */
  subdir?: string;
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
  /** The work tree's top directory; undefined for a bare repository. */
  readonly worktree: string | undefined;
  /** The source's directory inside the repository, `''` for the root. */
  readonly subdir: string;
  private readonly at: SourceLocation;

  constructor(private readonly options: LocalGitSourceOptions) {
    this.path = resolve(options.path);
    const kind = gitKind(this.path);
    if (kind === 'plain') throw new SourceInvalidError({ source: this.path, branch: options.ref }, 'is not a Git repository');
    this.subdir = normaliseSourcePath(options.subdir, { source: this.path, branch: options.ref });
    this.worktree = kind === 'worktree' ? this.path : undefined;
    this.gitdir = kind === 'bare' ? this.path : join(this.path, '.git');
    if (exists(this.gitdir, 'file')) {
      // `gitdir: <path>`, written by `git worktree add` and for submodules.
      this.gitdir = resolve(this.path, readFileSync(this.gitdir, 'utf8').replace(/^gitdir:\s*/, '').trim());
    }
    const common = join(this.gitdir, 'commondir');
    this.commondir = exists(common, 'file') ? resolve(this.gitdir, readFileSync(common, 'utf8').trim()) : this.gitdir;
    this.at = { source: this.path, branch: options.ref ?? 'HEAD', ...(this.subdir ? { path: this.subdir } : {}) };
    this.description = `${this.path}${this.subdir ? `/${this.subdir}` : ''}@${options.ref ?? 'HEAD'}`;
  }

  atRef(ref: string): LocalGitSource {
    return new LocalGitSource({ ...this.options, ref });
  }

  async snapshot(): Promise<SourceSnapshot> {
    // A fresh store each time: `git gc` may replace this repository's packs between snapshots.
    const store = new ObjectStore(this.commondir);
    const commit = await this.resolveCommit(store, this.options.ref ?? (await this.head()));
    const snapshot = new GitCommitSnapshot({ store, commit, at: this.at, root: this.subdir });
    await requireManifest(snapshot, this.at, this.options.manifestFile ?? MANIFEST_FILE).catch((error: unknown) => {
      throw this.uncommittedManifest(commit) ?? error;
    });
    return snapshot;
  }

  /**
   * Which of `reads` (paths a load read from a snapshot of this source, with the bytes it got)
   * differ in the work tree. Empty for a bare repository, and when the snapshot is not of what is
   * checked out (a `ref` naming another branch, tag or commit), since the work tree is then not
   * what the user is looking at.
   */
  async uncommitted(reads: ReadonlyMap<string, Uint8Array | undefined>): Promise<UncommittedFile[]> {
    if (!this.worktree || !(await this.followsCheckout())) return [];
    const dir = join(this.worktree, ...this.subdir.split('/').filter(Boolean));
    const out: UncommittedFile[] = [];
    for (const [path, committed] of [...reads].sort(([a], [b]) => a.localeCompare(b))) {
      const onDisk = await readFile(join(dir, ...path.split('/'))).catch(() => undefined);
      if (committed === undefined && onDisk === undefined) continue;
      if (committed === undefined) out.push({ path, change: 'untracked' });
      else if (onDisk === undefined) out.push({ path, change: 'deleted' });
      else if (Buffer.compare(Buffer.from(committed), onDisk) !== 0) out.push({ path, change: 'modified' });
    }
    return out;
  }

  /**
   * The work tree's files as they are, for a user who asked to use uncommitted edits: read like a
   * plain directory, but recorded as `<commit>-dirty` so what was deployed says where it came from.
   */
  workTree(commit: string): SourceRepo {
    if (!this.worktree) throw new SourceInvalidError(this.at, 'is a bare repository; it has no work tree to read');
    const dir = join(this.worktree, ...this.subdir.split('/').filter(Boolean));
    return new WorkingTreeSource({ dir, commit: `${commit}${DIRTY_SUFFIX}`, ...(this.options.manifestFile ? { manifestFile: this.options.manifestFile } : {}) });
  }

  /** Whether snapshots read what is checked out: HEAD itself, or the branch HEAD is on. */
  private async followsCheckout(): Promise<boolean> {
    const ref = this.options.ref;
    if (ref === undefined || ref === 'HEAD') return true;
    const head = await this.head();
    return head === ref || head === `refs/heads/${ref}`;
  }

  /** A work tree that has cairn.yaml on disk but not in the commit: say so, rather than "there is none". */
  private uncommittedManifest(commit: string): SourceInvalidError | undefined {
    const manifest = this.options.manifestFile ?? MANIFEST_FILE;
    if (!this.worktree || !existsSync(join(this.worktree, this.subdir, manifest))) return undefined;
    const file = this.subdir ? `${this.subdir}/${manifest}` : manifest;
    return new SourceInvalidError(this.at, `${file} is in the work tree but not in commit ${commit.slice(0, 12)}`, {
      hint: `Commit it (git add ${file} && git commit), since Cairn deploys commits, not files on disk; or pass --allow-dirty to use the work tree as it is.`,
    });
  }

  /** What HEAD names: a ref such as `refs/heads/main`, or a commit when it is detached. */
  private async head(): Promise<string> {
    const head = (await readFile(join(this.gitdir, 'HEAD'), 'utf8')).trim();
    return head.startsWith('ref: ') ? head.slice('ref: '.length) : head;
  }

  private async resolveCommit(store: ObjectStore, ref: string): Promise<string> {
    let oid: string;
    try {
      oid = await resolveRefOnDisk(this.commondir, ref);
    } catch (err) {
      if (this.options.ref === undefined && ref.startsWith('refs/heads/')) {
        throw new SourceInvalidError(this.at, `the repository has no commit yet (HEAD names ${ref}, which does not exist)`, {
          cause: err,
          hint: 'Commit cairn.yaml and the templates it names: Cairn deploys commits, not files on disk.',
        });
      }
      if (!/^[0-9a-f]{4,40}$/i.test(ref)) {
        throw new SourceInvalidError(this.at, `the ref ${ref} does not exist in the repository`, { cause: err });
      }
      // isomorphic-git only for this rare case, loaded when it happens.
      const { expandOid } = await import('isomorphic-git');
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

/** Files in a gitdir that are not refs, though a ref could be spelled like them. */
const GIT_FILES = ['config', 'description', 'index', 'shallow', 'commondir'];

/** packed-refs as ref → object, with `<tag>^{}` for the commit an annotated tag peels to. */
async function packedRefs(gitdir: string): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  const text = await readFile(join(gitdir, 'packed-refs'), 'utf8').catch(() => '');
  if (!text) return refs;
  let key = '';
  for (const line of text.trim().split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line.startsWith('^')) refs.set(`${key}^{}`, line.slice(1));
    else {
      const space = line.indexOf(' ');
      key = line.slice(space + 1);
      refs.set(key, line.slice(0, space));
    }
  }
  return refs;
}

/**
 * The object a ref names, read from the repository's files as isomorphic-git's resolveRef reads
 * it, without loading it: a full SHA names itself; otherwise the ref as given, then under refs/,
 * refs/tags/, refs/heads/, refs/remotes/ and refs/remotes/<ref>/HEAD, each a loose file or a line
 * of packed-refs, whose content (a SHA, or `ref: <another ref>`) is resolved in turn.
 */
export async function resolveRefOnDisk(gitdir: string, ref: string, visited = new Set<string>()): Promise<string> {
  if (ref.startsWith('ref: ')) return resolveRefOnDisk(gitdir, ref.slice('ref: '.length), visited);
  if (ref.length === 40 && /[0-9a-f]{40}/.test(ref)) return ref;
  const packed = await packedRefs(gitdir);
  const paths = [ref, `refs/${ref}`, `refs/tags/${ref}`, `refs/heads/${ref}`, `refs/remotes/${ref}`, `refs/remotes/${ref}/HEAD`].filter((p) => !GIT_FILES.includes(p));
  for (const path of paths) {
    const content = (await readFile(`${gitdir}/${path}`, 'utf8').catch(() => '')) || packed.get(path);
    if (!content) continue;
    if (visited.has(path)) throw new Error(`Circular reference detected while resolving ref "${path}"`);
    visited.add(path);
    return resolveRefOnDisk(gitdir, content.trim(), visited);
  }
  throw new Error(`Could not find ${ref}.`);
}

export interface OpenSourceOptions extends Omit<GitSourceOptions, 'url' | 'branch' | 'path'> {
  /** An http(s) URL, a `file://` URL, or a path (relative to the current directory). */
  repo?: string;
  /** Branch for a URL (default `main`); branch, tag or commit for a local repository (default HEAD). */
  ref?: string;
  /** A directory to read, when `repo` is not given (default the current directory). */
  dir?: string;
  /** The source's directory below what `repo` or `dir` names (default: that directory itself). */
  path?: string;
}

/** The SourceRepo for what the user pointed at; see the top of this file for the rules. */
export function openSource(options: OpenSourceOptions): SourceRepo {
  const { repo, ref, dir, path: sub, ...rest } = options;
  const target = repo ?? dir ?? '.';
  if (/^https?:\/\//i.test(target)) return new GitSource({ ...rest, url: target, branch: ref ?? 'main', ...(sub ? { path: sub } : {}) });
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
  const manifest = rest.manifestFile ? { manifestFile: rest.manifestFile } : {};
  const at = { source: path, ...(ref ? { branch: ref } : {}) };
  const located = locateRepository(path);
  if (located) {
    const below = normaliseSourcePath(sub, at);
    const subdir = [located.subdir, below].filter(Boolean).join('/');
    return new LocalGitSource({ path: located.top, ...(ref !== undefined ? { ref } : {}), ...(subdir ? { subdir } : {}), ...manifest });
  }
  if (ref !== undefined) {
    throw new SourceInvalidError(at, 'a ref was given but this directory is not in a Git repository');
  }
  return new WorkingTreeSource({ dir: join(path, normaliseSourcePath(sub, at)), ...manifest });
}

/**
 * A snapshot that remembers every path read from it and the bytes it gave, so a caller can later
 * ask which of exactly those files a work tree changes (LocalGitSource.uncommitted).
 */
export function recordReads(snapshot: SourceSnapshot): { snapshot: SourceSnapshot; reads: Map<string, Uint8Array | undefined> } {
  const reads = new Map<string, Uint8Array | undefined>();
  return {
    reads,
    snapshot: {
      commit: snapshot.commit,
      readFile: async (path, options) => {
        const bytes = await snapshot.readFile(path, options);
        reads.set(path.replace(/^(\.\/)+/, ''), bytes);
        return bytes;
      },
    },
  };
}
