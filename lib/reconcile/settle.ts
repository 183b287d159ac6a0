/**
 * Settle one reconcile step: the single place where an outcome (succeeded | progressing | waiting |
 * stalled, or a step that threw) becomes its consequences. It puts the state on the commit, writes
 * the one `reconcile.finished` event (whose counts the Powertools sink turns into the metrics, so
 * text, event, commit status and metrics carry the same numbers), remembers or forgets the stall
 * and the commit's run, and says what the queue does with the work:
 *
 * - `delete`: done (applied, stalled, or progressing with stack events to wake the next step);
 * - `requeue` after N s: a source waiting on a busy stack, its retry time doubled for each wait in
 *   a row (as Flux's and Argo CD's requeues grow), or a progressing source with no stack events to
 *   wake it (`cairn serve` against AWS), after `followUpSeconds`;
 * - `retry` after N s: the step failed (transient); 5 s doubled per receive, until the queue's
 *   redrive policy moves it to the dead-letter queue.
 *
 * Every delay is at most `maxDelaySeconds` (5 minutes by default).
 */
import { ValidationError, formatProblem, messageOf, type StalledError, type StallReason } from '../core/errors.js';
import type { CommitStatusReporter } from '../ports/commit-status.js';
import type { EventSink } from '../ports/events.js';
import type { StepOutcome } from './reconcile-source.js';
import type { StallMemory } from './stall-memory.js';

/** Upper bound on every delay chosen here, in seconds. */
export const MAX_DELAY_SECONDS = 300;
const FIRST_FAILURE_DELAY_SECONDS = 5;

/** How long a failed item waits before its next receive: 5 s, doubling with each receive. */
export function failureDelaySeconds(receiveCount: number, max = MAX_DELAY_SECONDS): number {
  return Math.min(FIRST_FAILURE_DELAY_SECONDS * 2 ** Math.max(0, receiveCount - 1), max);
}

/** How long a waiting source waits: its retry time, doubling with each wait in a row. */
export function waitDelaySeconds(retryAfterSeconds: number, waits: number, max = MAX_DELAY_SECONDS): number {
  return Math.min(Math.max(1, retryAfterSeconds) * 2 ** waits, max);
}

/** A step that threw something other than a stall or a wait: transient, retried. */
export interface StepFailure {
  outcome: 'failed';
  error: unknown;
}

export type Settled = StepOutcome | StepFailure;

export type QueueAction =
  | { kind: 'delete' }
  /** Come back after `seconds`; `waits`, for a wait, is how many waits in a row came before it, carried by the next message. */
  | { kind: 'requeue'; seconds: number; waits?: number }
  | { kind: 'retry'; seconds: number };

/** Where the work stands in the queue. */
export interface Attempt {
  /** Waits in a row before this step (0 after a push, a settled stack or a retry). */
  waits: number;
  /** The highest receive count among the messages folded into this step. */
  receiveCount: number;
}

export interface SettleContext {
  source: string;
  /** Commit status context, e.g. `cairn/platform`. */
  statusContext: string;
  commitStatus: CommitStatusReporter;
  sink: EventSink;
  stalls: StallMemory;
  /** When the step began (epoch ms). */
  startedAt: number;
  attempt: Attempt;
  /** With no stack events to wake the next step, check a progressing source again after this long. */
  followUpSeconds?: number;
  maxDelaySeconds?: number;
}

export async function settle(result: Settled, ctx: SettleContext): Promise<QueueAction> {
  const max = ctx.maxDelaySeconds ?? MAX_DELAY_SECONDS;
  const durationMs = Date.now() - ctx.startedAt;
  const report = async (commit: string, state: 'pending' | 'success' | 'failure', description: string): Promise<void> => {
    if (!commit) return;
    try {
      await ctx.commitStatus.report({ commit, state, description, context: ctx.statusContext });
    } catch (error) {
      // The status is a report of the outcome, not part of it: the step is not taken again for it.
      ctx.sink.emit({ source: ctx.source, commit, type: 'log', level: 'warn', message: `commit status not reported: ${messageOf(error)}` });
    }
  };
  const finished = (outcome: Settled['outcome'], summary: string, extra: { commit?: string; counts?: object; reason?: string } = {}): void => {
    const { commit, ...rest } = extra;
    ctx.sink.emit({ source: ctx.source, ...(commit ? { commit } : {}), type: 'reconcile.finished', outcome, summary, durationMs, ...rest });
  };

  switch (result.outcome) {
    case 'succeeded':
      ctx.stalls.forgetRun(ctx.source);
      await report(result.commit, 'success', result.summary);
      finished('succeeded', result.summary, { commit: result.commit, counts: result.counts });
      return { kind: 'delete' };
    case 'progressing':
    case 'waiting': {
      // Held by a change window: the commit status says which window and until when.
      await report(result.commit, 'pending', result.outcome === 'waiting' && result.held ? result.summary : 'Cairn is applying this commit');
      finished(result.outcome, result.summary, { commit: result.commit });
      if (result.outcome === 'progressing') {
        return ctx.followUpSeconds === undefined ? { kind: 'delete' } : { kind: 'requeue', seconds: Math.min(ctx.followUpSeconds, max) };
      }
      return { kind: 'requeue', seconds: waitDelaySeconds(result.retryAfterSeconds, ctx.attempt.waits, max), waits: ctx.attempt.waits };
    }
    case 'stalled': {
      const { error, commit } = result;
      if (!result.repeated) {
        ctx.stalls.set(ctx.source, { commit, reason: error.reason as StallReason, message: error.message, at: new Date().toISOString() });
        ctx.stalls.forgetRun(ctx.source);
        await report(commit, 'failure', describeStall(error));
      }
      // Reported again on every wake-up, without counts (they were reported once), so the alarm stays raised.
      finished('stalled', result.summary, { commit, reason: error.reason, ...(result.counts && !result.repeated ? { counts: result.counts } : {}) });
      return { kind: 'delete' };
    }
    case 'failed': {
      const seconds = failureDelaySeconds(ctx.attempt.receiveCount, max);
      const { error } = result;
      finished('failed', `will retry in ${seconds} s: ${messageOf(error)}`, {
        reason: error instanceof Error && 'reason' in error ? String((error as { reason: unknown }).reason) : 'Unexpected',
      });
      return { kind: 'retry', seconds };
    }
  }
}

/** The commit status line of a stall: the first problem with its file and path, or the stack and reason. */
function describeStall(error: StalledError): string {
  if (error instanceof ValidationError) {
    const n = error.errors.length;
    return `${error.reason === 'PolicyDenied' ? 'PolicyDenied: ' : ''}${n} problem${n === 1 ? '' : 's'}: ${formatProblem(error.errors[0] ?? error.problems[0]!)}`;
  }
  return `${error.stackId ? `${error.stackId}: ` : ''}${error.reason}: ${error.message.replace(/^stack [^:]+: /, '')}`;
}
