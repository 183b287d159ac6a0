/**
 * What CloudFormation does between receiving a template and listing a change set's changes:
 * validate parameters and references, evaluate conditions, order resources by dependency, resolve
 * properties and compare them with the stack's resources (or, for REVERT_DRIFT, with their live
 * state) to get Add / Modify / Remove and the replacement each Modify needs. `realizeStack` then
 * gives the resources, outputs and exports the stack has once the change set has been executed.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ChangeSetChange, PropertyChange } from '../../ports/stack-gateway.js';
import { evaluate, scanReferences, unknownValue, containsUnknown, type IntrinsicContext } from './intrinsic-functions.js';
import { attributeOf, partitionOf, physicalIdFor, urlSuffixOf, type AccountEnv } from './physical-resources.js';
import { replacementFor, requiresReplacement, type Replacement } from './replacement-rules.js';
import type { ResourceState, StackState } from './stack-record.js';
import { expandLanguageExtensions } from './language-extensions.js';
import { parseTemplate, SAM_TRANSFORM, TemplateError, type TemplateDocument } from './template-document.js';

export interface ExportEntry {
  value: string;
  stackName: string;
}

export interface PlanInput {
  template: TemplateDocument;
  parameters: Record<string, string>;
  tags: Record<string, string>;
  stackName: string;
  stackId: string;
  env: AccountEnv;
  revertDrift: boolean;
  nonRevertibleTypes: ReadonlySet<string>;
  /** Exports of the region's other live stacks, by export name (built only when a template needs it). */
  exports: () => ReadonlyMap<string, ExportEntry>;
}

export interface PlannedResource {
  logicalId: string;
  type: string;
  action: 'Add' | 'Modify' | 'None';
  replacement: Replacement | undefined;
  /** Top-level properties that change, sorted. */
  changed: string[];
  /** Each changed property's old and new value, as a change set made with property values reports them. */
  values?: PropertyChange[];
}

export interface StackPlan {
  parameters: Record<string, string>;
  noEcho: string[];
  /** The new template's resources in dependency order. */
  resources: PlannedResource[];
  /** Logical ids of resources the new template no longer has, in reverse creation order. */
  removed: string[];
  changes: ChangeSetChange[];
  /** Template, parameters and tags are the stack's own and nothing is to be reverted. */
  empty: boolean;
  scope: TemplateScope;
}

export interface RealizedStack {
  resources: Record<string, ResourceState>;
  outputs: Record<string, string>;
  exports: Record<string, string>;
  /** Logical ids that get a new physical resource (added, replaced or recreated). */
  created: Set<string>;
  /**
   * What makes the operation fail once values are known (a Select past the end of a real list,
   * say): the resource whose properties could not be resolved and why, or the outputs (no logical id).
   * Resources after a failed one are not realized.
   */
  failure?: { logicalId: string | undefined; reason: string };
}

const LIST_TYPE = /^(List<.*>|CommaDelimitedList)$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dependsOnOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function unresolved(names: Iterable<string>, block: string): TemplateError {
  return new TemplateError(`Template format error: Unresolved resource dependencies [${[...names].join(', ')}] in the ${block} block of the template`);
}

interface ResolvedParameters {
  values: Record<string, string>;
  refs: Record<string, string | string[]>;
  noEcho: string[];
}

function resolveParameters(template: TemplateDocument, given: Record<string, string>): ResolvedParameters {
  const declared = template.parameters;
  const extra = Object.keys(given).filter((key) => !(key in declared));
  if (extra.length > 0) throw new TemplateError(`Parameters: [${extra.join(', ')}] do not exist in the template`);
  const values: Record<string, string> = {};
  const refs: Record<string, string | string[]> = {};
  const noEcho: string[] = [];
  const missing: string[] = [];
  for (const [key, declaration] of Object.entries(declared)) {
    const spec = isRecord(declaration) ? declaration : {};
    const value = given[key] ?? (spec.Default === undefined ? undefined : String(spec.Default));
    if (value === undefined) {
      missing.push(key);
      continue;
    }
    const type = typeof spec.Type === 'string' ? spec.Type : 'String';
    if (type === 'Number' && (value.trim() === '' || Number.isNaN(Number(value)))) {
      throw new TemplateError(`Parameter '${key}' must be a number.`);
    }
    if (Array.isArray(spec.AllowedValues) && !spec.AllowedValues.map(String).includes(value)) {
      throw new TemplateError(`Parameter '${key}' must be one of AllowedValues`);
    }
    if (typeof spec.AllowedPattern === 'string' && !new RegExp(`^(?:${spec.AllowedPattern})$`).test(value)) {
      throw new TemplateError(`Parameter '${key}' must match pattern ${spec.AllowedPattern}`);
    }
    values[key] = value;
    refs[key] = LIST_TYPE.test(type) ? (value === '' ? [] : value.split(',').map((v) => v.trim())) : value;
    if (spec.NoEcho === true || spec.NoEcho === 'true') noEcho.push(key);
  }
  if (missing.length > 0) throw new TemplateError(`Parameters: [${missing.join(', ')}] must have values`);
  return { values, refs, noEcho };
}

type ResourceResolver = (logicalId: string, attribute: string | undefined) => unknown;

/** A template with its parameters bound: conditions, active resources and their order. */
export class TemplateScope {
  readonly parameters: ResolvedParameters;
  readonly active: Set<string>;
  readonly order: string[];
  private readonly pseudo: Record<string, unknown>;
  private readonly conditionValues = new Map<string, boolean>();
  private readonly evaluating = new Set<string>();

  constructor(
    readonly template: TemplateDocument,
    private readonly input: PlanInput,
  ) {
    const { env } = input;
    this.pseudo = {
      'AWS::Region': env.region,
      'AWS::AccountId': env.accountId,
      'AWS::StackName': input.stackName,
      'AWS::StackId': input.stackId,
      'AWS::Partition': partitionOf(env.region),
      'AWS::URLSuffix': urlSuffixOf(env.region),
      'AWS::NotificationARNs': [],
    };
    this.parameters = resolveParameters(template, input.parameters);
    this.validateReferences();
    this.active = new Set(
      Object.entries(template.resources)
        .filter(([, r]) => r.Condition === undefined || this.condition(r.Condition))
        .map(([id]) => id),
    );
    this.order = this.dependencyOrder();
  }

  condition(name: string): boolean {
    const known = this.conditionValues.get(name);
    if (known !== undefined) return known;
    if (!(name in this.template.conditions)) {
      throw new TemplateError(`Template format error: Unresolved condition dependencies [${name}] in the Conditions block of the template`);
    }
    if (this.evaluating.has(name)) throw new TemplateError(`Template format error: Circular condition dependency involving [${name}]`);
    this.evaluating.add(name);
    const ctx = this.context(() => {
      throw new TemplateError(`Template format error: Unresolved dependencies [${name}]. Cannot reference resources in the Conditions block of the template`);
    });
    const value = evaluate(this.template.conditions[name], ctx);
    this.evaluating.delete(name);
    if (typeof value !== 'boolean') throw new TemplateError(`Template format error: condition ${name} must evaluate to a boolean`);
    this.conditionValues.set(name, value);
    return value;
  }

  /** An evaluation context whose resource references go to `resolve`. */
  context(resolve: ResourceResolver): IntrinsicContext {
    const { template } = this;
    const resource = (logicalId: string, attribute: string | undefined, block: string) => {
      if (!(logicalId in template.resources)) {
        if (attribute === undefined) throw unresolved([logicalId], block);
        throw new TemplateError(`Template error: instance of Fn::GetAtt references undefined resource ${logicalId}`);
      }
      if (this.active && !this.active.has(logicalId)) throw unresolved([logicalId], block);
      return resolve(logicalId, attribute);
    };
    return {
      region: this.input.env.region,
      ref: (name) => {
        if (name in this.pseudo) return this.pseudo[name];
        if (name in this.parameters.refs) return this.parameters.refs[name];
        return resource(name, undefined, 'Resources');
      },
      getAtt: (logicalId, attribute) => resource(logicalId, attribute, 'Resources'),
      condition: (name) => this.condition(name),
      mapping: (map, top, second) => {
        const value = template.mappings[map]?.[top]?.[second];
        if (value === undefined) throw new TemplateError(`Template error: Unable to get mapping for ${map}::${top}::${second}`);
        return value;
      },
      importValue: (name) => {
        const entry = this.input.exports().get(name);
        if (!entry) throw new TemplateError(`No export named ${name} found`);
        return entry.value;
      },
    };
  }

  properties(logicalId: string, resolve: ResourceResolver): Record<string, unknown> {
    const value = evaluate(this.template.resources[logicalId]!.Properties ?? {}, this.context(resolve));
    return isRecord(value) ? value : {};
  }

  private validateReferences(): void {
    const { template } = this;
    const known = (name: string) => name in this.pseudo || name in template.parameters || name in template.resources;
    const check = (node: unknown, block: string, extraRefs: string[] = []) => {
      const refs = scanReferences(node);
      const missing = [...refs.refs, ...extraRefs].filter((name) => !known(name));
      if (missing.length > 0) throw unresolved(new Set(missing), block);
      for (const id of refs.getAtts) {
        if (!(id in template.resources)) throw new TemplateError(`Template error: instance of Fn::GetAtt references undefined resource ${id}`);
      }
      for (const name of refs.conditions) {
        if (!(name in template.conditions)) {
          throw new TemplateError(`Template format error: Unresolved condition dependencies [${name}] in the ${block} block of the template`);
        }
      }
    };
    for (const resource of Object.values(template.resources)) {
      check({ properties: resource.Properties, condition: resource.Condition === undefined ? undefined : { Condition: resource.Condition } }, 'Resources', dependsOnOf(resource.DependsOn));
    }
    check(template.outputs, 'Outputs');
    for (const [name, definition] of Object.entries(template.conditions)) {
      const refs = scanReferences(definition);
      const resources = [...refs.refs, ...refs.getAtts].filter((ref) => ref in template.resources);
      if (resources.length > 0) {
        throw new TemplateError(`Template format error: Unresolved dependencies [${resources.join(', ')}]. Cannot reference resources in the Conditions block of the template`);
      }
      check(definition, `Conditions (${name})`);
    }
  }

  private dependencyOrder(): string[] {
    const deps = new Map<string, Set<string>>();
    for (const id of this.active) {
      const resource = this.template.resources[id]!;
      const refs = scanReferences(resource.Properties ?? {});
      const all = [...refs.refs, ...refs.getAtts, ...dependsOnOf(resource.DependsOn)];
      deps.set(id, new Set(all.filter((dep) => this.active.has(dep))));
    }
    const order: string[] = [];
    const placed = new Set<string>();
    let progress = true;
    while (progress && order.length < deps.size) {
      progress = false;
      for (const [id, needs] of deps) {
        if (placed.has(id) || [...needs].some((dep) => !placed.has(dep))) continue;
        order.push(id);
        placed.add(id);
        progress = true;
      }
    }
    if (order.length < deps.size) {
      const cycle = [...deps.keys()].filter((id) => !placed.has(id));
      throw new TemplateError(`Circular dependency between resources: [${cycle.join(', ')}]`);
    }
    return order;
  }
}

function changedKeys(next: Record<string, unknown>, prev: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(next), ...Object.keys(prev)]);
  return [...keys].filter((key) => !isDeepStrictEqual(next[key], prev[key])).sort();
}

function sameTemplate(current: StackState, template: TemplateDocument): boolean {
  if (current.templateBody === '') return false;
  try {
    return isDeepStrictEqual(parseTemplate(current.templateBody).body, template.body);
  } catch {
    return false;
  }
}

/** Whether drift on this resource is compared (REVERT_DRIFT and a type the account can revert). */
function reverts(input: PlanInput, type: string): boolean {
  return input.revertDrift && !input.nonRevertibleTypes.has(type);
}

/** Transforms CloudFormation hosts itself; any other name is a macro, and this account holds none. */
const HOSTED_TRANSFORMS = new Set([SAM_TRANSFORM, 'AWS::LanguageExtensions', 'AWS::Include', 'AWS::CodeDeployBlueGreen', 'AWS::SecretsManager-2020-07-23']);

/** A macro the account does not hold fails the change set, as in CloudFormation (this account holds none). */
function checkTransforms(template: TemplateDocument): void {
  const missing = template.transforms.find((name) => !HOSTED_TRANSFORMS.has(name));
  if (missing) throw new TemplateError(`No transform named ${missing} found.`);
}

/** Plan a change of the stack (`current` undefined for a new stack). Throws TemplateError. */
export function planStack(current: StackState | undefined, given: PlanInput): StackPlan {
  checkTransforms(given.template);
  const input: PlanInput = { ...given, template: expandLanguageExtensions(given.template, given.parameters, given.env.region) };
  const scope = new TemplateScope(input.template, input);
  const oldResources = current?.resources ?? {};
  const tagsChanged = current !== undefined && !isDeepStrictEqual(current.tags, input.tags);
  const planned = new Map<string, PlannedResource>();
  const resolve: ResourceResolver = (logicalId, attribute) => {
    const plan = planned.get(logicalId)!;
    const old = oldResources[logicalId];
    if (!old || plan.action === 'Add' || (plan.replacement !== undefined && plan.replacement !== 'False')) {
      return unknownValue(logicalId, attribute);
    }
    return attribute === undefined ? old.physicalId : attributeOf(old, attribute, input.env);
  };

  for (const logicalId of scope.order) {
    const declaration = input.template.resources[logicalId]!;
    const type = declaration.Type;
    const props = scope.properties(logicalId, resolve);
    const old = oldResources[logicalId];
    let plan: PlannedResource;
    if (!old) {
      plan = { logicalId, type, action: 'Add', replacement: undefined, changed: [] };
    } else if (old.type !== type) {
      plan = { logicalId, type, action: 'Modify', replacement: 'True', changed: changedKeys(props, old.properties) };
    } else {
      const baseline = reverts(input, type) ? old.actual : old.properties;
      if (baseline === null) {
        plan = { logicalId, type, action: 'Modify', replacement: 'True', changed: Object.keys(props).sort() };
      } else {
        const changed = changedKeys(props, baseline);
        // Stack tags reach resources without listing them: CloudFormation's change set shows only
        // resources whose properties (or metadata) change.
        const touched = changed.length > 0 || !isDeepStrictEqual(declaration.Metadata, old.metadata);
        plan = {
          logicalId,
          type,
          action: touched ? 'Modify' : 'None',
          replacement: touched ? replacementFor(type, changed, props, baseline) : undefined,
          changed,
          values: changed.map((key) => ({
            path: `/Properties/${key}`,
            before: propertyText(baseline[key]),
            after: propertyText(props[key]),
            requiresRecreation: RECREATION[replacementFor(type, [key], props, baseline)],
          })),
        };
      }
    }
    planned.set(logicalId, plan);
  }

  checkExports(scope, input);
  const resources = scope.order.map((id) => planned.get(id)!);
  const removed = Object.keys(oldResources)
    .filter((id) => !planned.has(id))
    .reverse();
  const changes: ChangeSetChange[] = [
    ...resources
      .filter((r) => r.action !== 'None')
      .map((r) => ({
        action: r.action as 'Add' | 'Modify',
        logicalId: r.logicalId,
        physicalId: oldResources[r.logicalId]?.physicalId,
        resourceType: r.type,
        replacement: r.replacement,
        properties: r.changed,
        ...(r.values?.length ? { values: r.values } : {}),
      })),
    ...removed.map((id) => ({
      action: 'Remove' as const,
      logicalId: id,
      physicalId: oldResources[id]!.physicalId,
      resourceType: oldResources[id]!.type,
      replacement: undefined,
      properties: [],
    })),
  ];
  const empty =
    current !== undefined &&
    changes.length === 0 &&
    !tagsChanged &&
    isDeepStrictEqual(current.parameters, scope.parameters.values) &&
    sameTemplate(current, input.template);
  return { parameters: scope.parameters.values, noEcho: scope.parameters.noEcho, resources, removed, changes, empty, scope };
}

function outputValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(String).join(',');
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Export names of the new template that another stack already exports. */
function checkExports(scope: TemplateScope, input: PlanInput): void {
  const ctx = scope.context((id, attribute) => unknownValue(id, attribute));
  for (const [name, output] of Object.entries(scope.template.outputs)) {
    if (output.Export === undefined || (output.Condition !== undefined && !scope.condition(output.Condition))) continue;
    const exportName = evaluate(output.Export.Name, ctx);
    if (containsUnknown(exportName)) continue;
    const owner = input.exports().get(outputValue(exportName));
    if (owner && owner.stackName !== input.stackName) {
      throw new TemplateError(`Export with name ${outputValue(exportName)} is already exported by stack ${owner.stackName} (output ${name})`);
    }
  }
}

/**
 * The stack's resources, outputs and exports once `plan` is executed. `seed` makes the physical
 * ids of created resources unique to this operation.
 */
export function realizeStack(current: StackState | undefined, plan: StackPlan, input: PlanInput, seed: string): RealizedStack {
  const { scope } = plan;
  const oldResources = current?.resources ?? {};
  const resources: Record<string, ResourceState> = {};
  const created = new Set<string>();
  const resolve: ResourceResolver = (logicalId, attribute) => {
    const resource = resources[logicalId]!;
    return attribute === undefined ? resource.physicalId : attributeOf(resource, attribute, input.env);
  };
  for (const planned of plan.resources) {
    const { logicalId, type } = planned;
    const declaration = scope.template.resources[logicalId]!;
    const old = oldResources[logicalId];
    let props: Record<string, unknown>;
    try {
      props = scope.properties(logicalId, resolve);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      resources[logicalId] = { type, physicalId: old?.physicalId ?? '', properties: old?.properties ?? {}, actual: old?.actual ?? {} };
      return { resources, outputs: {}, exports: {}, created, failure: { logicalId, reason: error.message } };
    }
    const baseline = old && (reverts(input, type) ? old.actual : old.properties);
    const replace =
      !old ||
      old.type !== type ||
      baseline === null ||
      (planned.action === 'Modify' && requiresReplacement(type, changedKeys(props, baseline!), props, baseline!));
    if (replace) created.add(logicalId);
    const physicalId = replace ? physicalIdFor({ type, logicalId, stackName: input.stackName, properties: props, seed }, input.env) : old.physicalId;
    resources[logicalId] = {
      type,
      physicalId,
      properties: props,
      actual: planned.action === 'None' && old ? old.actual : structuredClone(props),
      ...(declaration.DeletionPolicy === undefined ? {} : { deletionPolicy: declaration.DeletionPolicy }),
      ...(declaration.Metadata === undefined ? {} : { metadata: declaration.Metadata }),
    };
  }
  const ctx = scope.context(resolve);
  const outputs: Record<string, string> = {};
  const exports: Record<string, string> = {};
  try {
    for (const [name, output] of Object.entries(scope.template.outputs)) {
      if (output.Condition !== undefined && !scope.condition(output.Condition)) continue;
      outputs[name] = outputValue(evaluate(output.Value, ctx));
      if (output.Export !== undefined) exports[outputValue(evaluate(output.Export.Name, ctx))] = outputs[name];
    }
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    return { resources, outputs: {}, exports: {}, created, failure: { logicalId: undefined, reason: error.message } };
  }
  return { resources, outputs, exports, created };
}

/** CloudFormation's RequiresRecreation for a property, from the Replacement a change of it alone makes. */
const RECREATION: Record<Replacement, PropertyChange['requiresRecreation']> = { True: 'Always', Conditional: 'Conditionally', False: 'Never' };

/** A property value as CloudFormation's BeforeValue/AfterValue give it: strings as they are, the rest as JSON. */
function propertyText(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  // CloudFormation's own words for a value resolved only while the change set executes.
  if (containsUnknown(value)) return '{{changeSet:KNOWN_AFTER_APPLY}}';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
