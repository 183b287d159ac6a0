/**
 * InProcessQueue: the WorkQueue of the embedded runtime, with SQS FIFO's semantics so the same
 * reconciler behaves the same locally: messages of one group (source) in order, a group blocked while
 * any of its messages is in flight, a 5-minute deduplication window on dedupId per source, visibility timeouts,
 * receive counts, and dead-lettering after too many receives.
 */
import { randomUUID } from 'node:crypto';
import { messageGroup, type SendResult, type WorkMessage, type WorkQueue } from '../ports/work-queue.js';

/** SQS FIFO's fixed deduplication interval. */
export const DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000;

export interface InProcessQueueOptions {
  /** Milliseconds since the epoch; tests pass a controllable clock. */
  clock?: () => number;
  /** Default for receive(); SQS's default is 30 s. */
  visibilityTimeoutMs?: number;
  /** Receives after which a message that was never deleted goes to the dead letters (SQS maxReceiveCount). */
  maxReceives?: number;
}

export interface ReceiveOptions {
  /** At most this many messages (SQS allows 1..10). */
  max?: number;
  visibilityTimeoutMs?: number;
}

export interface ReceivedMessage {
  messageId: string;
  /** Valid until the message becomes visible again or is received anew. */
  receipt: string;
  /** 1 on first delivery. */
  receiveCount: number;
  message: WorkMessage;
}

export interface DeadLetter {
  messageId: string;
  receiveCount: number;
  message: WorkMessage;
  /** Clock time it was dead-lettered. */
  deadAt: number;
}

export interface QueueDepth {
  /** Messages that a receive could return now or once their group is free. */
  visible: number;
  inFlight: number;
  deadLetters: number;
}

interface Entry {
  messageId: string;
  message: WorkMessage;
  receiveCount: number;
  /** Set while in flight. */
  receipt: string | undefined;
  visibleAt: number;
}

export class InProcessQueue implements WorkQueue {
  private readonly clock: () => number;
  private readonly visibilityTimeoutMs: number;
  private readonly maxReceives: number;
  /** Groups in the order their oldest pending message arrived; each group in send order. */
  private readonly groups = new Map<string, Entry[]>();
  /** source and dedupId → first send, in send order so expired entries are at the front. Per source, as the deployed queue's message-group scope. */
  private readonly dedup = new Map<string, { messageId: string; at: number }>();
  private readonly dead: DeadLetter[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(options: InProcessQueueOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? 30_000;
    this.maxReceives = options.maxReceives ?? 5;
    if (!(this.maxReceives >= 1)) throw new RangeError(`maxReceives must be at least 1, got ${options.maxReceives}`);
  }

  async send(message: WorkMessage): Promise<SendResult> {
    const now = this.clock();
    this.forgetExpiredDedupIds(now);
    const key = `${message.source}\0${message.dedupId}`;
    const seen = this.dedup.get(key);
    if (seen) return { messageId: seen.messageId, duplicate: true };
    const messageId = randomUUID();
    this.dedup.set(key, { messageId, at: now });
    const groupId = messageGroup(message);
    const group = this.groups.get(groupId) ?? [];
    group.push({ messageId, message: { ...message }, receiveCount: 0, receipt: undefined, visibleAt: now });
    this.groups.set(groupId, group);
    for (const listener of [...this.listeners]) listener();
    return { messageId, duplicate: false };
  }

  /**
   * Up to `max` messages. From each group whose messages are all out of flight, messages are taken
   * from its head in order (as SQS FIFO returns as many of one group as it can); the group then stays
   * blocked until they are deleted or their visibility lapses.
   */
  receive(options: ReceiveOptions = {}): ReceivedMessage[] {
    const max = options.max ?? 10;
    const timeout = options.visibilityTimeoutMs ?? this.visibilityTimeoutMs;
    const now = this.clock();
    const received: ReceivedMessage[] = [];
    for (const [groupId, group] of this.groups) {
      if (received.length >= max) break;
      if (group.some((entry) => this.inFlight(entry, now))) continue;
      let index = 0;
      while (index < group.length && received.length < max) {
        const entry = group[index]!;
        if (entry.receiveCount >= this.maxReceives) {
          group.splice(index, 1);
          this.dead.push({ messageId: entry.messageId, receiveCount: entry.receiveCount, message: entry.message, deadAt: now });
          continue;
        }
        entry.receiveCount += 1;
        entry.receipt = randomUUID();
        entry.visibleAt = now + timeout;
        received.push({ messageId: entry.messageId, receipt: entry.receipt, receiveCount: entry.receiveCount, message: { ...entry.message } });
        index += 1;
      }
      if (group.length === 0) this.groups.delete(groupId);
    }
    return received;
  }

  /** Remove an in-flight message; false when the receipt is stale (its visibility lapsed) or unknown. */
  delete(receipt: string): boolean {
    const found = this.findByReceipt(receipt);
    if (!found) return false;
    found.group.splice(found.index, 1);
    if (found.group.length === 0) this.groups.delete(messageGroup(found.entry.message));
    return true;
  }

  /** Make an in-flight message visible again after `ms` from now (0: at once); false for a stale receipt. */
  changeVisibility(receipt: string, ms: number): boolean {
    const found = this.findByReceipt(receipt);
    if (!found) return false;
    found.entry.visibleAt = this.clock() + Math.max(0, ms);
    if (ms <= 0) found.entry.receipt = undefined;
    return true;
  }

  deadLetters(): DeadLetter[] {
    return this.dead.map((letter) => ({ ...letter, message: { ...letter.message } }));
  }

  depth(): QueueDepth {
    const now = this.clock();
    let visible = 0;
    let inFlight = 0;
    for (const group of this.groups.values()) {
      for (const entry of group) {
        if (this.inFlight(entry, now)) inFlight += 1;
        else visible += 1;
      }
    }
    return { visible, inFlight, deadLetters: this.dead.length };
  }

  /** Call `listener` after every message accepted (not after duplicates); returns the unsubscribe. */
  onMessage(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolve true when a message is sent, false after `timeoutMs` or when `signal` aborts. A consumer
   * polls receive() after either: a message whose visibility lapsed is found by polling, not announced.
   */
  waitForMessage(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve(false);
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      const unsubscribe = this.onMessage(() => finish(true));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private inFlight(entry: Entry, now: number): boolean {
    return entry.receipt !== undefined && entry.visibleAt > now;
  }

  private findByReceipt(receipt: string): { group: Entry[]; index: number; entry: Entry } | undefined {
    const now = this.clock();
    for (const group of this.groups.values()) {
      const index = group.findIndex((entry) => entry.receipt === receipt);
      const entry = group[index];
      if (entry && this.inFlight(entry, now)) return { group, index, entry };
    }
    return undefined;
  }

  private forgetExpiredDedupIds(now: number): void {
    for (const [dedupId, seen] of this.dedup) {
      if (now - seen.at < DEDUPLICATION_WINDOW_MS) break;
      this.dedup.delete(dedupId);
    }
  }
}
