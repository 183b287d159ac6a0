/**
 * What CloudFormation's official resource schemas say about each resource type: its properties
 * (shapes at any depth, which are required, which are create-only so that changing them replaces
 * the resource) and its attributes. The data is generated from the pinned @aws-cdk/aws-service-spec
 * by scripts/generate-resource-schemas.mjs (`npm run schemas`); the program's entry point provides
 * its text (lib/adapters/resource-schema-file.ts reads the packaged file), and it is decoded lazily,
 * one type at a time, so only the types templates use cost anything.
 *
 * Compact format: a first line naming the source package and version; one line per resource type,
 * `Type<TAB>properties<TAB>attributes<TAB>arn`; an empty line; then one line of properties per shared
 * property type. Properties are `Name:flags shape` joined by `;`, with flags `*` required, `^`
 * create-only, `?` create-only in some cases, `!` deprecated. A shape is `s` string, `i` integer,
 * `n` number, `b` boolean, `j` JSON, `t` tag, `d` timestamp, `[X` list of X, `{X` map of X,
 * `<properties>` an object, `#N` shared property type N, `(X|Y)` either. Attributes are names joined
 * by `,`, a leading `[` marking a list. `arn`, for a type whose Ref returns its ARN, is the ARN's
 * template after `arn:${Partition}:`.
 */

export type Primitive = 'string' | 'integer' | 'number' | 'boolean' | 'json' | 'tag' | 'timestamp';

export type Shape =
  | { kind: Primitive }
  | { kind: 'list'; item: Shape }
  | { kind: 'map'; item: Shape }
  /** An object: its properties inline, or the number of a shared property type. */
  | { kind: 'object'; properties: PropertySchemas | number }
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
  /** Attribute names as `Fn::GetAtt` takes them (`Endpoint.Address`): whether each is a list. */
  attributes: Readonly<Record<string, { list: boolean }>>;
  /** When Ref returns the resource's ARN, its template: `arn:${Partition}:acm:${Region}:${Account}:certificate/${CertificateId}`. */
  refArn: string | undefined;
}

const PRIMITIVES: Record<string, Primitive> = { s: 'string', i: 'integer', n: 'number', b: 'boolean', j: 'json', t: 'tag', d: 'timestamp' };

interface Index {
  source: string;
  types: Map<string, string>;
  shared: string[];
  decodedTypes: Map<string, ResourceSchema>;
  decodedShared: Map<number, PropertySchemas>;
}

let provider: (() => string) | undefined;
let index: Index | undefined;
let generation = 0;

/** Where the compact text comes from; called once, on first use. */
export function provideResourceSchemas(load: () => string): void {
  provider = load;
  index = undefined;
  generation++;
}

/** Changes whenever other schemas are provided: findings kept from before must not be reused. */
export function resourceSchemaGeneration(): number {
  return generation;
}

function load(): Index {
  if (index) return index;
  if (!provider) throw new Error('the resource schemas were not provided; the program must call provideResourceSchemas first');
  const lines = provider().split('\n');
  const gap = lines.indexOf('', 1);
  const types = new Map<string, string>();
  for (const line of lines.slice(1, gap)) {
    const tab = line.indexOf('\t');
    types.set(line.slice(0, tab), line.slice(tab + 1));
  }
  index = { source: lines[0]!, types, shared: lines.slice(gap + 1), decodedTypes: new Map(), decodedShared: new Map() };
  return index;
}

/** A cursor over one encoded line. */
class Reader {
  at = 0;
  constructor(readonly text: string) {}

  peek(): string | undefined {
    return this.text[this.at];
  }

  fail(): never {
    throw new Error(`resource schema data: unexpected "${this.text.slice(this.at, this.at + 20)}" at ${this.at}`);
  }

  shape(): Shape {
    const c = this.text[this.at++];
    if (c === '[' || c === '{') return { kind: c === '[' ? 'list' : 'map', item: this.shape() };
    if (c === '#') {
      const start = this.at;
      while (this.at < this.text.length && this.text[this.at]! >= '0' && this.text[this.at]! <= '9') this.at++;
      return { kind: 'object', properties: Number(this.text.slice(start, this.at)) };
    }
    if (c === '<') {
      const properties = this.properties('>');
      this.at++;
      return { kind: 'object', properties };
    }
    if (c === '(') {
      const options: Shape[] = [];
      for (;;) {
        options.push(this.shape());
        const sep = this.text[this.at++];
        if (sep === ')') return { kind: 'union', options };
        if (sep !== '|') this.fail();
      }
    }
    const kind = c === undefined ? undefined : PRIMITIVES[c];
    if (!kind) {
      this.at--;
      this.fail();
    }
    return { kind };
  }

  /** `Name:flags shape;…` up to `end` (not consumed) or the end of the text. */
  properties(end?: string): PropertySchemas {
    const out: Record<string, PropertySchema> = {};
    while (this.at < this.text.length && this.peek() !== end) {
      const colon = this.text.indexOf(':', this.at);
      if (colon < 0) this.fail();
      const name = this.text.slice(this.at, colon);
      this.at = colon + 1;
      const flags = new Set<string>();
      while ('*^?!'.includes(this.peek() ?? '_')) flags.add(this.text[this.at++]!);
      out[name] = {
        shape: this.shape(),
        required: flags.has('*'),
        replacement: flags.has('^') ? 'always' : flags.has('?') ? 'conditional' : 'never',
        deprecated: flags.has('!'),
      };
      if (this.peek() === ';') this.at++;
    }
    return out;
  }
}

/** The schema of a resource type, or undefined when the official schemas do not know it. */
export function resourceSchema(type: string): ResourceSchema | undefined {
  const data = load();
  const cached = data.decodedTypes.get(type);
  if (cached) return cached;
  const line = data.types.get(type);
  if (line === undefined) return undefined;
  const [properties = '', attributeList = '', arn = ''] = line.split('\t');
  const attributes: Record<string, { list: boolean }> = {};
  for (const name of attributeList.split(',')) {
    if (name) attributes[name.replace(/^\[/, '')] = { list: name.startsWith('[') };
  }
  const schema: ResourceSchema = {
    type,
    properties: new Reader(properties).properties(),
    attributes,
    refArn: arn ? `arn:\${Partition}:${arn}` : undefined,
  };
  data.decodedTypes.set(type, schema);
  return schema;
}

/** The properties of an object shape. */
export function objectProperties(shape: Extract<Shape, { kind: 'object' }>): PropertySchemas {
  if (typeof shape.properties !== 'number') return shape.properties;
  const data = load();
  const id = shape.properties;
  const cached = data.decodedShared.get(id);
  if (cached) return cached;
  const line = data.shared[id];
  if (line === undefined) throw new Error(`resource schema data: no shared property type ${id}`);
  const decoded = new Reader(line).properties();
  data.decodedShared.set(id, decoded);
  return decoded;
}

/** Every resource type the schemas know, for "did you mean" suggestions. */
export function resourceTypeNames(): string[] {
  return [...load().types.keys()];
}

/** Which package and version the data was generated from, e.g. `@aws-cdk/aws-service-spec@0.1.216`. */
export function resourceSchemaSource(): string {
  return load().source;
}
