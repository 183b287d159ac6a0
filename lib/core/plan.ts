/**
 * Planning: desired stacks against actual stacks → per stack create | update | delete | none |
 * blocked, with the resources and parameters that change, ordered in waves. Pure: the in-sync
 * decision uses the content hash kept in the stack's tags, so unchanged stacks cost no template read.
 */
import { canonicalJson, contentHash } from './canonical.js';
import { waves } from './graph.js';
import { conditionOf, stuckHint } from './health.js';
import type { ActualStack, DesiredStack, DesiredState, Plan, PlanAction, ResourceChange, StackPlan } from './model.js';
import { describeHold, windowVerdict, type ChangeWindow } from './windows.js';
import { OWNER_TAGS } from './model.js';

export interface PlanInput {
  desired: DesiredState;
  /** Live stacks in every region the desired state touches; `region` set on each. */
  actual: ActualStack[];
  /** The region a stack without one goes to. */
  defaultRegion: string;
  /**
   * Current templates (canonical form) keyed by stackKey. For stacks being updated they give
   * resource diffs; for stacks whose hash matches they reveal a template changed outside Cairn.
   */
  templates?: Map<string, Record<string, unknown>>;
  /**
   * Stack ids whose failed attempt at this very content may be tried once more (`cairn apply
   * --retry`, after the cause outside the template was fixed). Without it such a stack is blocked:
   * the same content would fail the same way.
   */
  retry?: ReadonlySet<string>;
}

export function countActions(plan: Plan): Record<PlanAction, number> {
  const counts: Record<PlanAction, number> = { create: 0, update: 0, delete: 0, revert: 0, none: 0, blocked: 0 };
  for (const s of plan.stacks) counts[s.action]++;
  return counts;
}

export function stackKey(region: string | undefined, stackName: string, defaultRegion: string): string {
  return `${region ?? defaultRegion}/${stackName}`;
}

export interface ResolvedParameters {
  values: Record<string, string>;
  /** Parameters wired from a dependency whose output is not known yet (it is not deployed, or it will change). */
  pending: string[];
  /** Parameters wired from a deployed, settled dependency that lacks the named output. */
  missing: { parameter: string; stack: string; output: string; available: string[] }[];
}

/** Literal values as they are; fromStack values from the dependency's current outputs. */
export function resolveParameters(
  stack: DesiredStack,
  lookup: (id: string) => { outputs: Record<string, string>; settled: boolean } | undefined,
): ResolvedParameters {
  const values: Record<string, string> = {};
  const pending: string[] = [];
  const missing: ResolvedParameters['missing'] = [];
  for (const [name, value] of Object.entries(stack.parameters)) {
    if (typeof value === 'string') {
      values[name] = value;
      continue;
    }
    const dep = lookup(value.fromStack);
    const out = dep?.outputs[value.output];
    if (out !== undefined) values[name] = out;
    if (!dep || !dep.settled) pending.push(name);
    else if (out === undefined) missing.push({ parameter: name, stack: value.fromStack, output: value.output, available: Object.keys(dep.outputs).sort() });
  }
  return { values, pending, missing };
}

/**
 * Parameters as a change set made now would get them: literals, and wired values from the
 * dependencies' outputs as they are (what applies and previews both send).
 */
export function parametersNow(stack: DesiredStack, desiredById: ReadonlyMap<string, DesiredStack>, actualOf: (dep: DesiredStack) => ActualStack | undefined): ResolvedParameters {
  return resolveParameters(stack, (id) => {
    const dep = desiredById.get(id);
    const a = dep && actualOf(dep);
    return a ? { outputs: a.outputs, settled: true } : undefined;
  });
}

/** The content hash that decides "in sync": template, resolved parameters, tags, capabilities, role, protection. */
export function desiredHash(stack: DesiredStack, parameters: Record<string, string>): string {
  return contentHash({
    template: stack.templateBody,
    parameters,
    tags: stack.tags,
    capabilities: stack.capabilities,
    roleArn: stack.roleArn ?? null,
    terminationProtection: stack.terminationProtection,
    drift: stack.drift,
  }).slice(0, 32);
}

/** Resources added, removed and modified between two canonical templates. */
export function diffTemplates(before: Record<string, unknown> | undefined, after: Record<string, unknown>): ResourceChange[] {
  const oldRes = (before?.['Resources'] ?? {}) as Record<string, Record<string, unknown>>;
  const newRes = (after['Resources'] ?? {}) as Record<string, Record<string, unknown>>;
  const changes: ResourceChange[] = [];
  for (const id of Object.keys({ ...oldRes, ...newRes }).sort()) {
    const o = oldRes[id];
    const n = newRes[id];
    if (!o) changes.push({ logicalId: id, type: String(n!['Type']), change: 'add', properties: [] });
    else if (!n) changes.push({ logicalId: id, type: String(o['Type']), change: 'remove', properties: [] });
    else {
      const properties = changedKeys((o['Properties'] ?? {}) as Record<string, unknown>, (n['Properties'] ?? {}) as Record<string, unknown>);
      const attributes = changedKeys(withoutProperties(o), withoutProperties(n));
      const all = [...properties, ...attributes.map((a) => `(${a})`)];
      if (all.length > 0) changes.push({ logicalId: id, type: String(n['Type']), change: 'modify', properties: all });
    }
  }
  return changes;
}

function withoutProperties(resource: Record<string, unknown>): Record<string, unknown> {
  const { Properties: _ignored, ...rest } = resource;
  return rest;
}

function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return Object.keys({ ...a, ...b })
    .filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k]))
    .sort();
}

function emptyPlan(stack: { id: string; stackName: string; region: string | undefined }, action: PlanAction, reason: string): StackPlan {
  return {
    id: stack.id,
    stackName: stack.stackName,
    region: stack.region,
    action,
    wave: 0,
    reason,
    recreate: false,
    waiting: false,
    resources: [],
    parameters: [],
    desiredHash: undefined,
    actualHash: undefined,
  };
}

export function plan({ desired, actual, defaultRegion, templates, retry }: PlanInput): Plan {
  const key = (region: string | undefined, name: string): string => stackKey(region, name, defaultRegion);
  const actualByKey = new Map(actual.map((a) => [key(a.region, a.stackName), a]));
  const desiredById = new Map(desired.stacks.map((s) => [s.id, s]));
  const waveOf = waves(new Map(desired.stacks.map((s) => [s.id, s.dependsOn])));
  const plans = new Map<string, StackPlan>();

  // Dependencies come first in wave order, so a dependent sees whether its dependency will change.
  const ordered = [...desired.stacks].sort((a, b) => waveOf.get(a.id)! - waveOf.get(b.id)! || a.id.localeCompare(b.id));
  for (const stack of ordered) {
    const current = actualByKey.get(key(stack.region, stack.stackName));
    const resolved = resolveParameters(stack, (id) => {
      const dep = desiredById.get(id);
      const depActual = dep && actualByKey.get(key(dep.region, dep.stackName));
      if (!depActual) return undefined;
      const depPlan = plans.get(id);
      const settled = conditionOf(depActual.status) === 'stable' && (depPlan?.action === 'none' || depPlan === undefined);
      return { outputs: depActual.outputs, settled };
    });
    // A wired output that exists today counts at its current value: whether the stack changes is
    // decided again once the dependency has settled, and the plan says it may. Only an output that
    // does not exist yet (its stack is still to be created) makes the stack change for certain.
    const unknown = resolved.pending.filter((p) => resolved.values[p] === undefined);
    const hash = desiredHash(stack, { ...resolved.values, ...Object.fromEntries(unknown.map((p) => [p, '(pending)'])) });
    const p = planStack(stack, current, desired.source, hash, resolved, templates?.get(key(stack.region, stack.stackName)), retry?.has(stack.id) ?? false);
    p.wave = waveOf.get(stack.id)!;
    plans.set(stack.id, p);
  }

  const maxWave = Math.max(-1, ...[...plans.values()].map((p) => p.wave));
  const owned = actual
    .filter((a) => a.tags[OWNER_TAGS.source] === desired.source && conditionOf(a.status) !== 'gone')
    .filter((a) => {
      const id = a.tags[OWNER_TAGS.stack];
      const d = id ? desiredById.get(id) : undefined;
      return !d || key(d.region, d.stackName) !== key(a.region, a.stackName);
    })
    // Cairn creates dependencies before their dependents, so newest first is a safe reverse order.
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.stackName.localeCompare(b.stackName));
  const ownedCount = actual.filter((a) => a.tags[OWNER_TAGS.source] === desired.source).length;
  const allowed = Math.max(1, Math.floor(ownedCount * desired.pruneMaxShare));
  owned.forEach((a, i) => {
    const id = a.tags[OWNER_TAGS.stack] ?? a.stackName;
    const base = { id, stackName: a.stackName, region: a.region };
    let p: StackPlan;
    if (!desired.prune) p = emptyPlan(base, 'none', 'no longer in cairn.yaml; kept because prune is off');
    else if (desired.stacks.length === 0) p = emptyPlan(base, 'blocked', 'prune refused: cairn.yaml declares no stacks at all, which looks like a mistake; declare at least one stack or delete this stack by hand');
    else if (owned.length > allowed) {
      p = emptyPlan(
        base,
        'blocked',
        `prune refused: ${owned.length} of ${ownedCount} owned stacks would be deleted, more than pruneMaxShare ${desired.pruneMaxShare} allows (${allowed}); raise defaults.pruneMaxShare or remove fewer stacks per commit`,
      );
    } else if (a.terminationProtection) {
      p = emptyPlan(base, 'blocked', 'no longer in cairn.yaml, but termination protection is on; turn it off to let Cairn delete it, or delete it by hand');
    } else if (conditionOf(a.status) === 'busy') {
      p = { ...emptyPlan(base, 'delete', 'no longer in cairn.yaml; prune is on'), waiting: true };
    } else p = emptyPlan(base, 'delete', 'no longer in cairn.yaml; prune is on');
    if (p.action === 'blocked') p.blockedBy = 'PruneRefused';
    p.actualHash = a.tags[OWNER_TAGS.hash];
    p.wave = p.action === 'delete' ? maxWave + 1 + i : maxWave + 1;
    plans.set(`delete:${a.region}/${a.stackName}`, p);
  });

  const stacks = [...plans.values()].sort((a, b) => a.wave - b.wave || a.id.localeCompare(b.id));
  return {
    source: desired.source,
    commit: desired.commit,
    stacks,
    changes: hasChanges(stacks),
  };
}

/**
 * Mark each action a change window holds now (planned and reported, not applied): a stack's own
 * windows, or the defaults'; a prune by the defaults'. Unchanged and blocked stacks are not held.
 */
export function holdByWindows(result: Plan, desired: DesiredState, now: Date): void {
  const byId = new Map(desired.stacks.map((d) => [d.id, d]));
  // Stacks without windows of their own share the defaults' list: judged once, not once per stack.
  const verdicts = new Map<readonly ChangeWindow[], ReturnType<typeof windowVerdict>>();
  for (const s of result.stacks) {
    if (s.action === 'none' || s.action === 'blocked') continue;
    const windows = s.action === 'delete' ? desired.windows : (byId.get(s.id)?.windows ?? desired.windows);
    if (windows.length === 0) continue;
    let verdict = verdicts.get(windows);
    if (!verdict) verdicts.set(windows, (verdict = windowVerdict(windows, now)));
    if (verdict.open) continue;
    s.held = { window: verdict.window, until: verdict.until?.toISOString(), message: describeHold(verdict, now) };
  }
}

/** A planned revert CloudFormation cannot carry out: the drift stays reported, and there is nothing to run. */
export function nothingToRevert(s: StackPlan): void {
  s.action = 'none';
  s.reason = 'drifted; CloudFormation could not revert it with a drift-aware change set, so it stays reported as drift';
}

/** Whether any stack would be created, updated, reverted or deleted (blocked and unchanged ones change nothing). */
export function hasChanges(stacks: readonly StackPlan[]): boolean {
  return stacks.some((s) => s.action === 'create' || s.action === 'update' || s.action === 'revert' || s.action === 'delete');
}

/** Detection found drift after the stack's last update, so the drift is current (an update since then removed it). */
export function driftIsCurrent(a: ActualStack): boolean {
  if (a.driftStatus !== 'DRIFTED' || !a.driftCheckedAt) return false;
  return Date.parse(a.driftCheckedAt) > Date.parse(a.updatedAt ?? a.createdAt);
}

/** CloudFormation shows NoEcho parameters as asterisks; their values cannot be compared. */
const MASKED = /^\*+$/;

/** Why a stack whose recorded hash matches is nevertheless not what Cairn applied, if it is not. */
function changedOutside(
  stack: DesiredStack,
  current: ActualStack,
  resolved: ResolvedParameters,
  currentTemplate: Record<string, unknown> | undefined,
): string | undefined {
  const params = Object.keys(resolved.values).filter(
    (k) => !resolved.pending.includes(k) && current.parameters[k] !== undefined && !MASKED.test(current.parameters[k]!) && current.parameters[k] !== resolved.values[k],
  );
  if (params.length > 0) return `parameters changed outside Cairn (${params.sort().join(', ')}); re-applying the repository's values`;
  if (currentTemplate && canonicalJson(currentTemplate) !== stack.templateBody) return 'template changed outside Cairn; re-applying the repository\'s template';
  return undefined;
}

function planStack(
  stack: DesiredStack,
  current: ActualStack | undefined,
  source: string,
  hash: string,
  resolved: ResolvedParameters,
  currentTemplate: Record<string, unknown> | undefined,
  retry: boolean,
): StackPlan {
  const p = emptyPlan(stack, 'none', 'in sync');
  p.desiredHash = hash;
  const pendingNote = (name: string): string => {
    const ref = stack.parameters[name] as { fromStack: string; output: string };
    return `${name} (from ${ref.fromStack}.${ref.output}, known after apply)`;
  };
  if (resolved.missing.length > 0) {
    const m = resolved.missing[0]!;
    p.action = 'blocked';
    p.blockedBy = 'ManifestInvalid';
    p.reason = `parameter ${m.parameter} takes output ${m.output} of stack "${m.stack}", which has no such output (it has: ${m.available.join(', ') || 'none'})`;
    return p;
  }
  if (!current || conditionOf(current.status) === 'gone') {
    p.action = 'create';
    p.reason = 'not deployed yet';
    p.resources = diffTemplates(undefined, stack.template);
    p.parameters = Object.keys(stack.parameters).sort().map((k) => (resolved.pending.includes(k) ? pendingNote(k) : k));
    return p;
  }
  p.actualHash = current.tags[OWNER_TAGS.hash];
  const owner = current.tags[OWNER_TAGS.source];
  if (owner === undefined && !stack.adopt) {
    p.action = 'blocked';
    p.blockedBy = 'OwnershipConflict';
    p.reason = `a stack named ${stack.stackName} already exists and Cairn does not own it; add \`adopt: true\` to stacks.${stack.id} to take it over`;
    return p;
  }
  if (owner !== undefined && owner !== source) {
    p.action = 'blocked';
    p.blockedBy = 'OwnershipConflict';
    p.reason =
      `stack ${stack.stackName} is owned by source "${owner}", not "${source}": if this repository is that source, set \`source: ${owner}\` in cairn.yaml ` +
      `(or pass --source ${owner}); otherwise give stacks.${stack.id} another stackName, or remove it from one of the two sources`;
    return p;
  }
  const condition = conditionOf(current.status);
  if (condition === 'stuck') {
    p.action = 'blocked';
    p.blockedBy = 'StackFailed';
    p.reason = `stack is in ${current.status}: ${stuckHint(current.status, current.stackName)}`;
    return p;
  }
  if (condition === 'recreate' && p.actualHash === hash && !retry) {
    // The create of this very content failed: doing it again would fail the same way.
    p.action = 'blocked';
    p.blockedBy = 'StackFailed';
    p.reason =
      `creating it with this content failed and CloudFormation rolled it back (${current.status}${current.statusReason ? `: ${current.statusReason}` : ''}); ` +
      'fix the template or parameters and push a new commit, or retry this commit with `cairn apply --retry` once the cause outside the template is fixed';
    return p;
  }
  if (condition === 'recreate' || condition === 'review') {
    p.action = 'create';
    p.recreate = condition === 'recreate';
    p.reason = condition === 'recreate' ? `a failed create left it in ${current.status}; it will be deleted and created again` : 'an earlier create was never executed';
    p.resources = diffTemplates(undefined, stack.template);
    p.parameters = Object.keys(stack.parameters).sort();
    return p;
  }
  p.waiting = condition === 'busy';
  const outside = p.actualHash === hash && owner !== undefined ? changedOutside(stack, current, resolved, currentTemplate) : undefined;
  const after = [...new Set(resolved.pending.map((k) => (stack.parameters[k] as { fromStack: string }).fromStack))];
  if (after.length) p.mayChangeAfter = after;
  if (p.actualHash === hash && owner !== undefined && !outside) {
    if (!p.waiting && stack.drift === 'revert' && driftIsCurrent(current)) {
      p.action = 'revert';
      p.reason = `drifted outside Cairn (found ${current.driftCheckedAt}); drift: revert puts the drifted resources back to the template`;
      return p;
    }
    p.reason = p.waiting
      ? `in sync; CloudFormation is busy with it (${current.status})`
      : after.length
        ? `in sync; may change after ${after.join(', ')} (${after.length === 1 ? 'its outputs are' : 'their outputs are'} known once applied)`
        : 'in sync';
    return p;
  }
  p.action = 'update';
  p.reason = outside ?? (owner === undefined ? 'adopted: Cairn takes it over' : p.actualHash ? 'content changed' : 'no content hash recorded');
  if (p.waiting) p.reason += `; waits while CloudFormation is busy (${current.status})`;
  if (currentTemplate) p.resources = diffTemplates(currentTemplate, stack.template);
  p.parameters = Object.keys({ ...stack.parameters, ...current.parameters })
    .filter((k) => resolved.pending.includes(k) || resolved.values[k] !== current.parameters[k])
    .sort()
    .map((k) => (resolved.pending.includes(k) ? pendingNote(k) : k));
  return p;
}
