/**
 * Plan a source against an account: list the live stacks of every region the source touches (one
 * paginated listing per region, not one call per stack), read current templates only for stacks
 * whose content hash differs, and hand both to the pure planner. With `preview`, each stack to be
 * updated also gets CloudFormation's own answer (a preview change set, read and deleted): its
 * replacements and old → new values, and destructive changes blocked as an apply would block them.
 */
import type { ActualStack, DesiredState, Plan, StackPlan } from '../core/model.js';
import { hasChanges, holdByWindows, nothingToRevert, parametersNow, plan, stackKey } from '../core/plan.js';
import { describeDestructive, destructiveChanges } from '../core/protection.js';
import { parseTemplate } from '../core/template.js';
import type { ChangeSetInput, GatewayFactory, StackGateway } from '../ports/stack-gateway.js';
import { changeSetInput, changeSetName, ensureChangeSet, revertInput } from './change-set.js';
import { InsufficientCapabilitiesError } from '../ports/stack-gateway.js';
import { waitingOn, type ProgressListener } from '../ports/progress.js';
import { previewChangeSet, type Preview } from './preview.js';

export interface PlanSourceOptions {
  gateways: GatewayFactory;
  /** Read current templates of changed stacks to show resource-level diffs (one GetTemplate per changed stack). */
  resourceDiff?: boolean;
  /**
   * Also read the live templates of up to this many in-sync stacks (a random sample, so repeated
   * sweeps cover them all) to find templates changed outside Cairn.
   */
  verifyTemplates?: number;
  random?: () => number;
  /** Stack ids whose failed attempt at the same content may be retried (see PlanInput.retry). */
  retry?: ReadonlySet<string>;
  /**
   * The time change windows are judged at (default: now). `false` ignores the windows (an
   * emergency override); held stacks are still planned, just not marked held.
   */
  windowsAt?: number | false;
  /** Ask CloudFormation for a preview of every update (never executed; always deleted). */
  preview?: {
    waitMs: number;
    pollMs: number;
    sleep?: (ms: number) => Promise<void>;
    defaultRoleArn?: string;
    /**
     * Make each preview the very change set an apply executes (named as apply names it) and keep it,
     * so `cairn apply` runs what it showed; its name goes to `StackPlan.changeSetName`. Stacks whose
     * wired parameters are known only after apply still get a throwaway preview.
     */
    keep?: boolean;
  };
  /** Told which stacks' previews CloudFormation is still computing (the CLI's progress line). */
  progress?: ProgressListener;
}

export interface SourcePlan {
  plan: Plan;
  actual: ActualStack[];
  defaultRegion: string;
  /** The gateway for a stack's region. */
  gatewayFor(region: string | undefined): StackGateway;
}

export async function listActual(desired: DesiredState, gateways: GatewayFactory): Promise<{ actual: ActualStack[]; defaultRegion: string }> {
  const defaultRegion = gateways(undefined).region;
  const regions = [...new Set([defaultRegion, ...desired.stacks.map((s) => s.region ?? defaultRegion)])].sort();
  const listed = await Promise.all(regions.map((r) => gateways(r).listStacks()));
  const actual = listed.flatMap((stacks, i) => stacks.map((s) => ({ ...s, region: s.region ?? regions[i] })));
  return { actual, defaultRegion };
}

export async function planSource(desired: DesiredState, options: PlanSourceOptions): Promise<SourcePlan> {
  const { actual, defaultRegion } = await listActual(desired, options.gateways);
  const gatewayFor = (region: string | undefined): StackGateway => options.gateways(region ?? defaultRegion);
  const retry = options.retry;
  let result = plan({ desired, actual, defaultRegion, ...(retry ? { retry } : {}) });
  const toRead = [
    ...(options.resourceDiff ? result.stacks.filter((s) => s.action === 'update') : []),
    ...sample(
      result.stacks.filter((s) => s.action === 'none' && !s.waiting && s.desiredHash !== undefined && s.actualHash === s.desiredHash),
      options.verifyTemplates ?? 0,
      options.random ?? Math.random,
    ),
  ];
  if (toRead.length > 0) {
    const templates = new Map<string, Record<string, unknown>>();
    await Promise.all(
      toRead.map(async (s) => {
        const text = await gatewayFor(s.region).getTemplate(s.stackName);
        const parsed = parseTemplate(text, s.stackName);
        if (parsed.ok) templates.set(stackKey(s.region, s.stackName, defaultRegion), parsed.value.template);
      }),
    );
    result = plan({ desired, actual, defaultRegion, templates, ...(retry ? { retry } : {}) });
  }
  if (options.windowsAt !== false) holdByWindows(result, desired, new Date(options.windowsAt ?? Date.now()));
  if (options.preview) await addPreviews(result, desired, actual, defaultRegion, gatewayFor, options.preview, options.progress);
  return { plan: result, actual, defaultRegion, gatewayFor };
}

/** A preview change set per update, in parallel; what it shows may block the stack, as apply would. */
async function addPreviews(
  result: Plan,
  desired: DesiredState,
  actual: ActualStack[],
  defaultRegion: string,
  gatewayFor: (region: string | undefined) => StackGateway,
  options: NonNullable<PlanSourceOptions['preview']>,
  progress?: ProgressListener,
): Promise<void> {
  const waiting = waitingOn(progress, 'change-sets');
  const byKey = new Map(actual.map((a) => [stackKey(a.region, a.stackName, defaultRegion), a]));
  const desiredById = new Map(desired.stacks.map((d) => [d.id, d]));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  await Promise.all(
    result.stacks
      .filter((s) => (s.action === 'update' || s.action === 'revert') && !s.waiting)
      .map(waiting.track(async (s) => {
        const d = desiredById.get(s.id)!;
        // Wired parameters take the dependencies' outputs as they are now; "known after apply" says when they may change.
        const resolved = parametersNow(d, desiredById, (dep) => byKey.get(stackKey(dep.region, dep.stackName, defaultRegion)));
        const actualStack = byKey.get(stackKey(s.region, s.stackName, defaultRegion));
        const input =
          s.action === 'revert' && actualStack
            ? revertInput(d, actualStack, { changeSetName: 'preview', parameters: resolved.values, defaultRoleArn: options.defaultRoleArn })
            : changeSetInput(desired, d, { stackName: s.stackName, changeSetName: 'preview', changeSetType: 'UPDATE', parameters: resolved.values, hash: s.desiredHash!, defaultRoleArn: options.defaultRoleArn });
        const gateway = gatewayFor(s.region);
        const timing = { waitMs: options.waitMs, pollMs: options.pollMs, sleep };
        if (options.keep && !s.held && actualStack && resolved.pending.length === 0) {
          const name = s.action === 'revert' ? changeSetName(s.desiredHash!, actualStack.driftCheckedAt, 'revert') : changeSetName(s.desiredHash!, actualStack.updatedAt ?? actualStack.createdAt);
          const found = await keptPreview(gateway, { ...input, changeSetName: name, clientToken: name }, timing);
          applyPreview(s, found, desired, d.allowDestructive);
          // Kept only while apply may still run it: a blocked or empty one is removed, as apply would remove it.
          if (found.state === 'ready' || found.state === 'pending') {
            if (s.action === 'blocked') await gateway.deleteChangeSet(s.stackName, name);
            else s.changeSetName = name;
          }
          return;
        }
        const found = await previewChangeSet({ gateway, input, ...timing });
        applyPreview(s, found, desired, d.allowDestructive);
      })),
  ).finally(waiting.end);
  result.changes = hasChanges(result.stacks);
}

/**
 * The change set apply will execute, made now with property values and left in place: the one
 * `advance` then finds by name and runs. Refused or empty ones are deleted, as apply deletes them.
 */
async function keptPreview(
  gateway: StackGateway,
  input: ChangeSetInput,
  timing: { waitMs: number; pollMs: number; sleep: (ms: number) => Promise<void> },
): Promise<Preview> {
  let state;
  try {
    state = await ensureChangeSet({ gateway, input: { ...input, includePropertyValues: true }, stackExists: true, ...timing });
  } catch (error) {
    if (error instanceof InsufficientCapabilitiesError) return { state: 'capabilities', capabilities: error.capabilities.length ? error.capabilities : ['CAPABILITY_IAM'] };
    throw error;
  }
  switch (state.state) {
    case 'ready': {
      const d = await gateway.describeChangeSet(input.stackName, input.changeSetName, { includePropertyValues: true });
      return { state: 'ready', changes: d?.changes ?? state.description.changes };
    }
    case 'empty':
    case 'failed':
      await gateway.deleteChangeSet(input.stackName, input.changeSetName);
      return state.state === 'empty' ? { state: 'empty' } : { state: 'failed', reason: state.reason };
    case 'pending':
    case 'executing':
      return { state: 'pending' };
  }
}

function applyPreview(s: StackPlan, found: Preview, desired: DesiredState, allowDestructive: string[]): void {
  switch (found.state) {
    case 'ready': {
      s.preview = { state: 'ready', changes: found.changes };
      const destructive = destructiveChanges(found.changes, desired.protectedTypes, allowDestructive);
      if (destructive.length > 0) {
        const { message, hint } = describeDestructive(s.id, s.stackName, destructive);
        const what = s.action === 'revert' ? message.replace('destructive change blocked', 'drift revert blocked') : message;
        block(s, 'DestructiveChangeBlocked', `${what.replace(/^stack [^:]+: /, '')}; ${hint}`);
      }
      return;
    }
    case 'empty':
      if (s.action === 'revert') {
        // As apply finds it: nothing CloudFormation can revert, so the drift stays reported and nothing runs.
        nothingToRevert(s);
        return;
      }
      s.preview = { state: found.state, changes: [] };
      return;
    case 'pending':
      s.preview = { state: found.state, changes: [] };
      return;
    case 'failed':
      block(s, 'ChangeSetFailed', `CloudFormation refused the change set: ${found.reason}`);
      return;
    case 'capabilities':
      block(s, 'CapabilityMissing', `its template needs ${found.capabilities.join(' and ')}, which cairn.yaml does not acknowledge; add \`capabilities: [${found.capabilities.join(', ')}]\` to stacks.${s.id}`);
      return;
  }
}

function block(s: StackPlan, by: NonNullable<StackPlan['blockedBy']>, reason: string): void {
  s.action = 'blocked';
  s.blockedBy = by;
  s.reason = reason;
}

function sample<T>(items: T[], n: number, random: () => number): T[] {
  if (n >= items.length) return items;
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}
