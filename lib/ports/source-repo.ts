/**
 * SourceRepo: read a Git source at its branch head. A snapshot is addressed by commit SHA from the
 * moment it is taken, so nothing reads "HEAD" twice. Implemented over Git's smart HTTP(S)
 * protocol, and over a working tree or bare repository on disk.
 */

export interface SourceSnapshot {
  /** The commit SHA every read of this snapshot is pinned to (a content digest for plain directories). */
  readonly commit: string;
  /**
   * A file's bytes at that commit, or undefined when there is no such file. Paths are
   * repository-relative with `/`. Throws PathOutsideRepoError for a symlink that leaves the repository,
   * and FileTooLargeError for a file over `maxBytes`, found before its content is inflated or read.
   */
  readFile(path: string, options?: ReadOptions): Promise<Uint8Array | undefined>;
}

export interface ReadOptions {
  /** Refuse a file larger than this many bytes (as stored, decoded) before reading it whole. */
  maxBytes?: number;
}

export interface SourceRepo {
  /** A short description for messages, never containing credentials (e.g. `https://git.example.com/org/repo.git@main`). */
  readonly description: string;
  /** Resolve the branch head (fetching what is new) and return a snapshot pinned to it. */
  snapshot(): Promise<SourceSnapshot>;
  /**
   * The same repository and path read at another full ref instead of the branch, e.g. a pull
   * request's head (`refs/pull/7/head`); a snapshot of a ref that does not exist throws SourceInvalid.
   */
  atRef?(ref: string): SourceRepo;
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

/** A file over the size asked for; `bytes` is its size when known before reading it. */
export class FileTooLargeError extends Error {
  override name = 'FileTooLargeError';
  constructor(
    readonly path: string,
    readonly bytes: number | undefined,
    readonly maxBytes: number,
  ) {
    super(`${path} is ${bytes === undefined ? 'over' : `${bytes} bytes, over`} the limit of ${maxBytes} bytes`);
  }
}
