/**
 * Advance a source one step toward its desired state, then return: start the change sets whose
 * dependencies are settled (independent stacks in parallel, within a bound), prune when everything
 * else is in sync, and report what is under way. Never waits for a stack operation to finish, so
 * a crash between any two calls is repaired by the next step (names and tokens derive from content).
 */
import { sha256 } from '../core/canonical.js';
import { StalledError, WaitingError, type StallReason } from '../core/errors.js';
import { conditionOf } from '../core/health.js';
import type { ActualStack, DesiredStack, DesiredState, Plan, StackPlan } from '../core/model.js';
import { OWNER_TAGS } from '../core/model.js';
import { parametersNow, stackKey } from '../core/plan.js';
import { requestToken } from '../core/request-token.js';
import { describeDestructive, destructiveChanges, summariseChanges } from '../core/protection.js';
import type { EventSink } from '../ports/events.js';
import { AccessDeniedError, InsufficientCapabilitiesError, type GatewayFactory, type StackGateway } from '../ports/stack-gateway.js';
import { CHANGE_SET_PREFIX, changeSetInput, changeSetName, ensureChangeSet } from './change-set.js';
import { planSource } from './plan-source.js';

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
  | (StepBase & { outcome: 'progressing'; started: string[]; deleting: string[]; waitingOn: string[]; retryAfterSeconds: number })
  | (StepBase & { outcome: 'stalled'; started: string[]; error: StalledError; stalls: StalledError[] });

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type OpResult = 'started' | 'unchanged' | 'waiting';

export async function advance(desired: DesiredState, options: AdvanceOptions): Promise<StepResult> {
  const sink = options.sink;
  const base = { source: desired.source, commit: desired.commit };
  const sp = await planSource(desired, { gateways: options.gateways, verifyTemplates: options.verifyTemplates ?? 0, ...(options.retry ? { retry: options.retry } : {}) });
  const { plan } = sp;
  const desiredById = new Map(desired.stacks.map((s) => [s.id, s]));
  const actualByKey = new Map(sp.actual.map((a) => [stackKey(a.region, a.stackName, sp.defaultRegion), a]));
  const actualOf = (s: { region: string | undefined; stackName: string }): ActualStack | undefined =>
    actualByKey.get(stackKey(s.region, s.stackName, sp.defaultRegion));
  const planById = new Map(plan.stacks.filter((s) => s.action !== 'delete').map((s) => [s.id, s]));

  const stalls: StalledError[] = [];
  const started: string[] = [];
  const deleting: string[] = [];
  const waitingOn: string[] = [];
  const settled = (id: string): boolean => {
    const p = planById.get(id);
    return p !== undefined && p.action === 'none' && !p.waiting;
  };
  /** Parameters wired from the dependencies' current outputs (they are settled when a stack is started). */
  const resolveNow = (d: DesiredStack) => parametersNow(d, desiredById, actualOf);
  const timeLeft = (): boolean => !options.remainingMs || options.remainingMs() > (options.reserveMs ?? 20_000);

  for (const s of plan.stacks) {
    if (s.action === 'blocked') {
      const a = actualOf(s);
      if (s.blockedBy === 'StackFailed' && a && conditionOf(a.status) === 'recreate') {
        // A failed create of this content: name the resource that failed and why, from the stack's events.
        const why = await failureReason(sp.gatewayFor(s.region), s.stackName);
        stalls.push(
          new StalledError('StackFailed', `stack ${s.id}: creating it with this content failed and CloudFormation rolled it back (${a.status}): ${why}`, {
            stackId: s.id,
            hint: 'fix the template or parameters and push a new commit, or retry this commit with `cairn apply --retry` once the cause outside the template is fixed',
          }),
        );
      } else stalls.push(new StalledError(stallReasonOf(s), `stack ${s.id}: ${s.reason}`, { stackId: s.id }));
    }
    if (s.waiting) {
      waitingOn.push(s.id);
      sink.emit({ ...base, type: 'stack.waiting', stack: s.id, stackName: s.stackName, status: actualOf(s)?.status ?? 'unknown' });
    }
  }

  // Keep termination protection as declared for stacks whose content is already in sync.
  for (const s of plan.stacks) {
    const d = desiredById.get(s.id);
    const a = actualOf(s);
    if (s.action === 'none' && d && a && !s.waiting && conditionOf(a.status) === 'stable' && a.terminationProtection !== d.terminationProtection && a.tags[OWNER_TAGS.source]) {
      await sp.gatewayFor(s.region).updateTerminationProtection(s.stackName, d.terminationProtection);
    }
  }

  const ready = plan.stacks.filter(
    (s) => (s.action === 'create' || s.action === 'update') && !s.waiting && desiredById.get(s.id)!.dependsOn.every(settled),
  );
  const work = async (s: StackPlan): Promise<void> => {
    if (!timeLeft()) return;
    try {
      const r = await startStack(s, desiredById.get(s.id)!, actualOf(s), sp.gatewayFor(s.region));
      if (r === 'started') started.push(s.id);
      else if (r === 'waiting') waitingOn.push(s.id);
    } catch (error) {
      if (error instanceof StalledError) stalls.push(error);
      else if (error instanceof AccessDeniedError) stalls.push(error.toStall(s.id));
      else if (error instanceof WaitingError) waitingOn.push(s.id);
      else throw error;
    }
  };
  await inParallel(ready, options.maxParallel ?? 4, work);

  const drifted = plan.stacks.filter((s) => {
    const d = desiredById.get(s.id);
    const a = actualOf(s);
    return s.action === 'none' && !s.waiting && d?.drift === 'revert' && a !== undefined && needsRevert(a) && !options.revertsTried?.has(revertName(s, a));
  });
  await inParallel(drifted, options.maxParallel ?? 4, async (s) => {
    if (!timeLeft()) return;
    try {
      if ((await revertDrift(s, desiredById.get(s.id)!, actualOf(s)!, sp.gatewayFor(s.region))) === 'started') started.push(s.id);
    } catch (error) {
      if (error instanceof StalledError) stalls.push(error);
      else if (error instanceof AccessDeniedError) stalls.push(error.toStall(s.id));
      else throw error;
    }
  });

  const pendingApply = plan.stacks.some((s) => s.action !== 'delete' && s.action !== 'blocked' && (s.action !== 'none' || s.waiting));
  if (!pendingApply && stalls.length === 0 && timeLeft()) {
    const next = plan.stacks.find((s) => s.action === 'delete');
    if (next) {
      const a = actualOf(next)!;
      if (next.waiting) waitingOn.push(next.id);
      else {
        // Deleted through the role it was deployed with, as CloudFormation deletes resources with the
        // caller's credentials otherwise (and the reconciler has no rights of its own on them).
        await sp.gatewayFor(next.region).deleteStack(next.stackName, { clientToken: requestToken(`cairn-delete-${sha256(a.stackId).slice(0, 24)}`, desired.source), roleArn: a.roleArn });
        sink.emit({ ...base, type: 'stack.action', stack: next.id, stackName: next.stackName, action: 'delete', summary: next.reason });
        started.push(next.id);
        deleting.push(next.id);
      }
    }
  }

  // A commit applied or stalled: nothing of it is left to run, so no change set of this source should be
  // left to execute. Looking costs a call per owned stack, so it is done when a step stalls and on the
  // sweep's deeper checks, never on the ordinary path where an unchanged source costs one listing.
  const deepCheck = (options.verifyTemplates ?? 0) > 0;
  if ((stalls.length > 0 || (deepCheck && started.length === 0 && waitingOn.length === 0 && !plan.changes)) && timeLeft()) {
    const owned = sp.actual.filter((a) => a.tags[OWNER_TAGS.source] === desired.source);
    const declared = new Set(desired.stacks.map((d) => stackKey(d.region, d.stackName, sp.defaultRegion)));
    await inParallel(owned, options.maxParallel ?? 4, (a) => removeOrphanedChangeSets(sp.gatewayFor(a.region), a, declared.has(stackKey(a.region, a.stackName, sp.defaultRegion))));
  }

  const summary = summarise(plan, desired, sp.actual, started, waitingOn, stalls);
  const statuses = Object.fromEntries(plan.stacks.map((s) => [s.id, actualOf(s)?.status ?? 'NOT_DEPLOYED']));
  if (stalls.length > 0) {
    const error = stalls.length === 1 ? stalls[0]! : new StalledError(stalls[0]!.reason as StallReason, stalls.map((e) => e.message).join('; '), { stackId: stalls[0]!.stackId, hint: stalls[0]!.hint });
    return { outcome: 'stalled', plan, statuses, started, error, stalls, summary };
  }
  if (started.length > 0 || waitingOn.length > 0 || plan.changes) {
    return { outcome: 'progressing', plan, statuses, started, deleting, waitingOn, retryAfterSeconds: 10, summary };
  }
  return { outcome: 'succeeded', plan, statuses, counts: countApplied(desired, sp.actual, plan), summary };

  async function revertDrift(s: StackPlan, d: DesiredStack, actual: ActualStack, gateway: StackGateway): Promise<OpResult> {
    const name = revertName(s, actual);
    options.revertsTried?.add(name);
    const drifts = await gateway.listResourceDrifts(s.stackName);
    if (drifts.length === 0) return 'unchanged';
    const resolved = resolveNow(d);
    const state = await ensureChangeSet({
      gateway,
      stackExists: true,
      waitMs: options.changeSetWaitMs ?? 30_000,
      pollMs: options.pollMs ?? 1_000,
      sleep: options.sleep ?? defaultSleep,
      input: {
        stackName: s.stackName,
        changeSetName: name,
        changeSetType: 'UPDATE',
        templateBody: d.templateBody,
        parameters: Object.entries(resolved.values).map(([key, value]) => ({ key, value })),
        tags: actual.tags,
        capabilities: d.capabilities,
        roleArn: d.roleArn ?? options.defaultRoleArn,
        clientToken: name,
        deploymentMode: 'REVERT_DRIFT',
        description: `Cairn: revert drift found at ${actual.driftCheckedAt}`,
      },
    });
    const cannot = (reverted: Set<string>): void => {
      for (const r of drifts.filter((x) => !reverted.has(x.logicalId))) {
        sink.emit({
          ...base,
          type: 'log',
          level: 'warn',
          stack: s.id,
          message: `${r.logicalId} (${r.resourceType}) drifted (${r.status}) but CloudFormation cannot revert it with a drift-aware change set; it stays reported as drift: change it back by hand or re-create it through the template`,
        });
      }
    };
    switch (state.state) {
      case 'pending':
        return 'waiting';
      case 'executing':
        return 'started';
      case 'empty':
        await gateway.deleteChangeSet(s.stackName, name);
        cannot(new Set());
        return 'unchanged';
      case 'failed':
        await gateway.deleteChangeSet(s.stackName, name);
        throw new StalledError('ChangeSetFailed', `stack ${s.id}: CloudFormation refused to revert its drift: ${state.reason}`, {
          stackId: s.id,
          hint: 'put the drifted resources back by hand, or set `drift: alert` for this stack in cairn.yaml',
        });
      case 'ready': {
        const changes = state.description.changes;
        const destructive = destructiveChanges(changes, desired.protectedTypes, d.allowDestructive);
        if (destructive.length > 0) {
          await gateway.deleteChangeSet(s.stackName, name);
          const { message, hint } = describeDestructive(s.id, s.stackName, destructive);
          const text = message.replace('destructive change blocked', 'drift revert blocked');
          sink.emit({ ...base, type: 'stack.blocked', stack: s.id, stackName: s.stackName, reason: 'DestructiveChangeBlocked', message: text });
          throw new StalledError('DestructiveChangeBlocked', text, { stackId: s.id, hint: `${hint}; or set \`drift: alert\` for this stack and repair the drift by hand` });
        }
        cannot(new Set(changes.map((c) => c.logicalId)));
        sink.emit({ ...base, type: 'changeset.created', stack: s.id, stackName: s.stackName, changeSetName: name, changes });
        await gateway.executeChangeSet(s.stackName, name, requestToken(name, desired.source));
        sink.emit({
          ...base,
          type: 'stack.action',
          stack: s.id,
          stackName: s.stackName,
          action: 'revert-drift',
          summary: `reverting ${changes.length} drifted resource${changes.length === 1 ? '' : 's'} (${changes.map((c) => c.logicalId).join(', ')})`,
        });
        return 'started';
      }
    }
  }

  async function startStack(s: StackPlan, d: DesiredStack, actual: ActualStack | undefined, gateway: StackGateway): Promise<OpResult> {
    const hash = s.desiredHash!;
    const exists = actual !== undefined && conditionOf(actual.status) !== 'gone';
    const inReview = exists && conditionOf(actual!.status) === 'review';
    const name = changeSetName(hash, exists && !inReview ? (actual!.updatedAt ?? actual!.createdAt) : undefined);
    if (s.recreate && actual) {
      // The planner blocks a failed create of this same content unless it may be retried; this is that retry.
      options.retry?.delete(s.id);
      await gateway.deleteStack(s.stackName, { clientToken: requestToken(`cairn-recreate-${sha256(actual.stackId).slice(0, 24)}`, desired.source), roleArn: d.roleArn ?? options.defaultRoleArn });
      sink.emit({ ...base, type: 'stack.action', stack: s.id, stackName: s.stackName, action: 'recreate', summary: `deleting the empty stack a failed create left in ${actual.status}; it is created again next` });
      return 'started';
    }
    if (actual && actual.status === 'UPDATE_ROLLBACK_COMPLETE') {
      const failed = await lastFailedAttempt(gateway, s.stackName);
      if (failed?.token?.startsWith(`${CHANGE_SET_PREFIX}${hash.slice(0, 24)}-`) && !options.retry?.delete(s.id)) {
        throw new StalledError('StackFailed', `stack ${s.id}: updating it to this content failed and CloudFormation rolled it back: ${failed.reason}`, {
          stackId: s.id,
          hint: 'fix the template or parameters and push a new commit, or retry this commit with `cairn apply --retry` once the cause outside the template is fixed',
        });
      }
    }
    const resolved = resolveNow(d);
    if (exists) await removeStaleChangeSets(gateway, s.stackName, name);
    const changeSetType = exists && !inReview ? 'UPDATE' : 'CREATE';
    let state;
    try {
      state = await ensureChangeSet({
        gateway,
        stackExists: exists,
        waitMs: options.changeSetWaitMs ?? 30_000,
        pollMs: options.pollMs ?? 1_000,
        sleep: options.sleep ?? defaultSleep,
        input: changeSetInput(desired, d, { stackName: s.stackName, changeSetName: name, changeSetType, parameters: resolved.values, hash, defaultRoleArn: options.defaultRoleArn }),
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
    switch (state.state) {
      case 'pending':
        return 'waiting';
      case 'executing':
        return 'started';
      case 'empty':
        await gateway.deleteChangeSet(s.stackName, name);
        sink.emit({ ...base, type: 'changeset.empty', stack: s.id, stackName: s.stackName });
        return 'unchanged';
      case 'failed':
        await gateway.deleteChangeSet(s.stackName, name);
        if (changeSetType === 'CREATE') await cleanUpReview(gateway, s.stackName);
        throw new StalledError('ChangeSetFailed', `stack ${s.id}: CloudFormation refused the change set: ${state.reason}`, {
          stackId: s.id,
          hint: `fix ${d.templateFile} or the parameters in cairn.yaml and push a new commit`,
        });
      case 'ready': {
        const changes = state.description.changes;
        const destructive = destructiveChanges(changes, desired.protectedTypes, d.allowDestructive);
        if (destructive.length > 0) {
          await gateway.deleteChangeSet(s.stackName, name);
          if (changeSetType === 'CREATE') await cleanUpReview(gateway, s.stackName);
          const { message, hint } = describeDestructive(s.id, s.stackName, destructive);
          sink.emit({ ...base, type: 'stack.blocked', stack: s.id, stackName: s.stackName, reason: 'DestructiveChangeBlocked', message });
          throw new StalledError('DestructiveChangeBlocked', message, { stackId: s.id, hint });
        }
        sink.emit({ ...base, type: 'changeset.created', stack: s.id, stackName: s.stackName, changeSetName: name, changes });
        if (changeSetType === 'CREATE' && d.terminationProtection) await gateway.updateTerminationProtection(s.stackName, true);
        else if (exists && actual!.terminationProtection !== d.terminationProtection) await gateway.updateTerminationProtection(s.stackName, d.terminationProtection);
        await gateway.executeChangeSet(s.stackName, name, requestToken(name, desired.source));
        const action = changeSetType === 'CREATE' ? 'create' : actual?.tags[OWNER_TAGS.source] ? 'update' : 'adopt';
        sink.emit({
          ...base,
          type: 'stack.action',
          stack: s.id,
          stackName: s.stackName,
          action,
          summary: summariseChanges(changes),
          ...(options.receivedAt ? { pushToApplyMs: Math.max(0, Date.now() - Date.parse(options.receivedAt)) } : {}),
        });
        return 'started';
      }
    }
  }
}

/** Detection found drift after the stack's last update, so the drift is current. */
function needsRevert(a: ActualStack): boolean {
  if (a.driftStatus !== 'DRIFTED' || !a.driftCheckedAt) return false;
  return Date.parse(a.driftCheckedAt) > Date.parse(a.updatedAt ?? a.createdAt);
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

function summarise(plan: Plan, desired: DesiredState, actual: ActualStack[], started: string[], waitingOn: string[], stalls: StalledError[]): string {
  if (stalls.length > 0) return stalls[0]!.message;
  if (started.length > 0 || waitingOn.length > 0) {
    const parts = [];
    if (started.length) parts.push(`started ${started.join(', ')}`);
    if (waitingOn.length) parts.push(`waiting on ${waitingOn.join(', ')}`);
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
