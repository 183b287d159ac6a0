/**
 * Converge: take steps until the source is in sync or stalled, polling between steps. The CLI's
 * `cairn apply` uses this; the Lambda reconciler takes one step per invocation instead.
 */
import { TransientError } from '../core/errors.js';
import type { DesiredState } from '../core/model.js';
import { advance, type AdvanceOptions, type StepResult } from './advance.js';

export interface ConvergeOptions extends AdvanceOptions {
  /** Pause between steps while CloudFormation works. */
  stepIntervalMs?: number;
  /** Give up (the work goes on in CloudFormation) after this long. */
  timeoutMs?: number;
  /** Set to stop starting new work (Ctrl-C); the loop then returns after the current step. */
  signal?: AbortSignal;
}

export async function converge(desired: DesiredState, options: ConvergeOptions): Promise<StepResult> {
  // Measured in time waited between steps, so a test that advances a simulated clock never spins for real minutes.
  const timeoutMs = options.timeoutMs ?? 60 * 60_000;
  let waited = 0;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const previous: Record<string, string> = {};
  // A drift revert CloudFormation could not carry out is tried once per detection, not once per step.
  const revertsTried = options.revertsTried ?? new Set<string>();
  for (;;) {
    const stopped = (): boolean => options.signal?.aborted === true;
    const result = await advance(desired, {
      ...options,
      revertsTried,
      remainingMs: () => (stopped() ? 0 : (options.remainingMs?.() ?? Number.POSITIVE_INFINITY)),
    });
    for (const s of result.plan.stacks) {
      const status = result.statuses[s.id];
      if (status && previous[s.id] !== undefined && previous[s.id] !== status) {
        options.sink.emit({ source: desired.source, commit: desired.commit, type: 'stack.progress', stack: s.id, stackName: s.stackName, status });
      }
      if (status) previous[s.id] = status;
    }
    if (result.outcome !== 'progressing') return result;
    // All that is left is held by change windows: nothing will move until a window allows it.
    if (result.held.length > 0 && result.started.length === 0 && result.waitingOn.length === 0) return result;
    if (stopped()) throw new TransientError('Interrupted', 'interrupted: operations already started go on in CloudFormation; run the same command again to resume');
    if (waited > timeoutMs) {
      throw new TransientError('Interrupted', `gave up waiting after ${Math.round(timeoutMs / 1000)} s (${result.summary}); the work goes on in CloudFormation; run the same command again to resume`);
    }
    const interval = options.stepIntervalMs ?? 2_000;
    await sleep(interval);
    waited += interval;
  }
}
