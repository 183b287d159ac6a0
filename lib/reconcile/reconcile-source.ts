/**
 * Reconcile one source, one step: read the branch head, validate, plan, take the next step of the
 * apply, report on the commit and in the events, return. Level-triggered: whatever woke it (a push,
 * a stack event, the sweep, a retry), it works from the branch head, so late or repeated wake-ups
 * are harmless and superseded pushes cost nothing.
 */
import { StalledError, ValidationError, formatProblem } from '../core/errors.js';
import type { CommitStatusReporter } from '../ports/commit-status.js';
import type { EventSink } from '../ports/events.js';
import type { SourceRepo } from '../ports/source-repo.js';
import { AccessDeniedError, type GatewayFactory } from '../ports/stack-gateway.js';
import type { WorkKind } from '../ports/work-queue.js';
import { countActions } from '../core/plan.js';
import { advance, describeCounts, type AdvanceOptions } from './advance.js';
import { loadDesired } from './load-desired.js';
import type { StallMemory } from './stall-memory.js';

export interface ReconcileContext {
  source: string;
  /** Commit status context, e.g. `cairn/platform`. */
  statusContext: string;
  repo: SourceRepo;
  gateways: GatewayFactory;
  sink: EventSink;
  commitStatus: CommitStatusReporter;
  stalls: StallMemory;
  /**
   * The roles, regions and accounts this source may use (besides `step.defaultRoleArn`); checked on every
   * commit before any AWS call. Absent, with no default role: any.
   */
  destinations?: { roleArns?: readonly string[]; regions?: readonly string[]; accounts?: readonly string[]; configuredIn: string };
  /** Step tuning (change-set wait and poll, parallelism, time budget). */
  step?: Omit<AdvanceOptions, 'gateways' | 'sink' | 'receivedAt'>;
}

export interface Trigger {
  kind: WorkKind;
  /** When the earliest push folded into this reconcile reached Cairn. */
  receivedAt?: string;
}

export type ReconcileOutcome =
  | { outcome: 'succeeded'; commit: string; summary: string }
  /** Operations are under way; CloudFormation's stack events will wake the next step. */
  | { outcome: 'progressing'; commit: string; summary: string; retryAfterSeconds: number }
  /** Nothing could start because CloudFormation is busy; come back after retryAfterSeconds. */
  | { outcome: 'waiting'; commit: string; summary: string; retryAfterSeconds: number }
  | { outcome: 'stalled'; commit: string; summary: string; error: StalledError }
  /** This commit already stalled; nothing was done. */
  | { outcome: 'skipped'; commit: string; summary: string };

export async function reconcileSource(ctx: ReconcileContext, trigger: Trigger): Promise<ReconcileOutcome> {
  const started = Date.now();
  const finish = (outcome: ReconcileOutcome, extra: { counts?: Record<string, number>; reason?: string } = {}): ReconcileOutcome => {
    const mapped = outcome.outcome === 'skipped' ? 'stalled' : outcome.outcome;
    ctx.sink.emit({
      source: ctx.source,
      ...(outcome.commit ? { commit: outcome.commit } : {}),
      type: 'reconcile.finished',
      outcome: mapped,
      summary: outcome.summary,
      durationMs: Date.now() - started,
      ...extra,
    });
    return outcome;
  };
  /** Remember the stall, say so on the commit (when there is one) and in the events; the queue drops the work. */
  const stalled = async (commit: string, error: StalledError): Promise<ReconcileOutcome> => {
    ctx.stalls.set(ctx.source, { commit, reason: error.reason, message: error.message, at: new Date().toISOString() });
    const description =
      error instanceof ValidationError
        ? `${error.reason === 'PolicyDenied' ? 'PolicyDenied: ' : ''}${error.errors.length} problem${error.errors.length === 1 ? '' : 's'}: ${formatProblem(error.errors[0] ?? error.problems[0]!)}`
        : `${error.stackId ? `${error.stackId}: ` : ''}${error.reason}: ${error.message.replace(/^stack [^:]+: /, '')}`;
    if (commit) await ctx.commitStatus.report({ commit, state: 'failure', description, context: ctx.statusContext });
    return finish({ outcome: 'stalled', commit, summary: error.message, error }, { reason: error.reason });
  };
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
    return finish({ outcome: 'skipped', commit, summary: `commit stalled earlier (${stall.reason}): ${stall.message}` }, { reason: stall.reason });
  }
  ctx.sink.emit({ ...base, type: 'reconcile.started', trigger: trigger.kind, ...(trigger.receivedAt ? { receivedAt: trigger.receivedAt } : {}) });

  let desired;
  try {
    desired = await loadDesired(snapshot, ctx.source, {
      destinations: () => ({
        ...ctx.destinations,
        configuredIn: ctx.destinations?.configuredIn ?? 'the source configuration',
        defaultRoleArn: ctx.step?.defaultRoleArn,
        defaultRegion: ctx.gateways(undefined).region,
      }),
    });
  } catch (error) {
    if (error instanceof StalledError) return stalled(commit, error);
    throw error;
  }
  if (stall) ctx.stalls.clear(ctx.source);

  let result;
  try {
    result = await advance(desired, { ...ctx.step, gateways: ctx.gateways, sink: ctx.sink, ...(trigger.receivedAt ? { receivedAt: trigger.receivedAt } : {}) });
  } catch (error) {
    if (error instanceof StalledError) return stalled(commit, error);
    if (error instanceof AccessDeniedError) return stalled(commit, error.toStall());
    throw error;
  }
  ctx.sink.emit({ ...base, type: 'plan.computed', counts: countActions(result.plan) });
  switch (result.outcome) {
    case 'stalled':
      return stalled(commit, result.error);
    case 'succeeded': {
      const counts = { ...result.counts, deleted: ctx.stalls.deletedBy(ctx.source, commit) };
      const summary = describeCounts(counts);
      await ctx.commitStatus.report({ commit, state: 'success', description: summary, context: ctx.statusContext });
      return finish({ outcome: 'succeeded', commit, summary }, { counts });
    }
    case 'progressing': {
      if (result.deleting.length) ctx.stalls.noteDeleted(ctx.source, commit, result.deleting);
      await ctx.commitStatus.report({ commit, state: 'pending', description: 'Cairn is applying this commit', context: ctx.statusContext });
      // Nothing started means no stack event will wake this source (it waits on a busy stack or a
      // change set still computing, or the invocation ran short of time): come back later.
      const waiting = result.started.length === 0;
      return finish({ outcome: waiting ? 'waiting' : 'progressing', commit, summary: result.summary, retryAfterSeconds: result.retryAfterSeconds });
    }
  }
}
