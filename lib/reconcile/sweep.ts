/**
 * The scheduled sweep: detect resource drift on a paced share of the owned stacks (those never
 * checked, then those checked longest ago, so every stack is checked within `coverMs`), report
 * drift per the stack's policy, then enqueue a reconcile of every source. The reconcile repairs
 * missed pushes and changes made outside Git, and reverts drift where the policy is `revert`.
 */
import { conditionOf } from '../core/health.js';
import { OWNER_TAGS, type ActualStack, type DriftPolicy } from '../core/model.js';
import type { EventSink } from '../ports/events.js';
import { GatewayError, type GatewayFactory, type StackGateway } from '../ports/stack-gateway.js';
import type { WorkQueue } from '../ports/work-queue.js';
import { waitingOn, type ProgressListener } from '../ports/progress.js';

export interface SweepOptions {
  sources: string[];
  queue: WorkQueue;
  gateways: GatewayFactory;
  /** Regions to look for owned stacks in; the gateway factory's own region when empty. */
  regions?: string[];
  sink: EventSink;
  /** How often the sweep runs, and the period within which every owned stack is checked. */
  intervalMs: number;
  coverMs?: number;
  /** At most this many detections per run, whatever the share says. */
  maxDetections?: number;
  /** Detections under way at once. */
  concurrency?: number;
  pollMs?: number;
  /** A detection still in progress after this long is left for the next run (default 2 minutes). */
  detectionTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  /** Time left in this invocation; no new detection starts when it is below `reserveMs`. */
  remainingMs?: () => number;
  reserveMs?: number;
  /** Told which detections are still running (the CLI's progress line). */
  progress?: ProgressListener;
}

export interface SweepReport {
  enqueued: string[];
  owned: number;
  checked: number;
  drifted: number;
  /** Stacks not checked this run: busy, over this run's share, or out of time. */
  deferred: number;
  failed: { stackName: string; reason: string }[];
}

const POLICIES: DriftPolicy[] = ['alert', 'revert', 'ignore'];

export function policyOf(stack: ActualStack): DriftPolicy {
  const tag = stack.tags[OWNER_TAGS.drift] as DriftPolicy | undefined;
  return tag && POLICIES.includes(tag) ? tag : 'alert';
}

/** The share of `total` stacks one run checks so that all are checked within `coverMs`. */
export function shareOf(total: number, intervalMs: number, coverMs: number): number {
  if (total === 0) return 0;
  return Math.min(total, Math.max(1, Math.ceil((total * intervalMs) / coverMs)));
}

export async function sweep(options: SweepOptions): Promise<SweepReport> {
  const now = options.now ?? (() => new Date());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const sources = new Set(options.sources);
  const regions = options.regions?.length ? options.regions : [options.gateways(undefined).region];
  const report: SweepReport = { enqueued: [], owned: 0, checked: 0, drifted: 0, deferred: 0, failed: [] };
  const timeLeft = (): boolean => !options.remainingMs || options.remainingMs() > (options.reserveMs ?? 30_000);

  let failure: unknown;
  const detecting = waitingOn(options.progress, 'drift');
  try {
    const listed = await Promise.all(regions.map(async (r) => ({ region: r, stacks: await options.gateways(r).listStacks() })));
    const owned = listed.flatMap(({ region, stacks }) =>
      stacks.filter((s) => sources.has(s.tags[OWNER_TAGS.source] ?? '')).map((s) => ({ stack: s, gateway: options.gateways(region) })),
    );
    report.owned = owned.length;
    const candidates: typeof owned = [];
    for (const o of owned) {
      const policy = policyOf(o.stack);
      if (policy === 'ignore') {
        options.sink.emit({ source: o.stack.tags[OWNER_TAGS.source]!, type: 'log', level: 'debug', stack: o.stack.tags[OWNER_TAGS.stack], message: `drift not checked: policy is ignore` });
      } else if (conditionOf(o.stack.status) !== 'stable') {
        report.deferred++;
      } else {
        candidates.push(o);
      }
    }
    // Never-checked first, then the longest ago, so repeated runs cover every stack.
    candidates.sort((a, b) => (a.stack.driftCheckedAt ?? '').localeCompare(b.stack.driftCheckedAt ?? '') || a.stack.stackName.localeCompare(b.stack.stackName));
    const share = Math.min(shareOf(candidates.length, options.intervalMs, options.coverMs ?? 3_600_000), options.maxDetections ?? Number.POSITIVE_INFINITY);
    const chosen = candidates.slice(0, share);
    report.deferred += candidates.length - chosen.length;

    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chosen.length) {
        const item = chosen[next++]!;
        if (!timeLeft()) {
          report.deferred++;
          continue;
        }
        const id = item.stack.tags[OWNER_TAGS.stack] ?? item.stack.stackName;
        detecting.add(id);
        try {
          const drifted = await detect(item.stack, item.gateway);
          report.checked++;
          if (drifted) report.drifted++;
        } catch (error) {
          report.failed.push({ stackName: item.stack.stackName, reason: error instanceof Error ? error.message : String(error) });
          options.sink.emit({
            source: item.stack.tags[OWNER_TAGS.source]!,
            type: 'log',
            level: 'warn',
            stack: item.stack.tags[OWNER_TAGS.stack],
            message: `drift detection of ${item.stack.stackName} did not finish: ${error instanceof Error ? error.message : String(error)}; it is checked again next run`,
          });
        } finally {
          detecting.remove(id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 3, chosen.length) }, worker));
  } catch (error) {
    failure = error;
  }
  detecting.end();
  // Even when detection failed part way, every source is reconciled: that is what catches missed
  // pushes. Every detection has a deadline, so this is reached; one source failing to enqueue does
  // not keep the others from it.
  const tick = now().toISOString();
  const unsent: unknown[] = [];
  for (const source of options.sources) {
    try {
      await options.queue.send({ source, kind: 'sweep', dedupId: `sweep-${source}-${tick}`, receivedAt: tick });
      report.enqueued.push(source);
    } catch (error) {
      unsent.push(error);
    }
  }
  if (unsent.length > 0) {
    const reasons = unsent.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
    throw new AggregateError(failure ? [failure, ...unsent] : unsent, `the sweep could not queue ${unsent.length} of ${options.sources.length} sources: ${reasons}`);
  }
  if (failure) throw failure;
  return report;

  async function detect(stack: ActualStack, gateway: StackGateway): Promise<boolean> {
    const source = stack.tags[OWNER_TAGS.source]!;
    const id = stack.tags[OWNER_TAGS.stack] ?? stack.stackName;
    let detectionId: string;
    try {
      detectionId = await gateway.detectStackDrift(stack.stackName);
    } catch (error) {
      // The stack became busy since it was listed; CloudFormation refuses detection then.
      if (error instanceof GatewayError && error.code === 'ValidationError') throw new Error(`CloudFormation refused: ${error.message}`, { cause: error });
      throw error;
    }
    const pollMs = options.pollMs ?? 2_000;
    const timeoutMs = options.detectionTimeoutMs ?? 120_000;
    for (let waited = 0; ; waited += pollMs) {
      const d = await gateway.describeDriftDetection(detectionId);
      if (d.status === 'DETECTION_FAILED') throw new Error(`detection failed: ${d.reason ?? 'no reason given'}`);
      if (d.status === 'DETECTION_COMPLETE') {
        if (d.stackDriftStatus !== 'DRIFTED') {
          options.sink.emit({ source, type: 'drift.in-sync', stack: id, stackName: stack.stackName });
          return false;
        }
        const drifts = await gateway.listResourceDrifts(stack.stackName);
        options.sink.emit({
          source,
          commit: stack.tags[OWNER_TAGS.commit],
          type: 'drift.detected',
          stack: id,
          stackName: stack.stackName,
          policy: policyOf(stack),
          resources: drifts.map((r) => ({ logicalId: r.logicalId, resourceType: r.resourceType, status: r.status, differences: r.differences })),
        });
        return true;
      }
      if (waited >= timeoutMs || !timeLeft()) {
        throw new Error(`detection ${detectionId} was still ${d.status} after ${Math.round(waited / 1000)} s (deadline ${Math.round(timeoutMs / 1000)} s, or the invocation ran short of time)`);
      }
      await sleep(pollMs);
    }
  }
}
