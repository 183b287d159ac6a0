/**
 * Commit statuses on Gitea and Forgejo (same API): `POST /api/v1/repos/{owner}/{repo}/statuses/{sha}`
 * with `Authorization: token ...`. A server under a sub-path (`https://host/git/owner/repo`) keeps
 * its API under that sub-path too.
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

export const GITEA_DESCRIPTION_MAX = 255;

export function giteaStatusApi(label: 'Gitea' | 'Forgejo'): StatusApi {
  return {
    label,
    defaultApiBase(repo: RepoLocation): string {
      const { prefix } = ownerAndRepo(repo);
      return [repo.origin, ...prefix.map(encodeURIComponent), 'api', 'v1'].join('/');
    },
    request(status: CommitStatus, repo: RepoLocation, apiBase: string) {
      const { owner, name } = ownerAndRepo(repo);
      return {
        url: `${apiBase}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/statuses/${encodeURIComponent(status.commit)}`,
        body: {
          // Gitea's states (pending, success, error, failure, warning) include Cairn's as they are.
          state: status.state,
          context: status.context,
          description: describeForProvider(status.description, GITEA_DESCRIPTION_MAX),
          ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
        },
      };
    },
    headers(credential) {
      return { authorization: 'token' in credential ? `token ${credential.token}` : basicAuthHeader(credential) };
    },
  };
}

export class GiteaStatusReporter extends HttpStatusReporter {
  constructor(options: HttpStatusReporterOptions, label: 'Gitea' | 'Forgejo' = 'Gitea') {
    super(giteaStatusApi(label), options);
  }
}
