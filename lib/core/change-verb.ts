/**
 * What CloudFormation's preview says it will do to one resource, in a word people read: add,
 * modify, replace, may replace, remove. Shared by the terminal plan and the pull-request comment.
 */
import type { ChangeSetChange } from '../ports/stack-gateway.js';

export function changeVerb(c: ChangeSetChange): string {
  if (c.action !== 'Modify') return c.action.toLowerCase();
  return c.replacement === 'True' ? 'replace' : c.replacement === 'Conditional' ? 'may replace' : 'modify';
}
