/**
 * Property tests of reading a repository's cairn.yaml (with its templates and deployment files)
 * through loadDesired. Generated valid repositories load into exactly the stacks they declare,
 * whatever the key order and formatting; documents with one thing wrong are rejected naming that
 * thing; and nothing at all (random values, bytes, deep nesting, huge strings, alias bombs) makes
 * loading throw anything but a ValidationError whose every problem names a file, a path and a
 * readable message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError, type Problem } from '../../lib/core/errors.js';
import type { DesiredStack, DesiredState } from '../../lib/core/model.js';
import { desiredHash } from '../../lib/core/plan.js';
import { DEFAULT_PROTECTED_TYPES } from '../../lib/core/policy.js';
import type { SourceSnapshot } from '../../lib/ports/source-repo.js';
import { loadDesired } from '../../lib/reconcile/load-desired.js';
import { memorySnapshot, type MemoryFiles } from '../helpers/memory-source.js';
import {
  aliasBomb,
  aliasBombArb,
  deepArb,
  deepNesting,
  describeForm,
  expectClearProblems,
  flowAliasBomb,
  form,
  PROTOTYPE_NAMES,
  sortedDeep,
  write,
  type Form,
} from './forms.js';

type Data = Record<string, unknown>;
type Path = string[];

const COMMIT = 'c0ffee0000000000000000000000000000000000';
const CAPABILITIES = ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'] as const;
const DRIFT = ['alert', 'revert', 'ignore'] as const;
const REGIONS = ['eu-west-1', 'us-east-1', 'ap-southeast-2', 'us-gov-west-1'];
/** Each generated type's name property and ARN attribute, as its schema names them. */
const NAME_PROPERTY: Record<string, string> = { 'AWS::SNS::Topic': 'TopicName', 'AWS::SQS::Queue': 'QueueName', 'AWS::S3::Bucket': 'BucketName' };
const ARN_ATTRIBUTE: Record<string, string> = { 'AWS::SNS::Topic': 'TopicArn', 'AWS::SQS::Queue': 'Arn', 'AWS::S3::Bucket': 'Arn' };
const ROLES = ['arn:aws:iam::123456789012:role/cairn-deployer', 'arn:aws-us-gov:iam::000000000000:role/path/deployer'];

/** Keys each strict object of the two file formats accepts. */
const KNOWN = {
  root: ['version', 'defaults', 'stacks'],
  defaults: ['region', 'roleArn', 'capabilities', 'tags', 'prune', 'pruneMaxShare', 'drift', 'protectedTypes'],
  stack: ['template', 'deploymentFile', 'stackName', 'parameters', 'tags', 'dependsOn', 'capabilities', 'region', 'roleArn', 'terminationProtection', 'drift', 'adopt', 'allowDestructive'],
  fromStack: ['fromStack', 'output'],
  deploymentFile: ['template-file-path', 'parameters', 'tags'],
};

// ---------------------------------------------------------------------------------------------
// Valid repositories, and the desired state each must load into

/** Stack ids without `-`; a stack name always has one, so an id never equals another stack's name. */
const stackId = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,9}$/);
/** `_` is not allowed in stack names: an id with one needs a stackName (this mapping is injective). */
const nameFor = (id: string): string => `${id.replaceAll('_', '-u-')}-s`;
const parameterName = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,7}$/).filter((n) => !n.endsWith('Res')) },
  { weight: 1, arbitrary: fc.constantFrom('constructor', 'toString', 'valueOf', 'hasOwnProperty') },
);
const logicalId = fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,9}$/);
const text = fc.string({ unit: 'grapheme', maxLength: 16 });
const tagKey = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 _.:/=+@-]{0,15}$/).filter((k) => !/^(cairn|aws):/i.test(k));
const tags = fc.dictionary(tagKey, text, { maxKeys: 2, noNullPrototype: true });
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const scalarValue = fc.oneof(text, number, fc.boolean());
const opt = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });

/** Only the keys whose value is defined: absent means absent in every serialisation. */
function defined(record: Record<string, unknown>): Data {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

type ManifestValue = string | number | boolean | (string | number)[] | { fromStack: string; output: string };

/** What cairn.yaml's schema makes of a parameter value. */
function resolved(value: ManifestValue): string | { fromStack: string; output: string } {
  if (Array.isArray(value)) return value.map(String).join(',');
  if (typeof value === 'object') return value;
  return String(value);
}

interface StackSpec {
  id: string;
  entry: Data;
  templatePath: string;
  template: Data;
  deployment: { path: string; data: Data } | undefined;
  /** Parameters the template declares without a Default, and which file gives each a value. */
  required: { name: string; in: 'manifest' | 'file' | 'both' }[];
  fromStack: string[];
  expected: Omit<DesiredStack, 'region' | 'roleArn' | 'drift' | 'capabilities' | 'tags'> & {
    own: { region?: string; roleArn?: string; drift?: string; capabilities: string[]; tags: Record<string, string>; fileTags: Record<string, string> };
  };
}

interface Repo {
  manifest: Data;
  stacks: StackSpec[];
  expected: DesiredState;
}

function stackArb(id: string, earlier: string[]): fc.Arbitrary<StackSpec> {
  const manifestValue: fc.Arbitrary<ManifestValue> =
    earlier.length === 0
      ? fc.oneof(scalarValue, fc.array(fc.oneof(text, fc.integer()), { maxLength: 3 }))
      : fc.oneof(
          scalarValue,
          fc.array(fc.oneof(text, fc.integer()), { maxLength: 3 }),
          fc.record({ fromStack: fc.constantFrom(...earlier), output: fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,7}$/) }),
        );
  return fc
    .record({
      stackName: fc.boolean(),
      viaDeployment: fc.boolean(),
      json: fc.boolean(),
      params: fc.uniqueArray(
        fc.record({
          name: parameterName,
          hasDefault: fc.boolean(),
          default: text,
          source: fc.constantFrom('manifest' as const, 'file' as const, 'both' as const, 'none' as const),
          value: manifestValue,
          fileValue: scalarValue,
        }),
        { selector: (p) => p.name, maxLength: 3 },
      ),
      // Resource ids end in `Res`, parameter names never do: CloudFormation requires logical ids unique across both.
      resources: fc.uniqueArray(fc.record({ id: logicalId.map((id) => `${id}Res`), type: fc.constantFrom('AWS::SNS::Topic', 'AWS::SQS::Queue', 'AWS::S3::Bucket'), name: text }), {
        selector: (r) => r.id,
        minLength: 1,
        maxLength: 2,
      }),
      tags: opt(tags),
      fileTags: opt(tags),
      dependsOn: earlier.length ? opt(fc.array(fc.constantFrom(...earlier), { maxLength: 3 })) : fc.constant(undefined),
      region: opt(fc.constantFrom(...REGIONS)),
      roleArn: opt(fc.constantFrom(...ROLES)),
      capabilities: opt(fc.subarray([...CAPABILITIES])),
      terminationProtection: opt(fc.boolean()),
      drift: opt(fc.constantFrom(...DRIFT)),
      adopt: opt(fc.boolean()),
      allowDestructive: opt(fc.array(logicalId, { maxLength: 3 })),
    })
    .map((g): StackSpec => {
      const templatePath = `stacks/${id}.${g.json ? 'json' : 'yaml'}`;
      const manifestParams: Record<string, ManifestValue> = {};
      const fileParams: Record<string, string | number | boolean> = {};
      const required: StackSpec['required'] = [];
      for (const p of g.params) {
        let source = g.viaDeployment ? p.source : p.source === 'none' ? 'none' : 'manifest';
        if (source === 'none' && !p.hasDefault) source = 'manifest';
        if (source === 'manifest' || source === 'both') manifestParams[p.name] = p.value;
        if (source === 'file' || source === 'both') fileParams[p.name] = p.fileValue;
        if (!p.hasDefault && source !== 'none') required.push({ name: p.name, in: source });
      }
      const template = defined({
        Parameters: g.params.length
          ? Object.fromEntries(g.params.map((p) => [p.name, defined({ Type: 'String', Default: p.hasDefault ? p.default : undefined })]))
          : undefined,
        Resources: Object.fromEntries(
          g.resources.map((r, i) => [
            r.id,
            { Type: r.type, Properties: { [NAME_PROPERTY[r.type]!]: r.name, ...(g.params[i] ? { Tags: [{ Key: 'from', Value: { Ref: g.params[i]!.name } }] } : {}) } },
          ]),
        ),
        Outputs: { First: { Value: { 'Fn::GetAtt': [g.resources[0]!.id, ARN_ATTRIBUTE[g.resources[0]!.type]!] } } },
      });
      const fromStack = Object.values(manifestParams).flatMap((v) => (typeof v === 'object' && !Array.isArray(v) ? [v.fromStack] : []));
      const deployment = g.viaDeployment
        ? {
            path: `deploy/${id}.yaml`,
            data: defined({
              'template-file-path': templatePath,
              parameters: Object.keys(fileParams).length ? fileParams : undefined,
              tags: g.fileTags,
            }),
          }
        : undefined;
      const entry = defined({
        template: g.viaDeployment ? undefined : templatePath,
        deploymentFile: deployment?.path,
        stackName: g.stackName || id.includes('_') ? nameFor(id) : undefined,
        parameters: Object.keys(manifestParams).length ? manifestParams : undefined,
        tags: g.tags,
        dependsOn: g.dependsOn,
        capabilities: g.capabilities,
        region: g.region,
        roleArn: g.roleArn,
        terminationProtection: g.terminationProtection,
        drift: g.drift,
        adopt: g.adopt,
        allowDestructive: g.allowDestructive,
      });
      const parameters = Object.fromEntries([
        ...Object.entries(fileParams).map(([k, v]) => [k, String(v)] as const),
        ...Object.entries(manifestParams).map(([k, v]) => [k, resolved(v)] as const),
      ]);
      return {
        id,
        entry,
        templatePath,
        template,
        deployment,
        required,
        fromStack,
        expected: {
          id,
          stackName: (entry['stackName'] as string | undefined) ?? id,
          templateFile: templatePath,
          template: sortedDeep(template) as Data,
          templateBody: JSON.stringify(sortedDeep(template)),
          parameters,
          terminationProtection: g.terminationProtection ?? false,
          dependsOn: [...new Set([...(g.dependsOn ?? []), ...fromStack])].sort(),
          adopt: g.adopt ?? false,
          allowDestructive: [...new Set(g.allowDestructive ?? [])].sort(),
          windows: [],
          approval: 'auto',
          own: {
            ...defined({ region: g.region, roleArn: g.roleArn, drift: g.drift }),
            capabilities: g.capabilities ?? [],
            tags: g.tags ?? {},
            fileTags: g.viaDeployment ? (g.fileTags ?? {}) : {},
          },
        },
      };
    });
}

const defaultsArb = fc.record(
  {
    region: fc.constantFrom(...REGIONS),
    roleArn: fc.constantFrom(...ROLES),
    capabilities: fc.subarray([...CAPABILITIES]),
    tags,
    prune: fc.boolean(),
    pruneMaxShare: fc.double({ min: 0.01, max: 1, noNaN: true }),
    drift: fc.constantFrom(...DRIFT),
    protectedTypes: fc.array(fc.stringMatching(/^[A-Z][a-z0-9]{0,5}::[A-Z][a-z0-9]{0,5}::[A-Z][a-z0-9]{0,5}$/), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

const repoArb: fc.Arbitrary<Repo> = fc
  .tuple(fc.uniqueArray(stackId, { minLength: 1, maxLength: 3 }), opt(defaultsArb))
  .chain(([ids, defaults]) => fc.tuple(fc.constant(defaults), fc.tuple(...ids.map((id, i) => stackArb(id, ids.slice(0, i))))))
  .map(([defaults, stacks]): Repo => {
    const d = defaults ?? {};
    const manifest = defined({ version: 1, defaults, stacks: Object.fromEntries(stacks.map((s) => [s.id, s.entry])) });
    const expectedStacks = stacks.map(({ expected: { own, ...e } }): DesiredStack => ({
      ...e,
      region: own.region ?? d.region,
      roleArn: own.roleArn ?? d.roleArn,
      drift: (own.drift ?? d.drift ?? 'alert') as DesiredStack['drift'],
      capabilities: [...new Set([...(d.capabilities ?? []), ...own.capabilities])].sort() as DesiredStack['capabilities'],
      tags: { ...(d.tags ?? {}), ...own.fileTags, ...own.tags },
    }));
    return {
      manifest,
      stacks,
      expected: {
        source: 'src',
        commit: COMMIT,
        stacks: expectedStacks,
        prune: d.prune ?? false,
        pruneMaxShare: d.pruneMaxShare ?? 0.5,
        protectedTypes: [...new Set([...DEFAULT_PROTECTED_TYPES, ...(d.protectedTypes ?? [])])].sort(),
        windows: [],
        approval: 'auto',
        findings: [],
      },
    };
  });

/** Every file of the repository, cairn.yaml in one form and every other file in another. */
function filesOf(repo: Repo, manifestForm: Form, otherForm: Form, manifest: Data = repo.manifest): Record<string, string> {
  const files: Record<string, string> = { 'cairn.yaml': write(manifest, manifestForm) };
  repo.stacks.forEach((s, i) => {
    const f = { ...otherForm, seed: otherForm.seed + i };
    files[s.templatePath] = write(s.template, f);
    if (s.deployment) files[s.deployment.path] = write(s.deployment.data, f);
  });
  return files;
}

// ---------------------------------------------------------------------------------------------
// Loading, and what a rejection must look like

type Loaded = { ok: true; desired: DesiredState } | { ok: false; problems: Problem[] };

function bytesSnapshot(files: Record<string, string | Uint8Array>): SourceSnapshot {
  return {
    commit: COMMIT,
    readFile: async (path) => {
      const f = files[path];
      return typeof f === 'string' ? new TextEncoder().encode(f) : f;
    },
  };
}

/** loadDesired, failing the property on anything thrown but a ValidationError with clear problems. */
async function load(files: Record<string, string | Uint8Array>): Promise<Loaded> {
  // memorySnapshot looks paths up with files[path]; without a prototype, `template: constructor`
  // reads a missing file rather than Object.prototype.constructor.
  const lookup = Object.assign(Object.create(null) as Record<string, string | Uint8Array>, files);
  const snapshot = Object.values(files).every((f) => typeof f === 'string') ? memorySnapshot(lookup as MemoryFiles, COMMIT) : bytesSnapshot(lookup);
  try {
    return { ok: true, desired: await loadDesired(snapshot, 'src') };
  } catch (error) {
    if (!(error instanceof ValidationError)) {
      throw new Error(`loadDesired threw ${(error as Error)?.name}: ${(error as Error)?.message?.slice(0, 300)}`, { cause: error });
    }
    const input = Object.values(files)
      .map((f) => (typeof f === 'string' ? f : Buffer.from(f).toString('latin1')))
      .join('\n');
    expectClearProblems(error.problems, { files: [...new Set(['cairn.yaml', ...Object.keys(files)])], input });
    expect(error.message.trim().length).toBeGreaterThan(0);
    return { ok: false, problems: error.problems };
  }
}

/** The rejection names `path` (or a node above or below it) in `file`. */
function expectProblemAt(loaded: Loaded, file: string, path: string, message?: RegExp): void {
  if (loaded.ok) throw new Error(`expected a problem at ${file} ${path}, but the repository loaded`);
  const related = (p: Problem): boolean =>
    p.file === file && (path === '' || p.path === path || p.path.startsWith(`${path}.`) || (p.path !== '' && path.startsWith(`${p.path}.`)));
  const found = loaded.problems.filter(related);
  const listing = loaded.problems.map((p) => `${p.file} ${p.path}: ${p.message}`).join('\n');
  expect(found.length, `no problem at ${file} ${path} in\n${listing}`).toBeGreaterThan(0);
  if (message) expect(found.some((p) => message.test(p.message)), `${message} at ${path} in\n${listing}`).toBe(true);
}

/** A loaded state that is internally consistent: ids as the schema allows, dependencies declared. */
function expectConsistent(desired: DesiredState): void {
  const ids = desired.stacks.map((s) => s.id);
  for (const s of desired.stacks) {
    expect(s.id).toMatch(/^[A-Za-z][A-Za-z0-9_-]*$/);
    for (const d of s.dependsOn) expect(ids, `${s.id} depends on ${d}`).toContain(d);
    for (const v of Object.values(s.parameters)) if (typeof v !== 'string') expect(ids).toContain(v.fromStack);
  }
}

const byId = (stacks: DesiredStack[]): DesiredStack[] => [...stacks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

function hashes(desired: DesiredState): Record<string, string> {
  return Object.fromEntries(
    desired.stacks.map((s) => [
      s.id,
      desiredHash(s, Object.fromEntries(Object.entries(s.parameters).map(([k, v]) => [k, typeof v === 'string' ? v : `${v.fromStack}.${v.output}`]))),
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// Paths into the generated data

function clone<T>(value: T): T {
  // JSON keeps an own `__proto__` key a key, where structured or spread copies may not.
  return JSON.parse(JSON.stringify(value)) as T;
}

function setKey(target: Data, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function at(data: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (node as Data)[key], data);
}

/** A copy with the node at `path` replaced, or deleted when `value` is undefined. */
function changed(data: Data, path: Path, value: unknown): Data {
  if (path.length === 0) return value as Data;
  const copy = clone(data);
  const parent = at(copy, path.slice(0, -1)) as Data | unknown[];
  const key = path[path.length - 1]!;
  if (Array.isArray(parent)) parent[Number(key)] = value;
  else if (value === undefined) delete parent[key];
  else setKey(parent, key, value);
  return copy;
}

function allPaths(data: unknown, prefix: Path = []): Path[] {
  const here = [prefix];
  if (Array.isArray(data)) return here.concat(data.flatMap((v, i) => allPaths(v, [...prefix, String(i)])));
  if (data !== null && typeof data === 'object') return here.concat(Object.entries(data).flatMap(([k, v]) => allPaths(v, [...prefix, k])));
  return here;
}

const isMap = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// Random and hostile documents

const hostileSnippets = [
  '!!binary aGVsbG8=',
  '!!set {a, b}',
  '!!omap [a: 1]',
  '!custom x',
  '!Ref x',
  '&a x',
  '*missing',
  '? [a, b]\n: c',
  '2001-12-14',
  '0x1F',
  '.nan',
  '-.inf',
  '~',
  'null',
  '"\\u0000"',
  '"\\ud800"',
  '123456789012345678901234567890',
  '{a: 1, a: 2}',
  '[',
  '}',
  '"unterminated',
  "'it''s'",
  '|\n  literal\n',
  '>-\n  folded\n',
];

const hostileDocument = fc.oneof(
  fc.constantFrom(...hostileSnippets).map((s) => `version: 1\nstacks: ${s}\n`),
  fc.tuple(fc.constantFrom(...hostileSnippets), fc.constantFrom(...hostileSnippets)).map(([a, b]) => `version: 1\nstacks:\n  a: {template: ${a}, parameters: {P: ${b}}}\n`),
  fc.constantFrom(
    '%YAML 1.1\n---\nversion: 1\nstacks: {}\n',
    '%TAG ! tag:example.com,2000:\n---\nversion: !x 1\n',
    'version: 1\nstacks: {}\n---\nversion: 2\n',
    '\uFEFFversion: 1\nstacks: {}\n',
    'version: 1\r\nstacks:\r\n  a: {template: t.yaml}\r\n',
    'version: 1\nstacks:\n\ta: {}\n',
    '...\n',
    '---\n...\n---\n',
    'version: 1\nversion: 1\nstacks: {}\n',
    'version: 1\n<<: {stacks: {}}\n',
    'version: 1\nstacks:\n  a: &x {template: t.yaml}\n  b: *x\n',
    'version: 1\nstacks:\n  a: {template: t.yaml, dependsOn: [*x]}\n',
  ),
);

/** Small edits to a text: characters inserted, deleted or replaced at random offsets. */
const edits = fc.array(fc.record({ at: fc.nat(), remove: fc.nat({ max: 5 }), insert: fc.string({ unit: 'binary', maxLength: 5 }) }), { minLength: 1, maxLength: 5 });

function edited(original: string, list: { at: number; remove: number; insert: string }[]): string {
  return list.reduce((t, e) => {
    const i = e.at % (t.length + 1);
    return t.slice(0, i) + e.insert + t.slice(i + e.remove);
  }, original);
}

const junk = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''),
  fc.tuple(fc.jsonValue({ maxDepth: 3 }), form).map(([v, f]) => write(v, f)),
  hostileDocument,
);

// ---------------------------------------------------------------------------------------------

describe('Property: cairn.yaml into desired state', () => {
  it('loads a generated repository into exactly the stacks it declares', async () => {
    await fc.assert(
      fc.asyncProperty(repoArb, form, form, async (repo, manifestForm, otherForm) => {
        const loaded = await load(filesOf(repo, manifestForm, otherForm));
        if (!loaded.ok) throw new Error(`rejected (${describeForm(manifestForm)}): ${loaded.problems.map((p) => `${p.file} ${p.path}: ${p.message}`).join('; ')}`);
        // Stacks come in the order cairn.yaml lists them, which the form shuffles.
        expect({ ...loaded.desired, stacks: byId(loaded.desired.stacks) }).toEqual({ ...repo.expected, stacks: byId(repo.expected.stacks) });
      }),
      { numRuns: 20 },
    );
  });

  it('gives the same desired state and hashes however the same data is written', async () => {
    await fc.assert(
      fc.asyncProperty(repoArb, form, form, form, form, async (repo, a1, a2, b1, b2) => {
        const a = await load(filesOf(repo, a1, a2));
        const b = await load(filesOf(repo, b1, b2));
        if (!a.ok || !b.ok) throw new Error('a generated repository was rejected');
        expect(byId(b.desired.stacks)).toEqual(byId(a.desired.stacks));
        expect(hashes(b.desired)).toEqual(hashes(a.desired));
        expect({ ...b.desired, stacks: [] }).toEqual({ ...a.desired, stacks: [] });
      }),
      { numRuns: 15 },
    );
  });

  it('rejects an unknown key in any mapping of either file, naming it', async () => {
    const unknownKey = fc.oneof(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,10}$/), fc.string({ maxLength: 8 }), fc.constantFrom(...PROTOTYPE_NAMES));
    await fc.assert(
      fc.asyncProperty(
        repoArb.chain((repo) => {
          const places: { file: 'manifest' | number; path: Path; known: string[] }[] = [
            { file: 'manifest', path: [], known: KNOWN.root },
            { file: 'manifest', path: ['defaults'], known: KNOWN.defaults },
            ...repo.stacks.map((s) => ({ file: 'manifest' as const, path: ['stacks', s.id], known: KNOWN.stack })),
            ...repo.stacks.flatMap((s) =>
              Object.entries((s.entry['parameters'] ?? {}) as Data)
                .filter(([, v]) => isMap(v))
                .map(([p]) => ({ file: 'manifest' as const, path: ['stacks', s.id, 'parameters', p], known: KNOWN.fromStack })),
            ),
            ...repo.stacks.flatMap((s, i) => (s.deployment ? [{ file: i, path: [], known: KNOWN.deploymentFile }] : [])),
          ];
          return fc.record({
            repo: fc.constant(repo),
            place: fc.constantFrom(...places),
            key: unknownKey,
            value: fc.jsonValue({ maxDepth: 2 }),
            forms: fc.tuple(form, form),
          });
        }),
        async ({ repo, place, key, value, forms }) => {
          fc.pre(!place.known.includes(key));
          const addTo = (data: Data): Data => {
            const copy = clone(data);
            let node = at(copy, place.path) as Data | undefined;
            if (node === undefined) setKey(copy, place.path[0]!, (node = {}));
            setKey(node, key, value);
            return copy;
          };
          const spec = typeof place.file === 'number' ? repo.stacks[place.file]! : undefined;
          const files = filesOf(repo, forms[0], forms[1], spec ? repo.manifest : addTo(repo.manifest));
          if (spec?.deployment) files[spec.deployment.path] = write(addTo(spec.deployment.data), forms[1]);
          const path = [...place.path, key].join('.');
          // A fromStack object with an extra key fails the parameter's union: named at the parameter.
          expectProblemAt(await load(files), spec?.deployment?.path ?? 'cairn.yaml', path, /is not a known key|__proto__|fromStack, output/);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('rejects a stack id the schema does not allow, naming it', async () => {
    const badId = fc
      .oneof(fc.constantFrom(...PROTOTYPE_NAMES, '', '1abc', '_a', '-a', 'a.b', 'a b', 'a/b', 'ä'), fc.string({ maxLength: 10 }))
      .filter((s) => !/^[A-Za-z][A-Za-z0-9_-]*$/.test(s));
    await fc.assert(
      fc.asyncProperty(repoArb, badId, form, form, async (repo, id, f1, f2) => {
        const stacks = clone(repo.manifest['stacks']) as Data;
        setKey(stacks, id, { template: repo.stacks[0]!.templatePath });
        const loaded = await load(filesOf(repo, f1, f2, { ...repo.manifest, stacks }));
        expectProblemAt(loaded, 'cairn.yaml', `stacks.${id}`);
      }),
      { numRuns: 20 },
    );
  });

  it('rejects a dependsOn or fromStack naming a stack that is not declared, naming where', async () => {
    const target = (ids: string[]) =>
      fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), stackId, fc.string({ maxLength: 10 })).filter((n) => !ids.includes(n));
    await fc.assert(
      fc.asyncProperty(
        repoArb.chain((repo) => {
          const ids = repo.stacks.map((s) => s.id);
          const fromStackSlots = repo.stacks.flatMap((s) => Object.keys((s.entry['parameters'] ?? {}) as Data).map((p) => ({ id: s.id, param: p })));
          return fc.record({
            repo: fc.constant(repo),
            via: fromStackSlots.length ? fc.oneof(fc.constant(undefined), fc.constantFrom(...fromStackSlots)) : fc.constant(undefined),
            stack: fc.constantFrom(...ids),
            self: fc.boolean(),
            name: target(ids),
            forms: fc.tuple(form, form),
          });
        }),
        async ({ repo, via, stack, self, name, forms }) => {
          let manifest: Data;
          let path: string;
          if (via) {
            const target = self ? via.id : name;
            manifest = changed(repo.manifest, ['stacks', via.id, 'parameters', via.param], { fromStack: target, output: 'Out' });
            path = `stacks.${via.id}.parameters.${via.param}.fromStack`;
          } else {
            const declared = at(repo.manifest, ['stacks', stack, 'dependsOn']) as string[] | undefined;
            const deps = [...(declared ?? [])];
            deps.push(self ? stack : name);
            manifest = changed(repo.manifest, ['stacks', stack, 'dependsOn'], deps);
            path = `stacks.${stack}.dependsOn.${deps.length - 1}`;
          }
          // An empty fromStack fails the parameter's schema instead, named at the same place.
          expectProblemAt(await load(filesOf(repo, forms[0], forms[1], manifest)), 'cairn.yaml', path, /unknown stack|cannot|fromStack|characters/);
        },
      ),
      { numRuns: 35 },
    );
  });

  it('rejects a document with something required deleted, naming where', async () => {
    type Deletion = { file: 'manifest' | number; path: Path; expect: string; message?: RegExp };
    await fc.assert(
      fc.asyncProperty(
        repoArb.chain((repo) => {
          const deletions: Deletion[] = [
            { file: 'manifest', path: ['version'], expect: 'version' },
            { file: 'manifest', path: ['stacks'], expect: 'stacks' },
          ];
          repo.stacks.forEach((s, i) => {
            const base = ['stacks', s.id];
            deletions.push({ file: 'manifest', path: [...base, s.deployment ? 'deploymentFile' : 'template'], expect: base.join('.') });
            if (s.deployment) deletions.push({ file: i, path: ['template-file-path'], expect: 'template-file-path' });
            for (const [p, v] of Object.entries((s.entry['parameters'] ?? {}) as Data)) {
              if (isMap(v)) deletions.push({ file: 'manifest', path: [...base, 'parameters', p, 'output'], expect: [...base, 'parameters', p].join('.') });
            }
            for (const r of s.required) {
              const message = new RegExp(`gives no value for ${r.name}\\b`);
              const expectAt = [...base, 'parameters'].join('.');
              if (r.in === 'manifest') deletions.push({ file: 'manifest', path: [...base, 'parameters', r.name], expect: expectAt, message });
              if (r.in === 'file') deletions.push({ file: i, path: ['parameters', r.name], expect: expectAt, message });
            }
          });
          return fc.record({ repo: fc.constant(repo), deletion: fc.constantFrom(...deletions), forms: fc.tuple(form, form) });
        }),
        async ({ repo, deletion, forms }) => {
          const spec = typeof deletion.file === 'number' ? repo.stacks[deletion.file]! : undefined;
          const files = filesOf(repo, forms[0], forms[1], spec ? repo.manifest : changed(repo.manifest, deletion.path, undefined));
          if (spec?.deployment) files[spec.deployment.path] = write(changed(spec.deployment.data, deletion.path, undefined), forms[1]);
          const file = spec?.deployment && deletion.expect === 'template-file-path' ? spec.deployment.path : 'cairn.yaml';
          expectProblemAt(await load(files), file, deletion.expect, deletion.message);
        },
      ),
      { numRuns: 35 },
    );
  });

  it('rejects a value of the wrong type anywhere in cairn.yaml, naming its path', async () => {
    await fc.assert(
      fc.asyncProperty(
        repoArb.chain((repo) => fc.record({ repo: fc.constant(repo), path: fc.constantFrom(...allPaths(repo.manifest)), asNull: fc.boolean(), forms: fc.tuple(form, form) })),
        async ({ repo, path, asNull, forms }) => {
          // null is accepted nowhere; a mapping where there was none, or a list of one where there was.
          const wrong = asNull ? null : isMap(at(repo.manifest, path)) ? [{}] : {};
          const loaded = await load(filesOf(repo, forms[0], forms[1], changed(repo.manifest, path, wrong)));
          expectProblemAt(loaded, 'cairn.yaml', path.join('.'));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('never throws but a clear ValidationError on random or mutated documents, and never loads an inconsistent state', async () => {
    const document = fc.oneof(
      junk.map((t) => ({ 'cairn.yaml': t })),
      fc.uint8Array({ maxLength: 200 }).map((b) => ({ 'cairn.yaml': b })),
      fc.tuple(repoArb, form, edits).map(([repo, f, e]) => {
        const files = filesOf(repo, f, f);
        return { ...files, 'cairn.yaml': edited(files['cairn.yaml'] as string, e) };
      }),
      repoArb.chain((repo) =>
        fc
          .record({ path: fc.constantFrom(...allPaths(repo.manifest)), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(...PROTOTYPE_NAMES)), f: form })
          .map(({ path, value, f }) => filesOf(repo, f, f, changed(repo.manifest, path, value))),
      ),
      fc.tuple(repoArb, form, junk, fc.nat()).map(([repo, f, content, n]) => {
        const files = filesOf(repo, f, f);
        const others = Object.keys(files).filter((k) => k !== 'cairn.yaml');
        return { ...files, [others[n % others.length]!]: content };
      }),
    );
    await fc.assert(
      fc.asyncProperty(document, async (files) => {
        const loaded = await load(files);
        if (loaded.ok) expectConsistent(loaded.desired);
      }),
      { numRuns: 70 },
    );
  });

  it('rejects alias bombs, deep nesting and huge values with a clear ValidationError, in cairn.yaml or a template', async () => {
    const manifest = 'version: 1\nstacks:\n  app: {template: t.yaml}\n';
    const template = 'Resources:\n  Topic: {Type: AWS::SNS::Topic}\n';
    /** The same attack as top-level YAML and as a value inside a JSON-looking template. */
    const hostile: fc.Arbitrary<{ yaml: string; json: string }> = fc.oneof(
      aliasBombArb.map(({ levels, fanout }) => ({ yaml: aliasBomb(levels, fanout), json: flowAliasBomb(levels, fanout) })),
      deepArb.map(({ depth, style }) => ({
        yaml: style === 'block-map' ? `Deep:\n${deepNesting(depth, style).replace(/^/gm, '  ')}\n` : `Deep: ${deepNesting(depth, style)}\n`,
        json: deepNesting(depth, style === 'flow-seq' ? 'flow-seq' : 'json'),
      })),
      // Under and over CloudFormation's 1 MB template limit.
      fc.constantFrom(150_000, 1_100_000).map((n) => ({ yaml: `Huge: "${'x'.repeat(n)}"\n`, json: `"${'x'.repeat(n)}"` })),
    );
    await fc.assert(
      fc.asyncProperty(hostile, fc.constantFrom('manifest' as const, 'template' as const, 'template-json' as const), async (h, where) => {
        const files: Record<string, string> = { 'cairn.yaml': manifest, 't.yaml': template };
        if (where === 'manifest') files['cairn.yaml'] = manifest + h.yaml;
        if (where === 'template') files['t.yaml'] = template + h.yaml;
        if (where === 'template-json') files['t.yaml'] = `{"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Metadata": ${h.json}}}}`;
        const loaded = await load(files);
        if (loaded.ok) expectConsistent(loaded.desired);
        // None of these is a key cairn.yaml knows, so the manifest can never load.
        if (where === 'manifest') expect(loaded.ok).toBe(false);
      }),
      { numRuns: 8 },
    );
  });
});
