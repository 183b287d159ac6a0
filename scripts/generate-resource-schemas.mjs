// Turns the official CloudFormation resource schemas, as carried by @aws-cdk/aws-service-spec (the
// database the CDK's own diff reads), into the compact form lib/core/resource-schemas.ts decodes:
// per resource type its properties with their shapes, which are required and which are create-only
// (a change replaces the resource), and its attributes. Documentation and everything else is left
// out so the data stays small enough for the CLI start and the reconcile bundle.
//
// Run `npm run schemas` after changing the pinned version of @aws-cdk/aws-service-spec in
// package.json; it rewrites lib/core/resource-schemas.data.ts, which is committed.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { brotliCompressSync, constants, gunzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const packageDir = require.resolve('@aws-cdk/aws-service-spec/package.json').replace(/package\.json$/, '');
const { version } = JSON.parse(readFileSync(`${packageDir}package.json`, 'utf8'));
const db = JSON.parse(gunzipSync(readFileSync(`${packageDir}db.json.gz`)).toString('utf8'));

const typeDefs = new Map(db.schema.typeDefinition.entities.map((t) => [t.$id, t]));

// Shared property types, deduplicated by their encoding: index in `defs` by encoding.
const defs = [];
const defIndex = new Map();
const encodedRef = new Map();

/**
 * One shape as a short string: s string, i integer, n number, b boolean, j JSON, t tag, d date-time,
 * [X list of X, {X map of X, #N shared type N, (X|Y) any of them.
 */
function shape(type) {
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
      return 'j';
    case 'tag':
      return 't';
    case 'date-time':
      return 'd';
    case 'null':
      return 'j';
    case 'array':
      return `[${shape(type.element)}`;
    case 'map':
      return `{${shape(type.element)}`;
    case 'union': {
      const parts = [...new Set(type.types.map(shape))];
      return parts.length === 1 ? parts[0] : `(${parts.join('|')})`;
    }
    case 'ref':
      return `#${refIndex(type.reference.$ref)}`;
    default:
      throw new Error(`unknown type kind ${JSON.stringify(type)}`);
  }
}

function propertyShape(p) {
  const shapes = [...new Set([p.type, ...(p.previousTypes ?? [])].map(shape))];
  return shapes.length === 1 ? shapes[0] : `(${shapes.join('|')})`;
}

/** Flags before the shape: * required, ^ create-only, ? create-only when CloudFormation says "maybe", ! deprecated. */
function encodeProperty(p) {
  let flags = '';
  if (p.required) flags += '*';
  if (p.causesReplacement === 'yes') flags += '^';
  if (p.causesReplacement === 'maybe') flags += '?';
  if (p.deprecated) flags += '!';
  return flags + propertyShape(p);
}

function encodeProperties(properties) {
  return Object.fromEntries(
    Object.entries(properties ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, p]) => [name, encodeProperty(p)]),
  );
}

function refIndex(id) {
  const known = encodedRef.get(id);
  if (known !== undefined) return known;
  const def = typeDefs.get(id);
  if (!def) throw new Error(`type definition ${id} is missing`);
  // Reserve a slot first: type definitions can refer to themselves.
  const slot = defs.length;
  encodedRef.set(id, slot);
  defs.push(null);
  const encoded = encodeProperties(def.properties);
  const key = JSON.stringify(encoded);
  const same = defIndex.get(key);
  if (same !== undefined && !selfReferencing(encoded, slot)) {
    defs.pop();
    encodedRef.set(id, same);
    return same;
  }
  defs[slot] = encoded;
  defIndex.set(key, slot);
  return slot;
}

function selfReferencing(encoded, slot) {
  return Object.values(encoded).some((s) => new RegExp(`#${slot}(?!\\d)`).test(s));
}

const types = {};
const resources = [...db.schema.resource.entities].sort((a, b) => (a.cloudFormationType < b.cloudFormationType ? -1 : 1));
for (const r of resources) {
  const attributes = Object.fromEntries(Object.entries(r.attributes ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, a]) => [name, shape(a.type)]));
  const entry = { p: encodeProperties(r.properties), a: attributes };
  // What Ref returns: CloudFormation returns the primary identifier unless the schema says otherwise.
  const ref = r.cfnRefIdentifier ?? r.primaryIdentifier;
  if (ref?.length) entry.r = ref.join('|');
  if (r.arnTemplate) entry.n = r.arnTemplate;
  types[r.cloudFormationType] = entry;
}

// One line per resource type (`Type<TAB>JSON`), an empty line, then one JSON line per shared type, so
// a reader parses only the lines of the types a template uses.
const json = [...Object.entries(types).map(([name, entry]) => `${name}\t${JSON.stringify(entry)}`), '', ...defs.map((d) => JSON.stringify(d))].join('\n');
const packed = brotliCompressSync(Buffer.from(json), {
  params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: json.length },
}).toString('base64');
const out = new URL('../lib/core/resource-schemas.data.ts', import.meta.url);
writeFileSync(
  out,
  `/**\n * Generated by scripts/generate-resource-schemas.mjs from @aws-cdk/aws-service-spec ${version}; do not edit.\n` +
    ` * Refresh with \`npm run schemas\`. The format is described in lib/core/resource-schemas.ts.\n */\n` +
    `export const RESOURCE_SCHEMAS_SOURCE = '@aws-cdk/aws-service-spec@${version}';\n` +
    `/** The compact lines, brotli-compressed and base64-encoded: a quarter of its size in the bundle. */\n` +
    `export const RESOURCE_SCHEMAS_BROTLI = '${packed}';\n`,
);
console.log(`${Object.keys(types).length} resource types, ${defs.length} shared property types, ${Math.round(json.length / 1024)} KB of text, ${Math.round(packed.length / 1024)} KB packed`);
