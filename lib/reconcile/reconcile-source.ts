/**
 * Reconcile one source, one step: read the branch head, validate, plan, take the next step of the
 * apply, and say how the step ended, as exactly one of succeeded | progressing | waiting | stalled.
 * What an outcome means (commit status, `reconcile.finished`, metrics, the queue) is decided by
 * settle.ts, once, for the Lambda and `cairn serve` alike. Level-triggered: whatever woke it (a push,
 * a stack event, the sweep, a retry), it works from the branch head, so late or repeated wake-ups
 * are harmless and superseded pushes cost nothing.
 */
import { StalledError, WaitingError } from '../core/errors.js';
import type { EventSink } from '../ports/events.js';
import type { SourceRepo } from '../ports/source-repo.js';
import { AccessDeniedError, type GatewayFactory } from '../ports/stack-gateway.js';
import type { WorkKind } from '../ports/work-queue.js';
import { countActions } from '../core/plan.js';
import { advance, type AdvanceOptions } from './advance.js';
import { loadDesired, sourceDestinations } from './load-desired.js';
import { describeRun, tallyRun, type RunCounts } from './run-tally.js';
import { isRunEvent, type RunEvent, type StallMemory } from './stall-memory.js';

/** Step tuning (change-set wait and poll, parallelism, time budget, default role). */
export type StepOptions = Omit<AdvanceOptions, 'gateways' | 'sink' | 'receivedAt'>;

export interface ReconcileContext {
  source: string;
  repo: SourceRepo;
  gateways: GatewayFactory;
  sink: EventSink;
  /** Stalled commits, and what the steps of the current commit started. */
  stalls: StallMemory;
  /**
   * The roles, regions and accounts this source may use (besides `step.defaultRoleArn`); checked on every
   * commit before any AWS call. Absent, with no default role: any.
   */
  destinations?: { roleArns?: readonly string[]; regions?: readonly string[]; accounts?: readonly string[]; configuredIn: string };
  step?: StepOptions;
}

export interface Trigger {
  kind: WorkKind;
  /** When the earliest push folded into this reconcile reached Cairn. */
  receivedAt?: string;
}

export type StepOutcome =
  /** The commit is applied; `counts` is what its steps did (what this process saw of them). */
  | { outcome: 'succeeded'; commit: string; summary: string; counts: RunCounts }
  /** Operations are under way; CloudFormation's stack events wake the next step (or retryAfterSeconds passes). */
  | { outcome: 'progressing'; commit: string; summary: string; retryAfterSeconds: number }
  /** Nothing could start (a busy stack, a change set still computing, no time left); come back after retryAfterSeconds. */
  | {
      outcome: 'waiting';
      commit: string;
      summary: string;
      retryAfterSeconds: number;
      /** What is left is held by change windows (the summary says which and until when). */
      held?: boolean;
    }
  /**
   * A person must act. `repeated`: this commit stalled before and nothing was done this time.
   * `counts`: what the commit's steps did before it stalled, blocked stacks included.
   */
  | { outcome: 'stalled'; commit: string; summary: string; error: StalledError; repeated: boolean; counts?: RunCounts };

export type StepOutcomeKind = StepOutcome['outcome'];

export async function reconcileSource(ctx: ReconcileContext, trigger: Trigger): Promise<StepOutcome> {
  const stalled = (commit: string, error: StalledError, counts?: RunCounts): StepOutcome => ({ outcome: 'stalled', commit, summary: error.message, error, repeated: false, ...(counts ? { counts } : {}) });
  if (trigger.kind === 'retry') ctx.stalls.clear(ctx.source);

  // A source that cannot be read as it is (no such branch, a refused token, no cairn.yaml) stalls
  // like an invalid cairn.yaml: retrying the same message would fail the same way. Nothing is
  // remembered as skipped, since every message reads the branch head again, so a fixing push (or
  // token) resumes at once.
  let snapshot;
  try {
    snapshot = await ctx.repo.snapshot();
  } catch (error) {
    if (error instanceof StalledError) return stalled(error.commit ?? '', error);
    throw error;
  }
  const commit = snapshot.commit;
  const base = { source: ctx.source, commit };
  const stall = ctx.stalls.get(ctx.source);
  if (stall?.commit === commit) {
    // Reported again on every wake-up (the sweep's among them), so the stalled alarm stays raised while the commit is.
    const error = new StalledError(stall.reason, `commit stalled earlier (${stall.reason}): ${stall.message}`);
    return { outcome: 'stalled', commit, summary: error.message, error, repeated: true };
  }
  ctx.sink.emit({ ...base, type: 'reconcile.started', trigger: trigger.kind, ...(trigger.receivedAt ? { receivedAt: trigger.receivedAt } : {}) });

  let desired;
  try {
    desired = await loadDesired(snapshot, ctx.source, {
      destinations: sourceDestinations(ctx.destinations, ctx.step?.defaultRoleArn, ctx.gateways(undefined).region),
    });
  } catch (error) {
    if (error instanceof StalledError) return stalled(commit, error);
    throw error;
  }
  if (stall) ctx.stalls.clear(ctx.source);

  // What this step starts is remembered with the commit, also when the step is cut short, so the
  // step that finds the commit applied can count it.
  const started: RunEvent[] = [];
  const sink: EventSink = {
    emit: (e) => {
      if (isRunEvent(e)) started.push(e);
      ctx.sink.emit(e);
    },
  };
  const declared = desired.stacks.map((s) => s.id);
  const counts = (): RunCounts => tallyRun(ctx.stalls.runOf(ctx.source, commit), declared);
  let result;
  try {
    result = await advance(desired, { ...ctx.step, gateways: ctx.gateways, sink, ...(trigger.receivedAt ? { receivedAt: trigger.receivedAt } : {}) });
  } catch (error) {
    if (error instanceof StalledError) return stalled(commit, error, noted());
    if (error instanceof AccessDeniedError) return stalled(commit, error.toStall(), noted());
    if (error instanceof WaitingError) {
      noted();
      return { outcome: 'waiting', commit, summary: error.message, retryAfterSeconds: error.retryAfterSeconds };
    }
    noted();
    throw error;
  }
  noted();
  ctx.sink.emit({ ...base, type: 'plan.computed', counts: countActions(result.plan) });
  switch (result.outcome) {
    case 'stalled':
      return stalled(commit, result.error, counts());
    case 'succeeded': {
      const c = counts();
      const didNothing = c.created + c.updated + c.deleted + c.reverted + c.blocked === 0;
      return { outcome: 'succeeded', commit, summary: didNothing ? `in sync: ${describeRun(c)}` : describeRun(c), counts: c };
    }
    case 'progressing':
      // Nothing started means no stack event will wake this source (it waits on a busy stack or a
      // change set still computing, or the invocation ran short of time): come back later.
      if (result.started.length > 0) return { outcome: 'progressing', commit, summary: result.summary, retryAfterSeconds: result.retryAfterSeconds };
      return { outcome: 'waiting', commit, summary: result.summary, retryAfterSeconds: result.retryAfterSeconds, ...(result.held.length > 0 && result.waitingOn.length === 0 ? { held: true } : {}) };
  }

  function noted(): RunCounts {
    if (started.length) ctx.stalls.noteRun(ctx.source, commit, started.splice(0));
    return counts();
  }
}
