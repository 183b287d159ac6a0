/**
 * What CloudFormation's official resource schemas say about each resource type: its properties
 * (shapes at any depth, which are required, which are create-only so that changing them replaces
 * the resource), its attributes, and what `Ref` returns. The data is generated from the pinned
 * @aws-cdk/aws-service-spec by scripts/generate-resource-schemas.mjs (`npm run schemas`) and is
 * decoded lazily, one type at a time, so only templates' own types cost anything.
 *
 * Compact format (after brotli and base64): one line per resource type, `Type<TAB>{"p":…,"a":…,"r":…,"n":…}`
 * (properties, attributes, Ref's identifier names joined by `|`, ARN template), an empty line, then
 * one JSON line per shared property type. A property is `flags + shape`; flags `*` required,
 * `^` create-only, `?` create-only in some cases, `!` deprecated. A shape is `s` string, `i` integer,
 * `n` number, `b` boolean, `j` JSON, `t` tag, `d` timestamp, `[X` list of X, `{X` map of X,
 * `#N` shared property type N, `(X|Y)` either.
 */
import { brotliDecompressSync } from 'node:zlib';
import { RESOURCE_SCHEMAS_BROTLI, RESOURCE_SCHEMAS_SOURCE } from './resource-schemas.data.js';

export type Primitive = 'string' | 'integer' | 'number' | 'boolean' | 'json' | 'tag' | 'timestamp';

export type Shape =
  | { kind: Primitive }
  | { kind: 'list'; item: Shape }
  | { kind: 'map'; item: Shape }
  | { kind: 'object'; id: number }
  | { kind: 'union'; options: Shape[] };

/** Whether changing a property replaces the resource: always, in some cases, or never. */
export type Replacement = 'always' | 'conditional' | 'never';

export interface PropertySchema {
  shape: Shape;
  required: boolean;
  replacement: Replacement;
  deprecated: boolean;
}

export type PropertySchemas = Readonly<Record<string, PropertySchema>>;

export interface ResourceSchema {
  type: string;
  properties: PropertySchemas;
  /** Attribute names as `Fn::GetAtt` takes them (`Endpoint.Address`), with their shapes. */
  attributes: Readonly<Record<string, Shape>>;
  /** The identifier properties `Ref` returns (joined by `|` when there are several). */
  refIdentifier: string[];
  /** e.g. `arn:${Partition}:sqs:${Region}:${Account}:${QueueName}`, when the schema gives one. */
  arnTemplate: string | undefined;
}

/** Which package and version the data was generated from. */
export const SCHEMA_SOURCE = RESOURCE_SCHEMAS_SOURCE;

const PRIMITIVES: Record<string, Primitive> = { s: 'string', i: 'integer', n: 'number', b: 'boolean', j: 'json', t: 'tag', d: 'timestamp' };

interface Index {
  types: Map<string, string>;
  defs: string[];
  decodedTypes: Map<string, ResourceSchema>;
  decodedDefs: Map<number, PropertySchemas>;
}

let index: Index | undefined;

function load(): Index {
  if (index) return index;
  const text = brotliDecompressSync(Buffer.from(RESOURCE_SCHEMAS_BROTLI, 'base64')).toString('utf8');
  const lines = text.split('\n');
  const gap = lines.indexOf('');
  const types = new Map<string, string>();
  for (const line of lines.slice(0, gap)) {
    const tab = line.indexOf('\t');
    types.set(line.slice(0, tab), line.slice(tab + 1));
  }
  index = { types, defs: lines.slice(gap + 1), decodedTypes: new Map(), decodedDefs: new Map() };
  return index;
}

/** Parse one encoded shape starting at `at`; returns the shape and where it ended. */
function parseShape(text: string, at: number): [Shape, number] {
  const c = text[at]!;
  if (c === '[' || c === '{') {
    const [item, end] = parseShape(text, at + 1);
    return [{ kind: c === '[' ? 'list' : 'map', item }, end];
  }
  if (c === '#') {
    let end = at + 1;
    while (end < text.length && text[end]! >= '0' && text[end]! <= '9') end++;
    return [{ kind: 'object', id: Number(text.slice(at + 1, end)) }, end];
  }
  if (c === '(') {
    const options: Shape[] = [];
    let pos = at + 1;
    for (;;) {
      const [option, end] = parseShape(text, pos);
      options.push(option);
      pos = end + 1;
      if (text[end] === ')') return [{ kind: 'union', options }, pos];
    }
  }
  const kind = PRIMITIVES[c];
  if (!kind) throw new Error(`resource schema data: unknown shape "${c}" in "${text}"`);
  return [{ kind }, at + 1];
}

function decodeProperty(encoded: string): PropertySchema {
  let at = 0;
  const flags = new Set<string>();
  while ('*^?!'.includes(encoded[at]!)) flags.add(encoded[at++]!);
  return {
    shape: parseShape(encoded, at)[0],
    required: flags.has('*'),
    replacement: flags.has('^') ? 'always' : flags.has('?') ? 'conditional' : 'never',
    deprecated: flags.has('!'),
  };
}

function decodeProperties(encoded: Record<string, string>): PropertySchemas {
  return Object.fromEntries(Object.entries(encoded).map(([name, p]) => [name, decodeProperty(p)]));
}

/** The schema of a resource type, or undefined when the official schemas do not know it. */
export function resourceSchema(type: string): ResourceSchema | undefined {
  const data = load();
  const cached = data.decodedTypes.get(type);
  if (cached) return cached;
  const line = data.types.get(type);
  if (line === undefined) return undefined;
  const raw = JSON.parse(line) as { p: Record<string, string>; a: Record<string, string>; r?: string; n?: string };
  const schema: ResourceSchema = {
    type,
    properties: decodeProperties(raw.p),
    attributes: Object.fromEntries(Object.entries(raw.a).map(([name, s]) => [name, parseShape(s, 0)[0]])),
    refIdentifier: raw.r ? raw.r.split('|') : [],
    arnTemplate: raw.n,
  };
  data.decodedTypes.set(type, schema);
  return schema;
}

/** The properties of a shared property type (an `object` shape). */
export function propertyTypeSchema(id: number): PropertySchemas {
  const data = load();
  const cached = data.decodedDefs.get(id);
  if (cached) return cached;
  const line = data.defs[id];
  if (line === undefined) throw new Error(`resource schema data: no property type ${id}`);
  const decoded = decodeProperties(JSON.parse(line) as Record<string, string>);
  data.decodedDefs.set(id, decoded);
  return decoded;
}

/** Every resource type the schemas know, for "did you mean" suggestions. */
export function resourceTypeNames(): string[] {
  return [...load().types.keys()];
}
