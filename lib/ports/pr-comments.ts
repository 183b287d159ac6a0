/**
 * PullRequestComments: Cairn's one comment per source on a pull request (merge request), found
 * again by a hidden marker in its body and updated in place, so each push to the pull request
 * rewrites the preview instead of stacking another comment under it.
 */

export interface PullRequestComment {
  /** The pull request's number (GitLab's `iid`). */
  number: number;
  /** Identifies Cairn's comment among the others, e.g. `<!-- cairn:preview source=prod -->`; the body must contain it. */
  marker: string;
  /** Markdown. */
  body: string;
}

export interface PullRequestComments {
  /** Create the comment, or update the one carrying the same marker; says which happened (`not-posted`: this port posts nowhere). */
  upsert(comment: PullRequestComment): Promise<'created' | 'updated' | 'not-posted'>;
}

/** The hidden marker of a source's preview comment. */
export function previewMarker(source: string): string {
  return `<!-- cairn:preview source=${source} -->`;
}
