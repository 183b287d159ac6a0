import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { usePackagedResourceSchemas } from '../../lib/adapters/resource-schema-file.js';
import { resolveDesired } from '../../lib/core/desired.js';
import { parseManifest } from '../../lib/core/manifest.js';
import { analyseTemplate, cachedTemplate, layeredStore, MemoryTemplateStore, templateKey, type TemplateAnalysis, type TemplateStore } from '../../lib/core/template-cache.js';
import { parseTemplate } from '../../lib/core/template.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every template of the project's fixtures and examples, by repository-relative path. */
function projectTemplates(): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir))) {
      const rel = `${dir}/${name}`;
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (/\.(ya?ml|json)$/.test(name) && !/cairn\.ya?ml$|deploy/.test(name)) out.push([rel, readFileSync(join(root, rel), 'utf8')]);
    }
  };
  walk('test/fixtures/templates');
  walk('examples');
  return out;
}

/** A store that counts what it is asked, in front of a memory store. */
function counting(): TemplateStore & { gets: number; sets: number } {
  const memory = new MemoryTemplateStore();
  return {
    gets: 0,
    sets: 0,
    get(key) {
      this.gets++;
      return memory.get(key);
    },
    set(key, analysis) {
      this.sets++;
      memory.set(key, analysis);
    },
  };
}

const INVALID = 'Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: !Bogus 3\n';
const WITH_FINDINGS = 'Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      NoSuchProperty: 1\n  Custom:\n    Type: Custom::Thing\n';

describe('Core: templates kept by content', () => {
  it('returns on a hit exactly what parsing and checking the text returns, for every project template', () => {
    const templates = projectTemplates();
    expect(templates.length).toBeGreaterThan(4);
    const store = new MemoryTemplateStore();
    for (const [file, text] of templates) {
      const first = cachedTemplate(text, file, store);
      const hit = cachedTemplate(text, file, store);
      expect(hit).toEqual(first);
      const parsed = parseTemplate(text, file);
      if (parsed.ok && first.ok) {
        expect(first.value).toEqual(parsed.value);
        expect(hit.ok && hit.value.template).toEqual(parsed.value.template);
      } else expect(first.ok).toBe(false);
    }
    expect(store.size).toBe(templates.length);
  });

  it('returns the same problems, with file and line, from the store as from a parse', () => {
    const store = new MemoryTemplateStore();
    const miss = cachedTemplate(INVALID, 'stacks/bad.yaml', store);
    const hit = cachedTemplate(INVALID, 'stacks/bad.yaml', store);
    expect(miss.ok).toBe(false);
    expect(hit).toEqual(miss);
    expect(hit).toEqual(analyseTemplate(INVALID, 'stacks/bad.yaml'));
    expect(!hit.ok && hit.problems[0]).toMatchObject({ file: 'stacks/bad.yaml', line: 5 });

    const found = cachedTemplate(WITH_FINDINGS, 'stacks/q.yaml', store);
    const again = cachedTemplate(WITH_FINDINGS, 'stacks/q.yaml', store);
    expect(again).toEqual(found);
    expect(found.ok && [...found.errors, ...found.findings].length).toBeGreaterThan(0);
    expect(found.ok && found.errors.every((p) => p.file === 'stacks/q.yaml' && typeof p.line === 'number')).toBe(true);
  });

  it('hands every caller its own copy: changing one result changes no later one', () => {
    const store = new MemoryTemplateStore();
    const text = 'Parameters:\n  P: {Type: String}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n';
    const a = cachedTemplate(text, 't.yaml', store);
    if (!a.ok) throw new Error('expected a valid template');
    (a.value.template['Resources'] as Record<string, unknown>)['Q'] = 'changed';
    a.value.parameters['P']!.hasDefault = true;
    const b = cachedTemplate(text, 't.yaml', store);
    expect(b.ok && b.value.template).toEqual({ Parameters: { P: { Type: 'String' } }, Resources: { Q: { Type: 'AWS::SQS::Queue' } } });
    expect(b.ok && b.value.parameters['P']).toEqual({ type: 'String', hasDefault: false });

    const bad = cachedTemplate(INVALID, 'bad.yaml', store);
    if (bad.ok) throw new Error('expected problems');
    bad.problems[0]!.message = 'changed';
    const badAgain = cachedTemplate(INVALID, 'bad.yaml', store);
    expect(!badAgain.ok && badAgain.problems[0]!.message).not.toBe('changed');
  });

  it('keys by file name and content, and by the resource schemas in force', () => {
    const text = 'Resources:\n  Q: {Type: AWS::SQS::Queue}\n';
    expect(templateKey(text, 'a.yaml')).not.toBe(templateKey(text, 'b.yaml'));
    expect(templateKey(text, 'a.yaml')).not.toBe(templateKey(`${text} `, 'a.yaml'));
    const before = templateKey(text, 'a.yaml');
    usePackagedResourceSchemas();
    expect(templateKey(text, 'a.yaml')).not.toBe(before);
  });

  it('parses one template when a push changes one of many', () => {
    const store = counting();
    const manifest = (n: number) => {
      const lines = ['version: 1', 'source: s', 'stacks:'];
      for (let i = 0; i < n; i++) lines.push(`  s${i}:`, `    template: t${i}.yaml`);
      const parsed = parseManifest(lines.join('\n'));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
      return parsed.value;
    };
    const files = (changed: number) => (path: string) => {
      const i = Number(/t(\d+)\.yaml/.exec(path)?.[1]);
      return { kind: 'file' as const, text: `Resources:\n  Q${i === changed ? 'x' : ''}: {Type: AWS::SQS::Queue}\n` };
    };
    const m = manifest(20);
    const first = resolveDesired({ source: 's', commit: 'c1', manifest: m, files: files(-1), templates: store });
    expect(first.ok).toBe(true);
    expect(store.sets).toBe(20);
    const second = resolveDesired({ source: 's', commit: 'c2', manifest: m, files: files(7), templates: store });
    expect(second.ok).toBe(true);
    expect(store.sets).toBe(21);
    expect(second.ok && second.value.stacks[7]!.template).toEqual({ Resources: { Qx: { Type: 'AWS::SQS::Queue' } } });
  });

  it('bounds memory: the least recently used entry goes first', () => {
    const analysis: TemplateAnalysis = { ok: true, body: 'x'.repeat(1000), hash: 'h', parameters: {}, errors: [], findings: [] };
    const store = new MemoryTemplateStore(24_000);
    store.set('a', analysis);
    store.set('b', analysis);
    store.get('a');
    for (let i = 0; i < 10; i++) store.set(`k${i}`, analysis);
    expect(store.get('a')).toBeUndefined();
    expect(store.get('k9')).toBe(analysis);
    expect(store.size).toBeLessThan(12);
  });

  it('keeps what a slower store had in the faster one in front of it', () => {
    const front = new MemoryTemplateStore();
    const back = new MemoryTemplateStore();
    const analysis: TemplateAnalysis = { ok: false, problems: [{ file: 'f', path: '', message: 'm' }] };
    back.set('k', analysis);
    const both = layeredStore(front, back);
    expect(both.get('k')).toBe(analysis);
    expect(front.get('k')).toBe(analysis);
    both.set('n', analysis);
    expect(back.get('n')).toBe(analysis);
  });
});
