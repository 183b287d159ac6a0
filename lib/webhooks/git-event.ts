/**
 * GitEvent: a verified push to a configured source's branch, the same whichever provider sent it,
 * and the WorkMessage it becomes; also the `preview` message a pull request event becomes. The commit is informational: the reconciler reads the branch head.
 */
import type { Provider } from '../core/source-config.js';
import type { WorkMessage } from '../ports/work-queue.js';
import type { PullRequestChange } from './provider.js';

export interface GitEvent {
  /** The configured source the push was for. */
  source: string;
  provider: Provider;
  /** The branch name, e.g. `main` (never a full ref). */
  branch: string;
  /** The commit the branch now points at, when the payload names a well-formed SHA. */
  commit: string | undefined;
  /** The provider's delivery id, or a digest of the body when the provider sends none. */
  deliveryId: string;
  /** ISO time the delivery reached Cairn. */
  receivedAt: string;
  /** The repository as the payload names it (full name or URL), for logs. */
  repository: string | undefined;
}

export function toWorkMessage(event: GitEvent): WorkMessage {
  const message: WorkMessage = {
    source: event.source,
    kind: 'push',
    dedupId: event.deliveryId,
    receivedAt: event.receivedAt,
  };
  if (event.commit !== undefined) message.commit = event.commit;
  return message;
}

/** A verified pull request event into the source's branch, as a `preview` message (its own FIFO group). */
export function toPreviewMessage(source: string, pr: PullRequestChange, deliveryId: string, receivedAt: string): WorkMessage {
  return {
    source,
    kind: 'preview',
    dedupId: deliveryId,
    receivedAt,
    ...(pr.headSha ? { commit: pr.headSha } : {}),
    pullRequest: {
      number: pr.number,
      action: pr.action,
      headRef: pr.headRef,
      fetchRef: pr.fetchRef,
      fork: pr.fork,
      ...(pr.url ? { url: pr.url } : {}),
    },
  };
}
