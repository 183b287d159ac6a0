/**
 * The domain's data: what a repository wants (DesiredStack), what an account has (ActualStack),
 * and the plan that pairs them. Plain data only, so the core stays pure and every port speaks it.
 */
import type { ChangeSetChange } from '../ports/stack-gateway.js';
import type { Problem } from './errors.js';

export type DriftPolicy = 'alert' | 'revert' | 'ignore';

export type Capability = 'CAPABILITY_IAM' | 'CAPABILITY_NAMED_IAM' | 'CAPABILITY_AUTO_EXPAND';

/** A parameter value in cairn.yaml: a literal, or another stack's output wired in at apply time. */
export type ParameterValue = string | { fromStack: string; output: string };

/** Tags Cairn stamps on every stack it owns. Stacks without `cairn:source` are never touched. */
export const OWNER_TAGS = {
  source: 'cairn:source',
  stack: 'cairn:stack',
  hash: 'cairn:hash',
  commit: 'cairn:commit',
  /** The stack's drift policy, so the sweep can act on it without reading the repository. */
  drift: 'cairn:drift',
} as const;

export interface DesiredStack {
  /** Key of the stack in cairn.yaml. */
  id: string;
  stackName: string;
  /** Region from the stack or defaults; undefined means the gateway's own region. */
  region: string | undefined;
  /** Repository-relative path of the template. */
  templateFile: string;
  /** The canonical template (short-form tags expanded, keys sorted). */
  template: Record<string, unknown>;
  /** The canonical template as the JSON text sent to CloudFormation. */
  templateBody: string;
  parameters: Record<string, ParameterValue>;
  /** User tags (defaults merged with the stack's own); owner tags are added at apply time. */
  tags: Record<string, string>;
  capabilities: Capability[];
  roleArn: string | undefined;
  terminationProtection: boolean;
  /** Explicit dependsOn plus every stack named by a fromStack parameter, sorted and unique. */
  dependsOn: string[];
  drift: DriftPolicy;
  /** Take over an existing stack of this name that Cairn does not own yet. */
  adopt: boolean;
  /** Logical ids whose replacement or removal is allowed despite destructive-change protection. */
  allowDestructive: string[];
}

export interface DesiredState {
  source: string;
  commit: string;
  stacks: DesiredStack[];
  prune: boolean;
  /** Largest share (0..1] of owned stacks one run may prune. */
  pruneMaxShare: number;
  /** Resource types whose replacement or removal is blocked unless allowed per logical id. */
  protectedTypes: string[];
  /** What the templates' checks found that does not stop a deploy: warnings and notices. */
  findings: Problem[];
}

export interface ActualStack {
  stackName: string;
  stackId: string;
  region: string | undefined;
  status: string;
  statusReason: string | undefined;
  tags: Record<string, string>;
  outputs: Record<string, string>;
  parameters: Record<string, string>;
  terminationProtection: boolean;
  createdAt: string;
  updatedAt: string | undefined;
  driftStatus: string | undefined;
  driftCheckedAt: string | undefined;
  /** The CloudFormation service role the stack was last deployed with, which its deletion passes too. */
  roleArn?: string;
}

/** `revert`: the content is in sync but the stack drifted, and its drift policy reverts drift (a drift-aware change set). */
export type PlanAction = 'create' | 'update' | 'delete' | 'revert' | 'none' | 'blocked';

export interface ResourceChange {
  logicalId: string;
  type: string;
  change: 'add' | 'modify' | 'remove';
  /** Top-level properties that differ, for modified resources. */
  properties: string[];
}

export interface StackPlan {
  id: string;
  stackName: string;
  region: string | undefined;
  action: PlanAction;
  /** 0-based; stacks of one wave do not depend on each other. Deletes come last, in reverse order. */
  wave: number;
  /** Why this action: e.g. "template changed", "not deployed yet", "owned by another source". */
  reason: string;
  /** For blocked stacks: the kind of block, which decides how it is reported. */
  blockedBy?: 'OwnershipConflict' | 'StackFailed' | 'PruneRefused' | 'ManifestInvalid' | 'DestructiveChangeBlocked' | 'ChangeSetFailed' | 'CapabilityMissing';
  /** The stack must be deleted first (a failed create left it in ROLLBACK_COMPLETE). */
  recreate: boolean;
  /** The stack is busy in CloudFormation and will be taken up when it settles. */
  waiting: boolean;
  resources: ResourceChange[];
  /** Parameter keys whose value changes (fromStack values still unknown are listed as `(from stack)`). */
  parameters: string[];
  desiredHash: string | undefined;
  actualHash: string | undefined;
  /**
   * For an update, CloudFormation's own answer (a preview change set, read and deleted): each
   * resource change with its replacement and its properties' old and new values. Absent when the
   * plan was made offline; `pending` when CloudFormation had not computed it in time.
   */
  preview?: { state: 'ready' | 'empty' | 'pending'; changes: ChangeSetChange[] };
  /**
   * The change set `cairn apply` made while planning and will execute when the answer is yes (its
   * preview is this very change set). Absent in `cairn plan` (previews are deleted there), for creates,
   * and for stacks whose wired parameters are known only after apply.
   */
  changeSetName?: string;
  /** Stacks whose outputs, once they are applied in this run, may change this one ("known after apply"). */
  mayChangeAfter?: string[];
}

export interface Plan {
  source: string;
  commit: string;
  stacks: StackPlan[];
  /** True when any stack would be created, updated or deleted. */
  changes: boolean;
}
