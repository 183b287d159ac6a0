/**
 * Webhook payloads in GitHub's shape, for the deliveries Cairn makes itself: the demo's stand-in
 * for GitHub, and the tests. Only the fields Cairn reads are filled in.
 */

export interface PullRequestPayloadOptions {
  action: string;
  head: string;
  /** The repository's full name, e.g. org/platform. */
  repo: string;
  /** The branch the pull request comes from. */
  headRef: string;
  number?: number;
  baseRef?: string;
  /** Where the pull request is shown; defaults to a made-up GitHub host. */
  htmlUrl?: string;
  cloneUrl?: string;
}

/** A `pull_request` event at `head`, from `headRef` into `baseRef` (default main) of one repository. */
export function githubPullRequestPayload(options: PullRequestPayloadOptions): Record<string, unknown> {
  const { action, head, repo, headRef, number = 1, baseRef = 'main' } = options;
  return {
    action,
    number,
    pull_request: {
      number,
      html_url: options.htmlUrl ?? `https://github.example.com/${repo}/pull/${number}`,
      head: { ref: headRef, sha: head, repo: { full_name: repo } },
      base: { ref: baseRef, repo: { full_name: repo } },
    },
    repository: { full_name: repo, ...(options.cloneUrl ? { clone_url: options.cloneUrl } : {}) },
  };
}
