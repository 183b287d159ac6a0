/**
 * Security: every size a repository controls is bounded before the work it would cost. cairn.yaml
 * and each template by their bytes (found from the Git object's header, before it is inflated), the
 * bytes one commit reads in all, the stacks of one source, nesting depth (checked before the YAML
 * parser, which exhausts memory on deep brackets), a dependsOn chain of 12,000 stacks (no stack
 * overflow), and 20,000 problems reported in linear time. Each limit's message names it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSource } from '../../lib/adapters/git-source.js';
import { ValidationError } from '../../lib/core/errors.js';
import { findCycles, waves } from '../../lib/core/graph.js';
import { LIMITS } from '../../lib/core/limits.js';
import { parseTemplate } from '../../lib/core/template.js';
import { FileTooLargeError } from '../../lib/ports/source-repo.js';
import { loadDesired } from '../../lib/reconcile/load-desired.js';
import { createRepo, startGitServer, type GitServer } from '../helpers/git-server.js';
import { memorySnapshot, type MemoryFiles } from '../helpers/memory-source.js';

const TOPIC = 'Resources:\n  T: {Type: AWS::SNS::Topic}\n';

async function problems(files: MemoryFiles): Promise<ValidationError> {
  const error = await loadDesired(memorySnapshot(files), 'src').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('Security: sizes are bounded before work', () => {
  it('checks a 12,000-stack dependsOn chain without overflowing, and names a cycle in it', () => {
    const n = 12_000;
    const deps = new Map(Array.from({ length: n }, (_, i) => [`s${i}`, i === 0 ? [] : [`s${i - 1}`]]));
    expect(findCycles(deps)).toEqual([]);
    expect(waves(deps).get(`s${n - 1}`)).toBe(n - 1);
    deps.set('s0', [`s${n - 1}`]);
    const cycles = findCycles(deps);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toHaveLength(n + 1);
  });

  it(`refuses more than ${LIMITS.stacks} stacks in one source, naming the limit`, async () => {
    const stacks = Array.from({ length: 12_000 }, (_, i) => `  s${i}: {template: t.yaml${i ? `, dependsOn: [s${i - 1}]` : ''}}`).join('\n');
    const error = await problems({ 'cairn.yaml': `version: 1\nstacks:\n${stacks}\n`, 't.yaml': TOPIC });
    expect(error.message).toMatch(/cairn\.yaml:2: stacks: declares 12000 stacks; one source may declare at most 5000/);
  });

  it('reports 20,000 problems at once, in linear time', async () => {
    const stacks = Array.from({ length: 2_000 }, (_, i) => `  s${i}: {template: t.yaml, ${Array.from({ length: 10 }, (_, k) => `bad${k}: 1`).join(', ')}}`).join('\n');
    const started = performance.now();
    const error = await problems({ 'cairn.yaml': `version: 1\nstacks:\n${stacks}\n`, 't.yaml': TOPIC });
    const ms = performance.now() - started;
    expect(error.problems).toHaveLength(20_000);
    expect(error.problems[19_999]).toMatchObject({ path: 's1999.bad9'.replace(/^/, 'stacks.'), line: 2_002 });
    // 67 s before; about a second now on a shared 2-core machine.
    expect(ms).toBeLessThan(10_000);
  });

  it('refuses a cairn.yaml over its limit before parsing it', async () => {
    const error = await problems({ 'cairn.yaml': `version: 1\nstacks: {}\n#${'x'.repeat(LIMITS.manifestBytes)}\n` });
    expect(error.message).toMatch(/cairn\.yaml: is \d+ bytes, over the limit of 1 MiB for cairn\.yaml; not read/);
  });

  it('refuses the files of one commit past the budget of the commit', async () => {
    const big = JSON.stringify({ Resources: { T: { Type: 'AWS::SNS::Topic', Metadata: { x: 'x'.repeat(1_000_000) } } } });
    const files: MemoryFiles = { 'cairn.yaml': `version: 1\nstacks:\n${Array.from({ length: 40 }, (_, i) => `  s${i}: {template: t${i}.yaml}`).join('\n')}\n` };
    for (let i = 0; i < 40; i++) files[`t${i}.yaml`] = big;
    const error = await problems(files);
    expect(error.message).toMatch(/would take the files this commit reads past 32 MiB in all/);
  });

  it.each([
    ['cairn.yaml', { 'cairn.yaml': `version: 1\nstacks: {}\nx: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n` }, /nests values more than 32 levels deep/],
    ['a template', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml}\n', 't.yaml': `Resources: {T: {Type: AWS::SNS::Topic, Metadata: ${'['.repeat(100_000)}${']'.repeat(100_000)}}}` }, /t\.yaml.*nests brackets more than 500 levels deep/],
  ])('refuses deep nesting in %s before the YAML parser sees it', async (_what, files, expected) => {
    const error = await problems(files as MemoryFiles);
    expect(error.message).toMatch(expected);
  });

  it.each([
    ['a stray quote in a plain scalar', "Description: it's mine\nMetadata: "],
    ['a quote right after a colon', 'Metadata: [a:"'],
    ['a # inside a plain scalar', 'Metadata: [a#b, '],
  ])('is not fooled by %s before deep brackets', (_what, prefix) => {
    const deep = `${prefix}${'['.repeat(600)}${']'.repeat(600)}\n`;
    const result = parseTemplate(`Resources:\n  T: {Type: AWS::SNS::Topic}\n${deep}`, 't.yaml');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]!.message).toMatch(/nests brackets more than 500 levels deep/);
  });

  it('still parses brackets inside quoted strings and comments', () => {
    const text = `# ${'['.repeat(600)}\nResources:\n  T: {Type: AWS::SNS::Topic, Metadata: {x: "${'{'.repeat(600)}"}}\n`;
    expect(parseTemplate(text, 't.yaml').ok).toBe(true);
  });
});

describe('Security: a Git blob is measured before it is inflated', () => {
  let git: GitServer;
  let home: string;
  beforeAll(async () => {
    git = await startGitServer();
    home = await mkdtemp(join(tmpdir(), 'cairn-limits-'));
  });
  afterAll(async () => {
    await git.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('refuses a 64 MB template (compressing to kilobytes) from its object header', async () => {
    const size = 64 * 1024 * 1024;
    const repo = await createRepo(git, 'huge', { 'cairn.yaml': 'version: 1\nsource: huge\nstacks:\n  a: {template: t.yaml}\n', 't.yaml': new Uint8Array(size) });
    const source = new GitSource({ url: repo.url!, branch: repo.branch, cacheDir: join(home, 'cache') });
    const snapshot = await source.snapshot();
    const before = process.memoryUsage().arrayBuffers;
    const error = await snapshot.readFile('t.yaml', { maxBytes: LIMITS.fileBytes }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FileTooLargeError);
    // The exact size comes from the header: nothing was inflated to learn it.
    expect(error).toMatchObject({ path: 't.yaml', bytes: size, maxBytes: LIMITS.fileBytes });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(size / 4);
    const loaded = await loadDesired(snapshot, 'huge').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(loaded?.message).toMatch(/stacks\.a\.template: "t\.yaml" is 67108864 bytes, over the limit of 1 MiB/);
  });
});
