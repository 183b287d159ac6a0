// Turns the official CloudFormation resource schemas, as carried by @aws-cdk/aws-service-spec (the
// database the CDK's own diff reads), into the compact form lib/core/resource-schemas.ts decodes:
// per resource type its properties with their shapes, which are required and which are create-only
// (a change replaces the resource), and its attributes. Documentation and everything else is left
// out so the data stays small enough for the CLI start and the reconcile bundle.
//
// Run `npm run schemas` after changing the pinned version of @aws-cdk/aws-service-spec in
// package.json; it rewrites lib/adapters/resource-schemas.br (brotli), which is committed and read
// by lib/adapters/resource-schema-file.ts. The format is described in lib/core/resource-schemas.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { brotliCompressSync, constants, gunzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const packageDir = require.resolve('@aws-cdk/aws-service-spec/package.json').replace(/package\.json$/, '');
const { version } = JSON.parse(readFileSync(`${packageDir}package.json`, 'utf8'));
const db = JSON.parse(gunzipSync(readFileSync(`${packageDir}db.json.gz`)).toString('utf8'));

const typeDefs = new Map(db.schema.typeDefinition.entities.map((t) => [t.$id, t]));

/**
 * Properties kept as JSON (their own name and flags checked, not what is inside): a handful of
 * enormous definitions (a QuickSight dashboard's is a fifth of all the data) that would otherwise
 * push the reconcile Lambda past its 1 MB budget.
 */
const SHALLOW = new Set([
  'AWS::QuickSight::Analysis.Definition',
  'AWS::QuickSight::Dashboard.Definition',
  'AWS::QuickSight::Template.Definition',
  'AWS::MediaLive::Channel.EncoderSettings',
]);
for (const r of db.schema.resource.entities) {
  for (const [name, p] of Object.entries(r.properties ?? {})) {
    if (SHALLOW.has(`${r.cloudFormationType}.${name}`)) {
      p.type = { type: 'json' };
      delete p.previousTypes;
    }
  }
}
const NAME = /^[A-Za-z0-9_\-.@$]+$/;

const byName = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** Property types used by more than one property (or by themselves) are shared by number; the rest are written inline. */
const uses = new Map();
function countUses(type) {
  if (type.type === 'ref') {
    const id = type.reference.$ref;
    uses.set(id, (uses.get(id) ?? 0) + 1);
    if (uses.get(id) === 1) for (const p of Object.values(typeDefs.get(id).properties ?? {})) for (const t of [p.type, ...(p.previousTypes ?? [])]) countUses(t);
  } else if (type.element) countUses(type.element);
  else if (type.types) type.types.forEach(countUses);
}
for (const r of db.schema.resource.entities) for (const p of Object.values(r.properties ?? {})) for (const t of [p.type, ...(p.previousTypes ?? [])]) countUses(t);

const shared = new Map();
const sharedLines = [];

/**
 * One shape as a short string: s string, i integer, n number, b boolean, j JSON, t tag, d timestamp,
 * [X list of X, {X map of X, <properties> an object, #N shared object N, (X|Y) either.
 */
function shape(type, inside) {
  switch (type.type) {
    case 'string':
      return 's';
    case 'integer':
      return 'i';
    case 'number':
      return 'n';
    case 'boolean':
      return 'b';
    case 'json':
    case 'null':
      return 'j';
    case 'tag':
      return 't';
    case 'date-time':
      return 'd';
    case 'array':
      return `[${shape(type.element, inside)}`;
    case 'map':
      return `{${shape(type.element, inside)}`;
    case 'union': {
      const parts = [...new Set(type.types.map((t) => shape(t, inside)))];
      return parts.length === 1 ? parts[0] : `(${parts.join('|')})`;
    }
    case 'ref': {
      const id = type.reference.$ref;
      const def = typeDefs.get(id);
      if (!def) throw new Error(`type definition ${id} is missing`);
      if (uses.get(id) === 1 && !inside.has(id)) return `<${properties(def.properties, new Set([...inside, id]))}>`;
      return `#${sharedIndex(id)}`;
    }
    default:
      throw new Error(`unknown type kind ${JSON.stringify(type)}`);
  }
}

function sharedIndex(id) {
  if (!shared.has(id)) {
    shared.set(id, sharedLines.length);
    sharedLines.push('');
    sharedLines[shared.get(id)] = properties(typeDefs.get(id).properties, new Set([id]));
  }
  return shared.get(id);
}

/** `name:flags shape;…` with flags * required, ^ create-only, ? create-only in some cases, ! deprecated. */
function properties(props, inside) {
  return Object.entries(props ?? {})
    .sort(byName)
    .map(([name, p]) => {
      if (!NAME.test(name)) throw new Error(`property name ${name} cannot be written compactly`);
      let flags = '';
      if (p.required) flags += '*';
      if (p.causesReplacement === 'yes') flags += '^';
      if (p.causesReplacement === 'maybe') flags += '?';
      if (p.deprecated) flags += '!';
      // A property may also take the shapes it had before (CloudFormation keeps accepting them).
      const shapes = [...new Set([p.type, ...(p.previousTypes ?? [])].map((t) => shape(t, inside)))];
      return `${name}:${flags}${shapes.length === 1 ? shapes[0] : `(${shapes.join('|')})`}`;
    })
    .join(';');
}

/** Attribute names as Fn::GetAtt takes them; a leading [ marks a list. */
function attributes(attrs) {
  return Object.entries(attrs ?? {})
    .sort(byName)
    .map(([name, a]) => `${a.type.type === 'array' ? '[' : ''}${name}`)
    .join(',');
}

const resources = [...db.schema.resource.entities].sort((a, b) => (a.cloudFormationType < b.cloudFormationType ? -1 : 1));
/** For a type whose Ref returns its ARN, the ARN's template without the `arn:${Partition}:` every one starts with. */
function refArn(r) {
  const ref = r.cfnRefIdentifier ?? r.primaryIdentifier ?? [];
  if (ref.length !== 1 || !/Arn$/.test(ref[0]) || !r.arnTemplate?.startsWith('arn:${Partition}:')) return '';
  return r.arnTemplate.slice('arn:${Partition}:'.length);
}

const typeLines = resources.map((r) => `${r.cloudFormationType}\t${properties(r.properties, new Set())}\t${attributes(r.attributes)}\t${refArn(r)}`);
// Where the data came from, one line per resource type, an empty line, then one line per shared property type.
const text = [`@aws-cdk/aws-service-spec@${version}`, ...typeLines, '', ...sharedLines].join('\n');
const packed = brotliCompressSync(Buffer.from(text), {
  params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: text.length },
});
writeFileSync(new URL('../lib/adapters/resource-schemas.br', import.meta.url), packed);
console.log(`${resources.length} resource types, ${sharedLines.length} shared property types, ${Math.round(text.length / 1024)} KB of text, ${Math.round(packed.length / 1024)} KB packed`);
