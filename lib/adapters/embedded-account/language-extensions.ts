/**
 * AWS::LanguageExtensions' Fn::ForEach, expanded as CloudFormation expands it before anything else:
 * each `Fn::ForEach::Name: [Identifier, Collection, {OutputKey: OutputValue}]` becomes one copy of its
 * body per item of the collection, with `${Identifier}` (and `&{Identifier}`, letters and digits
 * only) put in the keys, and `Ref: Identifier` and `${Identifier}` in Fn::Sub put in the values.
 * The collection is a list, or made of parameters and mappings (a CommaDelimitedList, a Split).
 */
import { evaluate, type IntrinsicContext } from './intrinsic-functions.js';
import { FOR_EACH_PREFIX, TemplateError, type TemplateDocument } from './template-document.js';

type Json = unknown;

function isRecord(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const LIST_TYPE = /^(List<.*>|CommaDelimitedList)$/;

function collectionContext(template: TemplateDocument, parameters: Record<string, string>, region: string): IntrinsicContext {
  const fail = (what: string): never => {
    throw new TemplateError(`Template error: the collection of Fn::ForEach can use only parameters and mappings, not ${what}`);
  };
  return {
    region,
    ref: (name) => {
      const declaration = template.parameters[name];
      if (!declaration) return fail(name);
      const value = parameters[name] ?? (declaration.Default === undefined ? undefined : String(declaration.Default));
      if (value === undefined) throw new TemplateError(`Parameters: [${name}] must have values`);
      return LIST_TYPE.test(String(declaration.Type)) ? (value === '' ? [] : value.split(',').map((v) => v.trim())) : value;
    },
    getAtt: (logicalId) => fail(logicalId),
    condition: (name) => fail(`condition ${name}`),
    mapping: (map, top, second) => {
      const value = template.mappings[map]?.[top]?.[second];
      if (value === undefined) throw new TemplateError(`Template error: Unable to get mapping for ${map}::${top}::${second}`);
      return value;
    },
    importValue: (name) => fail(`Fn::ImportValue ${name}`),
  };
}

/** `body` with one loop variable bound. */
function bind(node: Json, identifier: string, value: string): Json {
  if (Array.isArray(node)) return node.map((item) => bind(item, identifier, value));
  if (!isRecord(node)) return node;
  const keys = Object.keys(node);
  if (keys.length === 1 && keys[0] === 'Ref' && node['Ref'] === identifier) return value;
  const compact = value.replace(/[^A-Za-z0-9]/g, '');
  const out: Record<string, Json> = {};
  for (const [key, item] of Object.entries(node)) {
    const name = key.split(`\${${identifier}}`).join(value).split(`&{${identifier}}`).join(compact);
    if (key === 'Fn::Sub') {
      const sub = (text: Json): Json => (typeof text === 'string' ? text.split(`\${${identifier}}`).join(value) : bind(text, identifier, value));
      out[name] = Array.isArray(item) ? [sub(item[0]), bind(item[1], identifier, value)] : sub(item);
    } else {
      out[name] = bind(item, identifier, value);
    }
  }
  return out;
}

/** Every Fn::ForEach in `node`, at any depth, replaced by the keys it makes. */
function expand(node: Json, ctx: IntrinsicContext): Json {
  if (Array.isArray(node)) return node.map((item) => expand(item, ctx));
  if (!isRecord(node)) return node;
  const out: Record<string, Json> = {};
  const put = (key: string, value: Json) => {
    if (Object.hasOwn(out, key)) throw new TemplateError(`Template error: Fn::ForEach makes ${key}, which the template already has`);
    out[key] = value;
  };
  for (const [key, value] of Object.entries(node)) {
    if (!key.startsWith(FOR_EACH_PREFIX)) {
      put(key, expand(value, ctx));
      continue;
    }
    if (!Array.isArray(value) || value.length !== 3 || typeof value[0] !== 'string' || !isRecord(value[2])) {
      throw new TemplateError(`Template error: ${key} must be [Identifier, Collection, {OutputKey: OutputValue}]`);
    }
    const [identifier, collection, body] = value as [string, Json, Record<string, Json>];
    const items = evaluate(collection, ctx);
    if (!Array.isArray(items)) throw new TemplateError(`Template error: the collection of ${key} must be a list`);
    for (const item of items) {
      const generated = expand(bind(body, identifier, String(item)), ctx) as Record<string, Json>;
      for (const [name, entry] of Object.entries(generated)) put(name, entry);
    }
  }
  return out;
}

/** The template with its loops expanded (itself when it has none). Throws TemplateError. */
export function expandLanguageExtensions(template: TemplateDocument, parameters: Record<string, string>, region: string): TemplateDocument {
  if (!template.transforms.includes('AWS::LanguageExtensions')) return template;
  const ctx = collectionContext(template, parameters, region);
  const resources = expand(template.resources, ctx) as TemplateDocument['resources'];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (!/^[A-Za-z0-9]+$/.test(logicalId)) throw new TemplateError(`Template format error: Resource name ${logicalId} is non alphanumeric.`);
    if (!isRecord(resource) || typeof resource.Type !== 'string') {
      throw new TemplateError(`Template format error: [/Resources/${logicalId}] Every Resources object must contain a Type member.`);
    }
  }
  return { ...template, resources, outputs: expand(template.outputs, ctx) as TemplateDocument['outputs'] };
}
