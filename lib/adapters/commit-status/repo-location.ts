/**
 * Where a repository lives, read from the URL it is cloned from: the web origin a self-hosted
 * provider's API hangs off, and the path that names the repository (owner/repo, or a GitLab
 * group/subgroup/project). Credentials in the URL are dropped here and never travel further.
 */
import { redactUrl } from '../git-credentials.js';

export interface RepoLocation {
  /** `scheme://host[:port]`, without credentials; https for SSH remotes. */
  origin: string;
  /** Lower-case host name, e.g. `github.com`. */
  hostname: string;
  /** The path's segments, `.git` removed: `['org', 'repo']`, `['group', 'sub', 'project']`. */
  segments: string[];
  /** The repository's web page: origin and path, no `.git`, no credentials. */
  webUrl: string;
}

/** An scp-like SSH remote: `git@host:org/repo.git`. */
const SCP_LIKE = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/;

/**
 * Parse an http(s), ssh:// or scp-like repository URL. Throws a TypeError that names only the
 * redacted URL when there is no host or fewer than two path segments.
 */
export function parseRepoLocation(repoUrl: string): RepoLocation {
  const raw = repoUrl.trim();
  let origin: string;
  let hostname: string;
  let path: string;
  const scp = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? null : SCP_LIKE.exec(raw);
  if (scp) {
    hostname = scp[1]!.toLowerCase();
    origin = `https://${hostname}`;
    path = scp[2]!;
  } else {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalid(raw);
    }
    hostname = url.hostname.toLowerCase();
    if (url.protocol === 'http:' || url.protocol === 'https:') origin = `${url.protocol}//${url.host}`;
    // An SSH port says nothing about where the web UI and API listen.
    else if (url.protocol === 'ssh:' || url.protocol === 'git+ssh:') origin = `https://${hostname}`;
    else throw invalid(raw);
    path = url.pathname;
  }
  const segments = path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  const last = segments.length - 1;
  if (last >= 0) segments[last] = segments[last]!.replace(/\.git$/, '');
  if (!hostname || segments.length < 2 || segments.some((s) => s === '')) throw invalid(raw);
  return { origin, hostname, segments, webUrl: `${origin}/${segments.map(encodeURIComponent).join('/')}` };
}

function invalid(raw: string): TypeError {
  return new TypeError(
    `cannot tell the repository from ${redactUrl(raw)}: expected a URL such as https://host/owner/repo.git`,
  );
}
