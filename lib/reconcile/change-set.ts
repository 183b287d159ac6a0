/**
 * One change set, resumably: its name is derived from the desired content hash, so a step that
 * crashed after creating it finds and reuses it instead of making a second one. Waits briefly for
 * CloudFormation to compute it, and says whether it is ready, still pending, empty, failed or
 * already executing.
 */
import { OWNER_TAGS, type ActualStack, type DesiredStack, type DesiredState } from '../core/model.js';
import type { ChangeSetDescription, ChangeSetInput, ChangeSetType, StackGateway } from '../ports/stack-gateway.js';
import { GatewayError } from '../ports/stack-gateway.js';

export const CHANGE_SET_PREFIX = 'cairn-';

/**
 * The change set for applying content `hash` to a stack last changed at `since` (ISO time; absent
 * for a stack that does not exist yet). Stable across retries of the same step, so a crash is
 * repaired by reuse; new after any update, so re-applying the same content after a change made
 * outside Cairn never mistakes the old, executed change set for the new one.
 */
export function changeSetName(hash: string, since?: string, kind: 'apply' | 'revert' = 'apply'): string {
  const stamp = since ? Date.parse(since).toString(36) : 'new';
  return `${CHANGE_SET_PREFIX}${kind === 'revert' ? 'revert-' : ''}${hash.slice(0, 24)}-${stamp}`;
}

/** CloudFormation's words for a change set with nothing in it. */
export function isNoChangeReason(reason: string | undefined): boolean {
  return /didn't contain changes|No updates are to be performed/i.test(reason ?? '');
}

export type ChangeSetState =
  | { state: 'ready'; description: ChangeSetDescription }
  | { state: 'pending' }
  | { state: 'empty' }
  | { state: 'failed'; reason: string }
  | { state: 'executing' };

export interface EnsureOptions {
  gateway: StackGateway;
  input: ChangeSetInput;
  /** Whether the stack exists at all (a change set can only be looked up on an existing stack). */
  stackExists: boolean;
  waitMs: number;
  pollMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Read it with its properties' old and new values (it must have been made with includePropertyValues). */
  describeValues?: boolean;
}

function stateOf(d: ChangeSetDescription): ChangeSetState | undefined {
  if (d.executionStatus === 'EXECUTE_IN_PROGRESS' || d.executionStatus === 'EXECUTE_COMPLETE') return { state: 'executing' };
  // Another operation started on the stack while this one was computed (a console update, say): not
  // the content's fault. Come back once the stack has settled; the next step replaces the change set.
  if (d.executionStatus === 'OBSOLETE') return { state: 'pending' };
  if (d.status === 'FAILED') return isNoChangeReason(d.statusReason) ? { state: 'empty' } : { state: 'failed', reason: d.statusReason ?? 'no reason given' };
  if (d.status === 'CREATE_COMPLETE' && d.executionStatus === 'AVAILABLE') return { state: 'ready', description: d };
  if (d.executionStatus === 'EXECUTE_FAILED') return { state: 'failed', reason: `change set is ${d.executionStatus}` };
  return undefined;
}

export async function ensureChangeSet(options: EnsureOptions): Promise<ChangeSetState> {
  const { gateway, input } = options;
  let existing = options.stackExists ? await gateway.describeChangeSet(input.stackName, input.changeSetName) : undefined;
  if (existing?.executionStatus === 'OBSOLETE' || existing?.executionStatus === 'EXECUTE_FAILED') {
    // A stale twin from an earlier attempt: the same name cannot be reused until it is gone.
    await gateway.deleteChangeSet(input.stackName, input.changeSetName);
    existing = undefined;
  }
  if (!existing) {
    try {
      await gateway.createChangeSet(input);
    } catch (error) {
      if (!(error instanceof GatewayError && error.code === 'AlreadyExistsException')) throw error;
    }
  }
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    const d = await gateway.describeChangeSet(input.stackName, input.changeSetName, options.describeValues ? { includePropertyValues: true } : undefined);
    if (d) {
      const state = stateOf(d);
      if (state) return state;
    }
    if (Date.now() >= deadline) return { state: 'pending' };
    await options.sleep(options.pollMs);
  }
}

/**
 * What CloudFormation is asked for to apply a desired stack: the template, the parameters as
 * resolved now, the tags that stamp ownership, content hash and commit, the capabilities and the
 * service role. Applies and previews ask the same, so a preview shows what the apply will do.
 */
export function changeSetInput(
  desired: DesiredState,
  d: DesiredStack,
  options: { stackName: string; changeSetName: string; changeSetType: ChangeSetType; parameters: Record<string, string>; hash: string; defaultRoleArn: string | undefined },
): ChangeSetInput {
  return {
    stackName: options.stackName,
    changeSetName: options.changeSetName,
    changeSetType: options.changeSetType,
    templateBody: d.templateBody,
    parameters: Object.entries(options.parameters).map(([key, value]) => ({ key, value })),
    tags: {
      ...d.tags,
      [OWNER_TAGS.source]: desired.source,
      [OWNER_TAGS.stack]: d.id,
      [OWNER_TAGS.hash]: options.hash,
      [OWNER_TAGS.commit]: desired.commit,
      [OWNER_TAGS.drift]: d.drift,
    },
    capabilities: d.capabilities,
    roleArn: d.roleArn ?? options.defaultRoleArn,
    clientToken: options.changeSetName,
    description: `Cairn: ${desired.source}@${desired.commit.slice(0, 12)} ${d.templateFile}`,
  };
}

/**
 * What CloudFormation is asked for to put a drifted stack back to its template: the same template
 * and parameters, the stack's own tags (its content did not change), and the drift-aware
 * deployment mode. Reverts and their previews ask the same.
 */
export function revertInput(
  d: DesiredStack,
  actual: ActualStack,
  options: { changeSetName: string; parameters: Record<string, string>; defaultRoleArn: string | undefined },
): ChangeSetInput {
  return {
    stackName: actual.stackName,
    changeSetName: options.changeSetName,
    changeSetType: 'UPDATE',
    templateBody: d.templateBody,
    parameters: Object.entries(options.parameters).map(([key, value]) => ({ key, value })),
    tags: actual.tags,
    capabilities: d.capabilities,
    roleArn: d.roleArn ?? options.defaultRoleArn,
    clientToken: options.changeSetName,
    deploymentMode: 'REVERT_DRIFT',
    description: `Cairn: revert drift found at ${actual.driftCheckedAt}`,
  };
}
