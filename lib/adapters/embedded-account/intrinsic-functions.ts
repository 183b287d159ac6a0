/**
 * CloudFormation's intrinsic functions and condition functions, evaluated against a context that
 * supplies parameters, pseudo parameters, resources, conditions, mappings and exports. The same
 * evaluator resolves resource properties (so a parameter change shows as Modify on the resources
 * using it), conditions and outputs. Values not known yet (a resource still to be created) become
 * an opaque marker that `containsUnknown` recognises.
 */
import { isDeepStrictEqual } from 'node:util';
import { TemplateError } from './template-document.js';

/** What `Ref: AWS::NoValue` evaluates to: the property or list item is left out. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

const UNKNOWN_PREFIX = '\u0000unresolved:';

/** The value of a resource reference that is only known once the resource exists. */
export function unknownValue(logicalId: string, attribute?: string): string {
  return `${UNKNOWN_PREFIX}${logicalId}${attribute ? `.${attribute}` : ''}\u0000`;
}

export function containsUnknown(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(UNKNOWN_PREFIX);
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(containsUnknown);
  return false;
}

export interface IntrinsicContext {
  region: string;
  /** A parameter, pseudo parameter or resource's Ref value; throws TemplateError when unknown. */
  ref(name: string): unknown;
  getAtt(logicalId: string, attribute: string): unknown;
  condition(name: string): boolean;
  mapping(map: string, topKey: string, secondKey: string): unknown;
  importValue(name: string): string;
}

type IntrinsicFn = (arg: unknown, ctx: IntrinsicContext) => unknown;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function args(name: string, arg: unknown, count: number): unknown[] {
  if (!Array.isArray(arg) || arg.length !== count) {
    throw new TemplateError(`Template error: every ${name} object requires ${count} parameters`);
  }
  return arg;
}

/** A value as a message shows it: a value not known yet reads as such, never as its internal marker. */
function shown(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).replace(/\\u0000unresolved:([^\\]*)\\u0000/g, '(the $1 known after create)');
}

function asString(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TemplateError(`Template error: ${name} must resolve to a string, got ${shown(value)}`);
}

function asList(name: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new TemplateError(`Template error: ${name} must resolve to a list, got ${shown(value)}`);
  return value;
}

/** A value not known yet, standing for a whole list or string (a list attribute, or what a function makes of one). */
function isUnknownWhole(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(UNKNOWN_PREFIX) && value.endsWith('\u0000') && value.indexOf('\u0000', 1) === value.length - 1;
}

/** What a function makes of a value not known yet: a value not known yet either. */
function derivedUnknown(fn: string, from: string): string {
  return unknownValue(from.slice(UNKNOWN_PREFIX.length, -1), fn);
}

function conditionValue(node: unknown, ctx: IntrinsicContext): boolean {
  const value = evaluate(node, ctx);
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new TemplateError(`Template error: a condition must evaluate to a boolean, got ${shown(value)}`);
}

function getAttArgs(arg: unknown, ctx: IntrinsicContext): [string, string] {
  if (typeof arg === 'string') {
    const dot = arg.indexOf('.');
    if (dot < 1) throw new TemplateError(`Template error: Fn::GetAtt ${arg} must be LogicalId.Attribute`);
    return [arg.slice(0, dot), arg.slice(dot + 1)];
  }
  const [logicalId, attribute] = args('Fn::GetAtt', arg, 2);
  return [asString('Fn::GetAtt', logicalId), asString('Fn::GetAtt', evaluate(attribute, ctx))];
}

/** The `${...}` references of an Fn::Sub string, without the `${!literal}` escapes. */
export function subVariables(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
    const name = match[1]!.trim();
    if (!name.startsWith('!')) names.push(name);
  }
  return names;
}

function sub(arg: unknown, ctx: IntrinsicContext): string {
  let text: string;
  const vars: Record<string, unknown> = {};
  if (typeof arg === 'string') {
    text = arg;
  } else {
    const [template, map] = args('Fn::Sub', arg, 2);
    text = asString('Fn::Sub', template);
    if (!isRecord(map)) throw new TemplateError('Template error: the second parameter of Fn::Sub must be an object');
    for (const [key, value] of Object.entries(map)) vars[key] = evaluate(value, ctx);
  }
  return text.replace(/\$\{([^}]*)\}/g, (_whole, inner: string) => {
    const name = inner.trim();
    if (name.startsWith('!')) return `\${${name.slice(1)}}`;
    let value: unknown;
    if (name in vars) value = vars[name];
    else if (name.includes('.') && !name.startsWith('AWS::')) {
      const dot = name.indexOf('.');
      value = ctx.getAtt(name.slice(0, dot), name.slice(dot + 1));
    } else value = ctx.ref(name);
    return asString(`Fn::Sub variable ${name}`, value);
  });
}

function ipv4ToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new TemplateError(`Template error: Fn::Cidr ipBlock ${ip} is not an IPv4 address`);
  }
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Fn::Cidr: `count` consecutive blocks of 2^cidrBits addresses carved from `block`. */
export function cidrBlocks(block: string, count: number, cidrBits: number): string[] {
  const [ip, prefixText] = block.split('/');
  const prefix = Number(prefixText);
  if (!ip || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new TemplateError(`Template error: Fn::Cidr ipBlock ${block} is not a CIDR block`);
  }
  const newPrefix = 32 - cidrBits;
  if (!Number.isInteger(cidrBits) || cidrBits < 0 || newPrefix < prefix) {
    throw new TemplateError(`Template error: Fn::Cidr cidrBits ${cidrBits} does not fit in ${block}`);
  }
  const size = 2 ** cidrBits;
  const available = 2 ** (newPrefix - prefix);
  if (!Number.isInteger(count) || count < 1 || count > available) {
    throw new TemplateError(`Template error: Fn::Cidr cannot make ${count} blocks of /${newPrefix} from ${block}`);
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const base = (ipv4ToInt(ip) & mask) >>> 0;
  return Array.from({ length: count }, (_, i) => `${intToIpv4(base + i * size)}/${newPrefix}`);
}

const FUNCTIONS: Record<string, IntrinsicFn> = {
  Ref: (arg, ctx) => {
    const name = asString('Ref', arg);
    return name === 'AWS::NoValue' ? NO_VALUE : ctx.ref(name);
  },
  'Fn::GetAtt': (arg, ctx) => {
    const [logicalId, attribute] = getAttArgs(arg, ctx);
    return ctx.getAtt(logicalId, attribute);
  },
  'Fn::Sub': sub,
  'Fn::Join': (arg, ctx) => {
    const [delimiter, list] = args('Fn::Join', arg, 2);
    const value = evaluate(list, ctx);
    if (isUnknownWhole(value)) return derivedUnknown('Fn::Join', value);
    const items = asList('Fn::Join', value);
    return items.map((item) => asString('Fn::Join', item)).join(asString('Fn::Join', delimiter));
  },
  'Fn::Select': (arg, ctx) => {
    const [indexNode, listNode] = args('Fn::Select', arg, 2);
    const indexValue = evaluate(indexNode, ctx);
    const value = evaluate(listNode, ctx);
    if (isUnknownWhole(value)) return derivedUnknown('Fn::Select', value);
    if (isUnknownWhole(indexValue)) return derivedUnknown('Fn::Select', indexValue);
    const index = Number(indexValue);
    const list = asList('Fn::Select', value);
    if (!Number.isInteger(index) || index < 0 || index >= list.length) {
      throw new TemplateError(`Template error: Fn::Select cannot select nonexistent value at index ${index}`);
    }
    return list[index];
  },
  'Fn::Split': (arg, ctx) => {
    const [delimiter, source] = args('Fn::Split', arg, 2);
    const value = evaluate(source, ctx);
    // Splitting a string not known yet gives a list not known yet (Select then picks from it).
    if (containsUnknown(value) && typeof value === 'string') return isUnknownWhole(value) ? derivedUnknown('Fn::Split', value) : unknownValue('Fn::Split');
    return asString('Fn::Split', value).split(asString('Fn::Split', delimiter));
  },
  'Fn::If': (arg, ctx) => {
    const [name, whenTrue, whenFalse] = args('Fn::If', arg, 3);
    return evaluate(ctx.condition(asString('Fn::If', name)) ? whenTrue : whenFalse, ctx);
  },
  'Fn::Equals': (arg, ctx) => {
    const [a, b] = args('Fn::Equals', arg, 2).map((node) => evaluate(node, ctx));
    if (typeof a !== 'object' && typeof b !== 'object') return String(a) === String(b);
    return isDeepStrictEqual(a, b);
  },
  'Fn::And': (arg, ctx) => {
    const list = asList('Fn::And', arg);
    if (list.length < 2 || list.length > 10) throw new TemplateError('Template error: Fn::And requires 2 to 10 conditions');
    return list.every((node) => conditionValue(node, ctx));
  },
  'Fn::Or': (arg, ctx) => {
    const list = asList('Fn::Or', arg);
    if (list.length < 2 || list.length > 10) throw new TemplateError('Template error: Fn::Or requires 2 to 10 conditions');
    return list.some((node) => conditionValue(node, ctx));
  },
  'Fn::Not': (arg, ctx) => !conditionValue(args('Fn::Not', arg, 1)[0], ctx),
  Condition: (arg, ctx) => ctx.condition(asString('Condition', arg)),
  'Fn::FindInMap': (arg, ctx) => {
    // AWS::LanguageExtensions adds a fourth argument, {DefaultValue: …}, for a key the map lacks.
    const list = Array.isArray(arg) && arg.length === 4 ? arg : args('Fn::FindInMap', arg, 3);
    const [map, top, second] = list.slice(0, 3).map((node) => asString('Fn::FindInMap', evaluate(node, ctx)));
    const fallback = list[3];
    if (isRecord(fallback) && 'DefaultValue' in fallback) {
      try {
        return ctx.mapping(map!, top!, second!);
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        return evaluate(fallback['DefaultValue'], ctx);
      }
    }
    return ctx.mapping(map!, top!, second!);
  },
  'Fn::Length': (arg, ctx) => {
    const value = evaluate(arg, ctx);
    return isUnknownWhole(value) ? derivedUnknown('Fn::Length', value) : asList('Fn::Length', value).length;
  },
  'Fn::ToJsonString': (arg, ctx) => JSON.stringify(evaluate(arg, ctx)),
  'Fn::Base64': (arg, ctx) => Buffer.from(asString('Fn::Base64', evaluate(arg, ctx)), 'utf8').toString('base64'),
  'Fn::GetAZs': (arg, ctx) => {
    const region = asString('Fn::GetAZs', evaluate(arg, ctx)) || ctx.region;
    return ['a', 'b', 'c'].map((zone) => `${region}${zone}`);
  },
  'Fn::Cidr': (arg, ctx) => {
    const [block, count, bits] = args('Fn::Cidr', arg, 3).map((node) => evaluate(node, ctx));
    const pending = [block, count, bits].find(isUnknownWhole);
    if (pending !== undefined) return derivedUnknown('Fn::Cidr', pending);
    return cidrBlocks(asString('Fn::Cidr', block), Number(count), Number(bits));
  },
  'Fn::ImportValue': (arg, ctx) => ctx.importValue(asString('Fn::ImportValue', evaluate(arg, ctx))),
};

/**
 * Evaluate a template fragment. `{ Condition: name }` counts as a function only with a string
 * argument, so that IAM policy statements (whose Condition is an object) pass through untouched.
 */
export function evaluate(node: unknown, ctx: IntrinsicContext): unknown {
  if (Array.isArray(node)) {
    return node.map((item) => evaluate(item, ctx)).filter((item) => item !== NO_VALUE);
  }
  if (!isRecord(node)) return node;
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const key = keys[0]!;
    const fn = FUNCTIONS[key];
    if (fn && (key !== 'Condition' || typeof node[key] === 'string')) return fn(node[key], ctx);
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = evaluate(node[key], ctx);
    if (value !== NO_VALUE) out[key] = value;
  }
  return out;
}

export interface References {
  /** Names used by Ref or as plain Fn::Sub variables. */
  refs: Set<string>;
  /** Logical ids used by Fn::GetAtt or dotted Fn::Sub variables. */
  getAtts: Set<string>;
  /** Condition names used by Fn::If or `{ Condition: name }`. */
  conditions: Set<string>;
}

/** Every name a fragment refers to, in every branch (CloudFormation validates statically). */
export function scanReferences(node: unknown, out: References = { refs: new Set(), getAtts: new Set(), conditions: new Set() }): References {
  if (Array.isArray(node)) {
    for (const item of node) scanReferences(item, out);
    return out;
  }
  if (!isRecord(node)) return out;
  const keys = Object.keys(node);
  const key = keys.length === 1 ? keys[0]! : undefined;
  const arg = key === undefined ? undefined : node[key];
  if (key === 'Ref' && typeof arg === 'string') {
    if (arg !== 'AWS::NoValue') out.refs.add(arg);
    return out;
  }
  if (key === 'Fn::GetAtt') {
    if (typeof arg === 'string') out.getAtts.add(arg.split('.')[0]!);
    else if (Array.isArray(arg) && typeof arg[0] === 'string') {
      out.getAtts.add(arg[0]);
      scanReferences(arg.slice(1), out);
    }
    return out;
  }
  if (key === 'Fn::Sub') {
    const text = typeof arg === 'string' ? arg : Array.isArray(arg) && typeof arg[0] === 'string' ? arg[0] : '';
    const local = Array.isArray(arg) && isRecord(arg[1]) ? arg[1] : {};
    for (const name of subVariables(text)) {
      if (name in local) continue;
      if (name.includes('.') && !name.startsWith('AWS::')) out.getAtts.add(name.split('.')[0]!);
      else out.refs.add(name);
    }
    scanReferences(local, out);
    return out;
  }
  if (key === 'Fn::If' && Array.isArray(arg) && typeof arg[0] === 'string') {
    out.conditions.add(arg[0]);
    scanReferences(arg.slice(1), out);
    return out;
  }
  if (key === 'Condition' && typeof arg === 'string') {
    out.conditions.add(arg);
    return out;
  }
  for (const k of keys) scanReferences(node[k], out);
  return out;
}
