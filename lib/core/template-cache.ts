/**
 * Templates analysed once per content: the canonical body, parameters and every finding of the
 * template checks, kept by a key of the file's name and bytes, so a run (or a warm Lambda, or a
 * `serve` step) whose templates did not change parses none of them. A hit hands back fresh copies
 * built from the stored JSON, so what one caller changes no other caller sees, and it is exactly
 * what analysing the text again would return. Stores are pluggable (memory here; the CLI adds one
 * on disk), and any store may lose or refuse an entry: the template is then analysed again.
 */
import { sha256 } from './canonical.js';
import { isError, type Problem } from './errors.js';
import { withLines } from './manifest.js';
import { resourceSchemaGeneration } from './resource-schemas.js';
import { checkTemplate } from './template-checks.js';
import { parseTemplate, type ParsedTemplate, type TemplateParameter } from './template.js';

/** What analysing one template file found, in a form that survives JSON. */
export type TemplateAnalysis =
  | {
      ok: true;
      /** Canonical JSON text, as sent to CloudFormation. */
      body: string;
      hash: string;
      parameters: Record<string, TemplateParameter>;
      /** Errors of the template checks, with lines. */
      errors: Problem[];
      /** Warnings and notices of the template checks, with lines. */
      findings: Problem[];
    }
  | { ok: false; problems: Problem[] };

/** Where analyses are kept by key. Implementations may drop entries at will; `get` must never return another key's entry. */
export interface TemplateStore {
  get(key: string): TemplateAnalysis | undefined;
  set(key: string, analysis: TemplateAnalysis): void;
}

/** Roughly how much memory an analysis holds. */
function sizeOf(analysis: TemplateAnalysis): number {
  const problems = analysis.ok ? [...analysis.errors, ...analysis.findings] : analysis.problems;
  const text = problems.reduce((n, p) => n + p.message.length + p.path.length + p.file.length + 64, 0);
  return analysis.ok ? 2 * analysis.body.length + text + 256 : text + 64;
}

/** Analyses in memory with a byte budget, least recently used out first. */
export class MemoryTemplateStore implements TemplateStore {
  private readonly entries = new Map<string, { analysis: TemplateAnalysis; bytes: number }>();
  private bytes = 0;

  constructor(readonly maxBytes = 64 * 1024 * 1024) {}

  get(key: string): TemplateAnalysis | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.analysis;
  }

  set(key: string, analysis: TemplateAnalysis): void {
    const bytes = sizeOf(analysis);
    if (bytes > this.maxBytes / 8) return;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= old.bytes;
    }
    this.entries.set(key, { analysis, bytes });
    this.bytes += bytes;
    for (const [k, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= entry.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** A memory store in front of a slower one (the CLI's on disk): hits there are kept in memory too. */
export function layeredStore(front: TemplateStore, back: TemplateStore): TemplateStore {
  return {
    get(key) {
      const known = front.get(key);
      if (known) return known;
      const stored = back.get(key);
      if (stored) front.set(key, stored);
      return stored;
    },
    set(key, analysis) {
      front.set(key, analysis);
      back.set(key, analysis);
    },
  };
}

/** The process-wide store: warm Lambda invocations and `serve` steps share it. */
export const sharedTemplateStore = new MemoryTemplateStore();

/**
 * The key of a file's content: its name (problems name it) and bytes, and the generation of the
 * resource schemas the checks read, so new schemas never meet old findings.
 */
export function templateKey(text: string, file: string): string {
  return sha256(`cairn-template-analysis-1\0${resourceSchemaGeneration()}\0${file}\0${text}`);
}

/** Problems with the line of their path, reading the text again only when one needs it. */
function located(problems: Problem[], text: string, file: string): Problem[] {
  return problems.some((p) => p.path && p.line === undefined) ? withLines(problems, text, file) : problems;
}

/** Parse, canonicalise and check one template (no store involved). */
export function analyseTemplate(text: string, file: string): TemplateAnalysis {
  const parsed = parseTemplate(text, file);
  if (!parsed.ok) return { ok: false, problems: located(parsed.problems, text, file) };
  const found = located(checkTemplate(parsed.value.template, file), text, file);
  const { body, hash, parameters } = parsed.value;
  return { ok: true, body, hash, parameters, errors: found.filter(isError), findings: found.filter((p) => !isError(p)) };
}

/** What a caller gets: the parsed template (its own copy) or the problems (their own copies). */
export type AnalysedTemplate =
  | { ok: true; value: ParsedTemplate; errors: Problem[]; findings: Problem[] }
  | { ok: false; problems: Problem[] };

const copyProblems = (problems: Problem[]): Problem[] => problems.map((p) => ({ ...p }));

function copyOut(analysis: TemplateAnalysis): AnalysedTemplate {
  if (!analysis.ok) return { ok: false, problems: copyProblems(analysis.problems) };
  const parameters = Object.fromEntries(Object.entries(analysis.parameters).map(([k, v]) => [k, { ...v }]));
  // The body is canonical JSON of the template, so parsing it gives the canonical template back.
  const template = JSON.parse(analysis.body) as Record<string, unknown>;
  return {
    ok: true,
    value: { template, body: analysis.body, hash: analysis.hash, parameters },
    errors: copyProblems(analysis.errors),
    findings: copyProblems(analysis.findings),
  };
}

/** One template, from the store when its content was analysed before, else analysed and stored. */
export function cachedTemplate(text: string, file: string, store: TemplateStore = sharedTemplateStore): AnalysedTemplate {
  const key = templateKey(text, file);
  let analysis = store.get(key);
  if (!analysis) {
    analysis = analyseTemplate(text, file);
    store.set(key, analysis);
  }
  return copyOut(analysis);
}
