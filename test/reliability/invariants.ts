/**
 * What must hold at the end of every reliability scenario. `checkOutcome` runs once the last commit
 * is pushed and the queue and the account are quiet; `checkLeftovers` once the scheduled sweep has
 * come round after that (Cairn removes what a step cut short left behind when a step stalls or on a
 * sweep, not on every step). Each returns readable violations (empty: all hold):
 *
 * - the last commit is reconciled: every declared stack is at its content (a fresh advance() on the
 *   last desired state succeeds without a single write, and the last reconcile reported success),
 *   or the last reconcile stalled with the reason the scenario's permanent fault calls for, or with
 *   PruneRefused when the guard's own figures forbid the deletions; either way the commit status
 *   says so (success, or failure naming the reason);
 * - no orphans: no owned stack the last commit does not declare (prune is on) unless the commit
 *   stalled, no stack left in REVIEW_IN_PROGRESS (but for such an undeclared one, which prune
 *   removes once the commit resumes), no change set left AVAILABLE, no two live stacks claiming the
 *   same id of cairn.yaml;
 * - nothing applied twice: each change set of each stack incarnation executed at most once;
 * - no message lost: the queue is empty; every message was deleted after processing, except poison
 *   ones, which reached the dead letters (and only they did).
 */
import type { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import type { InProcessQueue } from '../../lib/adapters/in-process-queue.js';
import { conditionOf } from '../../lib/core/health.js';
import { OWNER_TAGS, type DesiredState } from '../../lib/core/model.js';
import type { CommitStatus } from '../../lib/ports/commit-status.js';
import { nullSink } from '../../lib/ports/events.js';
import { advance } from '../../lib/reconcile/advance.js';
import { loadDesired } from '../../lib/reconcile/load-desired.js';
import type { MemoryRepo } from '../helpers/memory-source.js';
import { WRITE_OPERATIONS } from './fault-gateway.js';
import { CANARY_TYPE, POISON_SOURCE, SOURCE, type Scenario } from './scenario.js';
import type { ReconcileRecord, SentMessage } from './simulation.js';

export interface FinalState {
  scenario: Scenario;
  /** The last commit's SHA. */
  head: string;
  repo: MemoryRepo;
  account: EmbeddedAccount;
  queue: InProcessQueue;
  sent: SentMessage[];
  deleted: Set<string>;
  reconciles: ReconcileRecord[];
  /** Commit statuses reported, in order. */
  statuses: CommitStatus[];
  /** `stackId change-set-name` → successful executeChangeSet calls. */
  executions: Map<string, number>;
  sleep: (ms: number) => Promise<void>;
}

const STALL_REASONS = new Set([
  'ManifestInvalid',
  'SourceInvalid',
  'DestructiveChangeBlocked',
  'PruneRefused',
  'OwnershipConflict',
  'StackFailed',
  'ChangeSetFailed',
  'CapabilityMissing',
  'TemplateTooLarge',
  'AccessDenied',
]);

const short = (sha: string | undefined): string => (sha ?? 'unknown').slice(0, 8);

/** The reconcile whose outcome stands: a repeated stall reports the stall of an earlier one (the stall memory). */
export function lastReported(reconciles: ReconcileRecord[]): ReconcileRecord | undefined {
  const final = reconciles[reconciles.length - 1];
  return final?.repeated ? [...reconciles].reverse().find((r) => r.outcome === 'stalled' && !r.repeated && r.commit === final.commit) : final;
}

/** Checked once the last commit's work is quiet, before anything else (the scheduled sweep) wakes the source. */
export async function checkOutcome(state: FinalState): Promise<string[]> {
  const violations: string[] = [];
  const desired = await loadDesired(await state.repo.snapshot(), SOURCE);
  const actual = await state.account.gateway().listStacks();
  const declared = new Set(desired.stacks.map((s) => s.stackName));
  const undeclared = actual.filter((a) => a.tags[OWNER_TAGS.source] === SOURCE && !declared.has(a.stackName) && conditionOf(a.status) !== 'gone');
  const last = lastReported(state.reconciles);
  const expect = state.scenario.expect;
  let expectConverged = false;
  if (!last) violations.push('no reconcile ever ran');
  else if (last.outcome === 'failed') violations.push(`the last reconcile failed and nothing retried it: ${last.summary}`);
  else if (last.commit !== state.head) violations.push(`the last reconcile was of commit ${short(last.commit)}, not the last commit ${short(state.head)}`);
  else if (last.outcome === 'stalled' && !STALL_REASONS.has(last.reason ?? '')) violations.push(`the last reconcile stalled with ${last.reason}, which is not a stall reason`);
  else if (last.outcome === 'stalled' && last.reason === 'PruneRefused') {
    const refusal = pruneRefusal(last.summary);
    if (!refusal.justified) violations.push(`the last reconcile stalled with PruneRefused, but ${refusal.why}: ${last.summary}`);
    if (undeclared.length === 0) violations.push(`the last reconcile stalled with PruneRefused, yet no undeclared owned stack is left: ${last.summary}`);
  } else if (expect.kind === 'stall') {
    if (last.outcome !== 'stalled' || last.reason !== expect.reason || !last.summary.includes(`stack ${expect.stack}:`)) {
      violations.push(`expected the last commit to stall with ${expect.reason} on stack ${expect.stack}, but the last reconcile was ${last.outcome}${last.reason ? ` (${last.reason})` : ''}: ${last.summary}`);
    } else if (!last.summary.includes(CANARY_TYPE) && !/ROLLBACK_FAILED/.test(last.summary)) {
      violations.push(`the last commit stalled on ${expect.stack}, but not for the injected ${CANARY_TYPE} failure: ${last.summary}`);
    }
  } else if (expect.kind === 'denied') {
    if (last.outcome !== 'stalled' || last.reason !== 'AccessDenied' || !last.summary.includes(`IAM refused ${expect.action}`)) {
      violations.push(`expected the last commit to stall with AccessDenied naming ${expect.action}, but the last reconcile was ${last.outcome}${last.reason ? ` (${last.reason})` : ''}: ${last.summary}`);
    }
  } else if (last.outcome !== 'succeeded') {
    violations.push(`expected the last commit to converge, but the last reconcile was ${last.outcome}${last.reason ? ` (${last.reason})` : ''}: ${last.summary}`);
  } else expectConverged = true;

  const reported = [...state.statuses].reverse().find((s) => s.commit === state.head);
  if (last?.outcome === 'succeeded' && reported?.state !== 'success') violations.push(`the last commit converged, but its commit status is ${reported ? `${reported.state} (${reported.description})` : 'never reported'}`);
  if (last?.outcome === 'stalled' && (reported?.state !== 'failure' || !reported.description.includes(last.reason ?? ''))) {
    violations.push(`the last commit stalled with ${last.reason}, but its commit status is ${reported ? `${reported.state} (${reported.description})` : 'never reported'}`);
  }

  if (expectConverged) {
    if (undeclared.length > 0) violations.push(`owned stacks the last commit does not declare were not pruned: ${undeclared.map((a) => `${a.stackName} (${a.status})`).join(', ')}`);
    violations.push(...(await freshStepFindsNothingToDo(state, desired)));
  }
  return violations;
}

/**
 * Checked after the scheduled sweep has come round once more: change sets a step cut short left
 * behind are removed by a stalled step or by the sweep, not on the ordinary path (which costs one
 * listing for an unchanged source). `outcome` is the reconcile that stood before the sweep.
 */
export async function checkLeftovers(state: FinalState, outcome: ReconcileRecord | undefined): Promise<string[]> {
  const violations: string[] = [];
  const gateway = state.account.gateway();
  const desired = await loadDesired(await state.repo.snapshot(), SOURCE);
  const actual = await gateway.listStacks();
  const owned = actual.filter((a) => a.tags[OWNER_TAGS.source] === SOURCE);
  const declared = new Set(desired.stacks.map((s) => s.stackName));

  // ---- no orphans, no duplicates ----
  const undeclared = owned.filter((a) => !declared.has(a.stackName) && conditionOf(a.status) !== 'gone');
  for (const a of actual) {
    // An empty stack a never-executed create left, and that cairn.yaml no longer declares, is prune's
    // to delete; prune comes once the rest of the commit is applied, so a stalled commit keeps it.
    const kept = outcome?.outcome === 'stalled' && undeclared.includes(a);
    if (a.status === 'REVIEW_IN_PROGRESS' && !kept) violations.push(`stack ${a.stackName} was left in REVIEW_IN_PROGRESS: a change set that created it was never executed or cleaned up`);
    const available = (await gateway.listChangeSets(a.stackName)).filter((c) => c.executionStatus === 'AVAILABLE');
    for (const c of available) violations.push(`change set ${c.changeSetName} on stack ${a.stackName} was left AVAILABLE (an orphan)`);
  }
  const claims = new Map<string, string[]>();
  for (const a of owned) {
    const id = a.tags[OWNER_TAGS.stack] ?? '(none)';
    claims.set(id, [...(claims.get(id) ?? []), a.stackName]);
  }
  for (const [id, names] of claims) if (names.length > 1) violations.push(`stacks ${names.join(' and ')} all claim cairn.yaml id ${id}`);
  for (const [key, n] of state.executions) {
    if (n > 1) violations.push(`change set ${key.split(' ')[1]} of stack ${key.split(' ')[0]!.split('/')[1] ?? key} was executed ${n} times: the same content applied twice`);
  }

  // ---- no message lost ----
  const depth = state.queue.depth();
  if (depth.visible > 0 || depth.inFlight > 0) violations.push(`the queue is not empty at the end: ${depth.visible} visible, ${depth.inFlight} in flight`);
  const dead = new Map(state.queue.deadLetters().map((d) => [d.messageId, d]));
  for (const d of dead.values()) {
    if (d.message.source !== POISON_SOURCE) {
      violations.push(`a ${d.message.kind} message (${d.message.dedupId}) for source ${d.message.source} reached the dead-letter queue after ${d.receiveCount} receives, though it was not poison`);
    }
  }
  for (const s of state.sent) {
    if (s.duplicate) continue;
    const poison = s.message.source === POISON_SOURCE;
    if (poison && !dead.has(s.messageId)) violations.push(`poison message ${s.message.dedupId} did not reach the dead-letter queue${state.deleted.has(s.messageId) ? ': it was deleted as if processed' : ''}`);
    if (!poison && !state.deleted.has(s.messageId) && !dead.has(s.messageId)) violations.push(`message ${s.message.kind} ${s.message.dedupId} was lost: never deleted after processing, not dead-lettered`);
  }
  return violations;
}

/**
 * Whether a PruneRefused stall follows from the guard's own figures. They are those of the step that
 * refused: a commit that adds stacks and removes others is judged before the new ones exist.
 */
function pruneRefusal(summary: string): { justified: boolean; why: string } {
  const m = /(\d+) of (\d+) owned stacks would be deleted, more than pruneMaxShare ([\d.]+) allows \((\d+)\)/.exec(summary);
  if (!m) return { justified: false, why: 'its message does not give the figures of the guard' };
  const [deleting, owned, share, allowed] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  if (allowed !== Math.max(1, Math.floor(owned * share))) return { justified: false, why: `${allowed} is not the share ${share} of ${owned}` };
  return deleting > allowed ? { justified: true, why: '' } : { justified: false, why: `${deleting} deletions are within the ${allowed} allowed` };
}

/** A new advance() over the quiet account must see every stack in sync and write nothing. */
async function freshStepFindsNothingToDo(state: FinalState, desired: DesiredState): Promise<string[]> {
  const writes = (): number => [...WRITE_OPERATIONS].reduce((n, op) => n + state.account.callCount(op), 0);
  const before = writes();
  const step = await advance(desired, { gateways: (r) => state.account.gateway(r), sink: nullSink, sleep: state.sleep, pollMs: 1000, changeSetWaitMs: 10_000 });
  const made = writes() - before;
  const out: string[] = [];
  if (step.outcome !== 'succeeded' || made > 0) {
    const pending = step.plan.stacks.filter((s) => s.action !== 'none' || s.waiting).map((s) => `${s.id}: ${s.action}${s.waiting ? ' (waiting)' : ''} (${s.reason})`);
    out.push(`a fresh step on the last commit was ${step.outcome} with ${made} write(s), not in sync: ${pending.join('; ') || step.summary}`);
  }
  return out;
}
