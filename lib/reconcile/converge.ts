/**
 * Converge: take steps until the source is in sync or stalled, polling between steps. The CLI's
 * `cairn apply` uses this; the Lambda reconciler takes one step per invocation instead.
 *
 * A stack's status change is reported (`stack.progress`) the moment a step reads it from the
 * account, before that step starts anything: reported after the step, a wave's CREATE_COMPLETE
 * would follow the next wave's change set, which it caused.
 */
import { TransientError } from '../core/errors.js';
import type { ActualStack, DesiredState } from '../core/model.js';
import { OWNER_TAGS } from '../core/model.js';
import type { EventSink } from '../ports/events.js';
import type { ProgressListener } from '../ports/progress.js';
import type { GatewayFactory, StackGateway } from '../ports/stack-gateway.js';
import { advance, type AdvanceOptions, type StepResult } from './advance.js';

export interface ConvergeOptions extends AdvanceOptions {
  /** Pause between steps while CloudFormation works. */
  stepIntervalMs?: number;
  /** Give up (the work goes on in CloudFormation) after this long. */
  timeoutMs?: number;
  /** Set to stop starting new work (Ctrl-C); the loop then returns after the current step. */
  signal?: AbortSignal;
  /** Told, around every step, which stacks' change sets are being made or run (the CLI's progress line). */
  progress?: ProgressListener;
}

export async function converge(desired: DesiredState, options: ConvergeOptions): Promise<StepResult> {
  try {
    return await steps(desired, options);
  } finally {
    options.progress?.({ phase: 'apply', finished: true });
  }
}

async function steps(desired: DesiredState, options: ConvergeOptions): Promise<StepResult> {
  // Measured in time waited between steps, so a test that advances a simulated clock never spins for real minutes.
  const timeoutMs = options.timeoutMs ?? 60 * 60_000;
  let waited = 0;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  // What the last step left under way, less what has settled since: a step itself may wait on
  // CloudFormation to compute its change sets.
  let underWay: string[] = [];
  const sink = options.progress ? settling(options.sink, (id) => {
    underWay = underWay.filter((s) => s !== id);
    options.progress?.({ phase: 'apply', waiting: underWay });
  }) : options.sink;
  const gateways = reportingProgress(options.gateways, desired, sink);
  // A drift revert CloudFormation could not carry out is tried once per detection, not once per step.
  const revertsTried = options.revertsTried ?? new Set<string>();
  for (;;) {
    const stopped = (): boolean => options.signal?.aborted === true;
    options.progress?.({ phase: 'apply', waiting: underWay });
    const result = await advance(desired, {
      ...options,
      sink,
      gateways,
      revertsTried,
      remainingMs: () => (stopped() ? 0 : (options.remainingMs?.() ?? Number.POSITIVE_INFINITY)),
    });
    if (result.outcome !== 'progressing') return result;
    underWay = [...new Set([...result.started, ...result.waitingOn])];
    options.progress?.({ phase: 'apply', waiting: underWay });
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

/** The same sink, also telling `settled` of every stack whose status stops being in progress. */
function settling(sink: EventSink, settled: (stack: string) => void): EventSink {
  return {
    emit: (e) => {
      sink.emit(e);
      if (e.type === 'stack.progress' && !e.status.endsWith('_IN_PROGRESS')) settled(e.stack);
    },
  };
}

/**
 * The same gateways, whose listings emit `stack.progress` for every stack of the source whose status
 * (NOT_DEPLOYED when absent) differs from the one the previous listing showed.
 */
function reportingProgress(gateways: GatewayFactory, desired: DesiredState, sink: EventSink): GatewayFactory {
  const previous = new Map<string, string>();
  const report = (id: string, stackName: string, status: string): void => {
    const before = previous.get(id);
    previous.set(id, status);
    if (before !== undefined && before !== status) sink.emit({ source: desired.source, commit: desired.commit, type: 'stack.progress', stack: id, stackName, status });
  };
  /** Owned stacks no longer declared (the ones a prune deletes), by id: where they were last listed. */
  const undeclared = new Map<string, { region: string; stackName: string }>();
  const observe = (region: string, stacks: ActualStack[]): void => {
    const defaultRegion = gateways(undefined).region;
    const byName = new Map(stacks.map((a) => [a.stackName, a]));
    for (const d of desired.stacks) {
      if ((d.region ?? defaultRegion) === region) report(d.id, d.stackName, byName.get(d.stackName)?.status ?? 'NOT_DEPLOYED');
    }
    const listed = new Set<string>();
    for (const a of stacks) {
      const id = a.tags[OWNER_TAGS.stack];
      if (a.tags[OWNER_TAGS.source] !== desired.source || !id || desired.stacks.some((d) => d.id === id)) continue;
      listed.add(id);
      undeclared.set(id, { region, stackName: a.stackName });
      report(id, a.stackName, a.status);
    }
    // Listings leave deleted stacks out: one listed before and gone now has been deleted.
    for (const [id, where] of undeclared) {
      if (where.region !== region || listed.has(id)) continue;
      report(id, where.stackName, 'DELETE_COMPLETE');
      undeclared.delete(id);
    }
  };
  const wrapped = new Map<StackGateway, StackGateway>();
  return (region) => {
    const gateway = gateways(region);
    let reporting = wrapped.get(gateway);
    if (!reporting) {
      const listStacks = async (): Promise<ActualStack[]> => {
        const stacks = await gateway.listStacks();
        observe(gateway.region, stacks);
        return stacks;
      };
      // Everything else goes to the gateway itself, bound to it.
      reporting = new Proxy(gateway, {
        get(target, property) {
          if (property === 'listStacks') return listStacks;
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      wrapped.set(gateway, reporting);
    }
    return reporting;
  };
}
