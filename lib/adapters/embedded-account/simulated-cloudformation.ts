/**
 * CloudFormation's API semantics over the persisted stacks: which calls are allowed in which stack
 * status, with AWS's error codes and messages; change sets and their lifecycle; executing, deleting,
 * drift detection; and the operations a console user performs outside Cairn. Every write is one
 * store transaction, so concurrent processes never lose each other's changes.
 */
import { randomUUID } from 'node:crypto';
import type { ActualStack } from '../../core/model.js';
import {
  GatewayError,
  InsufficientCapabilitiesError,
  type ChangeSetDescription,
  type ChangeSetInput,
  type ChangeSetSummary,
  type DriftDetection,
  type ResourceDrift,
  type StackEvent,
  type ChangeSetChange,
} from '../../ports/stack-gateway.js';
import type { AccountStore, StoreTransaction } from './account-store.js';
import { missingCapability } from './capabilities.js';
import { isDetectable, parsePropertyPath, resourceDrifts, withValueAt } from './drift.js';
import { createTimeline, deleteTimeline, updateTimeline, type Timeline, type TimelineClock } from './operation-timeline.js';
import type { AccountEnv } from './physical-resources.js';
import { planStack, realizeStack, type ExportEntry, type PlanInput } from './stack-planner.js';
import {
  appendEvent,
  changeSetExecutionStatusAt,
  changeSetStatusAt,
  DRIFT_DETECTABLE_STATUSES,
  eventsAt,
  isBusy,
  latestDetectionAt,
  materialize,
  STACK_RESOURCE_TYPE,
  stateAt,
  UPDATABLE_STATUSES,
  type ChangeSetRecord,
  type StackRecord,
  type StackState,
} from './stack-record.js';
import { parseTemplate, TemplateError, type TemplateDocument } from './template-document.js';

export const NO_CHANGES_REASON =
  "The submitted information didn't contain changes. Submit different information to create a change set.";

const MAX_CHANGE_SETS = 50;
const MAX_DETECTIONS = 5;

export interface SimulationConfig {
  store: AccountStore;
  /** Account time in ms; valid once the store is refreshed. */
  now: () => number;
  operationMs: number;
  accountId: string;
  nonRevertibleTypes: ReadonlySet<string>;
}

export interface DirectCreateInput {
  stackName: string;
  templateBody: string;
  parameters?: Record<string, string>;
  tags?: Record<string, string>;
  terminationProtection?: boolean;
}

export interface DirectUpdateInput {
  stackName: string;
  /** Omitted: keep the current template. */
  templateBody?: string;
  /** Parameters not given keep their previous value. */
  parameters?: Record<string, string>;
  /** Omitted: keep the current tags. */
  tags?: Record<string, string>;
}

export interface DriftInjection {
  stackName: string;
  logicalId: string;
  /** `VersioningConfiguration.Status`, `Tags`, `Tags.0.Value` or `/Tags/0/Value`. */
  path: string;
  /** The new live value; undefined removes the property. */
  value: unknown;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function validation(message: string): GatewayError {
  return new GatewayError('ValidationError', message);
}

function parseOrThrow(body: string): TemplateDocument {
  try {
    return parseTemplate(body);
  } catch (error) {
    if (error instanceof TemplateError) throw validation(error.message);
    throw error;
  }
}

const NAME_PATTERN = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;

/** Stack and change set names as CloudFormation constrains them (they also become file names here). */
function checkName(value: string, member: 'stackName' | 'changeSetName'): void {
  if (!NAME_PATTERN.test(value)) {
    throw validation(
      `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]* and have length at most 128`,
    );
  }
}

function changeSetNotFound(name: string): GatewayError {
  return new GatewayError('ChangeSetNotFoundException', `ChangeSet [${name}] does not exist`);
}

function isArn(nameOrId: string): boolean {
  return nameOrId.startsWith('arn:');
}

export class SimulatedCloudFormation {
  constructor(private readonly config: SimulationConfig) {}

  private get store(): AccountStore {
    return this.config.store;
  }

  private env(region: string): AccountEnv {
    return { accountId: this.config.accountId, region };
  }

  // ---- reads ------------------------------------------------------------------------------

  listStacks(region: string): ActualStack[] {
    const t = this.config.now();
    const out: ActualStack[] = [];
    for (const record of this.store.list(region)) {
      if (stateAt(record, t).status !== 'DELETE_COMPLETE') out.push(this.toActual(record, t));
    }
    return out;
  }

  describeStack(region: string, nameOrId: string): ActualStack | undefined {
    const t = this.config.now();
    const record = this.find(region, nameOrId, t);
    return record ? this.toActual(record, t) : undefined;
  }

  getTemplate(region: string, stackName: string): string {
    const t = this.config.now();
    const record = this.find(region, stackName, t);
    if (!record) throw validation(`Stack with id ${stackName} does not exist`);
    // Empty while the stack is REVIEW_IN_PROGRESS: no change set has been executed yet.
    return stateAt(record, t).templateBody;
  }

  describeChangeSet(region: string, stackName: string, changeSetName: string, options: { includePropertyValues?: boolean } = {}): ChangeSetDescription | undefined {
    const t = this.config.now();
    const record = this.find(region, stackName, t);
    const cs = record && findChangeSet(record, changeSetName);
    if (!record || !cs) return undefined;
    const status = changeSetStatusAt(cs, t);
    return {
      changeSetId: cs.id,
      changeSetName: cs.name,
      stackName: record.stackName,
      status,
      statusReason: status === 'FAILED' ? cs.statusReason : undefined,
      executionStatus: changeSetExecutionStatusAt(cs, t),
      // As CloudFormation: values only for a change set made with them, described asking for them.
      changes: status === 'CREATE_COMPLETE' ? structuredClone(cs.changes).map((c) => (cs.propertyValues && options.includePropertyValues ? c : withoutValues(c))) : [],
      createdAt: iso(cs.createdAt),
    };
  }

  listChangeSets(region: string, stackName: string): ChangeSetSummary[] {
    const t = this.config.now();
    const record = this.find(region, stackName, t);
    // As the AWS gateway answers for a stack that does not exist.
    if (!record) return [];
    return record.changeSets.map((cs) => ({
      changeSetId: cs.id,
      changeSetName: cs.name,
      status: changeSetStatusAt(cs, t),
      executionStatus: changeSetExecutionStatusAt(cs, t),
      createdAt: iso(cs.createdAt),
    }));
  }

  listStackEvents(region: string, stackName: string, limit: number): StackEvent[] {
    const t = this.config.now();
    const record = this.find(region, stackName, t);
    if (!record) throw validation(`Stack [${stackName}] does not exist`);
    const events = eventsAt(record, t);
    const stackUuid = record.stackId.split('/').pop();
    const out: StackEvent[] = [];
    for (let i = events.length - 1; i >= 0 && out.length < limit; i--) {
      const e = events[i]!;
      out.push({
        eventId: `${stackUuid}-${e.seq}`,
        stackName: record.stackName,
        logicalId: e.logicalId,
        resourceType: e.resourceType,
        status: e.status,
        statusReason: e.reason,
        timestamp: iso(e.at),
        ...(e.token === undefined ? {} : { clientRequestToken: e.token }),
      });
    }
    return out;
  }

  describeDriftDetection(region: string, detectionId: string): DriftDetection {
    const t = this.config.now();
    for (const record of this.store.list(region)) {
      const detection = record.detections.find((d) => d.id === detectionId);
      if (!detection) continue;
      if (t < detection.endsAt) {
        return { status: 'DETECTION_IN_PROGRESS', stackDriftStatus: undefined, reason: undefined, driftedResourceCount: undefined };
      }
      return {
        status: 'DETECTION_COMPLETE',
        stackDriftStatus: detection.stackDriftStatus,
        reason: undefined,
        driftedResourceCount: detection.driftedCount,
      };
    }
    throw validation(`Stack drift detection ${detectionId} does not exist`);
  }

  listResourceDrifts(region: string, stackName: string): ResourceDrift[] {
    const t = this.config.now();
    const record = this.requireLive(region, stackName, t);
    return structuredClone(latestDetectionAt(record, t)?.drifts ?? []);
  }

  // ---- writes -----------------------------------------------------------------------------

  createChangeSet(region: string, input: ChangeSetInput): { changeSetId: string; stackId: string } {
    checkName(input.stackName, 'stackName');
    checkName(input.changeSetName, 'changeSetName');
    return this.store.transaction((tx) => {
      const t = this.config.now();
      const existing = this.liveCopy(tx, region, input.stackName, t);
      const previous = existing && findChangeSet(existing, input.changeSetName);
      if (existing && previous) {
        if (previous.clientToken === input.clientToken) return { changeSetId: previous.id, stackId: existing.stackId };
        throw new GatewayError('AlreadyExistsException', `ChangeSet [${input.changeSetName}] already exists`);
      }
      const status = existing && stateAt(existing, t).status;
      if (input.changeSetType === 'CREATE') {
        if (existing && status !== 'REVIEW_IN_PROGRESS') {
          throw validation(`Stack [${input.stackName}] already exists and cannot be created again with the changeSet [${input.changeSetName}].`);
        }
      } else {
        if (!existing) throw validation(`Stack [${input.stackName}] does not exist`);
        if (!UPDATABLE_STATUSES.has(status!)) throw validation(`Stack:${existing.stackId} is in ${status} state and can not be updated.`);
      }
      const template = parseOrThrow(input.templateBody);
      const missing = missingCapability(template, input.capabilities);
      if (missing) throw new InsufficientCapabilitiesError([missing], `Requires capabilities : [${missing}]`);

      const record = existing ?? this.newRecord(region, input.stackName, t, 'REVIEW_IN_PROGRESS', input.tags);
      const revertDrift = input.deploymentMode === 'REVERT_DRIFT';
      const cs: ChangeSetRecord = {
        id: `arn:aws:cloudformation:${region}:${this.config.accountId}:changeSet/${input.changeSetName}/${randomUUID()}`,
        name: input.changeSetName,
        type: input.changeSetType,
        clientToken: input.clientToken,
        ...(input.description === undefined ? {} : { description: input.description }),
        ...(input.includePropertyValues ? { propertyValues: true } : {}),
        createdAt: t,
        pendingUntil: t + this.config.operationMs,
        readyAt: t + 2 * this.config.operationMs,
        input: {
          templateBody: input.templateBody,
          parameters: Object.fromEntries(input.parameters.map((p) => [p.key, p.value])),
          tags: { ...input.tags },
          capabilities: [...input.capabilities],
          ...(input.roleArn === undefined ? {} : { roleArn: input.roleArn }),
          revertDrift,
        },
        outcome: 'CREATE_COMPLETE',
        changes: [],
      };
      try {
        const current = input.changeSetType === 'CREATE' ? undefined : record.state;
        const plan = planStack(current, this.planInput(tx, record, template, cs.input!.parameters, cs.input!.tags, revertDrift, t));
        if (plan.empty) {
          cs.outcome = 'FAILED';
          cs.statusReason = NO_CHANGES_REASON;
        } else {
          cs.changes = plan.changes;
        }
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        cs.outcome = 'FAILED';
        cs.statusReason = error.message;
      }
      record.changeSets.push(cs);
      if (record.changeSets.length > MAX_CHANGE_SETS) record.changeSets.splice(0, record.changeSets.length - MAX_CHANGE_SETS);
      tx.put(record);
      return { changeSetId: cs.id, stackId: record.stackId };
    });
  }

  executeChangeSet(region: string, stackName: string, changeSetName: string, clientToken: string): void {
    this.store.transaction((tx) => {
      const t = this.config.now();
      const record = this.liveCopy(tx, region, stackName, t);
      if (!record) throw validation(`Stack [${stackName}] does not exist`);
      const cs = findChangeSet(record, changeSetName);
      if (!cs) throw changeSetNotFound(changeSetName);
      if (cs.execution?.clientToken === clientToken) return;
      const execution = changeSetExecutionStatusAt(cs, t);
      if (execution !== 'AVAILABLE' || !cs.input) {
        throw new GatewayError('InvalidChangeSetStatus', `ChangeSet [${cs.id}] cannot be executed in its current execution status of [${execution}]`);
      }
      const status = stateAt(record, t).status;
      const allowed = cs.type === 'CREATE' ? status === 'REVIEW_IN_PROGRESS' : UPDATABLE_STATUSES.has(status);
      if (!allowed) throw validation(`Stack:${record.stackId} is in ${status} state and can not be updated.`);

      const input = cs.input;
      const template = parseOrThrow(input.templateBody);
      const base = cs.type === 'CREATE' ? undefined : record.state;
      const timeline = this.startOperation(tx, record, t, template, {
        base,
        templateBody: input.templateBody,
        parameters: input.parameters,
        tags: input.tags,
        capabilities: input.capabilities,
        roleArn: input.roleArn,
        revertDrift: input.revertDrift,
        clientToken,
        changeSetId: cs.id,
      });
      cs.execution = { clientToken, operationId: record.operation!.id, endsAt: timeline.endsAt, succeeded: timeline.succeeded };
      delete cs.input;
      tx.put(record);
    });
  }

  deleteChangeSet(region: string, stackName: string, changeSetName: string): void {
    this.store.transaction((tx) => {
      const t = this.config.now();
      const record = this.liveCopy(tx, region, stackName, t);
      if (!record) throw validation(`Stack [${stackName}] does not exist`);
      const cs = findChangeSet(record, changeSetName);
      if (!cs) throw changeSetNotFound(changeSetName);
      const execution = changeSetExecutionStatusAt(cs, t);
      if (execution === 'EXECUTE_IN_PROGRESS') {
        throw new GatewayError('InvalidChangeSetStatus', `Cannot delete ChangeSet in status ${execution}`);
      }
      record.changeSets = record.changeSets.filter((other) => other !== cs);
      tx.put(record);
    });
  }

  deleteStack(region: string, stackName: string, clientToken: string): void {
    this.store.transaction((tx) => {
      const t = this.config.now();
      const record = this.liveCopy(tx, region, stackName, t);
      if (!record) return;
      if (record.terminationProtection) {
        throw validation(`Stack [${record.stackName}] cannot be deleted while TerminationProtection is enabled`);
      }
      const status = stateAt(record, t).status;
      if (status === 'DELETE_IN_PROGRESS' || (clientToken !== '' && record.deleteToken === clientToken)) return;
      if (isBusy(status)) throw validation(`Stack [${record.stackName}] cannot be deleted while in status ${status}`);
      const faults = tx.meta().faults;
      const timeline = deleteTimeline(this.clockFor(record, t, clientToken || undefined), record.state, faults);
      this.schedule(record, { id: randomUUID(), kind: 'DELETE', clientToken, timeline });
      record.deleteToken = clientToken;
      tx.put(record);
    });
  }

  updateTerminationProtection(region: string, stackName: string, enabled: boolean): void {
    this.store.transaction((tx) => {
      const t = this.config.now();
      const record = this.liveCopy(tx, region, stackName, t);
      if (!record) throw validation(`Stack [${stackName}] does not exist`);
      record.terminationProtection = enabled;
      tx.put(record);
    });
  }

  detectStackDrift(region: string, stackName: string): string {
    return this.store.transaction((tx) => {
      const t = this.config.now();
      const record = this.liveCopy(tx, region, stackName, t);
      if (!record) throw validation(`Stack [${stackName}] does not exist`);
      const status = stateAt(record, t).status;
      if (!DRIFT_DETECTABLE_STATUSES.has(status)) {
        throw validation(`Stack [${stackName}] is in ${status} state; drift detection needs CREATE_COMPLETE, UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE or UPDATE_ROLLBACK_FAILED`);
      }
      const id = randomUUID();
      const endsAt = t + 2 * this.config.operationMs;
      const drifts = resourceDrifts(record.state, iso(endsAt));
      record.detections.push({
        id,
        startedAt: t,
        endsAt,
        stackDriftStatus: drifts.length > 0 ? 'DRIFTED' : 'IN_SYNC',
        driftedCount: drifts.length,
        drifts,
      });
      if (record.detections.length > MAX_DETECTIONS) record.detections.splice(0, record.detections.length - MAX_DETECTIONS);
      tx.put(record);
      return id;
    });
  }

  // ---- outside Cairn ----------------------------------------------------------------------

  createStackDirect(region: string, input: DirectCreateInput): string {
    checkName(input.stackName, 'stackName');
    return this.store.transaction((tx) => {
      const t = this.config.now();
      if (this.liveCopy(tx, region, input.stackName, t)) {
        throw new GatewayError('AlreadyExistsException', `Stack [${input.stackName}] already exists`);
      }
      const template = parseOrThrow(input.templateBody);
      const tags = { ...input.tags };
      const record = this.newRecord(region, input.stackName, t, 'CREATE_IN_PROGRESS', tags);
      record.terminationProtection = input.terminationProtection ?? false;
      this.startOperation(tx, record, t, template, {
        base: undefined,
        templateBody: input.templateBody,
        parameters: input.parameters ?? {},
        tags,
        capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'],
        roleArn: undefined,
        revertDrift: false,
        clientToken: undefined,
        changeSetId: undefined,
      });
      tx.put(record);
      return record.stackId;
    });
  }

  updateStackDirect(region: string, input: DirectUpdateInput): void {
    this.store.transaction((tx) => {
      const t = this.config.now();
      const record = this.liveCopy(tx, region, input.stackName, t);
      if (!record) throw validation(`Stack [${input.stackName}] does not exist`);
      const status = stateAt(record, t).status;
      if (!UPDATABLE_STATUSES.has(status)) throw validation(`Stack:${record.stackId} is in ${status} state and can not be updated.`);
      const templateBody = input.templateBody ?? record.state.templateBody;
      const template = parseOrThrow(templateBody);
      const previous = Object.fromEntries(Object.entries(record.state.parameters).filter(([key]) => key in template.parameters));
      this.startOperation(tx, record, t, template, {
        base: record.state,
        templateBody,
        parameters: { ...previous, ...input.parameters },
        tags: input.tags ?? record.state.tags,
        capabilities: record.state.capabilities,
        roleArn: record.state.roleArn,
        revertDrift: false,
        clientToken: undefined,
        changeSetId: undefined,
        refuseEmpty: true,
      });
      tx.put(record);
    });
  }

  forceStatus(region: string, stackName: string, status: string, statusReason: string | undefined): void {
    this.store.transaction((tx) => {
      const t = this.config.now();
      const record = this.liveCopy(tx, region, stackName, t);
      if (!record) throw new Error(`Stack [${stackName}] does not exist in ${region}`);
      if (record.operation) {
        // Cut the running operation short where it is now.
        record.state = { ...stateAt(record, t) };
        record.events = eventsAt(record, t);
        delete record.operation;
      }
      record.state = { ...record.state, status, ...(statusReason === undefined ? {} : { statusReason }) };
      if (statusReason === undefined) delete record.state.statusReason;
      appendEvent(record, {
        at: t,
        logicalId: record.stackName,
        physicalId: record.stackId,
        resourceType: STACK_RESOURCE_TYPE,
        status,
        ...(statusReason === undefined ? {} : { reason: statusReason }),
      });
      tx.put(record);
    });
  }

  injectDrift(region: string, injection: DriftInjection): { detectable: boolean } {
    return this.store.transaction((tx) => {
      const { record, logicalId } = this.resourceForDrift(tx, region, injection.stackName, injection.logicalId);
      const resource = record.state.resources[logicalId]!;
      if (resource.actual === null) throw new Error(`Resource ${logicalId} of stack ${injection.stackName} was deleted outside CloudFormation`);
      const segments = parsePropertyPath(injection.path);
      resource.actual = withValueAt(resource.actual, segments, injection.value);
      tx.put(record);
      return { detectable: isDetectable(resource.properties, segments) };
    });
  }

  deleteResource(region: string, stackName: string, logicalId: string): void {
    this.store.transaction((tx) => {
      const { record } = this.resourceForDrift(tx, region, stackName, logicalId);
      record.state.resources[logicalId]!.actual = null;
      tx.put(record);
    });
  }

  /** Move the account's clock forward by `ms` for every process sharing the home. */
  advanceClock(ms: number): void {
    this.store.transaction((tx) => tx.setMeta({ skewMs: tx.meta().skewMs + ms }));
  }

  // ---- helpers ----------------------------------------------------------------------------

  private resourceForDrift(tx: StoreTransaction, region: string, stackName: string, logicalId: string) {
    const t = this.config.now();
    const record = this.liveCopy(tx, region, stackName, t);
    if (!record) throw new Error(`Stack [${stackName}] does not exist in ${region}`);
    if (record.operation) {
      throw new Error(`Stack [${stackName}] is ${stateAt(record, t).status}; change its resources once it has settled`);
    }
    if (!record.state.resources[logicalId]) throw new Error(`Stack [${stackName}] has no resource ${logicalId}`);
    return { record, logicalId };
  }

  /** Plan, realize and schedule an operation on `record`; returns its timeline. */
  private startOperation(
    tx: StoreTransaction,
    record: StackRecord,
    t: number,
    template: TemplateDocument,
    request: {
      base: StackState | undefined;
      templateBody: string;
      parameters: Record<string, string>;
      tags: Record<string, string>;
      capabilities: string[];
      roleArn: string | undefined;
      revertDrift: boolean;
      clientToken: string | undefined;
      changeSetId: string | undefined;
      refuseEmpty?: boolean;
    },
  ): Timeline {
    const planInput = this.planInput(tx, record, template, request.parameters, request.tags, request.revertDrift, t);
    let plan;
    try {
      plan = planStack(request.base, planInput);
    } catch (error) {
      if (error instanceof TemplateError) throw validation(error.message);
      throw error;
    }
    if (request.refuseEmpty && plan.empty) throw validation('No updates are to be performed.');
    const id = randomUUID();
    const realized = realizeStack(request.base, plan, planInput, `${record.stackId}/${id}`);
    const next: StackState = {
      status: '',
      templateBody: request.templateBody,
      parameters: plan.parameters,
      noEcho: plan.noEcho,
      tags: { ...request.tags },
      outputs: realized.outputs,
      exports: realized.exports,
      resources: realized.resources,
      capabilities: [...request.capabilities],
      ...(request.roleArn === undefined ? {} : { roleArn: request.roleArn }),
      ...(request.base ? { updatedAt: t } : {}),
    };
    const faults = tx.meta().faults;
    const clock = this.clockFor(record, t, request.clientToken);
    const timeline = request.base
      ? updateTimeline(clock, request.base, plan, realized, next, faults)
      : createTimeline(clock, plan, realized, next, faults);
    this.schedule(record, {
      id,
      kind: request.base ? 'UPDATE' : 'CREATE',
      clientToken: request.clientToken,
      changeSetId: request.changeSetId,
      timeline,
    });
    for (const cs of record.changeSets) {
      if (cs.id !== request.changeSetId && !cs.execution) {
        cs.obsolete = true;
        delete cs.input;
      }
    }
    return timeline;
  }

  private schedule(
    record: StackRecord,
    op: { id: string; kind: 'CREATE' | 'UPDATE' | 'DELETE'; clientToken?: string | undefined; changeSetId?: string | undefined; timeline: Timeline },
  ): void {
    const { timeline } = op;
    record.nextSeq += timeline.steps.length;
    record.operation = {
      id: op.id,
      kind: op.kind,
      ...(op.clientToken === undefined ? {} : { clientToken: op.clientToken }),
      ...(op.changeSetId === undefined ? {} : { changeSetId: op.changeSetId }),
      steps: timeline.steps,
      final: timeline.final,
      endsAt: timeline.endsAt,
      succeeded: timeline.succeeded,
    };
  }

  private clockFor(record: StackRecord, t: number, token: string | undefined): TimelineClock {
    return { stackName: record.stackName, stackId: record.stackId, start: t, stepMs: this.config.operationMs, firstSeq: record.nextSeq, token };
  }

  private planInput(
    tx: StoreTransaction,
    record: StackRecord,
    template: TemplateDocument,
    parameters: Record<string, string>,
    tags: Record<string, string>,
    revertDrift: boolean,
    t: number,
  ): PlanInput {
    let exports: Map<string, ExportEntry> | undefined;
    const exportsOfOthers = () => {
      if (exports) return exports;
      exports = new Map();
      for (const other of tx.list(record.region)) {
        if (other.stackName === record.stackName) continue;
        const state = stateAt(other, t);
        if (state.status === 'DELETE_COMPLETE') continue;
        for (const [name, value] of Object.entries(state.exports)) exports.set(name, { value, stackName: other.stackName });
      }
      return exports;
    };
    return {
      template,
      parameters,
      tags,
      stackName: record.stackName,
      stackId: record.stackId,
      env: this.env(record.region),
      revertDrift,
      nonRevertibleTypes: this.config.nonRevertibleTypes,
      exports: exportsOfOthers,
    };
  }

  private newRecord(region: string, stackName: string, t: number, status: string, tags: Record<string, string>): StackRecord {
    const record: StackRecord = {
      stackId: `arn:aws:cloudformation:${region}:${this.config.accountId}:stack/${stackName}/${randomUUID()}`,
      stackName,
      region,
      createdAt: t,
      terminationProtection: false,
      state: {
        status,
        templateBody: '',
        parameters: {},
        noEcho: [],
        tags: { ...tags },
        outputs: {},
        exports: {},
        resources: {},
        capabilities: [],
      },
      events: [],
      nextSeq: 1,
      changeSets: [],
      detections: [],
    };
    if (status === 'REVIEW_IN_PROGRESS') {
      appendEvent(record, {
        at: t,
        logicalId: stackName,
        physicalId: record.stackId,
        resourceType: STACK_RESOURCE_TYPE,
        status,
        reason: 'User Initiated',
      });
    }
    return record;
  }

  /** A private, materialized copy of the live stack (not DELETE_COMPLETE), or undefined. */
  private liveCopy(tx: StoreTransaction, region: string, stackName: string, t: number): StackRecord | undefined {
    const record = tx.get(region, stackName);
    if (!record) return undefined;
    materialize(record, t);
    return stateAt(record, t).status === 'DELETE_COMPLETE' ? undefined : record;
  }

  /** By name: the live stack. By stack id (ARN): that stack, even once deleted, as in AWS. */
  private find(region: string, nameOrId: string, t: number): StackRecord | undefined {
    if (isArn(nameOrId)) return this.store.list(region).find((r) => r.stackId === nameOrId);
    const record = this.store.get(region, nameOrId);
    return record && stateAt(record, t).status !== 'DELETE_COMPLETE' ? record : undefined;
  }

  private requireLive(region: string, stackName: string, t: number): StackRecord {
    const record = this.find(region, stackName, t);
    if (!record) throw validation(`Stack [${stackName}] does not exist`);
    return record;
  }

  private toActual(record: StackRecord, t: number): ActualStack {
    const state = stateAt(record, t);
    const detection = latestDetectionAt(record, t);
    const parameters: Record<string, string> = {};
    for (const [key, value] of Object.entries(state.parameters)) parameters[key] = state.noEcho.includes(key) ? '****' : value;
    return {
      stackName: record.stackName,
      stackId: record.stackId,
      region: record.region,
      status: state.status,
      statusReason: state.statusReason,
      tags: { ...state.tags },
      outputs: { ...state.outputs },
      parameters,
      terminationProtection: record.terminationProtection,
      createdAt: iso(record.createdAt),
      updatedAt: state.updatedAt === undefined ? undefined : iso(state.updatedAt),
      driftStatus: detection?.stackDriftStatus ?? 'NOT_CHECKED',
      driftCheckedAt: detection ? iso(detection.endsAt) : undefined,
      ...(state.roleArn ? { roleArn: state.roleArn } : {}),
    };
  }
}

function findChangeSet(record: StackRecord, nameOrId: string): ChangeSetRecord | undefined {
  return record.changeSets.find((cs) => cs.name === nameOrId || cs.id === nameOrId);
}

function withoutValues(change: ChangeSetChange): ChangeSetChange {
  const { values: _values, ...rest } = change;
  return rest;
}
