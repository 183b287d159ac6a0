/**
 * SourceRepo: read a Git source at its branch head. A snapshot is addressed by commit SHA from the
 * moment it is taken, so nothing reads "HEAD" twice. Implemented with isomorphic-git over smart
 * HTTP(S), and over a working tree or bare repository on disk.
 */

export interface SourceSnapshot {
  /** The commit SHA every read of this snapshot is pinned to (a content digest for plain directories). */
  readonly commit: string;
  /**
   * A file's bytes at that commit, or undefined when there is no such file. Paths are
   * repository-relative with `/`. Throws PathOutsideRepoError for a symlink that leaves the repository.
   */
  readFile(path: string): Promise<Uint8Array | undefined>;
}

export interface SourceRepo {
  /** A short description for messages, never containing credentials (e.g. `https://git.example.com/org/repo.git@main`). */
  readonly description: string;
  /** Resolve the branch head (fetching what is new) and return a snapshot pinned to it. */
  snapshot(): Promise<SourceSnapshot>;
}

export class PathOutsideRepoError extends Error {
  override name = 'PathOutsideRepoError';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path} ${detail}`);
  }
}
