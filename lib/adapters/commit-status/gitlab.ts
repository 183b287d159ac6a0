/**
 * Commit statuses on GitLab (gitlab.com and self-managed): `POST /api/v4/projects/{path}/statuses/{sha}`
 * with the project's URL-encoded full path (subgroups included) and a `PRIVATE-TOKEN` header.
 */
import type { CommitState, CommitStatus } from '../../ports/commit-status.js';
import {
  describeForProvider,
  HttpStatusReporter,
  type HttpStatusReporterOptions,
  type StatusApi,
} from './http-status-reporter.js';
import type { RepoLocation } from './repo-location.js';

export const GITLAB_DESCRIPTION_MAX = 255;

export type GitLabState = 'pending' | 'running' | 'success' | 'failed' | 'canceled';

/**
 * Cairn's pending means work is under way, which GitLab calls running. GitLab's own `pending`
 * (queued) would also refuse the move pending → pending that repeated reports make.
 */
export const GITLAB_STATES: Record<CommitState, GitLabState> = {
  pending: 'running',
  success: 'success',
  failure: 'failed',
  error: 'failed',
};

export const gitlabStatusApi: StatusApi = {
  label: 'GitLab',
  defaultApiBase(repo: RepoLocation): string {
    return `${repo.origin}/api/v4`;
  },
  request(status: CommitStatus, repo: RepoLocation, apiBase: string) {
    return {
      url: `${apiBase}/projects/${encodeURIComponent(projectPath(repo, apiBase))}/statuses/${encodeURIComponent(status.commit)}`,
      body: {
        state: GITLAB_STATES[status.state],
        name: status.context,
        description: describeForProvider(status.description, GITLAB_DESCRIPTION_MAX),
        ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
      },
    };
  },
  headers(credential) {
    // GitLab's API takes no basic auth: `oauth2:<token>` and the like carry the token as password.
    return { 'private-token': 'token' in credential ? credential.token : credential.password };
  },
  isAlreadySet(httpStatus: number, message: string): boolean {
    // A second `running` for a status that is running is refused with 400 "Cannot transition status".
    return httpStatus === 400 && /cannot transition status/i.test(message);
  },
};

/**
 * The project's full path. On a server under a relative URL (`https://host/gitlab`, set through
 * apiBaseUrl) the clone path starts with that prefix, which is not part of the project's path.
 */
export function projectPath(repo: RepoLocation, apiBase: string): string {
  let root: string[] = [];
  try {
    root = new URL(apiBase).pathname.replace(/\/api\/v4\/?$/, '').split('/').filter(Boolean);
  } catch {
    root = [];
  }
  const prefixed = root.length > 0 && root.every((s, i) => repo.segments[i] === s);
  return (prefixed ? repo.segments.slice(root.length) : repo.segments).join('/');
}

export class GitLabStatusReporter extends HttpStatusReporter {
  constructor(options: HttpStatusReporterOptions) {
    super(gitlabStatusApi, options);
  }
}
