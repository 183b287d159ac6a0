/**
 * A directory read as it is on disk: the source for a directory outside any Git repository (not
 * versioned), and for a work tree's uncommitted edits when a user passes --allow-dirty. Its
 * `commit` is `sha256:<hex>` (or the label it is given, such as `<sha>-dirty`), a digest of every
 * file's path and content (`.git` and `.cairn` left out), so an unchanged directory always gets the
 * same digest and one changed byte gets a new one. Reads return the content as it was hashed (kept
 * from the snapshot), so a commit never mixes two versions; a file past what a snapshot keeps is
 * read again, and one found changed throws SourceUnavailableError. Kept apart from the Git
 * readers so that reading a directory loads no Git library.
 */
import { createHash } from 'node:crypto';
import { type Dirent } from 'node:fs';
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { FileTooLargeError, PathOutsideRepoError, type ReadOptions, type SourceRepo, type SourceSnapshot } from '../ports/source-repo.js';
import { pathSegments } from './git-snapshot.js';
import { MANIFEST_FILE, requireManifest, SourceInvalidError, SourceUnavailableError, type SourceLocation } from './source-errors.js';

/** Directories that are never part of a working tree's content. */
const IGNORED_DIRS = new Set(['.git', '.cairn']);
const HASH_CONCURRENCY = 64;
/**
 * Bytes of file content a snapshot keeps from hashing, so its reads need not open each file again;
 * past this (a directory far larger than any commit Cairn reads) files are read again on demand.
 */
const KEPT_BYTES = 32 * 1_048_576;

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export interface WorkingTreeSourceOptions {
  /** The directory whose files are the source, as they are on disk. */
  dir: string;
  manifestFile?: string;
  /** What to call snapshots instead of their content digest (e.g. `<sha>-dirty` for a work tree's edits). */
  commit?: string;
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
    const { files, kept } = await digestTree(root);
    const lines = [...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, h]) => `${p}\0${h}\n`);
    const snapshot = new WorkingTreeSnapshot(root, this.options.commit ?? `sha256:${sha256(lines.join(''))}`, files, kept, at);
    await requireManifest(snapshot, at, this.options.manifestFile ?? MANIFEST_FILE);
    return snapshot;
  }
}

/**
 * Every regular file under `root` by its `/`-separated relative path, with the sha256 of its
 * content; a symbolic link is recorded by its target (`link:<target>`) and never followed, so a
 * link out of the directory or a loop cannot pull anything into the digest. The content read for
 * the hash is kept (up to KEPT_BYTES in all): a file reached through real directories only, as the
 * walk reaches it, is then read from the snapshot itself, exactly as it was hashed.
 */
async function digestTree(root: string): Promise<{ files: Map<string, string>; kept: Map<string, Buffer> }> {
  const files: string[] = [];
  const out = new Map<string, string>();
  const kept = new Map<string, Buffer>();
  let keptBytes = 0;
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
          const bytes = await readFile(full);
          const path = toRepoPath(root, full);
          out.set(path, sha256(bytes));
          if (keptBytes + bytes.length <= KEPT_BYTES) {
            kept.set(path, bytes);
            keptBytes += bytes.length;
          }
        } catch (err) {
          if (errno(err) !== 'ENOENT') throw err;
        }
      }),
    );
  }
  return { files: out, kept };
}

function toRepoPath(root: string, full: string): string {
  return relative(root, full).split(sep).join('/');
}

class WorkingTreeSnapshot implements SourceSnapshot {
  constructor(
    private readonly root: string,
    readonly commit: string,
    private readonly files: Map<string, string>,
    private readonly kept: Map<string, Buffer>,
    private readonly at: SourceLocation,
  ) {}

  async readFile(path: string, options: ReadOptions = {}): Promise<Uint8Array | undefined> {
    const segments = pathSegments(path);
    // A regular file the walk reached through real directories: the bytes it hashed, with no link
    // on the way (the walk follows none), so nothing can lead outside the directory.
    const held = this.kept.get(segments.join('/'));
    if (held) {
      if (options.maxBytes !== undefined && held.length > options.maxBytes) throw new FileTooLargeError(path, held.length, options.maxBytes);
      return held;
    }
    const full = join(this.root, ...segments);
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
      const size = (await stat(real)).size;
      if (options.maxBytes !== undefined && size > options.maxBytes) throw new FileTooLargeError(path, size, options.maxBytes);
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

