/**
 * Commit status reporting, wired from a source's configuration: the provider's reporter, wrapped
 * so identical statuses are sent once per process and failures are forgotten (and so retried by
 * the next identical report). Without a token, or for a generic Git server, reporting is a no-op.
 */
import type { Provider } from '../../core/source-config.js';
import type { CommitStatusReporter } from '../../ports/commit-status.js';
import type { SecretProvider } from '../../ports/secrets.js';
import { redactUrl } from '../git-credentials.js';
import { BitbucketStatusReporter } from './bitbucket.js';
import { DedupingReporter, SentStatuses } from './deduping-reporter.js';
import { GiteaStatusReporter } from './gitea.js';
import { GitHubStatusReporter } from './github.js';
import { GitLabStatusReporter } from './gitlab.js';
import type { CommitStatusError, HttpStatusReporter, HttpStatusReporterOptions } from './http-status-reporter.js';

export { BitbucketStatusReporter, bitbucketKey, BITBUCKET_STATES } from './bitbucket.js';
export { DedupingReporter, SentStatuses, type DedupingReporterOptions } from './deduping-reporter.js';
export { GiteaStatusReporter } from './gitea.js';
export { GitHubStatusReporter, GITHUB_DESCRIPTION_MAX } from './github.js';
export { GitLabStatusReporter, GITLAB_STATES } from './gitlab.js';
export {
  CommitStatusError,
  DEFAULT_STATUS_TIMEOUT_MS,
  HttpStatusReporter,
  type CommitStatusFailure,
  type HttpStatusReporterOptions,
} from './http-status-reporter.js';
export { parseRepoLocation, type RepoLocation } from './repo-location.js';

/** Reports nothing: for sources without a token, generic Git servers, and local runs. */
export const noCommitStatus: CommitStatusReporter = {
  report: async () => undefined,
};

export interface CommitStatusOptions {
  provider: Provider;
  repoUrl: string;
  /** The secret holding the token; without it nothing is reported. */
  tokenSecret?: string;
  secrets: SecretProvider;
  /** The provider's API root when it cannot be derived from repoUrl. */
  apiBaseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Told of each status that was not set (message redacted); defaults to one `console.warn` line. */
  onError?: (error: CommitStatusError) => void;
  /** Where sent statuses are remembered; defaults to one memory for the whole process. */
  memory?: SentStatuses;
}

const processMemory = new SentStatuses();

export function createCommitStatusReporter(options: CommitStatusOptions): CommitStatusReporter {
  if (!options.tokenSecret || options.provider === 'generic') return noCommitStatus;
  const onError = options.onError ?? ((error: CommitStatusError) => console.warn(error.message));
  const reporterOptions: HttpStatusReporterOptions = {
    repoUrl: options.repoUrl,
    secrets: options.secrets,
    tokenSecret: options.tokenSecret,
    ...(options.apiBaseUrl ? { apiBaseUrl: options.apiBaseUrl } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    // Called only after a report, so `deduper` is set by then.
    onError: (error) => {
      deduper.forget(error.status);
      onError(error);
    },
  };
  const deduper = new DedupingReporter(reporterFor(options.provider, reporterOptions), {
    memory: options.memory ?? processMemory,
    scope: `${options.provider} ${redactUrl(options.repoUrl)}`,
  });
  return deduper;
}

function reporterFor(provider: Exclude<Provider, 'generic'>, options: HttpStatusReporterOptions): HttpStatusReporter {
  switch (provider) {
    case 'github':
      return new GitHubStatusReporter(options);
    case 'gitlab':
      return new GitLabStatusReporter(options);
    case 'gitea':
      return new GiteaStatusReporter(options, 'Gitea');
    case 'forgejo':
      return new GiteaStatusReporter(options, 'Forgejo');
    case 'bitbucket':
      return new BitbucketStatusReporter(options);
  }
}
