/**
 * Delivers stack-level status changes to listeners, once each and in time order, as EventBridge's
 * "CloudFormation Stack Status Change" would. Status changes are read from the stacks' timelines
 * as they fall due, whichever process started the operation; events from before the first
 * listener subscribed are not replayed.
 */
import { eventsAt, isStackStep, lastSeqAt, stateAt, type StackRecord, type StoredEvent } from './stack-record.js';

/** What EventBridge's "CloudFormation Stack Status Change" event carries. */
export interface StackStatusEvent {
  region: string;
  stackName: string;
  stackId: string;
  status: string;
  statusReason: string | undefined;
  /** ISO time of the status change (account time). */
  timestamp: string;
  /** The client request token of the operation the status belongs to, when it was given one. */
  clientRequestToken?: string;
  /** The stack's tags: for display only; EventBridge's event has none, so nothing routes by them. */
  tags: Record<string, string>;
}

export type StackStatusListener = (event: StackStatusEvent) => void;

export class StackEventPump {
  private readonly listeners = new Set<StackStatusListener>();
  /** Per stack id: the highest event sequence number already looked at. */
  private readonly seen = new Map<string, number>();
  private since = 0;

  subscribe(listener: StackStatusListener, now: number): () => void {
    if (this.listeners.size === 0) this.since = now;
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Whether nothing visible of `record` at `now` can still be emitted: all of it has been, or
   * (with nobody listening) all of it is older than any later subscriber would be sent.
   */
  isDrained(record: StackRecord, now: number): boolean {
    if (this.listeners.size > 0) return (this.seen.get(record.stackId) ?? 0) >= lastSeqAt(record, now);
    const events = eventsAt(record, now);
    return events.length === 0 || events[events.length - 1]!.at < now;
  }

  /** Emit every stack status change due by `now` that has not been emitted yet. */
  pump(records: Iterable<StackRecord>, now: number): void {
    if (this.listeners.size === 0) {
      this.since = now;
      return;
    }
    const due: { record: StackRecord; event: StoredEvent }[] = [];
    for (const record of records) {
      const last = lastSeqAt(record, now);
      const mark = this.seen.get(record.stackId) ?? 0;
      if (last <= mark) continue;
      const events = eventsAt(record, now);
      for (let i = events.length - 1; i >= 0; i--) {
        const event = events[i]!;
        if (event.seq <= mark) break;
        if (isStackStep(event) && event.at >= this.since) due.push({ record, event });
      }
      this.seen.set(record.stackId, last);
    }
    due.sort((a, b) => a.event.at - b.event.at || a.record.stackName.localeCompare(b.record.stackName) || a.event.seq - b.event.seq);
    for (const { record, event } of due) {
      const message: StackStatusEvent = {
        region: record.region,
        stackName: record.stackName,
        stackId: record.stackId,
        status: event.status,
        statusReason: event.reason,
        timestamp: new Date(event.at).toISOString(),
        ...(event.token === undefined ? {} : { clientRequestToken: event.token }),
        tags: { ...stateAt(record, now).tags },
      };
      for (const listener of this.listeners) {
        try {
          listener(message);
        } catch (error) {
          // A failing listener must neither break the others nor fail the CloudFormation call
          // that happened to deliver the event.
          process.emitWarning(`A stack event listener threw: ${(error as Error).message ?? String(error)}`);
        }
      }
    }
  }
}
