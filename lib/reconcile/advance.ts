/**
 * Advance a source one step toward its desired state, then return: start the change sets whose
 * dependencies are settled (independent stacks in parallel, within a bound), revert drift, prune
 * when everything else is in sync, and report what is under way. A step is a chain of sub-steps
 * with one signature over one shared state; every change set goes through the one runner
 * (run-change-set.ts). Never waits for a stack operation to finish, so a crash between any two
 * calls is repaired by the next step (names and tokens derive from content).
 */
import { sha256 } from '../core/canonical.js';
import { StalledError, type StallReason } from '../core/errors.js';
import { conditionOf } from '../core/health.js';
import type { ActualStack, DesiredStack, DesiredState, Plan, StackPlan } from '../core/model.js';
import { OWNER_TAGS } from '../core/model.js';
import { hasChanges, nothingToRevert, parametersNow, stackKey } from '../core/plan.js';
import { requestToken } from '../core/request-token.js';
import { summariseChanges } from '../core/protection.js';
import type { EventSink } from '../ports/events.js';
import type { Approval, ApprovalNotices, ApprovalPolicy, ApprovalState, ApprovalStore } from '../ports/approvals.js';
import { AccessDeniedError, InsufficientCapabilitiesError, type ChangeSetChange, type GatewayFactory, type StackGateway } from '../ports/stack-gateway.js';
import { CHANGE_SET_PREFIX, changeSetInput, changeSetName, revertInput } from './change-set.js';
import { planSource, type SourcePlan } from './plan-source.js';
import { runChangeSet, type ChangeSetRun, type OpResult } from './run-change-set.js';

export interface AdvanceOptions {
  gateways: GatewayFactory;
  sink: EventSink;
  /** Stacks of one wave started in parallel at most. */
  maxParallel?: number;
  /** How long to wait for CloudFormation to compute a change set before coming back later. */
  changeSetWaitMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Time left in this invocation; no new work starts when it is below `reserveMs`. */
  remainingMs?: () => number;
  reserveMs?: number;
  /** When the push that triggered this work reached Cairn, for push-to-apply latency. */
  receivedAt?: string;
  /** The CloudFormation service role for stacks whose entry in cairn.yaml names none (the source's deployer role). */
  defaultRoleArn?: string;
  /** Compare the live templates of up to this many in-sync stacks with the repository (sweeps). */
  verifyTemplates?: number;
  /**
   * Names of drift-revert change sets already tried by this process: a detection whose revert came
   * out empty is not tried again until the next detection.
   */
  revertsTried?: Set<string>;
  /**
   * Stack ids whose failed attempt at this very content may be tried once more (`cairn apply
   * --retry`); each id is removed when its retry starts, so a second failure stalls.
   */
  retry?: Set<string>;
  /**
   * Asked before each operation starts (a change set executed, a stack deleted); when it answers
   * false the operation does not start, its change set is deleted, no further work starts, and the
   * step throws DeclinedError. `cairn apply` uses it to run only what it showed, and to show and ask
   * again when the account moved since.
   */
  confirm?: (request: ConfirmRequest) => Promise<boolean>;
  /** Make and read change sets with property values (old → new), for showing them. */
  propertyValues?: boolean;
  /** An emergency: apply even what a change window holds (each override is logged as a warning). */
  overrideWindows?: boolean;
  /** The time change windows are judged at (default: the clock). */
  now?: () => number;
  /**
   * Where a person's approvals are kept: with it, a stack whose `approval` policy asks for one keeps
   * its change set, reports it as awaiting approval, and executes it only once approved. Without it
   * (`cairn apply`, where the person running it answers), no approval is looked for.
   */
  approvals?: ApprovalStore;
  /** Where a stack's wait for approval is announced with its change set (once per change set). */
  approvalNotices?: ApprovalNotices;
}

/** One operation about to start, as `AdvanceOptions.confirm` is asked about it. */
export interface ConfirmRequest {
  stack: string;
  stackName: string;
  region: string | undefined;
  action: 'create' | 'update' | 'adopt' | 'revert-drift' | 'delete' | 'recreate';
  /** The change set to execute (absent for deletes). */
  changeSetName?: string;
  changes?: ChangeSetChange[];
}

const PLANNED_AS: Record<ConfirmRequest['action'], StackPlan['action']> = {
  create: 'create',
  recreate: 'create',
  update: 'update',
  adopt: 'update',
  'revert-drift': 'revert',
  delete: 'delete',
};

/**
 * Why an operation about to start is not what the plan showed, or undefined when it is: the same
 * action, and for an update or revert previewed as a kept change set, that very change set (a new
 * name means the stack changed in CloudFormation since). A stack the plan said may change once its
 * dependencies' outputs are known is expected to.
 */
export function movedSincePlan(planned: readonly StackPlan[], request: ConfirmRequest): string | undefined {
  const p = planned.find((s) => s.id === request.stack && (request.action === 'delete') === (s.action === 'delete'));
  if (!p) return `stack ${request.stack} was not in the plan`;
  const expected = PLANNED_AS[request.action];
  if (p.action !== expected) {
    if (p.action === 'none' && p.mayChangeAfter && expected === 'update') return undefined;
    return `stack ${request.stack} was planned as ${p.action === 'none' ? 'no change' : p.action}, and would now ${request.action}`;
  }
  if (p.changeSetName && request.changeSetName !== p.changeSetName) return `stack ${request.stack} changed in CloudFormation after the plan, so its change set is a new one`;
  return undefined;
}

/** The confirm hook said no: nothing more was started. */
export class DeclinedError extends Error {
  override name = 'DeclinedError';
  constructor(readonly stackId: string) {
    super(`not applied: the change to stack ${stackId} was declined; operations already started go on in CloudFormation`);
  }
}

export interface StepCounts {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

interface StepBase {
  plan: Plan;
  /** CloudFormation status of each planned stack (by id) when the step began. */
  statuses: Record<string, string>;
  summary: string;
}

export type StepResult =
  | (StepBase & { outcome: 'succeeded'; counts: StepCounts })
  | (StepBase & {
      outcome: 'progressing';
      started: string[];
      deleting: string[];
      waitingOn: string[];
      /** Stacks a change window holds: planned and reported, applied once the window allows. */
      held: string[];
      retryAfterSeconds: number;
    })
  | (StepBase & { outcome: 'stalled'; started: string[]; error: StalledError; stalls: StalledError[] });

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * What one step knows and has done so far; each sub-step reads it and adds to it. The sub-steps run
 * in a fixed order (a chain, as Flux's reconcilers are built), each with the same signature.
 */
interface Step {
  desired: DesiredState;
  options: AdvanceOptions;
  sp: SourcePlan;
  plan: Plan;
  base: { source: string; commit: string };
  desiredById: Map<string, DesiredStack>;
  actualOf(s: { region: string | undefined; stackName: string }): ActualStack | undefined;
  stalls: StalledError[];
  started: string[];
  deleting: string[];
  waitingOn: string[];
  held: string[];
  declined: string | undefined;
  /** Whether new work may start: time is left and nothing was declined. */
  timeLeft(): boolean;
  /** Whether the operation may start; a no remembers the stack and stops all further work of this step. */
  confirmed(request: ConfirmRequest): Promise<boolean>;
}

type SubStep = (step: Step) => Promise<void>;

/** The sub-steps of one step, in order. */
const SUB_STEPS: readonly SubStep[] = [forgetTriedReverts, holdForWindows, reportBlockedAndBusy, keepTerminationProtection, startReadyStacks, revertDriftedStacks, pruneNext, removeLeftoverChangeSets];

export async function advance(desired: DesiredState, options: AdvanceOptions): Promise<StepResult> {
  const sp = await planSource(desired, {
    gateways: options.gateways,
    verifyTemplates: options.verifyTemplates ?? 0,
    windowsAt: options.now?.() ?? Date.now(),
    ...(options.retry ? { retry: options.retry } : {}),
  });
  const actualByKey = new Map(sp.actual.map((a) => [stackKey(a.region, a.stackName, sp.defaultRegion), a]));
  const step: Step = {
    desired,
    options,
    sp,
    plan: sp.plan,
    base: { source: desired.source, commit: desired.commit },
    desiredById: new Map(desired.stacks.map((s) => [s.id, s])),
    actualOf: (s) => actualByKey.get(stackKey(s.region, s.stackName, sp.defaultRegion)),
    stalls: [],
    started: [],
    deleting: [],
    waitingOn: [],
    held: [],
    declined: undefined,
    timeLeft: () => step.declined === undefined && (!options.remainingMs || options.remainingMs() > (options.reserveMs ?? 20_000)),
    confirmed: async (request) => {
      if (!options.confirm || (await options.confirm(request))) return true;
      step.declined ??= request.stack;
      return false;
    },
  };
  for (const sub of SUB_STEPS) await sub(step);
  return outcomeOf(step);
}

/** What the step came to: stalled, progressing (work under way or still to start), or succeeded. */
function outcomeOf(step: Step): StepResult {
  const { plan, desired, sp, stalls, started, waitingOn } = step;
  if (step.declined !== undefined) throw new DeclinedError(step.declined);
  const summary = summarise(plan, desired, sp.actual, started, waitingOn, stalls, step.held);
  const statuses = Object.fromEntries(plan.stacks.map((s) => [s.id, step.actualOf(s)?.status ?? 'NOT_DEPLOYED']));
  if (stalls.length > 0) {
    const error = stalls.length === 1 ? stalls[0]! : new StalledError(stalls[0]!.reason as StallReason, stalls.map((e) => e.message).join('; '), { stackId: stalls[0]!.stackId, hint: stalls[0]!.hint });
    return { outcome: 'stalled', plan, statuses, started, error, stalls, summary };
  }
  if (started.length > 0 || waitingOn.length > 0 || plan.changes) {
    // Held and nothing else under way: come back when the first window ends (within the queue's bound).
    const ends = plan.stacks.flatMap((s) => (s.held?.until ? [Date.parse(s.held.until)] : []));
    const now = step.options.now?.() ?? Date.now();
    const retryAfterSeconds =
      started.length === 0 && waitingOn.length === 0 && step.held.length > 0 ? Math.min(300, Math.max(10, Math.ceil(((ends.length ? Math.min(...ends) : now + 300_000) - now) / 1000))) : 10;
    return { outcome: 'progressing', plan, statuses, started, deleting: step.deleting, waitingOn, held: step.held, retryAfterSeconds, summary };
  }
  return { outcome: 'succeeded', plan, statuses, counts: countApplied(desired, sp.actual, plan), summary };
}

/**
 * A revert this process already tried, which CloudFormation could not carry out, is not tried
 * again until the next detection: the stack stays reported as drifted, with nothing to do.
 */
async function forgetTriedReverts(step: Step): Promise<void> {
  for (const s of step.plan.stacks) {
    const a = step.actualOf(s);
    if (s.action === 'revert' && a && step.options.revertsTried?.has(revertName(s, a))) nothingToRevert(s);
  }
  step.plan.changes = hasChanges(step.plan.stacks);
}

/** Whether a policy asks a person before these changes run. */
export function needsApproval(policy: ApprovalPolicy, action: string, changes: readonly ChangeSetChange[]): boolean {
  switch (policy) {
    case 'auto':
      return false;
    case 'manual':
      return true;
    case 'manual-on-replace':
      return changes.some((c) => c.replacement === 'True' || c.replacement === 'Conditional');
    case 'manual-on-delete':
      return action === 'delete' || changes.some((c) => c.action === 'Remove');
  }
}

/**
 * The approval gate: `go` when no approval is needed or one was given for this very change set at
 * this commit (logged with who and when); `hold` while none is given (the change set is kept and
 * reported as awaiting approval); a rejection removes the change set and stalls the commit.
 */
async function approvalGate(step: Step, s: StackPlan, policy: ApprovalPolicy, changeSetName: string, action: string, changes: readonly ChangeSetChange[], gateway?: StackGateway): Promise<'go' | 'hold'> {
  const store = step.options.approvals;
  if (!store || !needsApproval(policy, action, changes)) return 'go';
  const { sink } = step.options;
  if (store.unavailable) {
    if (changeSetName !== 'delete' && gateway) await gateway.deleteChangeSet(s.stackName, changeSetName);
    throw new StalledError('ApprovalUnavailable', `stack ${s.id}: \`approval: ${policy}\` asks for a person's approval of its ${action}, which ${store.unavailable}`, {
      stackId: s.id,
      hint: 'set `approval: auto` for this stack, or apply this commit with `cairn apply` (the person running it approves)',
    });
  }
  const source = step.desired.source;
  const commit = step.desired.commit;
  // Two reads (two S3 GETs on AWS) that do not depend on each other.
  const [found, previous] = await Promise.all([store.get(source, s.id, changeSetName), store.getState(source, s.id)]);
  const approval = found && found.commit === commit ? found : undefined;
  const same = previous?.changeSetName === changeSetName && previous.commit === commit;
  const what = changes.length ? summariseChanges([...changes]) : undefined;
  const state = (next: ApprovalState['state'], decision?: Approval): ApprovalState => ({
    source,
    stack: s.id,
    state: next,
    changeSetName,
    commit,
    action,
    ...(what ? { summary: what } : {}),
    since: same && previous.state === next ? previous.since : new Date(step.options.now?.() ?? Date.now()).toISOString(),
    ...(decision ? { decision } : {}),
  });
  if (approval?.decision === 'approved') {
    await store.putState(state('approved', approval));
    sink.emit({ ...step.base, type: 'log', level: 'info', stack: s.id, message: `${action} of ${s.id} (change set ${changeSetName}) approved by ${approval.by} at ${approval.at}${approval.via ? ` (${approval.via})` : ''}` });
    return 'go';
  }
  if (approval?.decision === 'rejected') {
    await store.putState(state('rejected', approval));
    if (changeSetName !== 'delete' && gateway) await gateway.deleteChangeSet(s.stackName, changeSetName);
    throw new StalledError('ApprovalRejected', `stack ${s.id}: ${approval.by} rejected its ${action} (change set ${changeSetName}) at ${approval.at}`, {
      stackId: s.id,
      hint: 'push a new commit with the change you want; it needs its own approval',
    });
  }
  const message = `awaiting approval (${policy}) of ${action === 'delete' ? 'its deletion' : `change set ${changeSetName}`}${what ? `: ${what}` : ''}; approve with \`cairn approve ${s.id}\` or a \`/cairn approve ${s.id}\` comment on the commit, or reject the same way`;
  s.held = { window: 'approval', until: undefined, message };
  // Said once per change set: every later step that finds it still waiting stays quiet in the log
  // (the commit status keeps saying it).
  if (!(same && previous.state === 'awaiting')) {
    await store.putState(state('awaiting'));
    sink.emit({ ...step.base, type: 'log', level: 'info', stack: s.id, message });
    const notices = step.options.approvalNotices;
    if (notices) {
      await notices.awaiting(commit, awaitingNotice(source, s.id, policy, action, changeSetName, commit, changes)).catch((error: unknown) =>
        sink.emit({ ...step.base, type: 'log', level: 'warn', stack: s.id, message: `the awaiting-approval notice was not posted on the commit: ${error instanceof Error ? error.message : String(error)}` }),
      );
    }
  }
  return 'hold';
}

/** The notice on the commit: what the change set would do, resource by resource, and how to decide. */
export function awaitingNotice(source: string, stack: string, policy: ApprovalPolicy, action: string, changeSetName: string, commit: string, changes: readonly ChangeSetChange[]): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');
  const what = action === 'delete' ? `the deletion of stack \`${stack}\`` : `change set \`${changeSetName}\` of stack \`${stack}\``;
  const lines = [`**Cairn** (source \`${source}\`): ${what} at ${commit.slice(0, 7)} awaits approval (\`approval: ${policy}\`).`, ''];
  if (changes.length > 0) {
    lines.push(`${summariseChanges([...changes])}:`, '', '| Change | Resource | Type | Replacement | Properties |', '|---|---|---|---|---|');
    for (const c of changes.slice(0, 50)) {
      lines.push(`| ${c.action} | \`${cell(c.logicalId)}\` | ${cell(c.resourceType)} | ${c.replacement ?? ''} | ${cell(c.properties.join(', '))} |`);
    }
    if (changes.length > 50) lines.push('', `… and ${changes.length - 50} more changes (\`cairn status\` and the logs show them all).`);
    lines.push('');
  }
  lines.push(`Comment \`/cairn approve ${stack}\` here to execute it, or \`/cairn reject ${stack}\` to drop it (write access needed); or run \`cairn approve ${stack}\`. A newer commit needs its own approval.`);
  return lines.join('\n');
}

/**
 * What a change window holds now is planned and reported, not started; with the override it runs,
 * and each override is logged.
 */
async function holdForWindows(step: Step): Promise<void> {
  for (const s of step.plan.stacks) {
    if (!s.held) continue;
    if (step.options.overrideWindows) {
      step.options.sink.emit({ ...step.base, type: 'log', level: 'warn', stack: s.id, message: `change window overridden: ${s.held.message}, applied anyway (--override)` });
      delete s.held;
      continue;
    }
    step.held.push(s.id);
    step.options.sink.emit({ ...step.base, type: 'log', level: 'info', stack: s.id, message: `${s.action === 'delete' ? 'prune' : s.action} ${s.held.message}` });
  }
}

/** Blocked stacks become stalls (a failed create names the resource that failed); busy ones are waited on. */
async function reportBlockedAndBusy(step: Step): Promise<void> {
  for (const s of step.plan.stacks) {
    if (s.action === 'blocked') {
      const a = step.actualOf(s);
      if (s.blockedBy === 'StackFailed' && a && conditionOf(a.status) === 'recreate') {
        const why = await failureReason(step.sp.gatewayFor(s.region), s.stackName);
        step.stalls.push(
          new StalledError('StackFailed', `stack ${s.id}: creating it with this content failed and CloudFormation rolled it back (${a.status}): ${why}`, {
            stackId: s.id,
            hint: RETRY_HINT,
          }),
        );
      } else step.stalls.push(new StalledError(stallReasonOf(s), `stack ${s.id}: ${s.reason}`, { stackId: s.id }));
    }
    if (s.waiting) {
      step.waitingOn.push(s.id);
      step.options.sink.emit({ ...step.base, type: 'stack.waiting', stack: s.id, stackName: s.stackName, status: step.actualOf(s)?.status ?? 'unknown' });
    }
  }
}

const RETRY_HINT = 'fix the template or parameters and push a new commit, or retry this commit with `cairn apply --retry` once the cause outside the template is fixed';

/** Keep termination protection as declared for stacks whose content is already in sync. */
async function keepTerminationProtection(step: Step): Promise<void> {
  for (const s of step.plan.stacks) {
    const d = step.desiredById.get(s.id);
    const a = step.actualOf(s);
    if (s.action === 'none' && d && a && !s.waiting && conditionOf(a.status) === 'stable' && a.terminationProtection !== d.terminationProtection && a.tags[OWNER_TAGS.source]) {
      await step.sp.gatewayFor(s.region).updateTerminationProtection(s.stackName, d.terminationProtection);
    }
  }
}

/** Start every create and update whose dependencies are settled, a bounded number at a time. */
async function startReadyStacks(step: Step): Promise<void> {
  const planById = new Map(step.plan.stacks.filter((s) => s.action !== 'delete').map((s) => [s.id, s]));
  const settled = (id: string): boolean => {
    const p = planById.get(id);
    return p !== undefined && p.action === 'none' && !p.waiting;
  };
  const ready = step.plan.stacks.filter((s) => (s.action === 'create' || s.action === 'update') && !s.waiting && !s.held && step.desiredById.get(s.id)!.dependsOn.every(settled));
  await inParallel(ready, step.options.maxParallel ?? 4, async (s) => {
    if (!step.timeLeft()) return;
    try {
      const r = await startStack(step, s, step.desiredById.get(s.id)!, step.actualOf(s), step.sp.gatewayFor(s.region));
      if (r === 'started') step.started.push(s.id);
      else if (r === 'waiting') step.waitingOn.push(s.id);
      else if (r === 'held') step.held.push(s.id);
    } catch (error) {
      if (error instanceof StalledError) step.stalls.push(error);
      else if (error instanceof AccessDeniedError) step.stalls.push(error.toStall(s.id));
      else throw error;
    }
  });
}

/** Revert the drift of stacks planned as reverts; one CloudFormation cannot revert stays reported as drift. */
async function revertDriftedStacks(step: Step): Promise<void> {
  const drifted = step.plan.stacks.filter((s) => s.action === 'revert' && !s.held && step.actualOf(s) !== undefined);
  await inParallel(drifted, step.options.maxParallel ?? 4, async (s) => {
    if (!step.timeLeft()) return;
    try {
      const r = await revertDrift(step, s, step.desiredById.get(s.id)!, step.actualOf(s)!, step.sp.gatewayFor(s.region));
      if (r === 'started') step.started.push(s.id);
      else if (r === 'waiting') step.waitingOn.push(s.id);
      else if (r === 'held') step.held.push(s.id);
      else nothingToRevert(s);
    } catch (error) {
      if (error instanceof StalledError) step.stalls.push(error);
      else if (error instanceof AccessDeniedError) step.stalls.push(error.toStall(s.id));
      else throw error;
    }
  });
  step.plan.changes = hasChanges(step.plan.stacks);
}

/** Once everything else is in sync, delete the next removed stack (one per step, newest first). */
async function pruneNext(step: Step): Promise<void> {
  const { plan } = step;
  const pendingApply = plan.stacks.some((s) => s.action !== 'delete' && s.action !== 'blocked' && (s.action !== 'none' || s.waiting));
  if (pendingApply || step.stalls.length > 0 || !step.timeLeft()) return;
  const next = plan.stacks.find((s) => s.action === 'delete');
  if (!next || next.held) return;
  if (next.waiting) {
    step.waitingOn.push(next.id);
    return;
  }
  const a = step.actualOf(next)!;
  const gate = await approvalGate(step, next, step.desired.approval, 'delete', 'delete', []);
  if (gate === 'hold') {
    step.held.push(next.id);
    return;
  }
  if (!(await step.confirmed({ stack: next.id, stackName: next.stackName, region: next.region, action: 'delete' }))) return;
  // Deleted through the role it was deployed with, as CloudFormation deletes resources with the
  // caller's credentials otherwise (and the reconciler has no rights of its own on them).
  await step.sp.gatewayFor(next.region).deleteStack(next.stackName, { clientToken: requestToken(`cairn-delete-${sha256(a.stackId).slice(0, 24)}`, step.desired.source), roleArn: a.roleArn });
  step.options.sink.emit({ ...step.base, type: 'stack.action', stack: next.id, stackName: next.stackName, action: 'delete', summary: next.reason });
  step.started.push(next.id);
  step.deleting.push(next.id);
}

/**
 * A commit applied or stalled: nothing of it is left to run, so no change set of this source should be
 * left to execute. Looking costs a call per owned stack, so it is done when a step stalls and on the
 * sweep's deeper checks, never on the ordinary path where an unchanged source costs one listing.
 */
async function removeLeftoverChangeSets(step: Step): Promise<void> {
  const { sp, desired, options } = step;
  const deepCheck = (options.verifyTemplates ?? 0) > 0;
  if (!((step.stalls.length > 0 || (deepCheck && step.started.length === 0 && step.waitingOn.length === 0 && !step.plan.changes)) && step.timeLeft())) return;
  const owned = sp.actual.filter((a) => a.tags[OWNER_TAGS.source] === desired.source);
  const declared = new Set(desired.stacks.map((d) => stackKey(d.region, d.stackName, sp.defaultRegion)));
  await inParallel(owned, options.maxParallel ?? 4, (a) => removeOrphanedChangeSets(sp.gatewayFor(a.region), a, declared.has(stackKey(a.region, a.stackName, sp.defaultRegion))));
}

function runTiming(options: AdvanceOptions): ChangeSetRun['timing'] {
  return {
    waitMs: options.changeSetWaitMs ?? 30_000,
    pollMs: options.pollMs ?? 1_000,
    sleep: options.sleep ?? defaultSleep,
    ...(options.propertyValues ? { describeValues: true } : {}),
  };
}

async function revertDrift(step: Step, s: StackPlan, d: DesiredStack, actual: ActualStack, gateway: StackGateway): Promise<OpResult> {
  const { options, desired, base } = step;
  const name = revertName(s, actual);
  options.revertsTried?.add(name);
  const drifts = await gateway.listResourceDrifts(s.stackName);
  if (drifts.length === 0) return 'unchanged';
  const cannot = (reverted: Set<string>): void => {
    for (const r of drifts.filter((x) => !reverted.has(x.logicalId))) {
      options.sink.emit({
        ...base,
        type: 'log',
        level: 'warn',
        stack: s.id,
        message: `${r.logicalId} (${r.resourceType}) drifted (${r.status}) but CloudFormation cannot revert it with a drift-aware change set; it stays reported as drift: change it back by hand or re-create it through the template`,
      });
    }
  };
  return runChangeSet({
    stack: s.id,
    stackName: s.stackName,
    gateway,
    input: {
      ...revertInput(d, actual, { changeSetName: name, parameters: parametersNow(d, step.desiredById, step.actualOf).values, defaultRoleArn: options.defaultRoleArn }),
      ...(options.propertyValues ? { includePropertyValues: true } : {}),
    },
    stackExists: true,
    protectedTypes: desired.protectedTypes,
    allowDestructive: d.allowDestructive,
    refused: (reason) =>
      new StalledError('ChangeSetFailed', `stack ${s.id}: CloudFormation refused to revert its drift: ${reason}`, {
        stackId: s.id,
        hint: 'put the drifted resources back by hand, or set `drift: alert` for this stack in cairn.yaml',
      }),
    blockedWording: (message, hint) => ({
      message: message.replace('destructive change blocked', 'drift revert blocked'),
      hint: `${hint}; or set \`drift: alert\` for this stack and repair the drift by hand`,
    }),
    onEmpty: () => cannot(new Set()),
    onReady: (changes) => cannot(new Set(changes.map((c) => c.logicalId))),
    confirm: async (changes) => {
      if ((await approvalGate(step, s, d.approval, name, 'revert-drift', changes, gateway)) === 'hold') return 'hold';
      return step.confirmed({ stack: s.id, stackName: s.stackName, region: s.region, action: 'revert-drift', changeSetName: name, changes });
    },
    startedEvent: (changes) => ({
      ...base,
      type: 'stack.action',
      stack: s.id,
      stackName: s.stackName,
      action: 'revert-drift',
      summary: `reverting ${changes.length} drifted resource${changes.length === 1 ? '' : 's'} (${changes.map((c) => c.logicalId).join(', ')})`,
    }),
    base,
    sink: options.sink,
    timing: runTiming(options),
  });
}

async function startStack(step: Step, s: StackPlan, d: DesiredStack, actual: ActualStack | undefined, gateway: StackGateway): Promise<OpResult> {
  const { options, desired, base } = step;
  const hash = s.desiredHash!;
  const exists = actual !== undefined && conditionOf(actual.status) !== 'gone';
  const inReview = exists && conditionOf(actual!.status) === 'review';
  const name = changeSetName(hash, exists && !inReview ? (actual!.updatedAt ?? actual!.createdAt) : undefined);
  if (s.recreate && actual) {
    // The planner blocks a failed create of this same content unless it may be retried; this is that retry.
    if (!(await step.confirmed({ stack: s.id, stackName: s.stackName, region: s.region, action: 'recreate' }))) return 'declined';
    options.retry?.delete(s.id);
    await gateway.deleteStack(s.stackName, { clientToken: requestToken(`cairn-recreate-${sha256(actual.stackId).slice(0, 24)}`, desired.source), roleArn: d.roleArn ?? options.defaultRoleArn });
    options.sink.emit({ ...base, type: 'stack.action', stack: s.id, stackName: s.stackName, action: 'recreate', summary: `deleting the empty stack a failed create left in ${actual.status}; it is created again next` });
    return 'started';
  }
  if (actual && actual.status === 'UPDATE_ROLLBACK_COMPLETE') {
    const failed = await lastFailedAttempt(gateway, s.stackName);
    if (failed?.token?.startsWith(`${CHANGE_SET_PREFIX}${hash.slice(0, 24)}-`) && !options.retry?.delete(s.id)) {
      throw new StalledError('StackFailed', `stack ${s.id}: updating it to this content failed and CloudFormation rolled it back: ${failed.reason}`, { stackId: s.id, hint: RETRY_HINT });
    }
  }
  if (exists) await removeStaleChangeSets(gateway, s.stackName, name);
  const changeSetType = exists && !inReview ? 'UPDATE' : 'CREATE';
  const action = changeSetType === 'CREATE' ? 'create' : actual?.tags[OWNER_TAGS.source] ? 'update' : 'adopt';
  try {
    return await runChangeSet({
      stack: s.id,
      stackName: s.stackName,
      gateway,
      input: {
        ...changeSetInput(desired, d, { stackName: s.stackName, changeSetName: name, changeSetType, parameters: parametersNow(d, step.desiredById, step.actualOf).values, hash, defaultRoleArn: options.defaultRoleArn }),
        ...(options.propertyValues ? { includePropertyValues: true } : {}),
      },
      stackExists: exists,
      protectedTypes: desired.protectedTypes,
      allowDestructive: d.allowDestructive,
      refused: (reason) =>
        new StalledError('ChangeSetFailed', `stack ${s.id}: CloudFormation refused the change set: ${reason}`, {
          stackId: s.id,
          hint: `fix ${d.templateFile} or the parameters in cairn.yaml and push a new commit`,
        }),
      // A refused or blocked CREATE leaves an empty stack in REVIEW_IN_PROGRESS: remove it so nothing half-made remains.
      ...(changeSetType === 'CREATE' ? { afterDiscard: () => cleanUpReview(gateway, s.stackName) } : {}),
      emptyEvent: { ...base, type: 'changeset.empty', stack: s.id, stackName: s.stackName },
      confirm: async (changes) => {
        if ((await approvalGate(step, s, d.approval, name, action, changes, gateway)) === 'hold') return 'hold';
        return step.confirmed({ stack: s.id, stackName: s.stackName, region: s.region, action, changeSetName: name, changes });
      },
      beforeExecute: async () => {
        if (changeSetType === 'CREATE' && d.terminationProtection) await gateway.updateTerminationProtection(s.stackName, true);
        else if (exists && actual!.terminationProtection !== d.terminationProtection) await gateway.updateTerminationProtection(s.stackName, d.terminationProtection);
      },
      startedEvent: (changes) => ({
        ...base,
        type: 'stack.action',
        stack: s.id,
        stackName: s.stackName,
        action,
        summary: summariseChanges(changes),
        ...(options.receivedAt ? { pushToApplyMs: Math.max(0, Date.now() - Date.parse(options.receivedAt)) } : {}),
      }),
      base,
      sink: options.sink,
      timing: runTiming(options),
    });
  } catch (error) {
    if (error instanceof InsufficientCapabilitiesError) {
      const caps = error.capabilities.length ? error.capabilities : ['CAPABILITY_IAM'];
      throw new StalledError('CapabilityMissing', `stack ${s.id}: its template needs ${caps.join(' and ')}, which cairn.yaml does not acknowledge`, {
        stackId: s.id,
        hint: `add \`capabilities: [${[...new Set([...d.capabilities, ...caps])].join(', ')}]\` to stacks.${s.id} (or to defaults) in cairn.yaml`,
        cause: error,
      });
    }
    throw error;
  }
}

/** One revert per detection: the name carries the detection's time. */
function revertName(s: StackPlan, a: ActualStack): string {
  return changeSetName(s.desiredHash!, a.driftCheckedAt, 'revert');
}

function stallReasonOf(s: StackPlan): StallReason {
  switch (s.blockedBy) {
    case 'OwnershipConflict':
      return 'OwnershipConflict';
    case 'PruneRefused':
      return 'PruneRefused';
    case 'ManifestInvalid':
      return 'ManifestInvalid';
    case 'DestructiveChangeBlocked':
    case 'ChangeSetFailed':
    case 'CapabilityMissing':
      return s.blockedBy;
    default:
      return 'StackFailed';
  }
}

/** Cairn's change sets on this stack other than the current one are leftovers of superseded commits. */
async function removeStaleChangeSets(gateway: StackGateway, stackName: string, keep: string): Promise<void> {
  const sets = await gateway.listChangeSets(stackName);
  for (const cs of sets) {
    if (cs.changeSetName === keep || !cs.changeSetName.startsWith(CHANGE_SET_PREFIX)) continue;
    if (cs.executionStatus === 'EXECUTE_IN_PROGRESS') continue;
    await gateway.deleteChangeSet(stackName, cs.changeSetName);
  }
}

/**
 * Change sets Cairn made and never executed: a step cut short between creating one and executing it
 * (a crash, a timeout) leaves it behind, and once the head has moved on nothing looks at that stack's
 * change sets again. Remove them, and the empty stack a never-executed create left in
 * REVIEW_IN_PROGRESS when cairn.yaml still declares it (it is created afresh when the commit
 * resumes); one it no longer declares is prune's to delete, under prune's guard.
 */
async function removeOrphanedChangeSets(gateway: StackGateway, a: ActualStack, declared: boolean): Promise<void> {
  const condition = conditionOf(a.status);
  if (condition === 'gone' || condition === 'busy') return;
  const sets = await gateway.listChangeSets(a.stackName);
  for (const cs of sets) {
    const executable = cs.executionStatus === 'AVAILABLE' || cs.status === 'CREATE_PENDING' || cs.status === 'CREATE_IN_PROGRESS';
    if (executable && cs.changeSetName.startsWith(CHANGE_SET_PREFIX)) await gateway.deleteChangeSet(a.stackName, cs.changeSetName);
  }
  if (condition === 'review' && declared) await cleanUpReview(gateway, a.stackName);
}

/** A refused CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS; remove it so nothing half-made remains. */
async function cleanUpReview(gateway: StackGateway, stackName: string): Promise<void> {
  const a = await gateway.describeStack(stackName);
  if (a?.status === 'REVIEW_IN_PROGRESS') {
    const others = await gateway.listChangeSets(stackName);
    if (others.length === 0) await gateway.deleteStack(stackName, { clientToken: requestToken(`cairn-cleanup-${sha256(a.stackId).slice(0, 24)}`, a.tags[OWNER_TAGS.source] ?? ''), roleArn: a.roleArn });
  }
}

/** The last operation that rolled back: its token and the first resource failure reason. */
async function lastFailedAttempt(gateway: StackGateway, stackName: string): Promise<{ token: string | undefined; reason: string } | undefined> {
  const events = await gateway.listStackEvents(stackName, 100);
  const rollback = events.find((e) => e.logicalId === stackName && /ROLLBACK_IN_PROGRESS$/.test(e.status));
  if (!rollback) return undefined;
  const token = rollback.clientRequestToken;
  const failure = events.filter((e) => e.status.endsWith('_FAILED') && e.statusReason && (!token || e.clientRequestToken === token)).pop();
  return { token, reason: failure ? `${failure.logicalId} (${failure.resourceType}): ${failure.statusReason}` : (rollback.statusReason ?? 'no reason given') };
}

async function failureReason(gateway: StackGateway, stackName: string): Promise<string> {
  const events = await gateway.listStackEvents(stackName, 100);
  const failure = events.filter((e) => e.status.endsWith('_FAILED') && e.statusReason).pop();
  return failure ? `${failure.logicalId} (${failure.resourceType}): ${failure.statusReason}` : 'see the stack events';
}

function countApplied(desired: DesiredState, actual: ActualStack[], plan: Plan): StepCounts {
  const counts: StepCounts = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
  const names = new Set(plan.stacks.filter((s) => s.action === 'none').map((s) => s.stackName));
  for (const a of actual) {
    if (!names.has(a.stackName) || a.tags[OWNER_TAGS.source] !== desired.source) continue;
    if (a.tags[OWNER_TAGS.commit] !== desired.commit) counts.unchanged++;
    else if (a.updatedAt) counts.updated++;
    else counts.created++;
  }
  return counts;
}

function summarise(plan: Plan, desired: DesiredState, actual: ActualStack[], started: string[], waitingOn: string[], stalls: StalledError[], held: string[]): string {
  if (stalls.length > 0) return stalls[0]!.message;
  if (started.length > 0 || waitingOn.length > 0 || held.length > 0) {
    const parts = [];
    if (started.length) parts.push(`started ${started.join(', ')}`);
    if (waitingOn.length) parts.push(`waiting on ${waitingOn.join(', ')}`);
    for (const s of plan.stacks.filter((p) => p.held && held.includes(p.id))) parts.push(`${s.id} ${s.held!.message}`);
    return parts.join('; ');
  }
  if (plan.changes) return 'waiting for dependencies';
  const c = countApplied(desired, actual, plan);
  return describeCounts(c);
}

export function describeCounts(c: StepCounts): string {
  const parts: string[] = [];
  const add = (n: number, verb: string): void => {
    if (n > 0 || verb === 'unchanged') parts.push(parts.length === 0 ? `${n} stack${n === 1 ? '' : 's'} ${verb}` : `${n} ${verb}`);
  };
  add(c.created, 'created');
  add(c.updated, 'updated');
  add(c.deleted, 'deleted');
  add(c.unchanged, 'unchanged');
  return parts.join(', ');
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
