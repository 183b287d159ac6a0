/**
 * WorkQueue: the FIFO queue between intake (webhook, sweep, stack events) and the reconciler.
 * A message only says "make this source match its branch head now"; it never carries desired state.
 */

export type WorkKind = 'push' | 'stack-event' | 'sweep' | 'retry';

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
}

export interface SendResult {
  messageId: string;
  /** True when the queue dropped the message as a duplicate within its deduplication window. */
  duplicate: boolean;
}

export interface WorkQueue {
  send(message: WorkMessage): Promise<SendResult>;
}
