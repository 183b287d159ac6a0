/**
 * StackGateway: everything Cairn asks of CloudFormation, in one region of one account. Implemented
 * over the AWS SDK (adapters/cloudformation-gateway) and by the embedded simulated account
 * (adapters/embedded-account). The reconcile use cases speak only this interface.
 */
import type { ActualStack, Capability } from '../core/model.js';
import { StalledError } from '../core/errors.js';

export type ChangeSetType = 'CREATE' | 'UPDATE';

export interface ChangeSetInput {
  stackName: string;
  changeSetName: string;
  changeSetType: ChangeSetType;
  /** The template text; gateways upload bodies over CloudFormation's inline limit themselves. */
  templateBody: string;
  parameters: { key: string; value: string }[];
  tags: Record<string, string>;
  capabilities: Capability[];
  roleArn: string | undefined;
  /** Idempotency token: a retried create with the same token does not make a second change set. */
  clientToken: string;
  description?: string;
  /** REVERT_DRIFT makes a change set that puts drifted resources back to the template. */
  deploymentMode?: 'REVERT_DRIFT';
  /** Ask CloudFormation to record each changed property's old and new value (IncludePropertyValues), for previews. */
  includePropertyValues?: boolean;
}

export type ChangeSetStatus =
  | 'CREATE_PENDING'
  | 'CREATE_IN_PROGRESS'
  | 'CREATE_COMPLETE'
  | 'DELETE_PENDING'
  | 'DELETE_IN_PROGRESS'
  | 'DELETE_COMPLETE'
  | 'DELETE_FAILED'
  | 'FAILED';

export type ChangeSetExecutionStatus =
  | 'UNAVAILABLE'
  | 'AVAILABLE'
  | 'EXECUTE_IN_PROGRESS'
  | 'EXECUTE_COMPLETE'
  | 'EXECUTE_FAILED'
  | 'OBSOLETE';

/** One resource change of a change set, as CloudFormation reports it. */
export interface ChangeSetChange {
  action: 'Add' | 'Modify' | 'Remove' | 'Import' | 'Dynamic';
  logicalId: string;
  physicalId: string | undefined;
  resourceType: string;
  /** 'True' | 'False' | 'Conditional'; undefined for Add and Remove. */
  replacement: 'True' | 'False' | 'Conditional' | undefined;
  /** Names of the properties that change (Scope=Properties details). */
  properties: string[];
  /** Each changed property's path with its old and new value, when the change set was made with includePropertyValues. */
  values?: PropertyChange[];
}

/** One property a change set changes, as CloudFormation's ResourceChangeDetail describes it with property values. */
export interface PropertyChange {
  /** The property's path in the resource, e.g. `/Properties/BucketName` or `/Properties/Tags/0/Value`. */
  path: string;
  /** The value before and after, as text (JSON for lists and objects); undefined when there is none (an added or removed property). */
  before: string | undefined;
  after: string | undefined;
  /** Whether changing this property alone recreates the resource. */
  requiresRecreation: 'Never' | 'Conditionally' | 'Always' | undefined;
}

export interface ChangeSetDescription {
  changeSetId: string;
  changeSetName: string;
  stackName: string;
  status: ChangeSetStatus;
  statusReason: string | undefined;
  executionStatus: ChangeSetExecutionStatus;
  /** All changes (every page). */
  changes: ChangeSetChange[];
  createdAt: string;
}

export interface ChangeSetSummary {
  changeSetId: string;
  changeSetName: string;
  status: ChangeSetStatus;
  executionStatus: ChangeSetExecutionStatus;
  createdAt: string;
}

export interface StackEvent {
  eventId: string;
  stackName: string;
  logicalId: string;
  resourceType: string;
  status: string;
  statusReason: string | undefined;
  timestamp: string;
  /** The token of the operation that caused the event (Cairn's change set name), when there was one. */
  clientRequestToken?: string;
}

export type DriftDetectionStatus = 'DETECTION_IN_PROGRESS' | 'DETECTION_COMPLETE' | 'DETECTION_FAILED';

export interface DriftDetection {
  status: DriftDetectionStatus;
  /** DRIFTED | IN_SYNC | UNKNOWN | NOT_CHECKED, once detection is complete. */
  stackDriftStatus: string | undefined;
  reason: string | undefined;
  driftedResourceCount: number | undefined;
}

export interface PropertyDifference {
  /** JSON pointer-style path, e.g. `/Tags/0/Value` or `/VersioningConfiguration/Status`. */
  path: string;
  expected: string;
  actual: string;
  kind: 'ADD' | 'REMOVE' | 'NOT_EQUAL';
}

export interface ResourceDrift {
  logicalId: string;
  physicalId: string | undefined;
  resourceType: string;
  /** IN_SYNC | MODIFIED | DELETED | NOT_CHECKED | UNKNOWN */
  status: string;
  differences: PropertyDifference[];
  checkedAt: string;
}

export interface StackGateway {
  /** 'embedded' or 'aws', for messages. */
  readonly target: string;
  /** The region this gateway talks to. */
  readonly region: string;

  /** Every live stack (not DELETE_COMPLETE), with tags, outputs and parameters, using as few calls as the API allows. */
  listStacks(): Promise<ActualStack[]>;
  /** One stack by name, or undefined when it does not exist (or is deleted). */
  describeStack(stackName: string): Promise<ActualStack | undefined>;
  /** The stack's current template text. */
  getTemplate(stackName: string): Promise<string>;

  createChangeSet(input: ChangeSetInput): Promise<{ changeSetId: string; stackId: string }>;
  /** With includePropertyValues, each change carries its properties' old and new values (when it was created with them). */
  describeChangeSet(stackName: string, changeSetName: string, options?: { includePropertyValues?: boolean }): Promise<ChangeSetDescription | undefined>;
  listChangeSets(stackName: string): Promise<ChangeSetSummary[]>;
  executeChangeSet(stackName: string, changeSetName: string, clientToken: string): Promise<void>;
  deleteChangeSet(stackName: string, changeSetName: string): Promise<void>;

  deleteStack(stackName: string, options: { clientToken: string; roleArn: string | undefined }): Promise<void>;
  updateTerminationProtection(stackName: string, enabled: boolean): Promise<void>;
  /** Newest first, at most `limit`. */
  listStackEvents(stackName: string, limit: number): Promise<StackEvent[]>;

  detectStackDrift(stackName: string): Promise<string>;
  describeDriftDetection(detectionId: string): Promise<DriftDetection>;
  /** Drifts of every resource that is MODIFIED or DELETED. */
  listResourceDrifts(stackName: string): Promise<ResourceDrift[]>;
}

/** Gateways per region; the default region is the factory's own. */
export type GatewayFactory = (region: string | undefined) => StackGateway;

/**
 * Errors every gateway throws in the same shape, so the use cases never look at SDK error codes.
 * Anything else a gateway throws is treated as transient.
 */
export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    /** CloudFormation's error code, e.g. ValidationError, AlreadyExistsException, AccessDenied. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * IAM refused the call: the identity Cairn acts with lacks `action` (e.g.
 * `cloudformation:ExecuteChangeSet`). Retrying repeats the refusal; a person must grant it.
 */
export class AccessDeniedError extends GatewayError {
  override name = 'AccessDeniedError';
  constructor(
    code: string,
    /** The IAM action refused, as IAM names it, or the call's name when the answer did not say. */
    readonly action: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  /** The stall this refusal means for the commit being applied, on the stack of cairn.yaml it was for. */
  toStall(stackId?: string): StalledError {
    return new StalledError('AccessDenied', `${stackId ? `stack ${stackId}: ` : ''}IAM refused ${this.action}: ${this.message}`, {
      cause: this,
      ...(stackId ? { stackId } : {}),
      hint: `grant ${this.action} to the role Cairn acts with for this source, then push again or run \`cairn apply --retry\``,
    });
  }
}

/** The call was throttled (after the gateway's own retries, where it has any). */
export class ThrottlingError extends GatewayError {
  override name = 'ThrottlingError';
  constructor(message = 'Rate exceeded', options?: { cause?: unknown }) {
    super('Throttling', message, options);
  }
}

/** The template needs capabilities the request did not acknowledge. */
export class InsufficientCapabilitiesError extends GatewayError {
  override name = 'InsufficientCapabilitiesError';
  constructor(
    readonly capabilities: string[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super('InsufficientCapabilitiesException', message, options);
  }
}
