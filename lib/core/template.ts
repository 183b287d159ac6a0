/**
 * CloudFormation templates: parse JSON or YAML (with every short-form tag) into one canonical form,
 * so a YAML template and its JSON twin, reformatted or with keys reordered, are equal and hash equal.
 */
import type { Schema } from 'js-yaml';
import type { CollectionTag, ScalarTag, YAMLMap, YAMLSeq } from 'yaml';
import { setKey, sha256 } from './canonical.js';
import { messageOf, type Problem } from './errors.js';
import { fastSchema, loadFast, type LocalTag } from './fast-yaml.js';
import { flowNestsDeeperThan, LIMITS, nestsDeeperThan } from './limits.js';
import { duplicateKeyProblems } from './manifest.js';
import { yamlPackage } from './yaml-package.js';

/** CloudFormation's largest template (passed by S3 URL). */
export const MAX_TEMPLATE_BYTES = LIMITS.fileBytes;
/** CloudFormation's largest inline TemplateBody. */
export const MAX_INLINE_TEMPLATE_BYTES = 51_200;
/** Far deeper than any real template, and well within what the recursive canonicalisation can walk. */
export const MAX_NESTING_DEPTH = LIMITS.templateDepth;

export interface TemplateParameter {
  type: string;
  hasDefault: boolean;
}

export interface ParsedTemplate {
  /** Canonical form: long-form intrinsics, keys sorted. */
  template: Record<string, unknown>;
  /** Canonical JSON text, as sent to CloudFormation. */
  body: string;
  hash: string;
  parameters: Record<string, TemplateParameter>;
}

export type TemplateResult = { ok: true; value: ParsedTemplate } | { ok: false; problems: Problem[] };

/** Short forms whose long form is simply `{ "Fn::Name": value }`, for any node kind. */
const FN_TAGS = [
  'Base64', 'Cidr', 'FindInMap', 'GetAZs', 'ImportValue', 'Join', 'Select', 'Split', 'Sub',
  'If', 'Equals', 'And', 'Or', 'Not', 'Transform', 'ToJsonString', 'Length', 'ForEach',
  // The Rules section's functions.
  'Contains', 'EachMemberEquals', 'EachMemberIn', 'RefAll', 'ValueOf', 'ValueOfAll',
] as const;

function splitGetAtt(value: string): string[] {
  const dot = value.indexOf('.');
  return dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)];
}

/** Every short-form tag and its long form, the same for both parsers: the node's value (a string for a scalar) → the long form. */
export const CFN_TAGS: readonly LocalTag[] = [
  { name: 'Ref', construct: (v) => ({ Ref: v }) },
  { name: 'Condition', construct: (v) => ({ Condition: v }) },
  { name: 'GetAtt', construct: (v) => ({ 'Fn::GetAtt': typeof v === 'string' ? splitGetAtt(v) : v }) },
  ...FN_TAGS.map((n) => ({ name: n, construct: (v: unknown) => ({ [`Fn::${n}`]: v }) })),
];

/** The tags for the `yaml` package: each on a scalar (its source text), a sequence and a mapping. */
function yamlTags(): (ScalarTag | CollectionTag)[] {
  return CFN_TAGS.flatMap(({ name, construct }) => {
    const tag = `!${name}`;
    return [
      { tag, resolve: (s: string) => construct(s) } as ScalarTag,
      { tag, collection: 'seq', resolve: (seq: YAMLSeq) => construct(seq.toJSON()) } as unknown as CollectionTag,
      { tag, collection: 'map', resolve: (map: YAMLMap) => construct(map.toJSON()) } as unknown as CollectionTag,
    ];
  });
}

let customTags: (ScalarTag | CollectionTag)[] | undefined;
let cfnSchema: Schema | undefined;

/**
 * The canonical form: every object's keys sorted (as sortKeys), and long forms that have more than
 * one spelling brought to one: `Fn::GetAtt: "A.B"` → `["A", "B"]`.
 */
function canonicalTemplate(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalTemplate);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) setKey(sorted, key, key === 'Fn::GetAtt' && typeof v === 'string' ? splitGetAtt(v) : canonicalTemplate(v));
    }
    return sorted;
  }
  return Object.is(value, -0) ? 0 : value;
}

function looksLikeJson(text: string): boolean {
  return /^\s*[{[]/.test(text);
}

type ParsedText = { ok: true; value: unknown } | { ok: false; problems: Problem[] };

function parseText(text: string, file: string): ParsedText {
  if (looksLikeJson(text)) {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      // JSON is also YAML: fall through so flow-style YAML starting with `{` still parses.
      const yaml = parseYaml(text, file);
      if (yaml.ok) return yaml;
      return { ok: false, problems: [{ file, path: '', message: `is not valid JSON: ${(error as Error).message}` }] };
    }
  }
  return parseYaml(text, file);
}

/** YAML: js-yaml where it reads the document as `yaml` would (fast-yaml.ts), `yaml` for the rest and for every error. */
function parseYaml(text: string, file: string): ParsedText {
  // Deep enough for any template within the nesting limit; a deeper one is for `yaml` to report.
  const fast = loadFast(text, (cfnSchema ??= fastSchema(CFN_TAGS)), 2 * MAX_NESTING_DEPTH + 2);
  return fast ? { ok: true, value: fast.value } : parseWithYamlPackage(text, file);
}

/** YAML read by the `yaml` package: the reference for what a template means, and the source of every YAML error with its line. */
export function parseWithYamlPackage(text: string, file: string): ParsedText {
  const { LineCounter, parseDocument } = yamlPackage();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { customTags: (customTags ??= yamlTags()), lineCounter, prettyErrors: false, uniqueKeys: false });
  const problems: Problem[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = lineCounter.linePos(e.pos[0]);
    problems.push({
      file,
      path: '',
      line: pos.line,
      column: pos.col,
      message: `is not valid YAML: ${e.message.split('\n')[0]}${e.code === 'TAG_RESOLVE_FAILED' ? ' (CloudFormation has no such short-form tag)' : ''}`,
    });
  }
  problems.push(...duplicateKeyProblems(doc, lineCounter, file));
  if (problems.length > 0) return { ok: false, problems };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (error) {
    // yaml throws rather than expand an alias bomb (more than 100 aliases) or overflow the stack.
    return { ok: false, problems: [{ file, path: '', message: `is not valid YAML: ${messageOf(error)}` }] };
  }
}


function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Parse and canonicalise a template. Problems name the file and the path inside it: not JSON or
 * YAML, larger than CloudFormation accepts, or without a Resources section.
 */
export function parseTemplate(content: string | Uint8Array, file: string): TemplateResult {
  const size = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  if (size > MAX_TEMPLATE_BYTES) {
    return {
      ok: false,
      problems: [{ file, path: '', message: `is ${size} bytes; CloudFormation accepts templates of at most ${MAX_TEMPLATE_BYTES} bytes (1 MB)` }],
    };
  }
  const text = typeof content === 'string' ? content : Buffer.from(content).toString('utf8');
  if (text.trim() === '') return { ok: false, problems: [{ file, path: '', message: 'is empty; expected a CloudFormation template' }] };
  if (flowNestsDeeperThan(text, MAX_NESTING_DEPTH)) {
    return { ok: false, problems: [{ file, path: '', message: `nests brackets more than ${MAX_NESTING_DEPTH} levels deep; no CloudFormation template needs that many` }] };
  }
  const parsed = parseText(text, file);
  if (!parsed.ok) return parsed;
  const raw = parsed.value;
  if (nestsDeeperThan(raw, MAX_NESTING_DEPTH)) {
    return { ok: false, problems: [{ file, path: '', message: `nests values more than ${MAX_NESTING_DEPTH} levels deep; no CloudFormation template needs that many` }] };
  }
  if (!isRecord(raw)) {
    return { ok: false, problems: [{ file, path: '', message: 'is not a CloudFormation template: expected a mapping with a Resources section' }] };
  }
  const problems: Problem[] = [];
  const resources = raw['Resources'];
  if (!isRecord(resources) || Object.keys(resources).length === 0) {
    problems.push({ file, path: 'Resources', message: 'is missing or empty; a template needs at least one resource' });
  } else {
    for (const [id, resource] of Object.entries(resources)) {
      // Fn::ForEach (AWS::LanguageExtensions) and an included snippet stand for resources they make.
      if (id.startsWith('Fn::ForEach::') || id === 'Fn::Transform') continue;
      if (!isRecord(resource) || typeof resource['Type'] !== 'string') {
        problems.push({ file, path: `Resources.${id}.Type`, message: 'is missing; every resource needs a Type such as AWS::S3::Bucket' });
      }
    }
  }
  const parameters: Record<string, TemplateParameter> = {};
  const declared = raw['Parameters'];
  if (declared !== undefined && !isRecord(declared)) {
    problems.push({ file, path: 'Parameters', message: 'must be a mapping of parameter names to declarations' });
  } else if (declared) {
    for (const [name, decl] of Object.entries(declared)) {
      if (!isRecord(decl) || typeof decl['Type'] !== 'string') {
        problems.push({ file, path: `Parameters.${name}.Type`, message: 'is missing; every parameter needs a Type such as String' });
        continue;
      }
      parameters[name] = { type: decl['Type'], hasDefault: decl['Default'] !== undefined };
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const template = canonicalTemplate(raw) as Record<string, unknown>;
  // Already canonical: its JSON is the canonical JSON.
  const body = JSON.stringify(template);
  // The limit is on what CloudFormation receives: YAML (short forms, flow style) can grow as JSON.
  const bodySize = Buffer.byteLength(body);
  if (bodySize > MAX_TEMPLATE_BYTES) {
    return {
      ok: false,
      problems: [{ file, path: '', message: `is ${bodySize} bytes as the JSON sent to CloudFormation, which accepts templates of at most ${MAX_TEMPLATE_BYTES} bytes (1 MB)` }],
    };
  }
  return { ok: true, value: { template, body, hash: sha256(body), parameters } };
}
