/** An in-memory SourceSnapshot for tests of the core and use cases: files by path, symlinks by target. */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { FileTooLargeError, PathOutsideRepoError, type ReadOptions, type SourceRepo, type SourceSnapshot } from '../../lib/ports/source-repo.js';

export type MemoryFiles = Record<string, string | { symlink: string }>;

export function memorySnapshot(files: MemoryFiles, commit?: string): SourceSnapshot {
  const sha = commit ?? createHash('sha1').update(JSON.stringify(files)).digest('hex');
  return {
    commit: sha,
    async readFile(path: string, options: ReadOptions = {}) {
      let current = path;
      for (let hops = 0; hops < 8; hops++) {
        const entry = files[current];
        if (entry === undefined) return undefined;
        if (typeof entry === 'string') {
          const bytes = new TextEncoder().encode(entry);
          if (options.maxBytes !== undefined && bytes.length > options.maxBytes) throw new FileTooLargeError(path, bytes.length, options.maxBytes);
          return bytes;
        }
        const target = posix.normalize(posix.join(posix.dirname(current), entry.symlink));
        if (posix.isAbsolute(entry.symlink) || target.startsWith('..')) throw new PathOutsideRepoError(path, 'points outside the repository');
        current = target;
      }
      return undefined;
    },
  };
}

/** A SourceRepo whose branch head can be moved by tests. */
export class MemoryRepo implements SourceRepo {
  readonly description = 'memory://test';
  private files: MemoryFiles;
  private commitCount = 0;
  snapshots = 0;
  constructor(files: MemoryFiles) {
    this.files = files;
  }
  push(files: MemoryFiles): void {
    this.files = files;
    this.commitCount++;
  }
  async snapshot(): Promise<SourceSnapshot> {
    this.snapshots++;
    return memorySnapshot(this.files, createHash('sha1').update(`${this.commitCount}:${JSON.stringify(this.files)}`).digest('hex'));
  }
}
