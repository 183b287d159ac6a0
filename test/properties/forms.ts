/**
 * Helpers shared by the property tests: the same data written in many equivalent textual forms
 * (JSON, YAML block or flow, keys shuffled, different scalar styles), documents that attack a
 * parser (alias bombs, deep nesting), and the check that a rejection is a clear one.
 */
import fc from 'fast-check';
import { Document, isScalar, visit, type Scalar } from 'yaml';
import { expect } from 'vitest';
import type { Problem } from '../../lib/core/errors.js';

/** A small deterministic generator, so a form is fully described by its (shrinkable) seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deep copy with every object's keys in a random order; arrays keep theirs. Own `__proto__` keys stay keys. */
export function shuffleKeys<T>(value: T, seed: number): T {
  const next = random(seed);
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [entries[i], entries[j]] = [entries[j]!, entries[i]!];
      }
      return Object.fromEntries(entries.map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}

/** Deep copy with keys sorted, built independently of lib/core/canonical.ts (own `__proto__` keys kept). */
export function sortedDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedDeep);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortedDeep((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export const SCALAR_STYLES = ['PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'] as const satisfies readonly Scalar.Type[];

/** One way of writing a JSON-like value as text. */
export type Form =
  | { kind: 'json'; indent: 0 | 2 | 4; seed: number }
  | { kind: 'yaml'; collectionStyle: 'block' | 'flow'; stringType: (typeof SCALAR_STYLES)[number]; indent: 2 | 4; lineWidth: 0 | 80 | 120; seed: number; comments: boolean };

export const form: fc.Arbitrary<Form> = fc.oneof(
  fc.record({ kind: fc.constant('json' as const), indent: fc.constantFrom(0 as const, 2 as const, 4 as const), seed: fc.integer() }),
  fc.record({
    kind: fc.constant('yaml' as const),
    collectionStyle: fc.constantFrom('block' as const, 'flow' as const),
    stringType: fc.constantFrom(...SCALAR_STYLES),
    indent: fc.constantFrom(2 as const, 4 as const),
    // Not narrower: yaml 2.9's stringify corrupts double-quoted scalars it folds at indents near a
    // narrow lineWidth (20 puts "undefined" inside them), which would be a fault of the writer here.
    lineWidth: fc.constantFrom(0 as const, 80 as const, 120 as const),
    seed: fc.integer(),
    comments: fc.boolean(),
  }),
);

export function describeForm(f: Form): string {
  return f.kind === 'json' ? `json/${f.indent}` : `yaml/${f.collectionStyle}/${f.stringType}/${f.indent}/${f.lineWidth}${f.comments ? '/comments' : ''}`;
}

/** `value` (keys shuffled by the form's seed) written in the form. */
export function write(value: unknown, f: Form): string {
  const shuffled = shuffleKeys(value, f.seed);
  if (f.kind === 'json') return JSON.stringify(shuffled, null, f.indent);
  const doc = new Document(shuffled);
  faithfulStrings(doc, f.stringType);
  const text = doc.toString({ collectionStyle: f.collectionStyle, defaultStringType: f.stringType, defaultKeyType: 'PLAIN', indent: f.indent, lineWidth: f.lineWidth });
  // Only before the document: after it, a comment could follow a block scalar that keeps trailing lines.
  return f.comments ? `# written as ${describeForm(f)}\n---\n${text}` : text;
}

/**
 * yaml 2.9's stringify loses some strings in some styles: whitespace-only block scalars read back
 * empty, multi-line plain scalars lose their line breaks. Those strings (keys too) are written double
 * quoted, so every form is the same data; the style of all the others is left to the form.
 */
export function faithfulStrings(doc: Document, style: (typeof SCALAR_STYLES)[number]): void {
  visit(doc, {
    Scalar(_, node) {
      if (!isScalar(node) || typeof node.value !== 'string') return;
      const s = node.value;
      const lossy = style.startsWith('BLOCK_') ? /^\s*$/.test(s) || /^\s/.test(s) : style === 'PLAIN' ? /[\n\r\u0085\u2028\u2029]/.test(s) : false;
      if (lossy) node.type = 'QUOTE_DOUBLE';
    },
  });
}

/** The billion-laughs shape: `levels` anchors, each a list of `fanout` aliases of the one before. */
export function aliasBomb(levels: number, fanout: number, key = 'bomb'): string {
  const lines = [`${key}0: &a0 [lol]`];
  for (let i = 1; i <= levels; i++) lines.push(`${key}${i}: &a${i} [${Array.from({ length: fanout }, () => `*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

/** The same bomb as one flow sequence, which can sit inside a JSON-looking document. */
export function flowAliasBomb(levels: number, fanout: number): string {
  const items = ['&a0 [lol]'];
  for (let i = 1; i <= levels; i++) items.push(`&a${i} [${Array.from({ length: fanout }, () => `*a${i - 1}`).join(', ')}]`);
  return `[${items.join(', ')}]`;
}

export const aliasBombArb = fc.record({ levels: fc.integer({ min: 2, max: 9 }), fanout: fc.integer({ min: 2, max: 10 }) });

/** Nesting `depth` levels deep, in flow (brackets) or block (indentation) style. */
export function deepNesting(depth: number, style: 'flow-seq' | 'flow-map' | 'block-map' | 'json'): string {
  switch (style) {
    case 'flow-seq':
      return `${'['.repeat(depth)}${']'.repeat(depth)}`;
    case 'flow-map':
      return `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`;
    case 'json':
      return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    case 'block-map':
      return Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + ' 1';
  }
}

/** Shallow, just past the template limit (500), or far past it; block style is quadratic in size, so capped. */
export const deepArb = fc
  .record({
    depth: fc.oneof(
      { weight: 2, arbitrary: fc.integer({ min: 1, max: 100 }) },
      { weight: 2, arbitrary: fc.integer({ min: 500, max: 1_500 }) },
      { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 8_000 }) },
    ),
    style: fc.constantFrom('flow-seq' as const, 'flow-map' as const, 'block-map' as const, 'json' as const),
  })
  .map(({ depth, style }) => ({ depth: style === 'block-map' ? Math.min(depth, 1_500) : depth, style }));

/** Strings that JavaScript objects treat specially when used as keys or looked up by name. */
export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'prototype'] as const;

// Linear to match: it also runs over megabyte inputs.
const STACK_TRACE = /\n\s+at |\bat \S+ \(|\.(?:ts|js|mjs|cjs):\d+:\d+|node_modules|file:\/\//;

/**
 * A rejection a person can act on: at least one problem, each naming a file, a string path and a
 * non-empty message with no JavaScript residue (`[object Object]`, a stray `undefined`, a stack
 * trace) that the input itself did not contain.
 */
export function expectClearProblems(problems: readonly Problem[], context: { files: readonly string[]; input: string }): void {
  expect(problems.length).toBeGreaterThan(0);
  for (const p of problems) {
    const where = JSON.stringify(p);
    expect(typeof p.file, where).toBe('string');
    expect(p.file.length, where).toBeGreaterThan(0);
    expect(context.files, where).toContain(p.file);
    expect(typeof p.path, where).toBe('string');
    expect(typeof p.message, where).toBe('string');
    expect(p.message.trim().length, where).toBeGreaterThan(0);
    if (p.line !== undefined) {
      expect(Number.isInteger(p.line), where).toBe(true);
      expect(p.line, where).toBeGreaterThanOrEqual(1);
    }
    expectClearText(p.message, context.input);
    expectClearText(p.path, context.input);
  }
}

export function expectClearText(text: string, input: string): void {
  if (!STACK_TRACE.test(input)) expect(text, text).not.toMatch(STACK_TRACE);
  if (!input.includes('[object Object]')) expect(text, text).not.toContain('[object Object]');
  if (!input.includes('undefined')) expect(text, text).not.toContain('undefined');
  // YAML spells NaN `.nan`; a message may then say NaN.
  if (!/NaN|\.nan/i.test(input)) expect(text, text).not.toMatch(/\bNaN\b/);
}
