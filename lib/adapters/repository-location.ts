/**
 * Where a directory sits in Git, found as git itself finds it (the directory when it is a bare
 * repository, else the nearest directory at or above it with `.git`), without loading a Git
 * library, so reading a plain directory stays cheap.
 */
import { realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

export type GitKind = 'bare' | 'worktree' | 'plain';

/** A directory's repository, and its path inside it. */
export interface RepositoryLocation {
  kind: 'bare' | 'worktree';
  /** The bare repository, or the work tree's top directory. */
  top: string;
  /** The directory's path inside the repository, `/`-separated, `''` for the top. */
  subdir: string;
}

export function pathExists(path: string, kind: 'dir' | 'file' | 'any'): boolean {
  try {
    const s = statSync(path);
    return kind === 'any' || (kind === 'dir' ? s.isDirectory() : s.isFile());
  } catch {
    return false;
  }
}

/** What kind of directory `path` is: a bare repository, a working tree's top with .git, or neither. */
export function gitKind(path: string): GitKind {
  if (pathExists(join(path, '.git'), 'any')) return 'worktree';
  if (pathExists(join(path, 'HEAD'), 'file') && pathExists(join(path, 'objects'), 'dir') && pathExists(join(path, 'refs'), 'dir')) return 'bare';
  return 'plain';
}

/** The repository `dir` belongs to, or undefined when it is in none. */
export function locateRepository(dir: string): RepositoryLocation | undefined {
  const real = realpathSync(dir);
  if (gitKind(real) === 'bare') return { kind: 'bare', top: real, subdir: '' };
  for (let d = real; ; d = dirname(d)) {
    if (pathExists(join(d, '.git'), 'any')) return { kind: 'worktree', top: d, subdir: relative(d, real).split(sep).filter(Boolean).join('/') };
    if (dirname(d) === d) return undefined;
  }
}
