/**
 * The events CloudFormation emits while it creates, updates or deletes a stack, laid out in
 * simulated time: one resource operation per `stepMs`, in dependency order, then the cleanup
 * phase; or, when a fault makes a resource fail, the rollback (which can fail in turn). Built once
 * when the operation starts, together with the state the stack ends in.
 */
import type { FaultSettings } from './faults.js';
import type { StackPlan, RealizedStack } from './stack-planner.js';
import { STACK_RESOURCE_TYPE, type StackState, type StoredEvent } from './stack-record.js';

export interface Timeline {
  steps: StoredEvent[];
  final: StackState;
  endsAt: number;
  succeeded: boolean;
}

export interface TimelineClock {
  stackName: string;
  stackId: string;
  start: number;
  stepMs: number;
  firstSeq: number;
  /** The caller's client request token, stamped on every event of the operation. */
  token: string | undefined;
}

const RETAINED = new Set(['Retain', 'RetainExceptOnCreate']);

/** Said on each SAM resource the account creates or updates: it keeps them as written. */
export const SAM_NOT_EXPANDED = 'Kept as written: the simulated account does not run the AWS::Serverless-2016-10-31 transform, so this is not the resources SAM would make';

class StepWriter {
  readonly steps: StoredEvent[] = [];
  private t: number;
  private seq: number;

  constructor(private readonly clock: TimelineClock) {
    this.t = clock.start;
    this.seq = clock.firstSeq;
  }

  stack(status: string, reason?: string): void {
    this.push(this.clock.stackName, STACK_RESOURCE_TYPE, this.clock.stackId, status, reason);
  }

  resource(logicalId: string, type: string, physicalId: string, status: string, reason?: string): void {
    this.push(logicalId, type, physicalId, status, reason);
  }

  /** One resource operation: IN_PROGRESS now, then the outcome one step later. `fails`: true (an injected fault) or the reason. */
  operation(logicalId: string, type: string, physicalId: string, verb: 'CREATE' | 'UPDATE' | 'DELETE', fails: boolean | string, startReason?: string): boolean {
    this.resource(logicalId, type, physicalId, `${verb}_IN_PROGRESS`, startReason);
    this.t += this.clock.stepMs;
    if (fails !== false) {
      this.resource(logicalId, type, physicalId, `${verb}_FAILED`, fails === true ? failureMessage(type, verb) : fails);
      return false;
    }
    this.resource(logicalId, type, physicalId, `${verb}_COMPLETE`, type.startsWith('AWS::Serverless::') && verb !== 'DELETE' ? SAM_NOT_EXPANDED : undefined);
    return true;
  }

  done(final: StackState, succeeded: boolean): Timeline {
    return { steps: this.steps, final, endsAt: this.t, succeeded };
  }

  private push(logicalId: string, resourceType: string, physicalId: string, status: string, reason?: string): void {
    this.steps.push({
      seq: this.seq++,
      at: this.t,
      logicalId,
      physicalId,
      resourceType,
      status,
      ...(reason === undefined ? {} : { reason }),
      ...(this.clock.token === undefined ? {} : { token: this.clock.token }),
    });
  }
}

function failureMessage(type: string, verb: string): string {
  return `Resource handler returned message: "Simulated ${verb.toLowerCase()} failure injected for ${type}" (HandlerErrorCode: GeneralServiceException)`;
}

/** How a resource's operation fails: with the reason its properties could not be resolved, an injected fault, or not. */
function failsWith(realized: RealizedStack, logicalId: string, injected: boolean): boolean | string {
  if (realized.failure?.logicalId === logicalId) return realized.failure.reason;
  return injected;
}

function failedReason(ids: string[], verb: string, rollbackRequested: boolean): string {
  return `The following resource(s) failed to ${verb}: [${ids.join(', ')}]. ${rollbackRequested ? 'Rollback requested by user.' : ''}`.trim();
}

/** Executing a CREATE change set on a stack in REVIEW_IN_PROGRESS. `next` is the state on success. */
export function createTimeline(clock: TimelineClock, plan: StackPlan, realized: RealizedStack, next: StackState, faults: FaultSettings): Timeline {
  const w = new StepWriter(clock);
  w.stack('CREATE_IN_PROGRESS', 'User Initiated');
  const created: string[] = [];
  let failed: string | undefined;
  for (const { logicalId, type } of plan.resources) {
    const ok = w.operation(logicalId, type, realized.resources[logicalId]!.physicalId, 'CREATE', failsWith(realized, logicalId, faults.failOnCreate.includes(type)), undefined);
    if (!ok) {
      failed = logicalId;
      break;
    }
    created.push(logicalId);
  }
  const outputsFailed = failed === undefined && realized.failure !== undefined;
  if (failed === undefined && !outputsFailed) {
    w.stack('CREATE_COMPLETE');
    return w.done({ ...next, status: 'CREATE_COMPLETE', statusReason: undefined }, true);
  }
  const reason = failed === undefined ? realized.failure!.reason : failedReason([failed], 'create', true);
  w.stack('ROLLBACK_IN_PROGRESS', reason);
  const rollback = [...(failed === undefined ? [] : [failed]), ...created.reverse()];
  const emptied: StackState = { ...next, resources: {}, outputs: {}, exports: {} };
  for (const [i, logicalId] of rollback.entries()) {
    const resource = realized.resources[logicalId]!;
    const failRollback = faults.failRollback && i === 0;
    if (!w.operation(logicalId, resource.type, resource.physicalId, 'DELETE', failRollback)) {
      const rollbackReason = failedReason([logicalId], 'delete', false);
      w.stack('ROLLBACK_FAILED', rollbackReason);
      const left = Object.fromEntries(rollback.slice(i).map((id) => [id, realized.resources[id]!]));
      return w.done({ ...emptied, resources: left, status: 'ROLLBACK_FAILED', statusReason: rollbackReason }, false);
    }
  }
  w.stack('ROLLBACK_COMPLETE', reason);
  return w.done({ ...emptied, status: 'ROLLBACK_COMPLETE', statusReason: reason }, false);
}

interface Done {
  logicalId: string;
  kind: 'add' | 'replace' | 'modify';
}

/** Executing an UPDATE change set (or a direct update). `next` is the state on success. */
export function updateTimeline(
  clock: TimelineClock,
  base: StackState,
  plan: StackPlan,
  realized: RealizedStack,
  next: StackState,
  faults: FaultSettings,
): Timeline {
  const w = new StepWriter(clock);
  w.stack('UPDATE_IN_PROGRESS', 'User Initiated');
  const done: Done[] = [];
  let failed: Done | undefined;
  for (const planned of plan.resources) {
    if (planned.action === 'None') continue;
    const { logicalId, type } = planned;
    const old = base.resources[logicalId];
    const physicalId = realized.resources[logicalId]!.physicalId;
    const item: Done = { logicalId, kind: !old ? 'add' : realized.created.has(logicalId) ? 'replace' : 'modify' };
    const ok =
      item.kind === 'add'
        ? w.operation(logicalId, type, physicalId, 'CREATE', failsWith(realized, logicalId, faults.failOnCreate.includes(type)))
        : item.kind === 'replace'
          ? w.operation(
              logicalId,
              type,
              physicalId,
              'UPDATE',
              failsWith(realized, logicalId, faults.failOnCreate.includes(type) || faults.failOnUpdate.includes(type)),
              'Requested update requires the creation of a new physical resource; hence creating one.',
            )
          : w.operation(logicalId, type, physicalId, 'UPDATE', failsWith(realized, logicalId, faults.failOnUpdate.includes(type)));
    if (!ok) {
      failed = item;
      break;
    }
    done.push(item);
  }

  const outputsFailed = failed === undefined && realized.failure !== undefined;
  if (failed === undefined && !outputsFailed) {
    const cleanup = [
      ...done.filter((d) => d.kind === 'replace').map((d) => d.logicalId),
      ...plan.removed,
    ];
    if (cleanup.length > 0) {
      w.stack('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS');
      for (const logicalId of cleanup) {
        const old = base.resources[logicalId]!;
        if (RETAINED.has(old.deletionPolicy ?? '') && plan.removed.includes(logicalId)) {
          w.resource(logicalId, old.type, old.physicalId, 'DELETE_SKIPPED');
        } else {
          w.operation(logicalId, old.type, old.physicalId, 'DELETE', false);
        }
      }
    }
    w.stack('UPDATE_COMPLETE');
    return w.done({ ...next, status: 'UPDATE_COMPLETE', statusReason: undefined }, true);
  }

  const reason = failed === undefined ? realized.failure!.reason : failedReason([failed.logicalId], failed.kind === 'add' ? 'create' : 'update', false);
  w.stack('UPDATE_ROLLBACK_IN_PROGRESS', reason);
  const rollback = [...(failed === undefined ? [] : [failed]), ...done.reverse()];
  for (const [i, item] of rollback.entries()) {
    const fails = faults.failRollback && i === 0;
    const ok =
      item.kind === 'add'
        ? w.operation(item.logicalId, realized.resources[item.logicalId]!.type, realized.resources[item.logicalId]!.physicalId, 'DELETE', fails)
        : w.operation(item.logicalId, base.resources[item.logicalId]!.type, base.resources[item.logicalId]!.physicalId, 'UPDATE', fails);
    if (!ok) {
      const rollbackReason = failedReason([item.logicalId], item.kind === 'add' ? 'delete' : 'update', false);
      w.stack('UPDATE_ROLLBACK_FAILED', rollbackReason);
      return w.done({ ...base, status: 'UPDATE_ROLLBACK_FAILED', statusReason: rollbackReason, updatedAt: clock.start }, false);
    }
  }
  w.stack('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
  for (const item of rollback.filter((d) => d.kind === 'replace')) {
    const created = realized.resources[item.logicalId]!;
    w.operation(item.logicalId, created.type, created.physicalId, 'DELETE', false);
  }
  w.stack('UPDATE_ROLLBACK_COMPLETE', reason);
  return w.done({ ...base, status: 'UPDATE_ROLLBACK_COMPLETE', statusReason: reason, updatedAt: clock.start }, false);
}

/** Deleting a stack: resources in reverse creation order; retained ones are skipped. */
export function deleteTimeline(clock: TimelineClock, base: StackState, faults: FaultSettings): Timeline {
  const w = new StepWriter(clock);
  w.stack('DELETE_IN_PROGRESS', 'User Initiated');
  const failed: string[] = [];
  for (const logicalId of Object.keys(base.resources).reverse()) {
    const resource = base.resources[logicalId]!;
    if (RETAINED.has(resource.deletionPolicy ?? '')) {
      w.resource(logicalId, resource.type, resource.physicalId, 'DELETE_SKIPPED');
      continue;
    }
    if (!w.operation(logicalId, resource.type, resource.physicalId, 'DELETE', faults.failOnDelete.includes(resource.type))) {
      failed.push(logicalId);
    }
  }
  if (failed.length > 0) {
    const reason = failedReason(failed.reverse(), 'delete', false);
    w.stack('DELETE_FAILED', reason);
    const left = Object.fromEntries(failed.map((id) => [id, base.resources[id]!]));
    return w.done({ ...base, status: 'DELETE_FAILED', statusReason: reason, resources: left }, false);
  }
  w.stack('DELETE_COMPLETE');
  return w.done({ ...base, status: 'DELETE_COMPLETE', statusReason: undefined, resources: {}, outputs: {}, exports: {} }, true);
}
