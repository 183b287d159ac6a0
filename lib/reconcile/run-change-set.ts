/**
 * The one change-set runner: every change set a step executes (a create, an update, an adoption, a
 * drift revert) goes through it. It makes or finds the change set by name, waits briefly for
 * CloudFormation to compute it, and then, in one order for all of them: an empty one is deleted, a
 * refused one is deleted and stalls, a destructive one is deleted and blocked, one the confirm hook
 * declines is deleted, and any other is executed and reported. What differs between kinds is only
 * the wording and the hooks around execution.
 */
import { StalledError } from '../core/errors.js';
import { describeDestructive, destructiveChanges } from '../core/protection.js';
import { requestToken } from '../core/request-token.js';
import type { CairnEvent, EventSink } from '../ports/events.js';
import type { ChangeSetChange, ChangeSetInput, StackGateway } from '../ports/stack-gateway.js';
import { ensureChangeSet } from './change-set.js';

/** What one operation came to in this step. */
export type OpResult = 'started' | 'unchanged' | 'waiting' | 'declined' | 'held';

export interface ChangeSetRun {
  /** The stack's id in cairn.yaml and its CloudFormation name. */
  stack: string;
  stackName: string;
  gateway: StackGateway;
  input: ChangeSetInput;
  stackExists: boolean;
  /** Protected resource types and the logical ids cairn.yaml allows to be replaced or removed. */
  protectedTypes: readonly string[];
  allowDestructive: readonly string[];
  /** The stall for a change set CloudFormation refused. */
  refused(reason: string): StalledError;
  /** Rewords the destructive-change block for this kind (a revert says "drift revert blocked"). */
  blockedWording?(message: string, hint: string): { message: string; hint: string };
  /** After a refused, blocked or declined change set is deleted (a CREATE leaves an empty stack to remove). */
  afterDiscard?(): Promise<void>;
  /** Told of an empty change set (after it is deleted), and of a ready one's changes before anything else. */
  onEmpty?(): void;
  onReady?(changes: ChangeSetChange[]): void;
  /** Asked just before execution; false: deleted, nothing runs; `hold`: kept, not run (awaiting approval). */
  confirm(changes: ChangeSetChange[]): Promise<boolean | 'hold'>;
  /** Just before execution (termination protection as declared). */
  beforeExecute?(): Promise<void>;
  /** The event saying what started. */
  startedEvent(changes: ChangeSetChange[]): Extract<CairnEvent, { type: 'stack.action' }>;
  /** The empty event, when the kind reports one. */
  emptyEvent?: Extract<CairnEvent, { type: 'changeset.empty' }>;
  /** The source and the commit being applied, as every event names them. */
  base: { source: string; commit: string };
  sink: EventSink;
  timing: { waitMs: number; pollMs: number; sleep: (ms: number) => Promise<void>; describeValues?: boolean };
}

export async function runChangeSet(run: ChangeSetRun): Promise<OpResult> {
  const { gateway, input, sink } = run;
  const name = input.changeSetName;
  const state = await ensureChangeSet({ gateway, input, stackExists: run.stackExists, ...run.timing });
  const discard = async (): Promise<void> => {
    await gateway.deleteChangeSet(run.stackName, name);
    await run.afterDiscard?.();
  };
  switch (state.state) {
    case 'pending':
      return 'waiting';
    case 'executing':
      return 'started';
    case 'empty':
      await gateway.deleteChangeSet(run.stackName, name);
      if (run.emptyEvent) sink.emit(run.emptyEvent);
      run.onEmpty?.();
      return 'unchanged';
    case 'failed':
      await discard();
      throw run.refused(state.reason);
    case 'ready': {
      const changes = state.description.changes;
      const destructive = destructiveChanges(changes, run.protectedTypes, run.allowDestructive);
      if (destructive.length > 0) {
        await discard();
        const described = describeDestructive(run.stack, run.stackName, destructive);
        const { message, hint } = run.blockedWording ? run.blockedWording(described.message, described.hint) : described;
        sink.emit({ ...run.base, type: 'stack.blocked', stack: run.stack, stackName: run.stackName, reason: 'DestructiveChangeBlocked', message });
        throw new StalledError('DestructiveChangeBlocked', message, { stackId: run.stack, hint });
      }
      run.onReady?.(changes);
      sink.emit({ ...run.base, type: 'changeset.created', stack: run.stack, stackName: run.stackName, changeSetName: name, changes });
      const go = await run.confirm(changes);
      if (go === 'hold') return 'held';
      if (!go) {
        await discard();
        return 'declined';
      }
      await run.beforeExecute?.();
      await gateway.executeChangeSet(run.stackName, name, requestToken(name, run.base.source));
      sink.emit(run.startedEvent(changes));
      return 'started';
    }
  }
}
