/**
 * WorkQueue: the FIFO queue between intake (webhook, sweep, stack events) and the reconciler.
 * A message only says "make this source match its branch head now"; it never carries desired state.
 */

/** `approval`: a person decided on a change set by comment; the source's step acts on it now. */
export type WorkKind = 'push' | 'stack-event' | 'sweep' | 'retry' | 'preview' | 'approval';

/** What a pull request (merge request) event asks of a `preview` message. */
export interface PullRequestWork {
  number: number;
  /** `closed` also stands for merged and declined: the preview's leftovers are removed. */
  action: 'opened' | 'updated' | 'reopened' | 'closed';
  /** The branch the pull request comes from. */
  headRef: string;
  /** The full ref the head commit is fetched by, e.g. `refs/pull/7/head` (GitHub, Gitea) or `refs/merge-requests/7/head` (GitLab). */
  fetchRef: string;
  /** The head lives in another repository (a fork). */
  fork: boolean;
  /** The pull request's web page, when the payload names it. */
  url?: string;
}

export interface WorkMessage {
  /** The source's name: also the FIFO message group. */
  source: string;
  kind: WorkKind;
  /** Deduplication id: the provider's delivery id, a stack event id, or a sweep tick. */
  dedupId: string;
  /** The commit a push named (informational: the reconciler always reads the branch head). */
  commit?: string;
  /** For stack events: the stack that changed status. */
  stackName?: string;
  /** ISO time the event reached Cairn (webhook receipt), for push-to-apply latency. */
  receivedAt: string;
  /** On a message requeued for a waiting source: how many waits in a row came before it (for backoff). */
  waits?: number;
  /** For previews: the pull request to plan and comment on. */
  pullRequest?: PullRequestWork;
}

/**
 * The FIFO message group: the source, so one source's steps never overlap; a pull request's previews
 * get a group of their own (`NAME#pr-7`), so a preview never holds the source's apply slot.
 */
export function messageGroup(message: WorkMessage): string {
  return message.kind === 'preview' && message.pullRequest ? `${message.source}#pr-${message.pullRequest.number}` : message.source;
}

export interface SendResult {
  messageId: string;
  /** True when the queue dropped the message as a duplicate within its deduplication window. */
  duplicate: boolean;
}

export interface WorkQueue {
  send(message: WorkMessage): Promise<SendResult>;
}
