/**
 * Checks inside a template, the way CloudFormation (and cfn-lint) would refuse it, before any AWS
 * call: sections, logical ids and quotas, parameter types and defaults, circular dependencies, resource types, properties at any depth against the official schemas (unknown names with a
 * suggestion, required ones, primitive and list shapes), attributes named by `Fn::GetAtt`, names
 * used by `Ref`, `Fn::Sub`, `DependsOn` and conditions, `Fn::Cidr`/`Fn::Select` literals, and the
 * transforms some functions need. Intrinsic functions may stand where any value is expected, so a
 * value that is one is checked as a function, never as the literal the property wants.
 *
 * Custom resources, modules, third-party types and types the schemas do not know are accepted and
 * reported as notices; deprecated properties and runtimes are warnings. A template that uses a
 * macro may be rewritten by it, so its errors are reported as warnings.
 */
import type { Problem } from './errors.js';
import { findCycles } from './graph.js';
import { suggest } from './manifest.js';
import { objectProperties, resourceSchema, resourceTypeNames, type PropertySchemas, type Shape } from './resource-schemas.js';

export const LANGUAGE_EXTENSIONS = 'AWS::LanguageExtensions';
export const SAM_TRANSFORM = 'AWS::Serverless-2016-10-31';
/** Transforms CloudFormation hosts itself; any other name is a macro in the account. */
const HOSTED_TRANSFORMS = new Set([LANGUAGE_EXTENSIONS, SAM_TRANSFORM, 'AWS::Include', 'AWS::CodeDeployBlueGreen', 'AWS::SecretsManager-2020-07-23']);

const PSEUDO_PARAMETERS = ['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix'];
export const TOP_LEVEL_KEYS = ['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Rules', 'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs', 'Hooks'];
const RESOURCE_KEYS = ['Type', 'Properties', 'DependsOn', 'Condition', 'DeletionPolicy', 'UpdateReplacePolicy', 'Metadata', 'CreationPolicy', 'UpdatePolicy'];
const SAM_RESOURCE_KEYS = ['IgnoreGlobals', 'Connectors'];
const OUTPUT_KEYS = ['Value', 'Description', 'Export', 'Condition'];
const DELETION_POLICIES = ['Delete', 'Retain', 'RetainExceptOnCreate', 'Snapshot'];
const FOR_EACH = 'Fn::ForEach::';
/** CloudFormation's quotas per template. */
const LIMITS: Record<string, number> = { Resources: 500, Parameters: 200, Outputs: 200, Mappings: 200 };
const LOGICAL_ID = /^[A-Za-z0-9]{1,255}$/;
const PARAMETER_TYPES = ['String', 'Number', 'List<Number>', 'CommaDelimitedList', 'AWS::SSM::Parameter::Name'];
/** The AWS-specific parameter types, alone or in a List<…>. */
const AWS_PARAMETER_TYPES = [
  'AWS::EC2::AvailabilityZone::Name', 'AWS::EC2::Image::Id', 'AWS::EC2::Instance::Id', 'AWS::EC2::KeyPair::KeyName',
  'AWS::EC2::SecurityGroup::GroupName', 'AWS::EC2::SecurityGroup::Id', 'AWS::EC2::Subnet::Id', 'AWS::EC2::Volume::Id',
  'AWS::EC2::VPC::Id', 'AWS::Route53::HostedZone::Id',
];
/** Lambda runtimes AWS has deprecated: functions using them can no longer be created or updated. */
const DEPRECATED_RUNTIMES = new Set([
  'nodejs', 'nodejs4.3', 'nodejs4.3-edge', 'nodejs6.10', 'nodejs8.10', 'nodejs10.x', 'nodejs12.x', 'nodejs14.x', 'nodejs16.x',
  'python2.7', 'python3.6', 'python3.7', 'python3.8', 'dotnetcore1.0', 'dotnetcore2.0', 'dotnetcore2.1', 'dotnetcore3.1',
  'dotnet5.0', 'dotnet6', 'ruby2.5', 'ruby2.7', 'java8', 'go1.x', 'provided',
]);

type Json = unknown;
type Obj = Record<string, Json>;

function isObj(value: Json): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A key's own value: a name such as `__proto__` or `toString` is never found on the prototype. */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** The one function a value calls, when it is `{ Ref: … }` or `{ "Fn::…": … }`. */
function intrinsicOf(value: Json): string | undefined {
  if (!isObj(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const key = keys[0]!;
  return key === 'Ref' || (key.startsWith('Fn::') && !key.startsWith(FOR_EACH)) ? key : undefined;
}

export function transformsOf(template: Obj): string[] {
  const t = template['Transform'];
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  return [];
}

const SHAPE_NAMES: Record<string, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean', json: 'JSON', tag: 'a tag ({Key, Value})',
  timestamp: 'a timestamp', list: 'a list', map: 'a mapping', object: 'a mapping',
};

function describeShape(shape: Shape): string {
  if (shape.kind === 'union') return [...new Set(shape.options.map(describeShape))].join(' or ');
  return SHAPE_NAMES[shape.kind]!;
}

function describeValue(value: Json): string {
  if (Array.isArray(value)) return 'a list';
  if (isObj(value)) return 'a mapping';
  if (value === null) return 'null';
  return `${typeof value === 'string' ? 'the string' : `the ${typeof value}`} ${JSON.stringify(value)}`;
}

function didYouMean(word: string, candidates: string[]): string {
  const hint = suggest(word, candidates);
  return hint ? `; did you mean ${hint}?` : '';
}

const typeSuggestions = new Map<string, string>();

/** "Did you mean" for a resource type, remembered: comparing with every known type is the costly part. */
function typeSuggestion(type: string): string {
  let hint = typeSuggestions.get(type);
  if (hint === undefined) typeSuggestions.set(type, (hint = didYouMean(type, resourceTypeNames())));
  return hint;
}

function isInteger(value: Json): boolean {
  return (typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value.trim()));
}

interface Scope {
  /** Loop identifiers of the Fn::ForEach bodies around a value. */
  vars: ReadonlySet<string>;
}

class TemplateChecker {
  readonly problems: Problem[] = [];
  private readonly resources: Obj;
  private readonly parameters: Obj;
  private readonly conditions: Obj;
  private readonly mappings: Obj;
  private readonly transforms: string[];
  private readonly languageExtensions: boolean;
  /** Logical ids of resources Fn::ForEach makes, as patterns: `Topic${Name}` matches TopicA. */
  private readonly generatedIds: RegExp[] = [];
  /** A transform or an included snippet can add resources, so a missing name is only a warning. */
  private readonly mayAddNames: boolean;
  private readonly globals: Obj;

  constructor(
    private readonly template: Obj,
    private readonly file: string,
  ) {
    this.resources = isObj(template['Resources']) ? template['Resources'] : {};
    this.parameters = isObj(template['Parameters']) ? template['Parameters'] : {};
    this.conditions = isObj(template['Conditions']) ? template['Conditions'] : {};
    this.mappings = isObj(template['Mappings']) ? template['Mappings'] : {};
    this.globals = isObj(template['Globals']) ? template['Globals'] : {};
    this.transforms = transformsOf(template);
    this.languageExtensions = this.transforms.includes(LANGUAGE_EXTENSIONS);
    this.collectGeneratedIds(this.resources);
    this.mayAddNames = this.transforms.some((t) => t !== LANGUAGE_EXTENSIONS) || JSON.stringify(template).includes('"Fn::Transform"');
  }

  private add(path: string, message: string, severity?: Problem['severity']): void {
    this.problems.push(severity ? { file: this.file, path, message, severity } : { file: this.file, path, message });
  }

  private collectGeneratedIds(section: Obj): void {
    for (const [key, value] of Object.entries(section)) {
      if (!key.startsWith(FOR_EACH) || !Array.isArray(value) || !isObj(value[2])) continue;
      for (const id of Object.keys(value[2])) {
        if (id.startsWith(FOR_EACH)) continue;
        const pattern = id.split(/[$&]\{[^}]*\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
        this.generatedIds.push(new RegExp(`^${pattern}$`));
      }
      this.collectGeneratedIds(value[2]);
    }
  }

  private isResource(name: string): boolean {
    return Object.hasOwn(this.resources, name) || this.generatedIds.some((p) => p.test(name)) || this.samGenerated(name);
  }

  /** Names the SAM transform gives what it makes: `ServerlessRestApi`, `<Function>Role`, `<Api>ProdStage` … */
  private samGenerated(name: string): boolean {
    if (!this.transforms.includes(SAM_TRANSFORM)) return false;
    if (name.startsWith('Serverless')) return true;
    return Object.entries(this.resources).some(([id, r]) => name.startsWith(id) && isObj(r) && typeof r['Type'] === 'string' && r['Type'].startsWith('AWS::Serverless::'));
  }

  private resourceType(name: string): string | undefined {
    const r = own(this.resources, name);
    return isObj(r) && typeof r['Type'] === 'string' ? r['Type'] : undefined;
  }

  /** A name the template does not define: an error, or a warning when a transform may define it. */
  private undefinedName(path: string, message: string): void {
    this.add(path, this.mayAddNames ? `${message}, unless a transform adds it` : message, this.mayAddNames ? 'warning' : undefined);
  }

  run(): Problem[] {
    const t = this.template;
    for (const key of Object.keys(t)) {
      if (TOP_LEVEL_KEYS.includes(key)) continue;
      if (key === 'Globals' && this.transforms.includes(SAM_TRANSFORM)) continue;
      this.add(key, `is not a template section${key === 'Globals' ? `; Globals needs \`Transform: ${SAM_TRANSFORM}\`` : didYouMean(key, TOP_LEVEL_KEYS)}`);
    }
    for (const [section, limit] of Object.entries(LIMITS)) {
      const entries = isObj(t[section]) ? Object.keys(t[section]).length : 0;
      if (entries > limit) this.add(section, `has ${entries} entries; CloudFormation allows at most ${limit}`);
    }
    for (const section of ['Parameters', 'Resources', 'Outputs', 'Conditions', 'Mappings']) {
      if (!isObj(t[section])) continue;
      for (const id of Object.keys(t[section])) {
        if (id.startsWith(FOR_EACH) || id === 'Fn::Transform' || LOGICAL_ID.test(id)) continue;
        this.add(`${section}.${id}`, 'is not a valid logical id: use letters and digits only (A-Z, a-z, 0-9), at most 255');
      }
    }
    this.checkParameters();
    const none: Scope = { vars: new Set() };
    if (isObj(t['Conditions'])) {
      for (const [name, value] of Object.entries(t['Conditions'])) this.walk(value, `Conditions.${name}`, none, true);
    }
    if (isObj(t['Rules'])) this.walk(t['Rules'], 'Rules', none, true);
    this.checkResources(this.resources, 'Resources', none);
    if (isObj(t['Outputs'])) this.checkOutputs(t['Outputs'], 'Outputs', none);
    this.checkCycles();
    const macros = this.transforms.filter((name) => !HOSTED_TRANSFORMS.has(name));
    if (macros.length > 0) {
      for (const p of this.problems) if (!p.severity) p.severity = 'warning';
      this.add('Transform', `uses the macro${macros.length > 1 ? 's' : ''} ${macros.join(', ')}, which may rewrite the template; findings in it are warnings`, 'notice');
    }
    return this.problems;
  }

  /** CloudFormation refuses a template whose resources depend on each other in a circle. */
  private checkCycles(): void {
    const deps = new Map<string, string[]>();
    for (const [id, resource] of Object.entries(this.resources)) {
      if (!isObj(resource) || id.startsWith(FOR_EACH)) continue;
      const found = new Set<string>();
      referencedNames(resource['Properties'], found);
      const dependsOn = resource['DependsOn'];
      for (const name of typeof dependsOn === 'string' ? [dependsOn] : Array.isArray(dependsOn) ? dependsOn : []) if (typeof name === 'string') found.add(name);
      deps.set(id, [...found].filter((name) => Object.hasOwn(this.resources, name)).sort());
    }
    for (const cycle of findCycles(deps)) {
      this.add(`Resources.${cycle[0]}`, `is in a circular dependency: ${cycle.join(' → ')}; CloudFormation cannot order these resources`);
    }
  }

  private checkParameters(): void {
    for (const [name, decl] of Object.entries(this.parameters)) {
      if (!isObj(decl) || typeof decl['Type'] !== 'string') continue;
      const type = decl['Type'];
      const inner = /^List<(.+)>$/.exec(type)?.[1];
      const known =
        PARAMETER_TYPES.includes(type) ||
        AWS_PARAMETER_TYPES.includes(inner ?? type) ||
        /^AWS::SSM::Parameter::Value<(String|List<String>|CommaDelimitedList|List<.+>|AWS::[A-Za-z0-9:]+)>$/.test(type);
      if (!known) {
        this.add(`Parameters.${name}.Type`, `is "${type}", not a parameter type${didYouMean(type, [...PARAMETER_TYPES, ...AWS_PARAMETER_TYPES])}`);
        continue;
      }
      const fallback = decl['Default'];
      if (type === 'Number' && fallback !== undefined && !(typeof fallback === 'number' || (typeof fallback === 'string' && Number.isFinite(Number(fallback)) && fallback.trim() !== ''))) {
        this.add(`Parameters.${name}.Default`, `is ${describeValue(fallback)}; a Number parameter needs a number`);
      }
      const allowed = decl['AllowedValues'];
      if (Array.isArray(allowed) && fallback !== undefined && !type.startsWith('List<') && type !== 'CommaDelimitedList' && !allowed.some((v) => String(v) === String(fallback))) {
        this.add(`Parameters.${name}.Default`, `is ${describeValue(fallback)}, which is not one of its AllowedValues (${allowed.map(String).join(', ')})`);
      }
    }
  }

  private forEachBody(key: string, value: Json, path: string, scope: Scope): { body: Obj; scope: Scope } | undefined {
    if (!this.languageExtensions) {
      this.add(`${path}.${key}`, `needs \`Transform: ${LANGUAGE_EXTENSIONS}\``);
      return undefined;
    }
    if (!Array.isArray(value) || value.length !== 3 || typeof value[0] !== 'string' || !isObj(value[2])) {
      this.add(`${path}.${key}`, 'expected [Identifier, Collection, {OutputKey: OutputValue}]');
      return undefined;
    }
    this.walk(value[1], `${path}.${key}.1`, scope);
    return { body: value[2], scope: { vars: new Set([...scope.vars, value[0]]) } };
  }

  private checkResources(section: Obj, path: string, scope: Scope): void {
    for (const [id, resource] of Object.entries(section)) {
      if (id.startsWith(FOR_EACH)) {
        const loop = this.forEachBody(id, resource, path, scope);
        if (loop) this.checkResources(loop.body, `${path}.${id}.2`, loop.scope);
        continue;
      }
      if (id === 'Fn::Transform') continue;
      this.checkResource(id, resource, `${path}.${id}`, scope);
    }
  }

  private checkResource(id: string, resource: Json, path: string, scope: Scope): void {
    if (!isObj(resource)) return;
    const type = resource['Type'];
    if (typeof type !== 'string') return;
    const sam = type.startsWith('AWS::Serverless::');
    for (const key of Object.keys(resource)) {
      if (RESOURCE_KEYS.includes(key) || (sam && SAM_RESOURCE_KEYS.includes(key))) continue;
      this.add(`${path}.${key}`, `is not a resource attribute${didYouMean(key, RESOURCE_KEYS)}; expected one of ${RESOURCE_KEYS.join(', ')}`);
    }
    this.checkDependsOn(id, resource['DependsOn'], `${path}.DependsOn`);
    this.checkConditionName(resource['Condition'], `${path}.Condition`);
    for (const policy of ['DeletionPolicy', 'UpdateReplacePolicy']) {
      const value = resource[policy];
      if (value === undefined) continue;
      if (typeof value === 'string') {
        if (!DELETION_POLICIES.includes(value)) this.add(`${path}.${policy}`, `is "${value}"; expected one of ${DELETION_POLICIES.join(', ')}`);
      } else if (intrinsicOf(value) && this.languageExtensions) {
        this.walk(value, `${path}.${policy}`, scope);
      } else {
        this.add(`${path}.${policy}`, `expected one of ${DELETION_POLICIES.join(', ')}${intrinsicOf(value) ? ` (an intrinsic function here needs \`Transform: ${LANGUAGE_EXTENSIONS}\`)` : ''}`);
      }
    }
    for (const key of ['CreationPolicy', 'UpdatePolicy']) if (resource[key] !== undefined) this.walk(resource[key], `${path}.${key}`, scope);
    const properties = resource['Properties'];
    if (properties !== undefined) this.walk(properties, `${path}.Properties`, scope);

    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') {
      this.add(`${path}.Type`, `${type} is a custom resource; its properties are not checked`, 'notice');
      return;
    }
    if (type.endsWith('::MODULE')) {
      this.add(`${path}.Type`, `${type} is a module; its properties are not checked`, 'notice');
      return;
    }
    if (type.includes('${') || type.includes('&{')) return;
    const schema = resourceSchema(type);
    if (!schema) {
      if (type.startsWith('AWS::')) {
        this.add(`${path}.Type`, `is not a known resource type: ${type}${typeSuggestion(type)}`);
      } else {
        this.add(`${path}.Type`, `${type} is not in the official schemas (a third-party or private type); its properties are not checked`, 'notice');
      }
      return;
    }
    if (properties !== undefined && !isObj(properties)) {
      if (!intrinsicOf(properties)) this.add(`${path}.Properties`, `expected a mapping of ${type}'s properties, got ${describeValue(properties)}`);
      return;
    }
    const props = properties ?? {};
    // SAM fills properties from Globals (Globals.Function for AWS::Serverless::Function).
    const fromGlobals = sam ? own(this.globals, type.slice('AWS::Serverless::'.length)) : undefined;
    const present = new Set([...Object.keys(props), ...(isObj(fromGlobals) ? Object.keys(fromGlobals) : [])]);
    this.checkProperties(schema.properties, props, properties === undefined ? path : `${path}.Properties`, type, present);
    if (type === 'AWS::Lambda::Function' || type === 'AWS::Serverless::Function') {
      const runtime = props['Runtime'];
      if (typeof runtime === 'string' && DEPRECATED_RUNTIMES.has(runtime)) {
        this.add(`${path}.Properties.Runtime`, `${runtime} is a deprecated Lambda runtime; functions using it can no longer be created or updated`, 'warning');
      }
    }
  }

  /** Properties of a resource or of a property type, against their schemas. `present` covers properties given elsewhere. */
  private checkProperties(schemas: PropertySchemas, value: Obj, path: string, owner: string, present = new Set(Object.keys(value))): void {
    let generated = false;
    for (const [key, v] of Object.entries(value)) {
      if (key.startsWith(FOR_EACH)) {
        generated = true;
        continue;
      }
      const schema = own(schemas, key);
      if (!schema) {
        const known = Object.keys(schemas);
        this.add(`${path}.${key}`, `is not a property of ${owner}${didYouMean(key, known) || (known.length <= 12 && known.length > 0 ? `; expected one of ${known.join(', ')}` : '')}`);
        continue;
      }
      if (schema.deprecated) this.add(`${path}.${key}`, `is deprecated in ${owner}'s schema`, 'warning');
      this.checkValue(v, schema.shape, `${path}.${key}`, `${owner}.${key}`);
    }
    if (generated) return;
    for (const [name, schema] of Object.entries(schemas)) {
      if (schema.required && !present.has(name)) this.add(path, `is missing ${name}, which ${owner} requires`);
    }
  }

  /** Problems `value` has as `shape`, collected without reporting them (for unions). */
  private trial(value: Json, shape: Shape, path: string, owner: string): Problem[] {
    const before = this.problems.length;
    this.checkValue(value, shape, path, owner);
    return this.problems.splice(before);
  }

  private checkValue(value: Json, shape: Shape, path: string, owner: string): void {
    const fn = intrinsicOf(value);
    if (fn) {
      // An If stands for one of its branches; every other function's result is only known at deploy time.
      const args = (value as Obj)[fn];
      if (fn === 'Fn::If' && Array.isArray(args) && args.length === 3) {
        for (const i of [1, 2]) {
          if (intrinsicOf(args[i]) === 'Ref' && (args[i] as Obj)['Ref'] === 'AWS::NoValue') continue;
          this.checkValue(args[i], shape, `${path}.Fn::If.${i}`, owner);
        }
      }
      return;
    }
    switch (shape.kind) {
      case 'json':
        return;
      case 'string':
      case 'timestamp':
        if (typeof value === 'object' && value !== null) this.add(path, `expected ${describeShape(shape)}, got ${describeValue(value)}`);
        return;
      case 'integer':
      case 'number': {
        const numeric = typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)));
        if (!numeric || (shape.kind === 'integer' && !isInteger(value))) this.add(path, `expected ${describeShape(shape)}, got ${describeValue(value)}`);
        return;
      }
      case 'boolean':
        if (typeof value !== 'boolean' && !(typeof value === 'string' && /^(true|false)$/i.test(value))) {
          this.add(path, `expected a boolean (true or false), got ${describeValue(value)}`);
        }
        return;
      case 'tag':
        if (!isObj(value)) this.add(path, `expected a tag ({Key, Value}), got ${describeValue(value)}`);
        else this.checkProperties(TAG_SCHEMA, value, path, 'a tag');
        return;
      case 'list':
        if (!Array.isArray(value)) {
          this.add(path, `expected a list, got ${describeValue(value)}`);
          return;
        }
        value.forEach((item, i) => this.checkValue(item, shape.item, `${path}.${i}`, owner));
        return;
      case 'map':
        if (!isObj(value)) {
          this.add(path, `expected a mapping, got ${describeValue(value)}`);
          return;
        }
        for (const [key, item] of Object.entries(value)) if (!key.startsWith(FOR_EACH)) this.checkValue(item, shape.item, `${path}.${key}`, owner);
        return;
      case 'object':
        if (!isObj(value)) {
          this.add(path, `expected a mapping of ${owner}'s properties, got ${describeValue(value)}`);
          return;
        }
        this.checkProperties(objectProperties(shape), value, path, owner);
        return;
      case 'union': {
        let best: Problem[] | undefined;
        for (const option of shape.options) {
          const found = this.trial(value, option, path, owner);
          if (found.length === 0) return;
          if (!best || found.length < best.length) best = found;
        }
        const mismatch = best!.length === 1 && best![0]!.path === path && best![0]!.message.startsWith('expected');
        if (mismatch) this.add(path, `expected ${describeShape(shape)}, got ${describeValue(value)}`);
        else this.problems.push(...best!);
        return;
      }
    }
  }

  private checkOutputs(section: Obj, path: string, scope: Scope): void {
    for (const [name, output] of Object.entries(section)) {
      if (name.startsWith(FOR_EACH)) {
        const loop = this.forEachBody(name, output, path, scope);
        if (loop) this.checkOutputs(loop.body, `${path}.${name}.2`, loop.scope);
        continue;
      }
      const where = `${path}.${name}`;
      if (!isObj(output)) {
        this.add(where, 'expected a mapping with a Value');
        continue;
      }
      for (const key of Object.keys(output)) if (!OUTPUT_KEYS.includes(key)) this.add(`${where}.${key}`, `is not an output attribute${didYouMean(key, OUTPUT_KEYS)}; expected one of ${OUTPUT_KEYS.join(', ')}`);
      if (output['Value'] === undefined) this.add(where, 'is missing Value');
      this.checkConditionName(output['Condition'], `${where}.Condition`);
      this.walk(output['Value'], `${where}.Value`, scope);
      this.walk(output['Export'], `${where}.Export`, scope);
    }
  }

  private checkDependsOn(id: string, value: Json, path: string): void {
    if (value === undefined) return;
    const names = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
    if (!names) {
      this.add(path, 'expected a logical id or a list of them');
      return;
    }
    names.forEach((name, i) => {
      const where = typeof value === 'string' ? path : `${path}.${i}`;
      if (typeof name !== 'string') this.add(where, `expected a logical id, got ${describeValue(name)}`);
      else if (name === id) this.add(where, 'a resource cannot depend on itself');
      else if (!name.includes('${') && !this.isResource(name)) this.undefinedName(where, `names "${name}", which is not a resource of this template${didYouMean(name, Object.keys(this.resources))}`);
    });
  }

  private checkConditionName(value: Json, path: string): void {
    if (value === undefined) return;
    if (typeof value !== 'string') {
      this.add(path, `expected the name of a condition, got ${describeValue(value)}`);
    } else if (!Object.hasOwn(this.conditions, value)) {
      this.add(path, `names condition "${value}", which the template does not define${didYouMean(value, Object.keys(this.conditions))}`);
    }
  }

  private checkRef(name: Json, path: string, scope: Scope): void {
    if (typeof name !== 'string') {
      if (!intrinsicOf(name)) this.add(path, `expected the name of a parameter or resource, got ${describeValue(name)}`);
      else this.walk(name, path, scope);
      return;
    }
    if (scope.vars.has(name) || Object.hasOwn(this.parameters, name) || PSEUDO_PARAMETERS.includes(name) || this.isResource(name)) return;
    if (name.includes('${') || name.includes('&{')) return;
    const names = [...Object.keys(this.parameters), ...Object.keys(this.resources), ...PSEUDO_PARAMETERS];
    this.undefinedName(path, `refers to "${name}", which is not a parameter or resource of this template${didYouMean(name, names)}`);
  }

  private checkGetAtt(resource: Json, attribute: Json, path: string, scope: Scope): void {
    if (typeof resource !== 'string') {
      this.add(path, `expected [LogicalId, Attribute], got ${describeValue(resource)} as the logical id`);
      return;
    }
    if (resource.includes('${') || resource.includes('&{')) return;
    if (!this.isResource(resource)) {
      if (scope.vars.has(resource)) return;
      this.undefinedName(path, `names "${resource}", which is not a resource of this template${didYouMean(resource, Object.keys(this.resources))}`);
      return;
    }
    if (typeof attribute !== 'string') {
      this.walk(attribute, `${path}.1`, scope);
      return;
    }
    const type = this.resourceType(resource);
    if (!type || type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource' || type.startsWith('AWS::Serverless::')) return;
    const schema = resourceSchema(type);
    if (!schema) return;
    if (Object.hasOwn(schema.attributes, attribute)) return;
    if (attribute.startsWith('Outputs.') && Object.hasOwn(schema.attributes, 'Outputs')) return;
    const known = Object.keys(schema.attributes);
    this.add(path, `${type} has no attribute ${attribute}${didYouMean(attribute, known) || (known.length ? `; it has ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', …' : ''}` : '; it has none')}`);
  }

  private checkSub(args: Json, path: string, scope: Scope): void {
    let text: Json = args;
    let vars = scope.vars;
    if (Array.isArray(args)) {
      if (args.length !== 2 || !isObj(args[1])) {
        this.add(path, 'expected a string, or [String, {Name: Value}]');
        return;
      }
      text = args[0];
      vars = new Set([...scope.vars, ...Object.keys(args[1])]);
      this.walk(args[1], `${path}.1`, scope);
    }
    if (typeof text !== 'string') {
      if (!intrinsicOf(text)) this.add(path, `expected a string, got ${describeValue(text)}`);
      return;
    }
    for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
      const name = match[1]!.trim();
      if (name.startsWith('!') || name === '') continue;
      if (vars.has(name)) continue;
      const dot = name.indexOf('.');
      if (dot > 0 && !PSEUDO_PARAMETERS.includes(name) && !Object.hasOwn(this.parameters, name)) {
        this.checkGetAtt(name.slice(0, dot), name.slice(dot + 1), path, { vars });
      } else {
        this.checkRef(name, path, { vars });
      }
    }
  }

  private checkFindInMap(args: Json, path: string): void {
    if (!Array.isArray(args) || args.length < 3 || args.length > 4) {
      this.add(path, 'expected [MapName, TopLevelKey, SecondLevelKey] (and, with AWS::LanguageExtensions, {DefaultValue: …})');
      return;
    }
    const hasDefault = args.length === 4;
    if (hasDefault && !this.languageExtensions) this.add(`${path}.3`, `a default value needs \`Transform: ${LANGUAGE_EXTENSIONS}\``);
    const [map, top, second] = args;
    if (typeof map !== 'string') return;
    const mapping = own(this.mappings, map);
    if (!isObj(mapping)) {
      this.add(`${path}.0`, `names mapping "${map}", which the template does not define${didYouMean(map, Object.keys(this.mappings))}`);
      return;
    }
    if (hasDefault || typeof top !== 'string') return;
    const level = own(mapping, top);
    if (!isObj(level)) {
      this.add(`${path}.1`, `"${top}" is not a key of mapping ${map}${didYouMean(top, Object.keys(mapping))}`);
      return;
    }
    if (typeof second === 'string' && !Object.hasOwn(level, second)) {
      this.add(`${path}.2`, `"${second}" is not a key of ${map}.${top}${didYouMean(second, Object.keys(level))}`);
    }
  }

  private checkCidr(args: Json, path: string): void {
    if (!Array.isArray(args) || args.length !== 3) {
      this.add(path, 'expected [IpBlock, Count, CidrBits]');
      return;
    }
    const [block, count, bits] = args;
    let prefix: number | undefined;
    let width = 32;
    if (typeof block === 'string') {
      const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(block);
      const v6 = /^[0-9a-fA-F:]+\/(\d{1,3})$/.exec(block);
      if (v4 && v4.slice(1, 5).every((o) => Number(o) <= 255) && Number(v4[5]) <= 32) prefix = Number(v4[5]);
      else if (v6 && block.includes(':') && Number(v6[1]) <= 128) {
        prefix = Number(v6[1]);
        width = 128;
      } else this.add(`${path}.0`, `"${block}" is not a CIDR block such as 10.0.0.0/16`);
    }
    if (count !== undefined && !intrinsicOf(count)) {
      if (!isInteger(count) || Number(count) < 1 || Number(count) > 256) this.add(`${path}.1`, `expected a count of subnets from 1 to 256, got ${describeValue(count)}`);
    }
    if (bits !== undefined && !intrinsicOf(bits)) {
      if (!isInteger(bits) || Number(bits) < 1 || Number(bits) > width) {
        this.add(`${path}.2`, `expected the subnet's host bits from 1 to ${width}, got ${describeValue(bits)}`);
      } else if (prefix !== undefined) {
        const subnetPrefix = width - Number(bits);
        if (subnetPrefix < prefix) this.add(`${path}.2`, `${bits} host bits make /${subnetPrefix} subnets, larger than the block /${prefix}`);
        else if (isInteger(count) && Number(count) > 2 ** (subnetPrefix - prefix)) {
          this.add(`${path}.1`, `a /${prefix} block holds ${2 ** (subnetPrefix - prefix)} subnets of /${subnetPrefix}, not ${count}`);
        }
      }
    }
  }

  private checkSelect(args: Json, path: string): void {
    if (!Array.isArray(args) || args.length !== 2) {
      this.add(path, 'expected [Index, List]');
      return;
    }
    const [index, list] = args;
    if (intrinsicOf(index)) return;
    if (!isInteger(index) || Number(index) < 0) {
      this.add(`${path}.0`, `expected an index of 0 or more, got ${describeValue(index)}`);
    } else if (Array.isArray(list) && Number(index) >= list.length) {
      this.add(`${path}.0`, `index ${index} is past the end of a list of ${list.length}`);
    } else if (list !== undefined && !Array.isArray(list) && !intrinsicOf(list)) {
      this.add(`${path}.1`, `expected a list, got ${describeValue(list)}`);
    }
  }

  /** Every intrinsic function in `value`, checked where it stands. `conditions`: inside Conditions or Rules, where `{Condition: X}` is a function. */
  private walk(value: Json, path: string, scope: Scope, conditions = false): void {
    if (Array.isArray(value)) {
      value.forEach((item, i) => this.walk(item, `${path}.${i}`, scope, conditions));
      return;
    }
    if (!isObj(value)) return;
    const fn = intrinsicOf(value);
    if (fn) {
      const args = value[fn];
      const where = `${path}.${fn}`;
      switch (fn) {
        case 'Ref':
          this.checkRef(args, where, scope);
          return;
        case 'Fn::GetAtt':
          if (!Array.isArray(args) || args.length !== 2) this.add(where, 'expected [LogicalId, Attribute] or "LogicalId.Attribute"');
          else this.checkGetAtt(args[0], args[1], where, scope);
          return;
        case 'Fn::Sub':
          this.checkSub(args, where, scope);
          return;
        case 'Fn::If':
          if (!Array.isArray(args) || args.length !== 3) {
            this.add(where, 'expected [ConditionName, ValueIfTrue, ValueIfFalse]');
            return;
          }
          this.checkConditionName(args[0], `${where}.0`);
          this.walk(args[1], `${where}.1`, scope, conditions);
          this.walk(args[2], `${where}.2`, scope, conditions);
          return;
        case 'Fn::FindInMap':
          this.checkFindInMap(args, where);
          break;
        case 'Fn::Cidr':
          this.checkCidr(args, where);
          break;
        case 'Fn::Select':
          this.checkSelect(args, where);
          break;
        case 'Fn::Length':
        case 'Fn::ToJsonString':
          if (!this.languageExtensions) this.add(where, `needs \`Transform: ${LANGUAGE_EXTENSIONS}\``);
          break;
        case 'Fn::And':
        case 'Fn::Or':
        case 'Fn::Not':
          this.walk(args, where, scope, true);
          return;
      }
      this.walk(args, where, scope, conditions);
      return;
    }
    const keys = Object.keys(value);
    if (conditions && keys.length === 1 && keys[0] === 'Condition') {
      this.checkConditionName(value['Condition'], `${path}.Condition`);
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      if (key.startsWith(FOR_EACH)) {
        const loop = this.forEachBody(key, item, path, scope);
        if (loop) this.walk(loop.body, `${path}.${key}.2`, loop.scope, conditions);
        continue;
      }
      this.walk(item, `${path}.${key}`, scope, conditions);
    }
  }
}

/** Names a value refers to through Ref, Fn::GetAtt and Fn::Sub, in every branch. */
function referencedNames(node: Json, out: Set<string>, local: ReadonlySet<string> = new Set()): void {
  if (Array.isArray(node)) {
    for (const item of node) referencedNames(item, out, local);
    return;
  }
  if (!isObj(node)) return;
  const fn = intrinsicOf(node);
  const args = fn ? node[fn] : undefined;
  if (fn === 'Ref' && typeof args === 'string') {
    if (!local.has(args)) out.add(args);
    return;
  }
  if (fn === 'Fn::GetAtt' && Array.isArray(args) && typeof args[0] === 'string') {
    out.add(args[0]);
    return;
  }
  if (fn === 'Fn::Sub') {
    const text = Array.isArray(args) ? args[0] : args;
    const vars = Array.isArray(args) && isObj(args[1]) ? new Set(Object.keys(args[1])) : new Set<string>();
    if (typeof text === 'string') {
      for (const match of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
        const name = match[1]!.trim().split('.')[0]!;
        if (!vars.has(name) && !local.has(name)) out.add(name);
      }
    }
    if (Array.isArray(args)) referencedNames(args[1], out, local);
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    // A loop's identifier is not a resource.
    if (key.startsWith(FOR_EACH) && Array.isArray(value) && typeof value[0] === 'string') referencedNames(value.slice(1), out, new Set([...local, value[0]]));
    else referencedNames(value, out, local);
  }
}

const TAG_SCHEMA: PropertySchemas = {
  Key: { shape: { kind: 'string' }, required: true, replacement: 'never', deprecated: false },
  Value: { shape: { kind: 'string' }, required: true, replacement: 'never', deprecated: false },
};

/** Every finding in a template (errors, warnings and notices), each naming `file` and the path inside it. */
export function checkTemplate(template: Record<string, unknown>, file: string): Problem[] {
  return new TemplateChecker(template, file).run();
}
