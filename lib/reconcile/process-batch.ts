/**
 * The reconcile function's batch semantics, independent of Lambda: parse each queue record, fold
 * the records of one source into one reconcile step of its branch head, and carry out the queue
 * action its settle step chose (settle.ts): acknowledge, come back later (a fresh message carries the
 * work while the received ones are held back as the delay), or retry (item failed and shown again
 * after the delay; after the queue's maximum receives it reaches the dead-letter queue). A message
 * that is not a Cairn work message goes to the dead-letter queue on its first receive. A pull
 * request's `preview` messages are folded into one preview step of their own, apart from the source's.
 */
import * as z from 'zod';
import type { EventSink } from '../ports/events.js';
import type { PullRequestWork, WorkKind, WorkMessage } from '../ports/work-queue.js';
import type { Reconciler } from './reconciler.js';
import type { Settled } from './settle.js';

export const WorkMessageSchema = z.object({
  source: z.string().min(1),
  kind: z.enum(['push', 'stack-event', 'sweep', 'retry', 'preview', 'approval']),
  dedupId: z.string().min(1),
  commit: z.string().optional(),
  stackName: z.string().optional(),
  receivedAt: z.string(),
  /** Set on a message requeued for a waiting source: how many waits in a row came before it. */
  waits: z.number().int().nonnegative().optional(),
  /** For previews: the pull request to plan and comment on. */
  pullRequest: z
    .object({
      number: z.number().int().positive(),
      action: z.enum(['opened', 'updated', 'reopened', 'closed']),
      headRef: z.string().min(1),
      fetchRef: z.string().min(1),
      fork: z.boolean(),
      url: z.string().optional(),
    })
    .optional(),
}).refine((m) => (m.kind === 'preview') === (m.pullRequest !== undefined), { message: 'a preview message, and only one, names its pull request', path: ['pullRequest'] });

export interface BatchRecord {
  messageId: string;
  body: string;
  receiveCount: number;
}

export interface BatchDeps {
  /** Takes each source's step and settles it, deciding the queue action. */
  reconciler: Reconciler;
  /** Make these records visible again after `seconds` (SQS ChangeMessageVisibility). */
  retryLater(records: BatchRecord[], seconds: number): Promise<void>;
  /**
   * Send a fresh message (SQS SendMessage). With it, a source that must wait does not keep the same
   * message waiting again and again: every wait spends a receive, and the redrive policy would move
   * a message that waited long enough to the dead-letter queue, which is meant for poison.
   */
  requeue?(message: WorkMessage): Promise<void>;
  /**
   * Make failed records visible again after `seconds` (SQS ChangeMessageVisibility), so a passing
   * failure is retried within seconds rather than after the whole visibility timeout.
   */
  retryFailedLater(records: BatchRecord[], seconds: number): Promise<void>;
  /**
   * Move a record that is not a Cairn work message to the dead-letter queue now (send it there; the
   * batch then acknowledges it). Without it, it fails on every receive until the redrive policy moves it.
   */
  deadLetter?(record: BatchRecord, reason: string): Promise<void>;
  sink: EventSink;
  /** Sources reconciled at once within one batch. */
  concurrency?: number;
}

export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
  outcomes: Record<string, Settled['outcome'] | 'previewed' | 'closed' | 'skipped' | 'rejected'>;
}

/** A retry request outranks a push, a push outranks a comment's approval, which outranks stack events and the sweep: it decides what the reconcile reports as its trigger. */
const PRIORITY: WorkKind[] = ['retry', 'push', 'approval', 'stack-event', 'sweep'];

export async function processBatch(records: BatchRecord[], deps: BatchDeps): Promise<BatchResult> {
  const failures = new Set<string>();
  const outcomes: BatchResult['outcomes'] = {};
  const bySource = new Map<string, { records: BatchRecord[]; kinds: Set<WorkKind>; receivedAt: string | undefined; latest: string; waits: number; fresh: boolean }>();
  const previews = new Map<string, { source: string; records: BatchRecord[]; pullRequest: PullRequestWork }>();

  for (const record of records) {
    let parsed;
    try {
      parsed = WorkMessageSchema.safeParse(JSON.parse(record.body));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success || !deps.reconciler.knownSource(parsed.data.source)) {
      const source = parsed?.success ? parsed.data.source : 'unknown';
      const what = parsed?.success ? `names unknown source "${parsed.data.source}"` : 'is not a Cairn work message';
      outcomes[record.messageId] = 'rejected';
      let moved = false;
      if (deps.deadLetter) {
        try {
          await deps.deadLetter(record, what);
          moved = true;
        } catch (error) {
          deps.sink.emit({ source, type: 'log', level: 'warn', message: `message ${record.messageId} could not be moved to the dead-letter queue: ${error instanceof Error ? error.message : String(error)}` });
        }
      }
      // Poison: moved now, or failed every time so that the redrive policy moves it.
      if (!moved) failures.add(record.messageId);
      deps.sink.emit({
        source,
        type: 'log',
        level: 'error',
        message: `message ${record.messageId} ${what}; ${moved ? 'it was moved to the dead-letter queue' : 'it goes to the dead-letter queue after its last receive'} (body: ${record.body.slice(0, 200)})`,
      });
      continue;
    }
    const m = parsed.data;
    if (m.pullRequest) {
      // A pull request's previews are a FIFO group of their own: folded apart from the source's steps.
      const key = `${m.source}#pr-${m.pullRequest.number}`;
      const pending = previews.get(key) ?? { source: m.source, records: [], pullRequest: m.pullRequest };
      pending.records.push(record);
      // In order: the latest event decides (a push after a close reopens nothing; a close after a push ends it).
      pending.pullRequest = m.pullRequest;
      previews.set(key, pending);
      continue;
    }
    const group = bySource.get(m.source) ?? { records: [], kinds: new Set(), receivedAt: undefined, latest: m.receivedAt, waits: 0, fresh: false };
    group.records.push(record);
    // A requeued wait carries its count on; anything new but a sweep (a push, a settled stack, a
    // retry, received for the first time) starts it over.
    if (m.waits !== undefined) group.waits = Math.max(group.waits, m.waits + 1);
    else if (m.kind !== 'sweep' && record.receiveCount <= 1) group.fresh = true;
    group.latest = m.receivedAt;
    group.kinds.add(m.kind);
    if (m.kind === 'push' && (!group.receivedAt || m.receivedAt < group.receivedAt)) group.receivedAt = m.receivedAt;
    bySource.set(m.source, group);
  }

  const entries = [...bySource.entries()];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < entries.length) {
      const [source, group] = entries[next++]!;
      const kind = PRIORITY.find((k) => group.kinds.has(k))!;
      const ids = group.records.map((r) => r.messageId);
      const waits = group.fresh ? 0 : group.waits;
      const receiveCount = Math.max(...group.records.map((r) => r.receiveCount));
      let action;
      try {
        const settled = await deps.reconciler.reconcile(source, { kind, ...(group.receivedAt ? { receivedAt: group.receivedAt } : {}) }, { waits, receiveCount });
        for (const id of ids) outcomes[id] = settled.outcome.outcome;
        action = settled.action;
      } catch (error) {
        // Settling itself failed (the step's own failures settle as `failed`): the records come
        // back when their visibility runs out.
        for (const id of ids) outcomes[id] = 'failed';
        deps.sink.emit({ source, type: 'log', level: 'error', message: `reconcile of ${source} could not be settled: ${error instanceof Error ? error.message : String(error)}` });
        for (const id of ids) failures.add(id);
        continue;
      }
      try {
        if (action.kind === 'requeue') {
          // With requeue, the messages received for the first time stay in flight as the delay (they
          // block the FIFO group), a fresh message queued behind them carries the work, and those
          // received before (they waited or failed once already) are acknowledged: no message waits
          // twice, so waiting never spends the receives that count toward the dead-letter queue.
          const keep = deps.requeue ? group.records.filter((r) => r.receiveCount <= 1) : group.records;
          if (deps.requeue) {
            const newest = group.records[group.records.length - 1]!;
            await deps.requeue({ source, kind, dedupId: `wait-${newest.messageId}-${newest.receiveCount}`, receivedAt: group.receivedAt ?? group.latest, ...(action.waits !== undefined ? { waits: action.waits } : {}) });
          }
          if (keep.length > 0) await deps.retryLater(keep, action.seconds);
          for (const r of keep) failures.add(r.messageId);
        } else if (action.kind === 'retry') {
          for (const id of ids) failures.add(id);
          await deps.retryFailedLater(group.records, action.seconds);
        }
      } catch (error) {
        // The records fail and come back when their visibility runs out instead.
        for (const id of ids) failures.add(id);
        deps.sink.emit({ source, type: 'log', level: 'warn', message: `could not ${action.kind === 'retry' ? 'shorten the retry delay' : 'hold the work back'}: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? 4, entries.length) }, worker));

  for (const { source, records: group, pullRequest } of previews.values()) {
    const ids = group.map((r) => r.messageId);
    const receiveCount = Math.max(...group.map((r) => r.receiveCount));
    let settled;
    try {
      if (!deps.reconciler.preview) throw new Error('this reconciler takes no preview steps');
      settled = await deps.reconciler.preview(source, pullRequest, { waits: 0, receiveCount });
    } catch (error) {
      for (const id of ids) {
        outcomes[id] = 'failed';
        failures.add(id);
      }
      deps.sink.emit({ source, type: 'log', level: 'error', message: `preview of pull request #${pullRequest.number} could not be settled: ${error instanceof Error ? error.message : String(error)}` });
      continue;
    }
    for (const id of ids) outcomes[id] = settled.outcome.outcome;
    if (settled.action.kind === 'retry') {
      for (const id of ids) failures.add(id);
      await deps.retryFailedLater(group, settled.action.seconds).catch(() => undefined);
    }
  }

  // SQS FIFO: once an item of a group fails, the items after it in that group must fail too, and
  // they do, because all items of a source share their reconcile's result.
  return { batchItemFailures: records.filter((r) => failures.has(r.messageId)).map((r) => ({ itemIdentifier: r.messageId })), outcomes };
}
