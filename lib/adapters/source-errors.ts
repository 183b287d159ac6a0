/**
 * The errors every source adapter throws, each naming the source (a URL without credentials, or a
 * path) and the branch, so a message on a commit status or in CloudWatch says where to look. The
 * class decides the retry: unavailable is transient, access denied and invalid wait for a person.
 */
import { StalledError, TransientError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { FileTooLargeError, type SourceSnapshot } from '../ports/source-repo.js';

/** Where a source error happened: never a URL with credentials in it. */
export interface SourceLocation {
  /** Redacted URL or absolute path. */
  source: string;
  /** Branch or ref, when the source has one. */
  branch?: string;
  /** The directory inside the repository the source is rooted at, when not the root. */
  path?: string;
}

function where(at: SourceLocation): string {
  const details = [at.branch && `branch ${at.branch}`, at.path && `path ${at.path}`].filter(Boolean);
  return details.length ? `${at.source} (${details.join(', ')})` : at.source;
}

/** Host unreachable, timed out, or answering 5xx: retrying later may succeed. */
export class SourceUnavailableError extends TransientError {
  override name = 'SourceUnavailableError';
  readonly source: string;
  readonly branch: string | undefined;

  constructor(at: SourceLocation, detail: string, options?: { cause?: unknown }) {
    super('SourceUnavailable', `Cannot read ${where(at)}: ${detail}`, options);
    this.source = at.source;
    this.branch = at.branch;
  }
}

/** The server refused the credentials (401/403): a person must fix the token or its permissions. */
export class SourceAccessDeniedError extends StalledError {
  override name = 'SourceAccessDeniedError';
  readonly source: string;
  readonly branch: string | undefined;

  constructor(at: SourceLocation, detail: string, options?: { cause?: unknown; hint?: string }) {
    super('AccessDenied', `Access to ${where(at)} was denied: ${detail}`, options);
    this.source = at.source;
    this.branch = at.branch;
  }
}

/** The source cannot be used as it is (missing branch, no cairn.yaml, pack too large ...). */
export class SourceInvalidError extends StalledError {
  override name = 'SourceInvalidError';
  readonly source: string;
  readonly branch: string | undefined;

  constructor(at: SourceLocation, detail: string, options?: { cause?: unknown; hint?: string; commit?: string }) {
    super('SourceInvalid', `${where(at)}: ${detail}`, options);
    this.source = at.source;
    this.branch = at.branch;
  }
}

/** The manifest every source must hold at its root. */
export const MANIFEST_FILE = 'cairn.yaml';

/** Fail with SourceInvalidError when the snapshot has no manifest, naming the commit it was read at. */
export async function requireManifest(snapshot: SourceSnapshot, at: SourceLocation, manifestFile = MANIFEST_FILE): Promise<void> {
  // Bounded, so a huge file is not inflated just to learn it exists (loading it reports the size).
  const found = await snapshot.readFile(manifestFile, { maxBytes: LIMITS.manifestBytes }).catch((error: unknown) => {
    if (error instanceof FileTooLargeError) return true;
    throw error;
  });
  if (found !== undefined) return;
  const file = at.path ? `${at.path}/${manifestFile}` : manifestFile;
  // A person reads the short form; the full SHA travels in `commit`.
  const short = snapshot.commit.startsWith('sha256:') ? `~${snapshot.commit.slice(7, 14)}` : snapshot.commit.slice(0, 12);
  throw new SourceInvalidError(at, `there is no ${file} at ${short}`, {
    hint: at.path
      ? `Commit ${file}, or give the path of the directory that holds ${manifestFile} (--path, or \`path\` in the deployment configuration).`
      : `Add ${manifestFile} at the root of the repository (or give --path for a sub-directory), or point Cairn at the branch that has it.`,
    commit: snapshot.commit,
  });
}

/**
 * A source's `path` inside its repository in the form snapshots use: `/`-separated, no leading or
 * trailing slash, `''` for the root. Throws SourceInvalidError for a path that is absolute or
 * climbs out with `..`, so a source can never be rooted outside its repository.
 */
export function normaliseSourcePath(path: string | undefined, at: SourceLocation): string {
  if (path === undefined) return '';
  const parts = path.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (path.startsWith('/') || parts.includes('..')) {
    throw new SourceInvalidError(at, `the path ${path} is not a directory inside the repository`, {
      hint: 'Give the path relative to the repository root, e.g. envs/prod.',
    });
  }
  return parts.join('/');
}
