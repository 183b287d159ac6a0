/**
 * Previews: what CloudFormation itself would do to a stack, read from its own answer. A change set
 * is created with property values, read, and deleted, never executed. Its name marks it as a
 * preview (`cairn-preview-…`), so one left behind by a crash is recognised and removed by the next
 * preview of that stack. `cairn plan` and `apply`'s confirmation show these, so what is shown is
 * what CloudFormation will run.
 */
import { randomBytes } from 'node:crypto';
import type { ChangeSetChange, ChangeSetInput, StackGateway } from '../ports/stack-gateway.js';
import { InsufficientCapabilitiesError } from '../ports/stack-gateway.js';
import { CHANGE_SET_PREFIX, isNoChangeReason } from './change-set.js';

export const PREVIEW_PREFIX = `${CHANGE_SET_PREFIX}preview-`;

/** A preview older than this is a leftover (a crashed or killed plan), not one being read. */
const LEFTOVER_AFTER_MS = 10 * 60_000;

export type Preview =
  | { state: 'ready'; changes: ChangeSetChange[] }
  /** CloudFormation found nothing to change in the resources (say, only a stack tag differs). */
  | { state: 'empty' }
  | { state: 'failed'; reason: string }
  | { state: 'capabilities'; capabilities: string[] }
  /** CloudFormation had not finished computing it within the wait. */
  | { state: 'pending' };

export interface PreviewOptions {
  gateway: StackGateway;
  /** The same input an apply would send; its name, token and description are replaced. */
  input: ChangeSetInput;
  waitMs: number;
  pollMs: number;
  sleep: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Whether a change set name is one of Cairn's previews (never to be executed). */
export function isPreview(changeSetName: string): boolean {
  return changeSetName.startsWith(PREVIEW_PREFIX);
}

export async function previewChangeSet(options: PreviewOptions): Promise<Preview> {
  const { gateway, input } = options;
  const now = options.now ?? Date.now;
  const name = `${PREVIEW_PREFIX}${now().toString(36)}-${randomBytes(4).toString('hex')}`;
  await removeLeftovers(gateway, input.stackName, now());
  try {
    try {
      await gateway.createChangeSet({
        ...input,
        changeSetName: name,
        clientToken: name,
        description: 'Cairn preview: read and deleted, never executed',
        includePropertyValues: true,
      });
    } catch (error) {
      if (error instanceof InsufficientCapabilitiesError) return { state: 'capabilities', capabilities: error.capabilities.length ? error.capabilities : ['CAPABILITY_IAM'] };
      throw error;
    }
    const deadline = now() + options.waitMs;
    for (;;) {
      const d = await gateway.describeChangeSet(input.stackName, name, { includePropertyValues: true });
      if (d?.status === 'CREATE_COMPLETE') return { state: 'ready', changes: d.changes };
      if (d?.status === 'FAILED') return isNoChangeReason(d.statusReason) ? { state: 'empty' } : { state: 'failed', reason: d.statusReason ?? 'no reason given' };
      if (now() >= deadline) return { state: 'pending' };
      await options.sleep(options.pollMs);
    }
  } finally {
    // Never left to be executed by anyone: deleted whatever happened above.
    await gateway.deleteChangeSet(input.stackName, name).catch(() => undefined);
  }
}

async function removeLeftovers(gateway: StackGateway, stackName: string, at: number): Promise<void> {
  const summaries = await gateway.listChangeSets(stackName);
  for (const s of summaries) {
    if (isPreview(s.changeSetName) && at - Date.parse(s.createdAt) > LEFTOVER_AFTER_MS) {
      await gateway.deleteChangeSet(stackName, s.changeSetName).catch(() => undefined);
    }
  }
}

/**
 * The change set of Cairn's a stack holds ready to run and not yet executed (newest first): what a
 * stack whose approval policy asks for one waits on. Previews are never it.
 */
export async function keptChangeSet(gateway: StackGateway, stackName: string): Promise<string | undefined> {
  const sets = await gateway.listChangeSets(stackName);
  return sets
    .filter((c) => c.changeSetName.startsWith(CHANGE_SET_PREFIX) && !isPreview(c.changeSetName) && c.executionStatus === 'AVAILABLE')
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]?.changeSetName;
}
