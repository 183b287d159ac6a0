/**
 * Destructive-change protection: a change set that replaces or removes a resource of a stateful
 * type is refused before it runs, unless cairn.yaml names that logical id in `allowDestructive`.
 * Conditional replacement counts as replacement: CloudFormation may decide either way at run time.
 */
import type { ChangeSetChange } from '../ports/stack-gateway.js';

export interface DestructiveChange {
  logicalId: string;
  resourceType: string;
  /** 'replace' (Replacement True or Conditional) or 'remove'. */
  kind: 'replace' | 'remove';
  /** The properties whose change forces the replacement, when CloudFormation says. */
  properties: string[];
}

export function destructiveChanges(changes: ChangeSetChange[], protectedTypes: readonly string[], allowed: readonly string[]): DestructiveChange[] {
  const types = new Set(protectedTypes);
  const allow = new Set(allowed);
  const out: DestructiveChange[] = [];
  for (const c of changes) {
    if (!types.has(c.resourceType) || allow.has(c.logicalId)) continue;
    if (c.action === 'Remove') out.push({ logicalId: c.logicalId, resourceType: c.resourceType, kind: 'remove', properties: [] });
    else if (c.action === 'Modify' && (c.replacement === 'True' || c.replacement === 'Conditional')) {
      out.push({ logicalId: c.logicalId, resourceType: c.resourceType, kind: 'replace', properties: c.properties });
    }
  }
  return out;
}

/** One message naming the stack, each resource, why, and what to change. */
export function describeDestructive(stackId: string, stackName: string, found: DestructiveChange[]): { message: string; hint: string } {
  const items = found.map(
    (d) =>
      `${d.logicalId} (${d.resourceType}) would be ${d.kind === 'remove' ? 'deleted' : `replaced${d.properties.length ? ` because ${d.properties.join(', ')} changed` : ''}`}, losing its data`,
  );
  return {
    message: `stack ${stackId}${stackName !== stackId ? ` (${stackName})` : ''}: destructive change blocked: ${items.join('; ')}`,
    hint: `if losing this data is intended, add \`allowDestructive: [${found.map((d) => d.logicalId).join(', ')}]\` to stacks.${stackId} in cairn.yaml; otherwise revert the change${found.some((d) => d.kind === 'replace') ? ' (or keep the property that forces replacement as it was)' : ''}`,
  };
}

/** A one-line summary of a change set's changes, e.g. "2 to add, 1 to modify (1 replaced), 0 to remove". */
export function summariseChanges(changes: ChangeSetChange[]): string {
  const add = changes.filter((c) => c.action === 'Add').length;
  const modify = changes.filter((c) => c.action === 'Modify').length;
  const replaced = changes.filter((c) => c.action === 'Modify' && c.replacement === 'True').length;
  const remove = changes.filter((c) => c.action === 'Remove').length;
  return `${add} to add, ${modify} to modify${replaced ? ` (${replaced} replaced)` : ''}, ${remove} to remove`;
}
