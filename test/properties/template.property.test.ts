/**
 * Property tests of template canonicalisation (parseTemplate). A generated CloudFormation template
 * with nested properties and intrinsic functions has one canonical body and hash however it is
 * written: JSON, YAML block or flow, keys in any order, short-form tags such as `!Sub` or `!GetAtt
 * R.Arn`, `Fn::GetAtt` as a dotted string. Changing one value changes the hash. And any text or
 * bytes at all either parse into a canonical body that is its own fixed point, or are rejected with
 * problems naming the file; parseTemplate never throws. The schema checks never throw either, on
 * any generated template, and every finding names the file and a path.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Document, isNode, Scalar, YAMLMap, YAMLSeq, type Node } from 'yaml';
import { describe, expect, it } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import { fastSchema, loadFast } from '../../lib/core/fast-yaml.js';
import { checkTemplate } from '../../lib/core/template-checks.js';
import { CFN_TAGS, parseTemplate, parseWithYamlPackage } from '../../lib/core/template.js';
import {
  aliasBomb,
  aliasBombArb,
  deepArb,
  deepNesting,
  expectClearProblems,
  faithfulStrings,
  flowAliasBomb,
  form as plainForm,
  PROTOTYPE_NAMES,
  SCALAR_STYLES,
  shuffleKeys,
  sortedDeep,
  write,
  type Form,
} from './forms.js';
import { yamlText } from './yaml-texts.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const FILE = 'stacks/app.template';
/** CloudFormation's largest template body (by S3 URL), in bytes. */
const CLOUDFORMATION_MAX_BYTES = 1_048_576;

// ---------------------------------------------------------------------------------------------
// Templates

const logicalId = fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,8}$/);
const attribute = fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,6}(\.[A-Z][A-Za-z0-9]{0,5})?$/);
const propertyKey = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,8}$/) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
);
const text = fc.oneof({ weight: 5, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) });
const scalar: fc.Arbitrary<Json> = fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
const entries = <T>(key: fc.Arbitrary<string>, value: fc.Arbitrary<T>, min = 0, max = 3): fc.Arbitrary<Record<string, T>> =>
  fc.uniqueArray(fc.tuple(key, value), { minLength: min, maxLength: max, selector: ([k]) => k }).map((pairs) => Object.fromEntries(pairs));

/** Values in properties: scalars, lists, mappings and every intrinsic function, in long form. */
const { value } = fc.letrec<{ value: Json; list: Json[]; map: Record<string, Json>; intrinsic: Json }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 3, depthIdentifier: 'template' }, scalar, tie('list'), tie('map'), tie('intrinsic')),
  list: fc.array(tie('value'), { maxLength: 3, depthIdentifier: 'template' }),
  map: entries(propertyKey, tie('value')),
  intrinsic: fc.oneof(
    logicalId.map((r) => ({ Ref: r })),
    fc.constantFrom('AWS::Region', 'AWS::AccountId', 'AWS::NoValue').map((r) => ({ Ref: r })),
    fc.tuple(logicalId, attribute).map(([r, a]) => ({ 'Fn::GetAtt': [r, a] })),
    text.map((s) => ({ 'Fn::Sub': s })),
    fc.tuple(text, entries(logicalId, tie('value'))).map(([s, vars]) => ({ 'Fn::Sub': [s, vars] })),
    fc.tuple(text, tie('list')).map(([d, items]) => ({ 'Fn::Join': [d, items] })),
    fc.tuple(fc.nat({ max: 5 }), tie('list')).map(([i, items]) => ({ 'Fn::Select': [i, items] })),
    fc.tuple(text, text).map(([d, s]) => ({ 'Fn::Split': [d, s] })),
    fc.tuple(logicalId, tie('value'), tie('value')).map(([c, a, b]) => ({ 'Fn::If': [c, a, b] })),
    fc.tuple(tie('value'), tie('value')).map(([a, b]) => ({ 'Fn::Equals': [a, b] })),
    fc.array(tie('value'), { minLength: 2, maxLength: 3 }).map((xs) => ({ 'Fn::And': xs })),
    fc.array(tie('value'), { minLength: 2, maxLength: 3 }).map((xs) => ({ 'Fn::Or': xs })),
    tie('value').map((x) => ({ 'Fn::Not': [x] })),
    fc.tuple(logicalId, text, text).map(([m, a, b]) => ({ 'Fn::FindInMap': [m, a, b] })),
    tie('value').map((x) => ({ 'Fn::Base64': x })),
    fc.tuple(text, fc.nat({ max: 256 }), fc.nat({ max: 32 })).map(([c, n, b]) => ({ 'Fn::Cidr': [c, n, b] })),
    text.map((r) => ({ 'Fn::GetAZs': r })),
    tie('value').map((x) => ({ 'Fn::ImportValue': x })),
    logicalId.map((c) => ({ Condition: c })),
    tie('value').map((x) => ({ 'Fn::ToJsonString': x })),
    tie('value').map((x) => ({ 'Fn::Length': x })),
    fc.tuple(text, entries(logicalId, tie('value'))).map(([name, parameters]) => ({ 'Fn::Transform': { Name: name, Parameters: parameters } })),
  ),
}));

const resource = fc.record(
  {
    Type: fc.tuple(fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,8}$/), fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,8}$/)).map(([s, r]) => `AWS::${s}::${r}`),
    Properties: entries(propertyKey, value, 0, 4),
    DependsOn: fc.array(logicalId, { maxLength: 2 }),
    Metadata: entries(propertyKey, value),
    Condition: logicalId,
  },
  { requiredKeys: ['Type'] },
);

const parameter = fc.record({ Type: fc.constantFrom('String', 'Number', 'CommaDelimitedList'), Default: text, Description: text }, { requiredKeys: ['Type'] });

const templateArb: fc.Arbitrary<Record<string, Json>> = fc.record(
  {
    AWSTemplateFormatVersion: fc.constant('2010-09-09'),
    Description: text,
    Parameters: entries(logicalId, parameter, 1),
    Conditions: entries(logicalId, fc.tuple(value, value).map(([a, b]) => ({ 'Fn::Equals': [a, b] })), 1),
    Resources: entries(logicalId, resource, 1, 3),
    Outputs: entries(logicalId, fc.record({ Value: value }), 1),
  },
  { requiredKeys: ['Resources'] },
) as fc.Arbitrary<Record<string, Json>>;

// ---------------------------------------------------------------------------------------------
// Forms: plain ones from forms.ts, plus short-form YAML and dotted long-form GetAtt

const SHORT_FORMS = new Set(['Ref', 'Condition', ...['Base64', 'Cidr', 'FindInMap', 'GetAZs', 'ImportValue', 'Join', 'Select', 'Split', 'Sub', 'If', 'Equals', 'And', 'Or', 'Not', 'Transform', 'ToJsonString', 'Length', 'GetAtt'].map((n) => `Fn::${n}`)]);

type TemplateForm =
  | { kind: 'plain'; form: Form; dottedGetAtt: boolean }
  | { kind: 'short'; collectionStyle: 'block' | 'flow'; stringType: (typeof SCALAR_STYLES)[number]; dottedGetAtt: boolean; seed: number };

const templateForm: fc.Arbitrary<TemplateForm> = fc.oneof(
  fc.record({ kind: fc.constant('plain' as const), form: plainForm, dottedGetAtt: fc.boolean() }),
  fc.record({
    kind: fc.constant('short' as const),
    collectionStyle: fc.constantFrom('block' as const, 'flow' as const),
    stringType: fc.constantFrom(...SCALAR_STYLES),
    dottedGetAtt: fc.boolean(),
    seed: fc.integer(),
  }),
);

const isMapping = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `Fn::GetAtt: [R, A]` as the equivalent `Fn::GetAtt: R.A` (long form) wherever R has no dot. */
function dotGetAtts(v: Json): Json {
  if (Array.isArray(v)) return v.map(dotGetAtts);
  if (!isMapping(v)) return v;
  const getAtt = v['Fn::GetAtt'];
  if (Object.keys(v).length === 1 && Array.isArray(getAtt) && getAtt.length === 2 && typeof getAtt[0] === 'string' && typeof getAtt[1] === 'string' && !getAtt[0].includes('.')) {
    return { 'Fn::GetAtt': `${getAtt[0]}.${getAtt[1]}` };
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, dotGetAtts(x)]));
}

/**
 * A YAML node for `v` with every intrinsic whose argument is a string or a collection in short
 * form (`!Sub x`, `!Join [...]`, `!GetAtt R.A`); a scalar argument of another type (`!Base64 12`
 * reads the string "12") and one whose node is already tagged (YAML allows one tag per node) stay long.
 */
function shortNode(doc: Document, v: Json, dottedGetAtt: boolean): Node {
  if (isMapping(v)) {
    const [key, arg] = Object.entries(v)[0] ?? [];
    if (Object.keys(v).length === 1 && key !== undefined && SHORT_FORMS.has(key) && arg !== undefined && (typeof arg === 'string' || (arg !== null && typeof arg === 'object'))) {
      const name = key.replace(/^Fn::/, '');
      const dotted = name === 'GetAtt' && dottedGetAtt && Array.isArray(arg) && arg.length === 2 && typeof arg[0] === 'string' && typeof arg[1] === 'string' && !arg[0].includes('.');
      const node = dotted ? (doc.createNode(`${(arg as string[])[0]}.${(arg as string[])[1]}`) as Scalar) : shortNode(doc, arg, dottedGetAtt);
      if (!node.tag) {
        node.tag = `!${name}`;
        return node;
      }
    }
    const map = new YAMLMap();
    for (const [k, x] of Object.entries(v)) map.items.push(doc.createPair(k, shortNode(doc, x, dottedGetAtt)));
    return map;
  }
  if (Array.isArray(v)) {
    const seq = new YAMLSeq();
    for (const x of v) seq.items.push(shortNode(doc, x, dottedGetAtt));
    return seq;
  }
  const node = doc.createNode(v);
  if (!isNode(node)) throw new Error('a scalar did not become a node');
  return node;
}

function writeTemplate(template: Record<string, Json>, f: TemplateForm): string {
  if (f.kind === 'plain') return write(f.dottedGetAtt ? dotGetAtts(template) : template, f.form);
  const doc = new Document();
  doc.contents = shortNode(doc, shuffleKeys(template, f.seed), f.dottedGetAtt) as typeof doc.contents;
  faithfulStrings(doc, f.stringType);
  return doc.toString({ collectionStyle: f.collectionStyle, defaultStringType: f.stringType, defaultKeyType: 'PLAIN', lineWidth: 0 });
}

function formName(f: TemplateForm): string {
  return f.kind === 'plain' ? `${JSON.stringify(f.form)}${f.dottedGetAtt ? ' dotted' : ''}` : `short ${f.collectionStyle} ${f.stringType}${f.dottedGetAtt ? ' dotted' : ''}`;
}

function parsedOk(textOf: string, f?: TemplateForm) {
  const r = parseTemplate(textOf, FILE);
  if (!r.ok) throw new Error(`rejected ${f ? formName(f) : ''}: ${JSON.stringify(r.problems)}\n${textOf.slice(0, 2000)}`);
  return r.value;
}

/** The canonical body, computed without lib/core: keys sorted, JSON. */
const expectedBody = (template: Record<string, Json>): string => JSON.stringify(sortedDeep(template));
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

// ---------------------------------------------------------------------------------------------
// Mutations and junk

function leafPaths(v: Json, prefix: string[] = []): string[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leafPaths(x, [...prefix, String(i)]));
  if (isMapping(v)) return Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...prefix, k]));
  return [prefix];
}

function replaced(v: Json, path: string[], next: Json): Json {
  if (path.length === 0) return next;
  const [head, ...rest] = path as [string, ...string[]];
  if (Array.isArray(v)) return v.map((x, i) => (String(i) === head ? replaced(x, rest, next) : x));
  return Object.fromEntries(Object.entries(v as Record<string, Json>).map(([k, x]) => [k, k === head ? replaced(x, rest, next) : x]));
}

const edits = fc.array(fc.record({ at: fc.nat(), remove: fc.nat({ max: 4 }), insert: fc.string({ unit: 'binary', maxLength: 4 }) }), { minLength: 1, maxLength: 4 });

const junk: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.jsonValue({ maxDepth: 4 }).map((j) => JSON.stringify(j) ?? ''),
  fc.tuple(fc.jsonValue({ maxDepth: 4 }), plainForm).map(([j, f]) => write(j, f)),
  // Shapes close to a template: a Resources section of random values, tags CloudFormation lacks.
  fc.tuple(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }), plainForm).map(([r, f]) => write({ Resources: r }, f)),
  fc
    .tuple(fc.constantFrom('!Ref', '!Bogus', '!!binary', '!!set', '!!omap', '!GetAtt', '!Sub', '!', '!<tag:x>', '&a', '*a'), fc.constantFrom('x', '[a, b]', '{a: 1}', '', 'aGk=', '[a: 1]'))
    .map(([tag, arg]) => `Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      P: ${tag} ${arg}\n`),
  // A valid template's text, a few characters changed.
  fc.tuple(templateArb, templateForm, edits).map(([t, f, e]) =>
    e.reduce((s, x) => {
      const i = x.at % (s.length + 1);
      return s.slice(0, i) + x.insert + s.slice(i + x.remove);
    }, writeTemplate(t, f)),
  ),
  fc.tuple(templateArb, templateForm).map(([t, f]) => new TextEncoder().encode(writeTemplate(t, f))),
  aliasBombArb.map(({ levels, fanout }) => `Resources:\n  A: {Type: AWS::SNS::Topic}\n${aliasBomb(levels, fanout)}`),
  aliasBombArb.map(({ levels, fanout }) => `{"Resources": {"A": {"Type": "AWS::SNS::Topic", "Metadata": ${flowAliasBomb(levels, fanout)}}}}`),
  deepArb.map(({ depth, style }) => `{"Resources": {"A": {"Type": "AWS::SNS::Topic", "Metadata": ${deepNesting(depth, style === 'flow-seq' ? 'flow-seq' : 'json')}}}}`),
  // YAML this deep is slow to parse (the manifest test covers deeper); past 500 levels it is refused.
  deepArb.map(({ depth, style }) =>
    style === 'block-map'
      ? `Resources:\n  A:\n    Type: X\n    Metadata:\n${deepNesting(Math.min(depth, 1_500), style).replace(/^/gm, '      ')}\n`
      : `Resources:\n  A: {Type: X, Metadata: ${deepNesting(Math.min(depth, 1_500), style)}}\n`,
  ),
);

// ---------------------------------------------------------------------------------------------

describe('Property: template canonicalisation', () => {
  it('gives every form of the same template the same canonical body and hash', () => {
    let shortTags = 0;
    fc.assert(
      fc.property(templateArb, fc.array(templateForm, { minLength: 2, maxLength: 4 }), (template, forms) => {
        const body = expectedBody(template);
        for (const f of forms) {
          const written = writeTemplate(template, f);
          if (f.kind === 'short') shortTags += (written.match(/![A-Z][A-Za-z]+ /g) ?? []).length;
          const parsed = parsedOk(written, f);
          expect(parsed.body, formName(f)).toBe(body);
          expect(parsed.hash).toBe(sha256(body));
          // The canonical object is what the body says (up to -0, which JSON writes as 0).
          expect(JSON.stringify(parsed.template)).toBe(body);
        }
        const declared = (template['Parameters'] ?? {}) as Record<string, { Type: string; Default?: unknown }>;
        const parameters = parsedOk(writeTemplate(template, forms[0]!)).parameters;
        expect(parameters).toEqual(Object.fromEntries(Object.entries(declared).map(([k, p]) => [k, { type: p.Type, hasDefault: p.Default !== undefined }])));
      }),
      { numRuns: 40 },
    );
    // The short forms were really written, or the YAML forms would all be long-form.
    expect(shortTags).toBeGreaterThan(40);
  });

  it('checks any generated template against the schemas without throwing, each finding naming file and path', () => {
    const realTypes = fc.constantFrom('AWS::SQS::Queue', 'AWS::S3::Bucket', 'AWS::EC2::Subnet', 'AWS::Lambda::Function', 'AWS::Serverless::Function', 'Custom::Seed', 'AWS::CloudFormation::Stack');
    let found = 0;
    fc.assert(
      fc.property(templateArb, fc.array(realTypes, { minLength: 3, maxLength: 3 }), fc.boolean(), (template, types, transform) => {
        const resources = template['Resources'] as Record<string, { Type: string }>;
        Object.values(resources).forEach((r, i) => {
          if (i < types.length && i % 2 === 0) r.Type = types[i]!;
        });
        if (transform) template['Transform'] = ['AWS::LanguageExtensions', 'AWS::Serverless-2016-10-31'];
        const problems = checkTemplate(template as Record<string, unknown>, FILE);
        found += problems.length;
        for (const p of problems) {
          expect(p.file).toBe(FILE);
          expect(typeof p.path).toBe('string');
          expect(p.message.length).toBeGreaterThan(0);
          expect(p.message).not.toMatch(/undefined|\[object Object\]/);
        }
      }),
      { numRuns: 200 },
    );
    // Random templates are mostly wrong: the checks really ran.
    expect(found).toBeGreaterThan(200);
  });

  it('hashes a template with one value changed differently', () => {
    fc.assert(
      fc.property(
        templateArb.chain((t) => fc.tuple(fc.constant(t), fc.constantFrom(...leafPaths(t)))),
        scalar,
        templateForm,
        templateForm,
        ([template, path], next, f1, f2) => {
          const changed = replaced(template, path, next) as Record<string, Json>;
          // Only a change the canonical form can see: another value, not another spelling of it.
          fc.pre(expectedBody(changed) !== expectedBody(template));
          const before = parsedOk(writeTemplate(template, f1), f1);
          const after = parseTemplate(writeTemplate(changed, f2), FILE);
          // The change may make the template invalid (a Type that is no longer a string): then it is rejected.
          if (!after.ok) {
            expectClearProblems(after.problems, { files: [FILE], input: '' });
            return;
          }
          expect(after.value.hash).not.toBe(before.hash);
          expect(after.value.body).toBe(expectedBody(changed));
        },
      ),
      { numRuns: 80 },
    );
  });

  it('parses any text or bytes into a canonical fixed point, or rejects them with problems naming the file', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(junk, (input) => {
        const result = parseTemplate(input, FILE);
        const asText = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
        if (!result.ok) {
          rejected++;
          expectClearProblems(result.problems, { files: [FILE], input: asText });
          return;
        }
        accepted++;
        const { body, hash, template } = result.value;
        expect(hash).toBe(sha256(body));
        expect(JSON.parse(body)).toEqual(template);
        expect(Buffer.byteLength(body)).toBeLessThanOrEqual(CLOUDFORMATION_MAX_BYTES);
        // Canonicalising the canonical body changes nothing.
        const again = parseTemplate(body, FILE);
        expect(again.ok && again.value.body).toBe(body);
      }),
      { numRuns: 90 },
    );
    // Both outcomes are reached, or the property would hold vacuously.
    expect(accepted).toBeGreaterThan(5);
    expect(rejected).toBeGreaterThan(5);
  });

  it('accepts a template near 1 MB only when the JSON sent to CloudFormation is within 1 MB', () => {
    // One long scalar (cheap to parse) whose JSON form is larger or smaller than its source text.
    const write: Record<string, (n: number) => string> = {
      // `\` and `"` are literal in single quotes, escaped in JSON: twice the size.
      escapes: (n) => `Resources:\n  A:\n    Type: X\n    Metadata:\n      P: '${'\\"'.repeat(n / 2)}'\n`,
      // `\x01` is 4 bytes in YAML and 6 in JSON (\u0001).
      control: (n) => `Resources: {A: {Type: X, Metadata: {P: "${'\\x01'.repeat(n / 4)}"}}}`,
      // `\u00e9` is 6 bytes in YAML and 2 in JSON (é).
      accents: (n) => `Resources: {A: {Type: X, Metadata: {P: "${'\\u00e9'.repeat(n / 6)}"}}}`,
      // Whitespace CloudFormation never sees.
      padded: (n) => `{"Resources": {"A": {"Type": "X"${' '.repeat(n)}}}}`,
    };
    fc.assert(
      fc.property(fc.integer({ min: 300_000, max: 1_040_000 }), (size) => {
        for (const [style, text] of Object.entries(write)) {
          const result = parseTemplate(text(size), FILE);
          if (result.ok) {
            expect(Buffer.byteLength(result.value.body), style).toBeLessThanOrEqual(CLOUDFORMATION_MAX_BYTES);
          } else {
            expectClearProblems(result.problems, { files: [FILE], input: '' });
            expect(result.problems.map((p) => p.message).join(' '), style).toMatch(/at most 1048576 bytes/);
          }
        }
      }),
      { numRuns: 4 },
    );
  });
  it('reads every text the fast YAML path accepts exactly as the yaml package does, templates and cairn.yaml alike', () => {
    const cfn = fastSchema(CFN_TAGS);
    const core = fastSchema();
    const texts = fc.oneof(
      { weight: 4, arbitrary: yamlText },
      { weight: 1, arbitrary: junk.map((j) => (typeof j === 'string' ? j : Buffer.from(j).toString('utf8'))) },
      { weight: 1, arbitrary: fc.tuple(templateArb, templateForm).map(([t, f]) => writeTemplate(t, f)) },
    );
    let fast = 0;
    fc.assert(
      fc.property(texts, (text) => {
        const template = loadFast(text, cfn, 1002);
        if (template) {
          fast++;
          const y = parseWithYamlPackage(text, FILE);
          if (!y.ok && y.problems.some((p) => /Maximum call stack size exceeded/.test(p.message))) {
            // Nested deeper than `yaml` can recurse (hundreds of levels), which js-yaml still reads.
            // No reading of it reaches CloudFormation: the template is refused for its nesting.
            const refused = parseTemplate(text, FILE);
            expect(!refused.ok && refused.problems.some((p) => /more than 500 levels deep|at most 1048576 bytes/.test(p.message)), text).toBe(true);
            return;
          }
          // An empty document: js-yaml says undefined, yaml null; both are "not a template".
          expect(y.ok && isDeepStrictEqual(template.value ?? null, y.value), text).toBe(true);
        }
        const manifest = loadFast(text, core, 66);
        if (manifest) {
          const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false });
          expect(doc.errors, text).toEqual([]);
          expect(isDeepStrictEqual(manifest.value ?? null, doc.toJS()), text).toBe(true);
        }
      }),
      // Cheap: a few hundred texts take well under a second.
      { numRuns: 400 },
    );
    // The fast path took a good share, or the property would hold vacuously.
    expect(fast).toBeGreaterThan(40);
  });
});
