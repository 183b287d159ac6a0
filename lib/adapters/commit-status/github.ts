/**
 * Commit statuses on GitHub and GitHub Enterprise Server: `POST /repos/{owner}/{repo}/statuses/{sha}`
 * with a Bearer token. Enterprise serves its API under `/api/v3` on the repository's own host.
 */
import type { CommitStatus } from '../../ports/commit-status.js';
import { basicAuthHeader } from '../git-credentials.js';
import {
  describeForProvider,
  HttpStatusReporter,
  ownerAndRepo,
  type HttpStatusReporterOptions,
  type StatusApi,
} from './http-status-reporter.js';
import type { RepoLocation } from './repo-location.js';

/** GitHub refuses descriptions longer than this. */
export const GITHUB_DESCRIPTION_MAX = 140;

export const githubStatusApi: StatusApi = {
  label: 'GitHub',
  defaultApiBase(repo: RepoLocation): string {
    if (repo.hostname === 'github.com' || repo.hostname === 'www.github.com') return 'https://api.github.com';
    return `${repo.origin}/api/v3`;
  },
  request(status: CommitStatus, repo: RepoLocation, apiBase: string) {
    const { owner, name } = ownerAndRepo(repo);
    return {
      url: `${apiBase}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/statuses/${encodeURIComponent(status.commit)}`,
      body: {
        state: status.state,
        context: status.context,
        description: describeForProvider(status.description, GITHUB_DESCRIPTION_MAX),
        ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
      },
    };
  },
  headers(credential) {
    return {
      authorization: 'token' in credential ? `Bearer ${credential.token}` : basicAuthHeader(credential),
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
    };
  },
};

export class GitHubStatusReporter extends HttpStatusReporter {
  constructor(options: HttpStatusReporterOptions) {
    super(githubStatusApi, options);
  }
}
