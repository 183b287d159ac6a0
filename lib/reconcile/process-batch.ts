/**
 * The reconcile function's batch semantics, independent of Lambda: parse each queue record, fold
 * the records of one source into one reconcile of its branch head, and map each outcome onto the
 * queue: done (delete), come back later (visibility extended, item failed), or retry (item failed;
 * after the queue's maximum receives it reaches the dead-letter queue).
 */
import * as z from 'zod';
import type { EventSink } from '../ports/events.js';
import type { WorkKind, WorkMessage } from '../ports/work-queue.js';
import type { ReconcileOutcome, Trigger } from './reconcile-source.js';

export const WorkMessageSchema = z.object({
  source: z.string().min(1),
  kind: z.enum(['push', 'stack-event', 'sweep', 'retry']),
  dedupId: z.string().min(1),
  commit: z.string().optional(),
  stackName: z.string().optional(),
  receivedAt: z.string(),
});

export interface BatchRecord {
  messageId: string;
  body: string;
  receiveCount: number;
}

export interface BatchDeps {
  knownSource(name: string): boolean;
  reconcile(source: string, trigger: Trigger): Promise<ReconcileOutcome>;
  /** Make these records visible again after `seconds` (SQS ChangeMessageVisibility). */
  retryLater(records: BatchRecord[], seconds: number): Promise<void>;
  /**
   * Send a fresh message (SQS SendMessage). With it, a source that must wait does not keep the same
   * message waiting again and again: every wait spends a receive, and the redrive policy would move
   * a message that waited long enough to the dead-letter queue, which is meant for poison.
   */
  requeue?(message: WorkMessage): Promise<void>;
  sink: EventSink;
  /** Sources reconciled at once within one batch. */
  concurrency?: number;
}

export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
  outcomes: Record<string, ReconcileOutcome['outcome'] | 'failed' | 'rejected'>;
}

/** A retry request outranks a push, a push outranks stack events and the sweep: it decides what the reconcile reports as its trigger. */
const PRIORITY: WorkKind[] = ['retry', 'push', 'stack-event', 'sweep'];

export async function processBatch(records: BatchRecord[], deps: BatchDeps): Promise<BatchResult> {
  const failures = new Set<string>();
  const outcomes: BatchResult['outcomes'] = {};
  const bySource = new Map<string, { records: BatchRecord[]; kinds: Set<WorkKind>; receivedAt: string | undefined; latest: string }>();

  for (const record of records) {
    let parsed;
    try {
      parsed = WorkMessageSchema.safeParse(JSON.parse(record.body));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success || !deps.knownSource(parsed.data.source)) {
      // Poison: fail it every time, so the queue's redrive policy moves it to the dead-letter queue.
      failures.add(record.messageId);
      outcomes[record.messageId] = 'rejected';
      deps.sink.emit({
        source: parsed?.success ? parsed.data.source : 'unknown',
        type: 'log',
        level: 'error',
        message: parsed?.success
          ? `message ${record.messageId} names unknown source "${parsed.data.source}"; it goes to the dead-letter queue after its last receive`
          : `message ${record.messageId} is not a Cairn work message; it goes to the dead-letter queue after its last receive`,
      });
      continue;
    }
    const m = parsed.data;
    const group = bySource.get(m.source) ?? { records: [], kinds: new Set(), receivedAt: undefined, latest: m.receivedAt };
    group.records.push(record);
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
      try {
        const outcome = await deps.reconcile(source, { kind, ...(group.receivedAt ? { receivedAt: group.receivedAt } : {}) });
        for (const id of ids) outcomes[id] = outcome.outcome;
        if (outcome.outcome === 'waiting') {
          // With requeue, the messages received for the first time stay in flight as the delay (they
          // block the FIFO group), a fresh message queued behind them carries the work, and those
          // received before (they waited or failed once already) are acknowledged: no message waits
          // twice, so waiting never spends the receives that count toward the dead-letter queue.
          const keep = deps.requeue ? group.records.filter((r) => r.receiveCount <= 1) : group.records;
          if (deps.requeue) {
            const newest = group.records[group.records.length - 1]!;
            await deps.requeue({ source, kind, dedupId: `wait-${newest.messageId}-${newest.receiveCount}`, receivedAt: group.receivedAt ?? group.latest });
          }
          if (keep.length > 0) await deps.retryLater(keep, outcome.retryAfterSeconds);
          for (const r of keep) failures.add(r.messageId);
        }
      } catch (error) {
        for (const id of ids) {
          failures.add(id);
          outcomes[id] = 'failed';
        }
        deps.sink.emit({
          source,
          type: 'reconcile.finished',
          outcome: 'failed',
          summary: `will retry: ${error instanceof Error ? error.message : String(error)}`,
          durationMs: 0,
          reason: error instanceof Error && 'reason' in error ? String((error as { reason: unknown }).reason) : 'Unexpected',
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? 4, entries.length) }, worker));

  // SQS FIFO: once an item of a group fails, the items after it in that group must fail too, and
  // they do, because all items of a source share their reconcile's result.
  return { batchItemFailures: records.filter((r) => failures.has(r.messageId)).map((r) => ({ itemIdentifier: r.messageId })), outcomes };
}
