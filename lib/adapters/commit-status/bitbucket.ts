/**
 * Build statuses on Bitbucket Cloud: `POST /2.0/repositories/{workspace}/{repo}/commit/{sha}/statuses/build`
 * on api.bitbucket.org. A status is identified by its `key`, so each context maps to one stable key
 * and a later report for the same context replaces the earlier one. Bitbucket Data Center has a
 * different API and is not covered.
 */
import { sha256 } from '../../core/canonical.js';
import type { CommitState, CommitStatus } from '../../ports/commit-status.js';
import { basicAuthHeader } from '../git-credentials.js';
import {
  describeForProvider,
  HttpStatusReporter,
  ownerAndRepo,
  type HttpStatusReporterOptions,
  type StatusApi,
} from './http-status-reporter.js';
import type { RepoLocation } from './repo-location.js';

export const BITBUCKET_KEY_MAX = 40;
export const BITBUCKET_DESCRIPTION_MAX = 255;

export type BitbucketState = 'INPROGRESS' | 'SUCCESSFUL' | 'FAILED' | 'STOPPED';

/** Both failure and error are FAILED: STOPPED reads as "cancelled" in Bitbucket and hides a problem. */
export const BITBUCKET_STATES: Record<CommitState, BitbucketState> = {
  pending: 'INPROGRESS',
  success: 'SUCCESSFUL',
  failure: 'FAILED',
  error: 'FAILED',
};

/** The context itself when it fits, else a cut of it with a hash, so it stays stable and unique. */
export function bitbucketKey(context: string): string {
  if (context.length <= BITBUCKET_KEY_MAX) return context;
  const hash = sha256(context).slice(0, 8);
  return `${context.slice(0, BITBUCKET_KEY_MAX - hash.length - 1)}-${hash}`;
}

export const bitbucketStatusApi: StatusApi = {
  label: 'Bitbucket',
  defaultApiBase(repo: RepoLocation): string {
    if (repo.hostname === 'bitbucket.org') return 'https://api.bitbucket.org/2.0';
    throw new TypeError(
      `${repo.hostname} is not Bitbucket Cloud: only bitbucket.org's build status API is supported (set apiBaseUrl for a compatible API)`,
    );
  },
  request(status: CommitStatus, repo: RepoLocation, apiBase: string) {
    const { owner, name } = ownerAndRepo(repo);
    return {
      url: `${apiBase}/repositories/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/commit/${encodeURIComponent(status.commit)}/statuses/build`,
      body: {
        key: bitbucketKey(status.context),
        state: BITBUCKET_STATES[status.state],
        name: status.context,
        description: describeForProvider(status.description, BITBUCKET_DESCRIPTION_MAX),
        // Bitbucket requires a link; without a report page the repository is the honest one.
        url: status.targetUrl ?? repo.webUrl,
      },
    };
  },
  headers(credential) {
    // Access tokens are Bearer; app passwords and API tokens come as `user:secret` and use basic auth.
    return { authorization: 'token' in credential ? `Bearer ${credential.token}` : basicAuthHeader(credential) };
  },
};

export class BitbucketStatusReporter extends HttpStatusReporter {
  constructor(options: HttpStatusReporterOptions) {
    super(bitbucketStatusApi, options);
  }
}
