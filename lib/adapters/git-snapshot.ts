/**
 * A snapshot of a Git commit read straight from a gitdir's objects: trees are walked by path and
 * blobs read at that commit, never from a checkout. Shared by the HTTP source (its cache gitdir)
 * and the local repository reader. A snapshot may be rooted at a sub-directory of the repository
 * (a source's `path`): every path is then relative to it and no path, `..` or symbolic link can
 * leave it. Symbolic links are followed only while they stay inside that root.
 */
import { FileTooLargeError, PathOutsideRepoError, type ReadOptions, type SourceSnapshot } from '../ports/source-repo.js';
import { messageOf } from '../core/errors.js';
import { isBrokenObjectStore, ObjectTooLargeError, type ObjectStore, type TreeEntry } from './git-objects.js';
import { SourceInvalidError, SourceUnavailableError, type SourceLocation } from './source-errors.js';

const MAX_SYMLINK_HOPS = 40;
const SYMLINK_MODE = '120000';

/**
 * Repository-relative path segments of `path`. `..` is resolved; a path that would climb above the
 * root, or an absolute one, throws PathOutsideRepoError.
 */
export function pathSegments(path: string): string[] {
  if (path.startsWith('/')) throw new PathOutsideRepoError(path, 'is an absolute path; paths are relative to the repository root');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new PathOutsideRepoError(path, 'leaves the repository');
      out.pop();
    } else out.push(part);
  }
  return out;
}

export interface GitCommitSnapshotOptions {
  /** The objects of the gitdir the commit is in. */
  store: ObjectStore;
  /** The commit SHA every read is pinned to. */
  commit: string;
  /** The source, for messages. */
  at: SourceLocation;
  /** The repository-relative directory every path is relative to (default the repository's root). */
  root?: string;
  /** Called when the store's objects turn out missing or corrupt, before the read fails (a cache discards them). */
  onBroken?: () => Promise<void>;
}

export class GitCommitSnapshot implements SourceSnapshot {
  readonly commit: string;
  private tree: Promise<string> | undefined;
  private readonly base: string[];

  constructor(private readonly options: GitCommitSnapshotOptions) {
    this.commit = options.commit;
    this.base = pathSegments(options.root ?? '');
  }

  async readFile(path: string, options: ReadOptions = {}): Promise<Uint8Array | undefined> {
    const entry = await this.guard(() => this.resolve(path));
    if (!entry || entry.type !== 'blob') return undefined;
    try {
      return await this.guard(() => this.options.store.readBlob(entry.oid, options.maxBytes));
    } catch (err) {
      if (err instanceof ObjectTooLargeError) throw new FileTooLargeError(path, err.bytes, err.maxBytes);
      throw err;
    }
  }

  private async resolve(path: string): Promise<TreeEntry | undefined> {
    const { store } = this.options;
    const root = this.base;
    let segments = [...root, ...pathSegments(path)];
    let hops = 0;
    walk: for (;;) {
      this.tree ??= store.commitTree(this.commit);
      let tree = await this.tree;
      for (let i = 0; i < segments.length; i++) {
        const entry = (await store.readTree(tree)).get(segments[i]!);
        if (!entry) return undefined;
        if (entry.mode === SYMLINK_MODE) {
          if (++hops > MAX_SYMLINK_HOPS) {
            throw new SourceInvalidError(this.options.at, `${path} at ${this.commit} is a loop of symbolic links`);
          }
          const target = new TextDecoder().decode(await store.readBlob(entry.oid));
          const detail = `is a symbolic link to ${target}, which leaves ${root.length ? root.join('/') : 'the repository'}`;
          if (target.startsWith('/')) throw new PathOutsideRepoError(path, detail);
          const base = segments.slice(0, i).join('/');
          const rest = segments.slice(i + 1).join('/');
          try {
            segments = pathSegments([base, target, rest].filter(Boolean).join('/'));
          } catch {
            throw new PathOutsideRepoError(path, detail);
          }
          if (root.some((part, k) => segments[k] !== part)) throw new PathOutsideRepoError(path, detail);
          continue walk;
        }
        if (i === segments.length - 1) return entry;
        if (entry.type !== 'tree') return undefined;
        tree = entry.oid;
      }
      // The path named the root itself, which is not a file.
      return undefined;
    }
  }

  /**
   * Objects missing from or corrupt in a commit that was fetched whole mean the cache was removed or
   * broken under us: the owner discards it and the read fails as transient, to be read again.
   */
  private async guard<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (isBrokenObjectStore(err)) {
        await this.options.onBroken?.();
        throw new SourceUnavailableError(this.options.at, `objects of ${this.commit} in ${this.options.store.gitdir} are missing or corrupt (${messageOf(err)}); read the source again`, {
          cause: err,
        });
      }
      throw err;
    }
  }
}
