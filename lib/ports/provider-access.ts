/**
 * ProviderAccess: what a comment command needs to ask the Git provider's API before it acts on a
 * person's word: may this user write to the repository, which commit did a pull request merge as,
 * and where to answer. Asked of the provider itself, never taken from the webhook payload, whose
 * author fields say who wrote the comment but not what they may do.
 */

/** Who wrote a comment, as the provider names them. */
export interface CommentAuthor {
  /** GitHub login, GitLab username. */
  login: string;
  /** GitLab's numeric user id (its member API takes ids); GitHub's is not needed. */
  id?: string;
}

/** Where a comment was made: a pull request's conversation or a commit. */
export type CommentTarget = { kind: 'pull-request'; number: number } | { kind: 'commit'; sha: string };

export interface WriteAccess {
  allowed: boolean;
  /** The provider's name for the user's role, e.g. `write`, `admin`, `Developer`, `none`. */
  role: string;
}

export interface MergedPullRequest {
  merged: boolean;
  /** The commit the merge put on the base branch (merge, squash or last rebased commit). */
  commit?: string;
}

export interface ProviderAccess {
  /** GitHub: `write`, `maintain` or `admin`; GitLab: Developer (30) or above. */
  writeAccess(author: CommentAuthor): Promise<WriteAccess>;
  mergedPullRequest(number: number): Promise<MergedPullRequest>;
  /** Answer the comment where it was made. */
  reply(target: CommentTarget, body: string): Promise<void>;
}
