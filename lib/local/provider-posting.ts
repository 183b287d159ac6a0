/**
 * Where `cairn serve` (and `cairn demo`) post pull-request preview comments and commit statuses: a
 * provider's API root, the repository on it, and the token. The same adapters the deployed
 * reconciler uses (createPullRequestComments, createCommitStatusReporter), wired for one source.
 */
import { createCommitStatusReporter } from '../adapters/commit-status/index.js';
import { parseRepoLocation } from '../adapters/commit-status/repo-location.js';
import { redactUrl } from '../adapters/git-credentials.js';
import { createPullRequestComments } from '../adapters/pr-comments/index.js';
import type { Provider } from '../core/source-config.js';
import type { CommitStatusReporter } from '../ports/commit-status.js';
import type { ApprovalNotices } from '../ports/approvals.js';
import { commitNotices } from '../adapters/provider-access.js';
import type { EventSink } from '../ports/events.js';
import type { PullRequestComments } from '../ports/pr-comments.js';
import type { SecretProvider } from '../ports/secrets.js';

export interface ProviderPosting {
  provider: Exclude<Provider, 'generic'>;
  /** The API root, e.g. `https://api.github.com`, `https://gitlab.example.com/api/v4`. */
  apiUrl: string;
  /**
   * The repository on the provider: a clone URL whose path names it (`https://github.com/org/repo.git`),
   * or the path itself (`org/repo`, GitLab's `group/sub/project`).
   */
  repository: string;
  /** The secret (an environment variable's name, a file's path) holding the token, read through `secrets` on every call. */
  tokenSecret: string;
  secrets: SecretProvider;
}

/**
 * The clone URL the adapters read the repository from. A bare path hangs off the API's own origin
 * (and, for an API under a path such as `/gitlab/api/v4`, that path), which the adapters then strip.
 * Throws a TypeError naming what is missing.
 */
export function postingRepoUrl(posting: Pick<ProviderPosting, 'apiUrl' | 'repository'>): string {
  const { repository } = posting;
  let repoUrl: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repository)) repoUrl = repository;
  else {
    const api = new URL(posting.apiUrl);
    const root = api.pathname.replace(/\/api\/v\d+\/?$/, '').replace(/\/+$/, '');
    repoUrl = `${api.origin}${root}/${repository.replace(/^\/+|\/+$/g, '')}.git`;
  }
  const location = parseRepoLocation(repoUrl);
  if (location.segments.length < 2) throw new TypeError(`${redactUrl(repository)} does not name a repository as OWNER/NAME`);
  return repoUrl;
}

/**
 * The reporter, the comments port and (GitHub, GitLab) the approval notices of one source; a status
 * that is not set is logged as a warning.
 */
export function postingFor(posting: ProviderPosting, source: string, sink: EventSink): { commitStatus: CommitStatusReporter; pullRequestComments: PullRequestComments; approvalNotices?: ApprovalNotices } {
  const common = { provider: posting.provider, repoUrl: postingRepoUrl(posting), apiBaseUrl: posting.apiUrl, tokenSecret: posting.tokenSecret, secrets: posting.secrets };
  const { provider } = posting;
  return {
    commitStatus: createCommitStatusReporter({ ...common, onError: (e) => sink.emit({ source, commit: e.status.commit, type: 'log', level: 'warn', message: e.message }) }),
    pullRequestComments: createPullRequestComments(common),
    ...(provider === 'github' || provider === 'gitlab' ? { approvalNotices: commitNotices({ ...common, provider }) } : {}),
  };
}
