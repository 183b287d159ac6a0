/**
 * CommitStatusReporter: tell the Git provider how a commit's reconcile went (GitHub, GitLab,
 * Gitea/Forgejo, Bitbucket), so the result shows on the commit itself.
 */

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatus {
  commit: string;
  state: CommitState;
  /** One line, e.g. "2 stacks updated, 7 unchanged" or "app: DestructiveChangeBlocked ...". */
  description: string;
  /** The status context, e.g. `cairn/prod`. */
  context: string;
  targetUrl?: string;
}

export interface CommitStatusReporter {
  report(status: CommitStatus): Promise<void>;
}
