/**
 * What one run did, counted from the events it emitted: stacks created, updated, deleted and
 * reverted, resources replaced, stacks blocked, and the declared stacks it left as they were. The
 * CLI's `apply` reports this, in text and JSON alike, rather than a count of stack states.
 */
import type { CairnEvent } from '../ports/events.js';

export interface RunCounts {
  created: number;
  updated: number;
  /** Resources replaced inside the updated stacks (Replacement True in the executed change sets). */
  replaced: number;
  deleted: number;
  reverted: number;
  blocked: number;
  unchanged: number;
}

/**
 * `stalled` names the stacks the run ended stalled at: they count as blocked, not as the create or
 * update that was started and failed.
 */
export function tallyRun(events: readonly CairnEvent[], declared: readonly string[], stalled: readonly string[] = []): RunCounts {
  const sets = { created: new Set<string>(), updated: new Set<string>(), deleted: new Set<string>(), reverted: new Set<string>(), blocked: new Set<string>() };
  const changeSets = new Map<string, number>();
  let replaced = 0;
  for (const e of events) {
    if (e.type === 'changeset.created') changeSets.set(e.stack, e.changes.filter((c) => c.action === 'Modify' && c.replacement === 'True').length);
    else if (e.type === 'stack.blocked') sets.blocked.add(e.stack);
    else if (e.type === 'stack.action') {
      if (e.action === 'create') sets.created.add(e.stack);
      else if (e.action === 'update' || e.action === 'adopt') {
        sets.updated.add(e.stack);
        replaced += changeSets.get(e.stack) ?? 0;
      } else if (e.action === 'delete') sets.deleted.add(e.stack);
      else if (e.action === 'revert-drift') sets.reverted.add(e.stack);
    }
  }
  for (const id of stalled) {
    if (!declared.includes(id)) continue;
    sets.created.delete(id);
    sets.updated.delete(id);
    sets.blocked.add(id);
  }
  const touched = new Set([...sets.created, ...sets.updated, ...sets.deleted, ...sets.reverted, ...sets.blocked]);
  return {
    created: sets.created.size,
    updated: sets.updated.size,
    replaced,
    deleted: sets.deleted.size,
    reverted: sets.reverted.size,
    blocked: sets.blocked.size,
    unchanged: declared.filter((id) => !touched.has(id)).length,
  };
}

/** e.g. "2 stacks created, 1 updated (1 resource replaced), 3 unchanged". */
export function describeRun(c: RunCounts): string {
  const parts: string[] = [];
  const add = (n: number, verb: string, always = false): void => {
    if (n > 0 || always) parts.push(parts.length === 0 ? `${n} stack${n === 1 ? '' : 's'} ${verb}` : `${n} ${verb}`);
  };
  add(c.created, 'created');
  add(c.updated, `updated${c.replaced ? ` (${c.replaced} resource${c.replaced === 1 ? '' : 's'} replaced)` : ''}`);
  add(c.deleted, 'deleted');
  add(c.reverted, 'reverted');
  add(c.blocked, 'blocked');
  add(c.unchanged, 'unchanged', parts.length === 0);
  return parts.join(', ');
}
