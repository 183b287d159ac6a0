/**
 * cairn.yaml, version 1: the zod schema of the file that declares a source's stacks, and its
 * parsing into a typed Manifest with every problem named by file, path and line.
 */
import type { Document, LineCounter } from 'yaml';
import * as z from 'zod';
import { messageOf, type Problem } from './errors.js';
import { fastSchema, loadFast } from './fast-yaml.js';
import { flowNestsDeeperThan, LIMITS, nestsDeeperThan } from './limits.js';
import { RegionSchema, RoleArnSchema, SourceNameSchema } from './source-config.js';
import { suggest } from './suggest.js';
import { WindowSchema } from './windows.js';
import { yamlPackage } from './yaml-package.js';

export const MANIFEST_FILE = 'cairn.yaml';

const CapabilitySchema = z.enum(['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND']);
const DriftPolicySchema = z.enum(['alert', 'revert', 'ignore']);
/** Who lets a change set run in the reconciler: nobody needed (auto), a person always, or only for replacements or removals. */
const ApprovalPolicySchema = z.enum(['auto', 'manual', 'manual-on-replace', 'manual-on-delete']);
const TagsSchema = z.record(z.string().min(1).max(128), z.string().max(256));

export const FromStackSchema = z.strictObject({
  fromStack: z.string().min(1),
  output: z.string().min(1),
});

/** Literals are sent as strings; a list becomes CloudFormation's comma-delimited form. */
export const ParameterValueSchema = z.union([
  z.string(),
  z.number().transform(String),
  z.boolean().transform(String),
  z.array(z.union([z.string(), z.number()])).transform((items) => items.join(',')),
  FromStackSchema,
]);

/** The schemas, strict (unknown keys are problems) or lenient (unknown keys dropped, to check the rest). */
function schemas(strict: boolean) {
  const obj = strict ? z.strictObject : z.object;
  const StackEntry = obj({
    template: z.string().min(1).optional(),
    deploymentFile: z.string().min(1).optional(),
    stackName: z.string().optional(),
    parameters: z.record(z.string(), ParameterValueSchema).optional(),
    tags: TagsSchema.optional(),
    dependsOn: z.array(z.string()).optional(),
    capabilities: z.array(CapabilitySchema).optional(),
    region: RegionSchema.optional(),
    roleArn: RoleArnSchema.optional(),
    terminationProtection: z.boolean().optional(),
    drift: DriftPolicySchema.optional(),
    adopt: z.boolean().optional(),
    allowDestructive: z.array(z.string().min(1)).optional(),
    /** Change windows for this stack; they replace the defaults' windows. */
    windows: z.array(WindowSchema).max(20).optional(),
    approval: ApprovalPolicySchema.optional(),
  }).superRefine((entry, ctx) => {
    if (!entry.template === !entry.deploymentFile) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of `template` or `deploymentFile`' });
    }
  });
  const Defaults = obj({
    region: RegionSchema.optional(),
    roleArn: RoleArnSchema.optional(),
    capabilities: z.array(CapabilitySchema).optional(),
    tags: TagsSchema.optional(),
    prune: z.boolean().optional(),
    pruneMaxShare: z.number().gt(0).max(1).optional(),
    drift: DriftPolicySchema.optional(),
    protectedTypes: z.array(z.string().regex(/^[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+$/, 'expected a resource type such as AWS::S3::Bucket')).optional(),
    windows: z.array(WindowSchema).max(20).optional(),
    approval: ApprovalPolicySchema.optional(),
  });
  const Manifest = obj({
    version: z.literal(1, { error: 'expected `version: 1`' }),
    /** The source's name, the same wherever the repository is read from (stamped as `cairn:source`). */
    source: SourceNameSchema.optional(),
    defaults: Defaults.optional(),
    stacks: z.record(StackIdSchema, StackEntry),
  });
  return { StackEntry, Defaults, Manifest };
}

const StackIdSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'stack ids start with a letter and use letters, digits, - and _');

const strictSchemas = schemas(true);
export const StackEntrySchema = strictSchemas.StackEntry;
export const DefaultsSchema = strictSchemas.Defaults;
export const ManifestSchema = strictSchemas.Manifest;
const LenientManifestSchema = schemas(false).Manifest;

export type Manifest = z.infer<typeof ManifestSchema>;
export type StackEntry = z.infer<typeof StackEntrySchema>;
export type Defaults = z.infer<typeof DefaultsSchema>;

/** An AWS CloudFormation Git sync deployment file. */
export const DeploymentFileSchema = z.strictObject({
  'template-file-path': z.string().min(1),
  parameters: z.record(z.string(), z.union([z.string(), z.number().transform(String), z.boolean().transform(String)])).optional(),
  tags: TagsSchema.optional(),
});

export type DeploymentFile = z.infer<typeof DeploymentFileSchema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: Problem[]; partial?: T };

/** A YAML document read into plain data, with what is needed to find the line of any path. */
interface ReadYaml {
  ok: true;
  value: unknown;
  /** The document as `yaml` reads it, for lines: read when a problem first needs one. */
  located: () => Located;
}

interface Located {
  doc: Document;
  lineCounter: LineCounter;
}

const coreSchema = fastSchema();

function locate(text: string): Located {
  const { LineCounter, parseDocument } = yamlPackage();
  const lineCounter = new LineCounter();
  return { doc: parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false }), lineCounter };
}

/**
 * Read YAML (or JSON) into plain data, or the problems that prevent it; bounded in nesting before
 * parsing. A valid document is read by js-yaml as `yaml` would read it (fast-yaml.ts); `yaml`
 * reads the rest, and says what is wrong and where.
 */
function readYaml(text: string, file: string): ReadYaml | { ok: false; problems: Problem[] } {
  const tooDeep = { ok: false as const, problems: [{ file, path: '', message: `nests values more than ${LIMITS.manifestDepth} levels deep; cairn.yaml and deployment files need a handful` }] };
  if (flowNestsDeeperThan(text, LIMITS.manifestDepth)) return tooDeep;
  const fast = loadFast(text, coreSchema, 2 * LIMITS.manifestDepth + 2);
  if (fast) {
    const value = fast.value ?? {};
    if (nestsDeeperThan(value, LIMITS.manifestDepth)) return tooDeep;
    let located: Located | undefined;
    // A `__proto__` key is a problem with a line: `yaml` reads the file and reports it below.
    if (protoKeyPaths(value).length === 0) return { ok: true, value, located: () => (located ??= locate(text)) };
  }
  const { doc, lineCounter } = locate(text);
  const invalid = [
    ...doc.errors.map((e) => {
      const at = lineCounter.linePos(e.pos[0]);
      return { file, path: '', line: at.line, column: at.col, message: `is not valid YAML: ${e.message.split('\n')[0]}` };
    }),
    ...duplicateKeyProblems(doc, lineCounter, file),
  ];
  if (invalid.length > 0) return { ok: false, problems: invalid };
  let value: unknown;
  try {
    value = doc.toJS() ?? {};
  } catch (error) {
    // yaml throws rather than expand an alias bomb (more than 100 aliases) or overflow the stack.
    return { ok: false, problems: [{ file, path: '', message: `is not valid YAML: ${messageOf(error)}` }] };
  }
  if (nestsDeeperThan(value, LIMITS.manifestDepth)) return tooDeep;
  const reserved = protoKeyPaths(value);
  if (reserved.length > 0) {
    return {
      ok: false,
      problems: reserved.map((path) => ({ file, path: path.join('.'), line: lineOf(doc, lineCounter, path), message: 'is not allowed: `__proto__` cannot be used as a key' })),
    };
  }
  const located = { doc, lineCounter };
  return { ok: true, value, located: () => located };
}

function validate<T>(schema: z.ZodType<T>, read: ReadYaml, file: string): ParseResult<T> {
  const result = schema.safeParse(read.value, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  const { doc, lineCounter } = read.located();
  return { ok: false, problems: result.error.issues.flatMap((issue) => issueProblems(issue, doc, lineCounter, file)) };
}

/** Parse a YAML (or JSON) document and validate it against a schema; problems carry line numbers. */
export function parseYamlWith<T>(schema: z.ZodType<T>, text: string, file: string): ParseResult<T> {
  const read = readYaml(text, file);
  return read.ok ? validate(schema, read, file) : read;
}

/** Paths of every `__proto__` key: zod leaves such a key out of a record silently, so it is refused here. */
function protoKeyPaths(value: unknown): string[][] {
  interface Node {
    value: unknown;
    key: string;
    parent: Node | undefined;
  }
  const pathOf = (node: Node): string[] => (node.parent ? [...pathOf(node.parent), node.key] : []);
  const found: string[][] = [];
  const pending: Node[] = [{ value, key: '', parent: undefined }];
  for (let node = pending.pop(); node; node = pending.pop()) {
    if (node.value === null || typeof node.value !== 'object') continue;
    for (const [key, child] of Object.entries(node.value)) {
      const next = { value: child, key, parent: node };
      if (key === '__proto__') found.push(pathOf(next));
      pending.push(next);
    }
  }
  return found;
}

function issueProblems(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, file: string): Problem[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const keyPath = [...path, key];
      const known = knownKeysAt(path);
      const hint = suggest(key, known);
      return {
        file,
        path: keyPath.join('.'),
        line: lineOf(doc, lines, keyPath),
        message: `is not a known key${hint ? `; did you mean \`${hint}\`?` : known.length ? `; expected one of ${known.join(', ')}` : ''}`,
      };
    });
  }
  return [{ file, path: path.join('.'), line: lineOf(doc, lines, path), message: describeIssue(issue) }];
}

/** zod's type names in the words of a YAML file. */
const TYPE_WORDS: Record<string, string> = { record: 'a mapping (key: value lines)', object: 'a mapping (key: value lines)', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    const expected = TYPE_WORDS[issue.expected] ?? issue.expected;
    if (issue.input === undefined) return `is required (expected ${expected})`;
    const got = Array.isArray(issue.input) ? 'a list' : issue.input === null ? 'nothing (null)' : typeof issue.input === 'object' ? 'a mapping' : `${typeof issue.input === 'string' ? 'the string' : `the ${typeof issue.input}`} ${JSON.stringify(issue.input).slice(0, 40)}`;
    return `expected ${expected}, got ${got}`;
  }
  if (issue.code === 'invalid_union') return 'expected a string, number, boolean, list, or { fromStack, output }';
  if (issue.code === 'invalid_value') return issue.message.replace(/^Invalid option: /, '');
  return issue.message;
}

const KNOWN_KEYS: Record<string, string[]> = {
  '': Object.keys(ManifestSchema.shape),
  defaults: Object.keys(DefaultsSchema.shape),
  stack: ['template', 'deploymentFile', 'stackName', 'parameters', 'tags', 'dependsOn', 'capabilities', 'region', 'roleArn', 'terminationProtection', 'drift', 'adopt', 'allowDestructive', 'windows', 'approval'],
  fromStack: ['fromStack', 'output'],
  deploymentFile: Object.keys(DeploymentFileSchema.shape),
};

function knownKeysAt(path: string[]): string[] {
  if (path.length === 0) return KNOWN_KEYS['']!;
  if (path[0] === 'defaults' && path.length === 1) return KNOWN_KEYS['defaults']!;
  if (path[0] === 'stacks' && path.length === 2) return KNOWN_KEYS['stack']!;
  if (path[0] === 'stacks' && path[2] === 'parameters' && path.length === 4) return KNOWN_KEYS['fromStack']!;
  if (path[0] !== 'stacks' && path[0] !== 'defaults') return KNOWN_KEYS['deploymentFile']!;
  return [];
}

export { suggest } from './suggest.js';

/**
 * A problem for each key repeated in one mapping, found in one pass. yaml's own `uniqueKeys` check
 * compares every pair of keys, which takes minutes for a 1 MB file of one large mapping.
 */
export function duplicateKeyProblems(doc: Document, lines: LineCounter, file: string): Problem[] {
  const problems: Problem[] = [];
  const { isScalar, visit } = yamlPackage();
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value)) {
          problems.push({
            file,
            path: '',
            ...(key.range ? { line: lines.linePos(key.range[0]).line, column: lines.linePos(key.range[0]).col } : {}),
            message: `is not valid YAML: Map keys must be unique; "${String(key.value).slice(0, 100)}" appears more than once`,
          });
        }
        seen.add(key.value);
      }
    },
  });
  return problems;
}

/** The 1-based line of the node at `path`, or of its nearest existing ancestor. */
export function lineOf(doc: Document, lines: LineCounter, path: string[]): number | undefined {
  const index = lineIndex(doc, lines);
  for (let depth = path.length; depth >= 0; depth--) {
    const line = index.get(path.slice(0, depth).join(PATH_SEPARATOR));
    if (line !== undefined) return line;
  }
  return undefined;
}

const PATH_SEPARATOR = '\u0000';
const lineIndexes = new WeakMap<Document, Map<string, number>>();

/**
 * Every path of a document and its line (a key's line for a mapping entry, since the value may be a
 * block below it), built in one walk and kept per document: finding the line of each of 20,000
 * problems is then a lookup, not a search of the document.
 */
function lineIndex(doc: Document, lines: LineCounter): Map<string, number> {
  const known = lineIndexes.get(doc);
  if (known) return known;
  const { isMap, isScalar, isSeq } = yamlPackage();
  const index = new Map<string, number>();
  const lineAt = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  const root = lineAt(doc.contents);
  if (root !== undefined) index.set('', root);
  const pending: { node: unknown; path: string }[] = [{ node: doc.contents, path: '' }];
  const join = (path: string, key: string): string => (path === '' ? key : `${path}${PATH_SEPARATOR}${key}`);
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { node, path } = item;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue;
        const childPath = join(path, String(pair.key.value));
        const line = lineAt(pair.key) ?? lineAt(pair.value);
        if (line !== undefined && !index.has(childPath)) index.set(childPath, line);
        pending.push({ node: pair.value, path: childPath });
      }
    } else if (isSeq(node)) {
      node.items.forEach((child, i) => {
        const childPath = join(path, String(i));
        const line = lineAt(child);
        if (line !== undefined && !index.has(childPath)) index.set(childPath, line);
        pending.push({ node: child, path: childPath });
      });
    }
  }
  lineIndexes.set(doc, index);
  return index;
}

/**
 * Parse cairn.yaml. When the file has problems but is still readable with unknown keys dropped,
 * `partial` holds that reading, so the rest (files, dependencies) can be checked in the same run.
 */
export function parseManifest(text: string, file = MANIFEST_FILE): ParseResult<Manifest> {
  const read = readYaml(text, file);
  if (!read.ok) return read;
  // Counted before validating: a file of many thousands of stacks is refused without the work.
  const stacks = (read.value as { stacks?: unknown }).stacks;
  const count = stacks !== null && typeof stacks === 'object' ? Object.keys(stacks).length : 0;
  if (count > LIMITS.stacks) {
    return {
      ok: false,
      problems: [{ file, path: 'stacks', line: lineOf(read.located().doc, read.located().lineCounter, ['stacks']), message: `declares ${count} stacks; one source may declare at most ${LIMITS.stacks}. Split it into several sources (each a path with its own cairn.yaml)` }],
    };
  }
  const strict = validate(ManifestSchema, read, file);
  if (strict.ok) return strict;
  const lenient = validate(LenientManifestSchema, read, file);
  if (lenient.ok) return { ...strict, partial: lenient.value as Manifest };
  const salvaged = salvage(structuredClone(read.value));
  return salvaged ? { ...strict, partial: salvaged } : strict;
}

/**
 * The rest of a manifest whose problems are already reported: each value a problem points at is
 * left out (a wrong `version` read as 1), so templates and references further on are still checked
 * and every problem shows in one run. Undefined when nothing sensible remains.
 */
function salvage(raw: unknown): Manifest | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const data = raw as Record<string, unknown>;
  for (let round = 0; round < 4; round++) {
    const result = LenientManifestSchema.safeParse(data);
    if (result.success) return result.data as Manifest;
    for (const issue of result.error.issues) {
      const path = issue.path.map(String);
      if (path.length === 0) return undefined;
      if (path.length === 1 && path[0] === 'version') data['version'] = 1;
      else if (!dropAt(data, path)) return undefined;
    }
  }
  return undefined;
}

/** Delete the value at `path` (or, for a problem of a whole stack entry, the entry); false when there is none. */
function dropAt(root: Record<string, unknown>, path: string[]): boolean {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return false;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== 'object' || node === null) return false;
  const last = path[path.length - 1]!;
  if (Array.isArray(node)) node.splice(Number(last), 1);
  else delete (node as Record<string, unknown>)[last];
  return true;
}

/** Give problems about `file` that lack a line the line of their path in `text`. */
export function withLines(problems: Problem[], text: string, file: string): Problem[] {
  const { doc, lineCounter } = locate(text);
  return problems.map((p) => {
    if (p.file !== file || p.line !== undefined || !p.path) return p;
    const line = lineOf(doc, lineCounter, p.path.split('.'));
    return line === undefined ? p : { ...p, line };
  });
}

export function parseDeploymentFile(text: string, file: string): ParseResult<DeploymentFile> {
  return parseYamlWith(DeploymentFileSchema, text, file);
}
