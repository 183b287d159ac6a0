/**
 * The persisted shape of one simulated stack, and how its state at any instant is derived.
 *
 * An operation (create, update, delete) is written once, when it starts, as a timeline of
 * timestamped steps plus the state it ends in. Reading never writes: the status at time t is the
 * last stack-level step at or before t, so every process sees the same progress from the same file
 * without anyone having to "run" the operation. The next write folds a finished timeline in.
 */
import type { ChangeSetChange, ChangeSetExecutionStatus, ChangeSetStatus, ResourceDrift } from '../../ports/stack-gateway.js';

export const STACK_RESOURCE_TYPE = 'AWS::CloudFormation::Stack';

/** Events kept per stack; older ones are dropped as AWS eventually does. */
const MAX_EVENTS = 500;

export interface ResourceState {
  type: string;
  physicalId: string;
  /** Declared properties with intrinsic functions resolved: what CloudFormation believes. */
  properties: Record<string, unknown>;
  /** Live properties; differ from `properties` after drift; null when deleted outside CloudFormation. */
  actual: Record<string, unknown> | null;
  deletionPolicy?: string;
  metadata?: unknown;
}

export interface StackState {
  status: string;
  statusReason?: string;
  /** Empty until a change set has been executed (REVIEW_IN_PROGRESS). */
  templateBody: string;
  parameters: Record<string, string>;
  noEcho: string[];
  tags: Record<string, string>;
  outputs: Record<string, string>;
  exports: Record<string, string>;
  /** Insertion order is creation order, which deletion reverses. */
  resources: Record<string, ResourceState>;
  capabilities: string[];
  roleArn?: string;
  updatedAt?: number;
}

export interface StoredEvent {
  seq: number;
  at: number;
  logicalId: string;
  physicalId: string;
  resourceType: string;
  status: string;
  reason?: string;
  /** The client request token of the operation that caused the event. */
  token?: string;
}

export interface Operation {
  id: string;
  kind: 'CREATE' | 'UPDATE' | 'DELETE';
  clientToken?: string;
  changeSetId?: string;
  /** Sorted by time; stack-level steps have resourceType AWS::CloudFormation::Stack. */
  steps: StoredEvent[];
  final: StackState;
  endsAt: number;
  succeeded: boolean;
}

export interface ChangeSetInputRecord {
  templateBody: string;
  parameters: Record<string, string>;
  tags: Record<string, string>;
  capabilities: string[];
  roleArn?: string;
  revertDrift: boolean;
}

export interface ChangeSetRecord {
  id: string;
  name: string;
  type: 'CREATE' | 'UPDATE';
  clientToken: string;
  description?: string;
  createdAt: number;
  pendingUntil: number;
  readyAt: number;
  /** Kept until the change set is executed or made obsolete; nothing reads it afterwards. */
  input?: ChangeSetInputRecord;
  outcome: 'CREATE_COMPLETE' | 'FAILED';
  statusReason?: string;
  changes: ChangeSetChange[];
  /** Made with IncludePropertyValues: only then does a description carry old and new values. */
  propertyValues?: boolean;
  execution?: { clientToken: string; operationId: string; endsAt: number; succeeded: boolean };
  obsolete?: boolean;
}

export interface DriftDetectionRecord {
  id: string;
  startedAt: number;
  endsAt: number;
  stackDriftStatus: 'DRIFTED' | 'IN_SYNC';
  driftedCount: number;
  /** Only MODIFIED and DELETED resources. */
  drifts: ResourceDrift[];
}

export interface StackRecord {
  stackId: string;
  stackName: string;
  region: string;
  createdAt: number;
  terminationProtection: boolean;
  state: StackState;
  operation?: Operation;
  /** Oldest first. */
  events: StoredEvent[];
  nextSeq: number;
  changeSets: ChangeSetRecord[];
  /** Oldest first; a few recent ones are kept. */
  detections: DriftDetectionRecord[];
  deleteToken?: string;
}

/** Statuses in which a stack accepts an UPDATE change set or a direct update. */
export const UPDATABLE_STATUSES: ReadonlySet<string> = new Set([
  'CREATE_COMPLETE',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'IMPORT_COMPLETE',
  'IMPORT_ROLLBACK_COMPLETE',
]);

/** Statuses in which CloudFormation runs drift detection. */
export const DRIFT_DETECTABLE_STATUSES: ReadonlySet<string> = new Set([
  'CREATE_COMPLETE',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'UPDATE_ROLLBACK_FAILED',
]);

/** A stack operation is running (REVIEW_IN_PROGRESS is a resting state, not an operation). */
export function isBusy(status: string): boolean {
  return status.endsWith('_IN_PROGRESS') && status !== 'REVIEW_IN_PROGRESS';
}

export function isStackStep(event: StoredEvent): boolean {
  return event.resourceType === STACK_RESOURCE_TYPE;
}

/** The stack's state at time `t`: the finished operation's end state, or the last status reached. */
export function stateAt(record: StackRecord, t: number): StackState {
  const op = record.operation;
  if (!op) return record.state;
  if (t >= op.endsAt) return op.final;
  let status = record.state.status;
  let statusReason = record.state.statusReason;
  for (const step of op.steps) {
    if (step.at > t) break;
    if (isStackStep(step)) {
      status = step.status;
      statusReason = step.reason;
    }
  }
  return { ...record.state, status, statusReason };
}

export function isDeletedAt(record: StackRecord, t: number): boolean {
  return stateAt(record, t).status === 'DELETE_COMPLETE';
}

/** Every event visible at `t`, oldest first. */
export function eventsAt(record: StackRecord, t: number): StoredEvent[] {
  const op = record.operation;
  if (!op) return record.events;
  const due = op.steps.filter((step) => step.at <= t);
  return due.length === 0 ? record.events : [...record.events, ...due];
}

/** The highest event sequence number visible at `t`. */
export function lastSeqAt(record: StackRecord, t: number): number {
  const op = record.operation;
  if (op) {
    for (let i = op.steps.length - 1; i >= 0; i--) {
      if (op.steps[i]!.at <= t) return op.steps[i]!.seq;
    }
  }
  return record.events.length > 0 ? record.events[record.events.length - 1]!.seq : 0;
}

/** Fold a finished operation into the record; an unfinished one stays as it is. */
export function materialize(record: StackRecord, t: number): void {
  const op = record.operation;
  if (!op || t < op.endsAt) return;
  record.state = op.final;
  record.events.push(...op.steps);
  if (record.events.length > MAX_EVENTS) record.events.splice(0, record.events.length - MAX_EVENTS);
  delete record.operation;
}

/** Append an event that happens at once (outside any timeline). */
export function appendEvent(record: StackRecord, event: Omit<StoredEvent, 'seq'>): void {
  record.events.push({ ...event, seq: record.nextSeq++ });
  if (record.events.length > MAX_EVENTS) record.events.splice(0, record.events.length - MAX_EVENTS);
}

/** The earliest and latest instants after `t` at which something about this stack changes. */
export function pendingTimes(record: StackRecord, t: number): number[] {
  const times: number[] = [];
  for (const step of record.operation?.steps ?? []) if (step.at > t) times.push(step.at);
  for (const cs of record.changeSets) {
    if (cs.pendingUntil > t) times.push(cs.pendingUntil);
    if (cs.readyAt > t) times.push(cs.readyAt);
  }
  for (const detection of record.detections) if (detection.endsAt > t) times.push(detection.endsAt);
  return times;
}

export function changeSetStatusAt(cs: ChangeSetRecord, t: number): ChangeSetStatus {
  if (t < cs.pendingUntil) return 'CREATE_PENDING';
  if (t < cs.readyAt) return 'CREATE_IN_PROGRESS';
  return cs.outcome;
}

export function changeSetExecutionStatusAt(cs: ChangeSetRecord, t: number): ChangeSetExecutionStatus {
  if (cs.execution) {
    if (t < cs.execution.endsAt) return 'EXECUTE_IN_PROGRESS';
    return cs.execution.succeeded ? 'EXECUTE_COMPLETE' : 'EXECUTE_FAILED';
  }
  if (cs.obsolete) return 'OBSOLETE';
  if (t < cs.readyAt || cs.outcome === 'FAILED') return 'UNAVAILABLE';
  return 'AVAILABLE';
}

/** The latest drift detection finished by `t`, if any. */
export function latestDetectionAt(record: StackRecord, t: number): DriftDetectionRecord | undefined {
  for (let i = record.detections.length - 1; i >= 0; i--) {
    if (record.detections[i]!.endsAt <= t) return record.detections[i];
  }
  return undefined;
}
