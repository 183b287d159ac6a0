/**
 * The deterministic simulation driver of the reliability suite. One scenario runs entirely in
 * simulated time: a MemoryRepo source whose head moves commit by commit, an InProcessQueue, and an
 * EmbeddedAccount, all on one SimClock; a consumer that does what the reconcile Lambda does
 * (receive a batch, processBatch with reconcileSource, delete what succeeded, extend the visibility
 * of what waits, leave what failed for redelivery); and the account's stack status events routed
 * to the queue with routeStackEvent, as EventBridge and the stack-events function do.
 *
 * Faults come from the scenario: throttling and InternalFailure through the account's own fault
 * settings, latency, timeouts and killed invocations through a chaos gateway, duplicated, late and
 * reordered messages, a poison message, stacks stuck in progress or changed outside Cairn, and
 * resource failures that roll an update back. When the last commit is pushed and the queue and the
 * account are quiet, the outcome is checked; then the scheduled sweep comes round once more, and
 * once all is quiet again, what must not be left behind is checked (see invariants.ts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountStore } from '../../lib/adapters/embedded-account/account-store.js';
import { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import { pendingTimes } from '../../lib/adapters/embedded-account/stack-record.js';
import { InProcessQueue } from '../../lib/adapters/in-process-queue.js';
import { withRetries } from '../../lib/adapters/retrying-gateway.js';
import { TransientError } from '../../lib/core/errors.js';
import { conditionOf } from '../../lib/core/health.js';
import { OWNER_TAGS } from '../../lib/core/model.js';
import type { CommitStatus, CommitStatusReporter } from '../../lib/ports/commit-status.js';
import type { EventSink } from '../../lib/ports/events.js';
import type { SourceRepo } from '../../lib/ports/source-repo.js';
import type { GatewayFactory, StackGateway } from '../../lib/ports/stack-gateway.js';
import type { WorkMessage, WorkQueue } from '../../lib/ports/work-queue.js';
import { processBatch } from '../../lib/reconcile/process-batch.js';
import type { Trigger } from '../../lib/reconcile/reconcile-source.js';
import { createReconciler, type Reconciler } from '../../lib/reconcile/reconciler.js';
import type { Settled } from '../../lib/reconcile/settle.js';
import { routeStackEvent } from '../../lib/reconcile/route-stack-event.js';
import { StallMemory } from '../../lib/reconcile/stall-memory.js';
import { MemoryRepo, type MemoryFiles } from '../helpers/memory-source.js';
import { CallRecord, Chaos, denying, iamActionOf, type Invocation } from './fault-gateway.js';
import { checkLeftovers, checkOutcome, lastReported, type FinalState } from './invariants.js';
import { Random } from './random.js';
import { CANARY_TYPE, POISON_SOURCE, SOURCE, describeFault, renderRepo, type CommitPlan, type Scenario } from './scenario.js';
import { SimClock, SimulationLimitError, type RunLimits } from './sim-clock.js';

export const T0 = Date.UTC(2026, 0, 1);
/** The reconcile function's timeout (RECONCILE_TIMEOUT in lib/infra/cairn-stack.ts); the handler keeps 30 s in reserve. */
export const LAMBDA_TIMEOUT_MS = 120_000;
export const RESERVE_MS = 30_000;
/** Six times the function's timeout, as deployed (QUEUE_VISIBILITY_TIMEOUT in lib/infra/cairn-stack.ts). */
export const VISIBILITY_TIMEOUT_MS = 6 * LAMBDA_TIMEOUT_MS;
/**
 * The redrive policy's maxReceiveCount. The deployed queue allows 360 so that an hour of waiting is
 * not taken for poison; with processBatch's requeue a wait spends no receives, so the suite holds
 * Cairn to a tight policy instead: just above the longest run of failed receives one scenario can
 * inject (two kills, two timeouts, an unreachable Git host, a throttling burst, an error burst, a
 * timed-out invocation, after one wait: nine), so that every dead letter but poison is Cairn's doing.
 */
export const MAX_RECEIVES = 10;
/** How often the scheduled sweep enqueues a reconcile of every source, in scenarios that lose stack events. */
export const SWEEP_EVERY_MS = 15 * 60_000;
const OPERATION_MS = 1000;
const IDLE_POLL_CAP_MS = 30_000;
const LIMITS: RunLimits = { maxTime: T0 + 8 * 3600_000, maxSteps: 250_000 };

export interface ReconcileRecord {
  outcome: Settled['outcome'];
  commit: string | undefined;
  reason: string | undefined;
  summary: string;
  /** A stall reported again: the commit stalled earlier and nothing was done. */
  repeated?: boolean;
}

export interface SentMessage {
  messageId: string;
  message: WorkMessage;
  duplicate: boolean;
}

export interface SimulationStats {
  simulatedMs: number;
  steps: number;
  invocations: number;
  reconciles: number;
  kills: number;
  timeouts: number;
  throttled: number;
  internalFailures: number;
  rollbacks: number;
  stuck: number;
  lostEvents: number;
  /** Calls IAM refused (the `denied` fault). */
  denied: number;
  slowFetches: number;
  sourceFailures: number;
  messages: number;
  duplicatesDropped: number;
  deadLetters: number;
  outcomes: Record<string, number>;
}

export interface SimulationRun {
  scenario: Scenario;
  violations: string[];
  trace: string[];
  stats: SimulationStats;
}

/** Planted faults in the harness itself, to show the invariants catch what they claim to. */
export interface SimulationHooks {
  /** Wrap the gateway Cairn uses (below the retries), e.g. to plant a bug. */
  gateway?: (gateway: StackGateway) => StackGateway;
  /** False: the consumer gives processBatch no `requeue`, as a handler that does not wire it. */
  requeue?: boolean;
}

function tempRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export async function runScenario(scenario: Scenario, hooks: SimulationHooks = {}): Promise<SimulationRun> {
  const home = mkdtempSync(join(tempRoot(), 'cairn-reliability-'));
  const rng = new Random(scenario.seed ^ 0x5eed);
  const trace: string[] = [];
  const stamp = (): string => `${((clock.now() - T0) / 1000).toFixed(1).padStart(7)}s`;
  const log = (line: string): void => void trace.push(`${stamp()} ${line}`);

  const peek = new AccountStore(home);
  const nextDue = (t: number): number | undefined => {
    peek.refresh();
    let next: number | undefined;
    for (const record of peek.all()) for (const at of pendingTimes(record, t)) if (next === undefined || at < next) next = at;
    return next;
  };
  const clock: SimClock = new SimClock(T0, { nextDue, onTick: () => account.advance(0) });
  const account = new EmbeddedAccount({ home, clock: clock.now, operationMs: OPERATION_MS, random: rng.fork().fn });
  const queue = new InProcessQueue({ clock: clock.now, visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS, maxReceives: MAX_RECEIVES });
  const files = (c: CommitPlan): MemoryFiles => renderRepo(c.spec, { broken: c.broken ?? false });
  const repo = new MemoryRepo(files(scenario.commits[0]!));
  const record = new CallRecord();
  /** Gateway operations IAM refuses just now (the `denied` fault). */
  const denied = new Set<string>();
  const stats: SimulationStats = {
    simulatedMs: 0,
    steps: 0,
    invocations: 0,
    reconciles: 0,
    kills: 0,
    timeouts: 0,
    throttled: 0,
    internalFailures: 0,
    rollbacks: 0,
    stuck: 0,
    lostEvents: 0,
    denied: 0,
    slowFetches: 0,
    sourceFailures: 0,
    messages: 0,
    duplicatesDropped: 0,
    deadLetters: 0,
    outcomes: {},
  };
  const violations: string[] = [];

  // ---- the queue, with every send on record ----
  const sent: SentMessage[] = [];
  const deleted = new Set<string>();
  const work: WorkQueue = {
    send: async (message) => {
      log(`queue ← ${message.kind} ${message.source} ${message.dedupId}`);
      const result = await queue.send(message);
      sent.push({ messageId: result.messageId, message, duplicate: result.duplicate });
      if (result.duplicate) {
        stats.duplicatesDropped++;
        log(`queue dropped ${message.dedupId} as a duplicate`);
      } else stats.messages++;
      return result;
    },
  };
  const now = (): string => new Date(clock.now()).toISOString();

  // ---- stack status events → the queue ----
  const statuses = new Map<string, { status: string; owned: boolean }>();
  const lost = scenario.faults.flatMap((f) => (f.kind === 'lost-events' ? [f] : []));
  const lossRandom = rng.fork();
  account.onStackEvent((e) => {
    statuses.set(e.stackName, { status: e.status, owned: e.tags[OWNER_TAGS.source] === SOURCE });
    if (/ROLLBACK_IN_PROGRESS$/.test(e.status)) stats.rollbacks++;
    const t = clock.now() - T0;
    if (lost.some((f) => t >= f.at && t < f.at + f.durationMs && lossRandom.chance(f.share))) {
      stats.lostEvents++;
      return log(`event ${e.stackName} ${e.status} LOST`);
    }
    log(`event ${e.stackName} ${e.status}`);
    // As the stack-events function: routing that fails (a throttled lookup) loses the event; the sweep repairs it.
    routeStackEvent(
      { id: `${e.stackId}:${e.status}:${e.timestamp}`, stackId: e.stackId, stackName: e.stackName, status: e.status, time: e.timestamp, clientRequestToken: e.clientRequestToken },
      { queue: work, gateway: account.gateway(), knownSource: (name) => name === SOURCE },
    ).catch((error: unknown) => log(`event ${e.stackName} ${e.status} not routed: ${(error as Error).message}`));
  });

  // ---- the gateways Cairn uses: account ← record ← chaos ← retries ----
  const latency = scenario.faults.find((f) => f.kind === 'latency');
  const chaos = new Chaos({
    now: clock.now,
    sleep: clock.sleep,
    random: rng.fork(),
    latency: latency ? { minMs: latency.minMs, maxMs: latency.maxMs } : undefined,
    timeouts: new Map(scenario.faults.flatMap((f) => (f.kind === 'timeout' ? [[f.call, { hangMs: f.hangMs, executed: f.executed }] as const] : []))),
    kills: new Set(scenario.faults.flatMap((f) => (f.kind === 'kill' ? [`${f.invocation}/${f.afterCall}`] : []))),
    killsAfter: new Set(scenario.faults.flatMap((f) => (f.kind === 'kill-after' ? [`${f.operation}#${f.occurrence}`] : []))),
    onFault: (kind, description) => {
      if (kind === 'timeout') stats.timeouts++;
      else stats.kills++;
      log(`FAULT ${description}`);
    },
  });
  const retryRandom = rng.fork();
  const gatewaysFor = (invocation: Invocation): GatewayFactory => {
    const cache = new Map<string, StackGateway>();
    return (region) => {
      const key = region ?? account.defaultRegion;
      let g = cache.get(key);
      if (!g) {
        const base = denying(record.wrap(account.gateway(key)), denied, (operation) => {
          stats.denied++;
          log(`DENIED ${iamActionOf(operation)}`);
        });
        g = withRetries(chaos.wrap(hooks.gateway ? hooks.gateway(base) : base, invocation), { sleep: clock.sleep, random: retryRandom.fn });
        cache.set(key, g);
      }
      return g;
    };
  };

  // ---- the reconcile function: one container (warm state) until an invocation is killed ----
  const sink: EventSink = {
    emit: (e) => {
      if (e.type === 'stack.action') log(`cairn ${e.action} ${e.stack}: ${e.summary}`);
      else if (e.type === 'changeset.empty') log(`cairn empty change set on ${e.stack}`);
    },
  };
  const reconciles: ReconcileRecord[] = [];
  const statusesReported: CommitStatus[] = [];
  const commitStatus: CommitStatusReporter = { report: async (status) => void statusesReported.push(status) };
  let stalls = new StallMemory();
  let stopping = false;
  let idle = false;
  let wake: (() => void) | undefined;
  const inFlight = new Map<string, number>();

  const slow = new Map(scenario.faults.flatMap((f) => (f.kind === 'slow-source' ? [[f.invocation, f.delayMs] as const] : [])));
  const down = scenario.faults.flatMap((f) => (f.kind === 'source-down' ? [f] : []));
  /** The branch head as this invocation's Git fetch sees it: slow, or failing while the host is down. */
  const sourceFor = (invocation: Invocation): SourceRepo => ({
    description: repo.description,
    snapshot: async () => {
      const delay = slow.get(invocation.id);
      if (delay !== undefined) {
        await clock.sleep(delay);
        stats.slowFetches++;
        log(`FAULT invocation #${invocation.id} took ${delay / 1000}s to fetch the branch head`);
      }
      const t = clock.now() - T0;
      if (down.some((f) => t >= f.at && t < f.at + f.durationMs)) {
        stats.sourceFailures++;
        throw new TransientError('SourceUnavailable', 'the Git host did not answer');
      }
      return repo.snapshot();
    },
  });

  /** The reconcile function's reconciler for one invocation: its Git fetch, its gateways, its container's memory. */
  const reconcilerFor = (invocation: Invocation, container: StallMemory): Reconciler => {
    const reconciler = createReconciler({
      sources: [{ name: SOURCE }],
      repos: new Map([[SOURCE, sourceFor(invocation)]]),
      gateways: () => gatewaysFor(invocation),
      sink,
      commitStatus: () => commitStatus,
      stalls: container,
      step: () => ({
        pollMs: 1000,
        changeSetWaitMs: 10_000,
        sleep: clock.sleep,
        remainingMs: () => invocation.deadline - clock.now(),
        reserveMs: RESERVE_MS,
      }),
    });
    return {
      knownSource: reconciler.knownSource,
      reconcile: async (name: string, trigger: Trigger, attempt?: Parameters<Reconciler['reconcile']>[2]) => {
        stats.reconciles++;
        const settled = await reconciler.reconcile(name, trigger, attempt);
        const o = settled.outcome;
        if (o.outcome === 'failed') {
          const message = o.error instanceof Error ? o.error.message : String(o.error);
          reconciles.push({ outcome: 'failed', commit: undefined, reason: (o.error as Error).name, summary: message });
          log(`reconcile #${invocation.id} (${trigger.kind}) failed: ${message}`);
        } else {
          const reason = o.outcome === 'stalled' ? o.error.reason : undefined;
          reconciles.push({ outcome: o.outcome, commit: o.commit, reason, summary: o.summary, ...(o.outcome === 'stalled' && o.repeated ? { repeated: true } : {}) });
          log(`reconcile #${invocation.id} (${trigger.kind}) of ${o.commit.slice(0, 8)}: ${o.outcome}${reason ? ` ${reason}` : ''}: ${o.summary}`);
        }
        return settled;
      },
    };
  };

  const consumer = async (): Promise<void> => {
    while (!stopping) {
      const batch = queue.receive({ max: 10, visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS });
      if (batch.length === 0) {
        const t = clock.now();
        const lapses = [...inFlight.values()].filter((at) => at > t);
        const waitMs = Math.min(IDLE_POLL_CAP_MS, ...lapses.map((at) => at - t));
        idle = true;
        await new Promise<void>((resolve) => {
          const off = queue.onMessage(() => done());
          const done = (): void => {
            off();
            wake = undefined;
            resolve();
          };
          wake = done;
          void clock.sleep(waitMs).then(done);
        });
        idle = false;
        continue;
      }
      const t = clock.now();
      for (const m of batch) inFlight.set(m.messageId, t + VISIBILITY_TIMEOUT_MS);
      stats.invocations++;
      const invocation: Invocation = { id: stats.invocations, calls: 0, deadline: t + LAMBDA_TIMEOUT_MS, killed: undefined };
      const container = stalls;
      const receipts = new Map(batch.map((m) => [m.messageId, m.receipt]));
      log(`invocation #${invocation.id} receives ${batch.map((m) => `${m.message.kind}:${m.message.dedupId}(#${m.receiveCount})`).join(', ')}`);
      const showAgainAfter = async (records: { messageId: string }[], seconds: number): Promise<void> => {
        if (invocation.killed) throw new Error(`invocation #${invocation.id} is dead`);
        for (const r of records) {
          queue.changeVisibility(receipts.get(r.messageId)!, seconds * 1000);
          inFlight.set(r.messageId, clock.now() + seconds * 1000);
        }
      };
      const result = await processBatch(
        batch.map((m) => ({ messageId: m.messageId, body: JSON.stringify(m.message), receiveCount: m.receiveCount })),
        {
          sink,
          reconciler: reconcilerFor(invocation, container),
          ...(hooks.requeue === false
            ? {}
            : {
                requeue: async (message: WorkMessage) => {
                  if (invocation.killed) throw new Error(`invocation #${invocation.id} is dead`);
                  await work.send(message);
                },
              }),
          retryLater: (records, seconds) => showAgainAfter(records, seconds),
          // As the reconcile function does: a failure comes back after a short, growing delay.
          retryFailedLater: (records, seconds) => showAgainAfter(records, seconds),
        },
      );
      for (const outcome of Object.values(result.outcomes)) stats.outcomes[outcome] = (stats.outcomes[outcome] ?? 0) + 1;
      if (invocation.killed) {
        // A crashed Lambda answers nothing: every message of the batch comes back after its visibility timeout, to a cold container.
        stalls = new StallMemory();
        continue;
      }
      const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
      for (const m of batch) {
        if (failed.has(m.messageId)) continue;
        if (queue.delete(m.receipt)) {
          deleted.add(m.messageId);
          inFlight.delete(m.messageId);
        } else log(`delete of ${m.message.dedupId} refused: its visibility had lapsed`);
      }
    }
  };

  // ---- the scenario's actions, at their times ----
  let actionsLeft = 0;
  const at = (ms: number, label: string, action: () => Promise<void> | void): void => {
    actionsLeft++;
    void (async () => {
      await clock.sleep(ms);
      try {
        await action();
      } catch (error) {
        violations.push(`the scenario's action "${label}" failed: ${error instanceof Error ? error.stack : String(error)}`);
      } finally {
        actionsLeft--;
      }
    })();
  };
  const shas: Promise<string>[] = [];
  const failCanary = (on: boolean): void => {
    const s = account.faults.settings;
    const without = (list: string[]): string[] => list.filter((t) => t !== CANARY_TYPE);
    account.faults.set({ failOnCreate: on ? [...without(s.failOnCreate), CANARY_TYPE] : without(s.failOnCreate), failOnUpdate: on ? [...without(s.failOnUpdate), CANARY_TYPE] : without(s.failOnUpdate) });
  };

  for (const c of scenario.commits) {
    let resolveSha!: (sha: string) => void;
    shas.push(new Promise((resolve) => (resolveSha = resolve)));
    const rollback = scenario.faults.find((f) => f.kind === 'rollback' && f.commit === c.index);
    at(c.at, `push commit ${c.index}`, async () => {
      if (rollback?.kind === 'rollback') {
        failCanary(true);
        if (rollback.failRollback) account.faults.set({ failRollback: true });
        log(`FAULT ${describeFault(rollback)}`);
      }
      if (c.index > 0) repo.push(files(c));
      const sha = (await repo.snapshot()).commit;
      resolveSha(sha);
      log(`push commit ${c.index} (${sha.slice(0, 8)}): ${c.change}`);
      if (c.deliveryDelayMs > 0) await clock.sleep(c.deliveryDelayMs);
      await work.send({ source: SOURCE, kind: 'push', dedupId: `push-${c.index}`, commit: sha, receivedAt: now() });
    });
  }
  scenario.faults.forEach((f, i) => {
    switch (f.kind) {
      case 'throttle':
        at(f.at, 'throttle on', () => account.faults.set({ throttlePerSecond: f.perSecond }));
        at(f.at + f.durationMs, 'throttle off', () => account.faults.set({ throttlePerSecond: null }));
        break;
      case 'errors':
        at(f.at, 'errors on', () => account.faults.set({ errorRate: f.rate }));
        at(f.at + f.durationMs, 'errors off', () => account.faults.set({ errorRate: 0 }));
        break;
      case 'duplicate': {
        const c = scenario.commits[f.commit]!;
        at(c.at + c.deliveryDelayMs + f.delayMs, 'duplicate push', async () => {
          const sha = await shas[f.commit]!;
          await work.send({ source: SOURCE, kind: 'push', dedupId: f.sameDedupId ? `push-${f.commit}` : `push-${f.commit}-redelivered`, commit: sha, receivedAt: now() });
        });
        break;
      }
      case 'reorder':
        at(f.at, 'late push', async () => {
          const sha = await shas[f.commit]!;
          await work.send({ source: SOURCE, kind: 'push', dedupId: `late-push-${f.commit}`, commit: sha, receivedAt: now() });
        });
        break;
      case 'stuck':
        at(f.at, 'stuck stack', async () => {
          const candidates = [...statuses.entries()].filter(([, s]) => s.owned && conditionOf(s.status) === 'stable').map(([name]) => name).sort();
          if (candidates.length === 0) return log(`FAULT skipped (no owned stable stack): ${describeFault(f)}`);
          const stackName = candidates[Math.floor(f.pick * candidates.length)]!;
          const before = statuses.get(stackName)!.status;
          if (f.via === 'outside') {
            try {
              account.updateStackOutsideCairn({ stackName, parameters: { Label: `outside-${i}` } });
              stats.stuck++;
              log(`FAULT ${stackName} updated outside Cairn`);
            } catch (error) {
              log(`FAULT skipped (${(error as Error).message}): ${describeFault(f)}`);
            }
            return;
          }
          account.forceStackStatus({ stackName, status: 'UPDATE_IN_PROGRESS', statusReason: 'simulated: an operation that takes its time' });
          stats.stuck++;
          log(`FAULT ${stackName} stuck in UPDATE_IN_PROGRESS for ${f.durationMs / 1000}s`);
          await clock.sleep(f.durationMs);
          account.forceStackStatus({ stackName, status: before });
          log(`FAULT ${stackName} released to ${before}`);
        });
        break;
      case 'rollback':
        if (f.clearAt !== undefined) at(f.clearAt, 'clear the failing type', () => failCanary(false));
        break;
      case 'poison':
        at(f.at, 'poison message', () => work.send({ source: POISON_SOURCE, kind: 'push', dedupId: `poison-${i}`, receivedAt: now() }).then(() => undefined));
        break;
      case 'sweep':
        at(f.at, 'sweep', () => work.send({ source: SOURCE, kind: 'sweep', dedupId: `sweep-${f.at}`, receivedAt: now() }).then(() => undefined));
        break;
      case 'denied':
        at(f.at, 'deny on', () => void denied.add(f.operation));
        if (f.until !== undefined) at(f.until, 'deny off', () => void denied.delete(f.operation));
        break;
      case 'lost-events':
        for (let t = SWEEP_EVERY_MS; t <= f.at + f.durationMs + SWEEP_EVERY_MS; t += SWEEP_EVERY_MS) {
          at(t, 'scheduled sweep', () => work.send({ source: SOURCE, kind: 'sweep', dedupId: `scheduled-sweep-${i}-${t}`, receivedAt: now() }).then(() => undefined));
        }
        break;
      case 'latency':
      case 'timeout':
      case 'kill':
      case 'kill-after':
      case 'slow-source':
      case 'source-down':
        break;
    }
  });

  // ---- run until everything is quiet ----
  const quiet = (): boolean => {
    if (actionsLeft > 0 || !idle) return false;
    const depth = queue.depth();
    if (depth.visible > 0 || depth.inFlight > 0) return false;
    if ([...statuses.values()].some((s) => conditionOf(s.status) === 'busy')) return false;
    return nextDue(clock.now()) === undefined;
  };
  const consuming = consumer();
  const checking = (): RunLimits => ({ maxTime: clock.now() + 3600_000, maxSteps: clock.steps + 50_000 });
  try {
    try {
      await clock.runUntil(quiet, LIMITS);
      const final: FinalState = {
        scenario,
        head: await shas[shas.length - 1]!,
        repo,
        account,
        queue,
        sent,
        deleted,
        reconciles,
        statuses: statusesReported,
        executions: record.executions,
        sleep: clock.sleep,
      };
      account.faults.set({ throttlePerSecond: null, errorRate: 0 });
      // The outcome first, before anything else wakes the source, so a missed wake-up cannot hide behind the sweep.
      const outcome = lastReported(reconciles);
      violations.push(...(await clock.drive(checkOutcome(final), checking())));
      // The scheduled sweep comes round, as it does every few minutes: what it cleans up must be gone after it.
      log('the scheduled sweep comes round after the last commit');
      await work.send({ source: SOURCE, kind: 'sweep', dedupId: 'final-sweep', receivedAt: now() });
      await clock.runUntil(quiet, LIMITS);
      stats.deadLetters = queue.deadLetters().length;
      violations.push(...(await clock.drive(checkLeftovers(final, outcome), checking())));
    } finally {
      stopping = true;
      wake?.();
      await clock.drive(consuming, { maxTime: Infinity, maxSteps: clock.steps + 10_000 });
    }
    for (const [code, n] of record.errors) {
      if (code === 'Throttling') stats.throttled += n;
      if (code === 'InternalFailure') stats.internalFailures += n;
    }
  } catch (error) {
    if (!(error instanceof SimulationLimitError)) throw error;
    violations.push(error.message);
  } finally {
    stats.simulatedMs = clock.now() - T0;
    stats.steps = clock.steps;
    account.close();
    rmSync(home, { recursive: true, force: true });
  }
  return { scenario, violations, trace, stats };
}
