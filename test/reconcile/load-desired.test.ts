import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/core/errors.js';
import { LIMITS } from '../../lib/core/limits.js';
import { parseManifest } from '../../lib/core/manifest.js';
import type { SourceSnapshot } from '../../lib/ports/source-repo.js';
import { loadDesired, parsedManifest } from '../../lib/reconcile/load-desired.js';
import { memorySnapshot, type MemoryFiles } from '../helpers/memory-source.js';

const TOPIC = 'Resources:\n  T: {Type: AWS::SNS::Topic}\n';

function repo(n: number, template = (i: number) => TOPIC.replace('T:', `T${i}:`)): MemoryFiles {
  const files: MemoryFiles = { 'cairn.yaml': `version: 1\nsource: s\nstacks:\n${Array.from({ length: n }, (_, i) => `  s${i}: {template: t${i}.yaml}`).join('\n')}\n` };
  for (let i = 0; i < n; i++) files[`t${i}.yaml`] = template(i);
  return files;
}

/** A snapshot that records how many reads were in flight at once. */
function watched(files: MemoryFiles): SourceSnapshot & { most: number } {
  const inner = memorySnapshot(files);
  let inFlight = 0;
  const snapshot = {
    commit: inner.commit,
    most: 0,
    async readFile(path: string, options?: { maxBytes?: number }) {
      inFlight++;
      snapshot.most = Math.max(snapshot.most, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      try {
        return await inner.readFile(path, options);
      } finally {
        inFlight--;
      }
    },
  };
  return snapshot;
}

describe('Use case: loadDesired', () => {
  it('reads the templates side by side, with the same desired state as reading them one by one', async () => {
    const files = repo(100);
    const snapshot = watched(files);
    const desired = await loadDesired(snapshot, undefined);
    expect(snapshot.most).toBeGreaterThan(1);
    expect(desired.stacks).toHaveLength(100);
    expect(desired.stacks.map((s) => s.templateFile)).toEqual(Array.from({ length: 100 }, (_, i) => `t${i}.yaml`));
    expect(desired.stacks[42]!.template).toEqual({ Resources: { T42: { Type: 'AWS::SNS::Topic' } } });
  });

  it('still refuses, in path order, the files that would take the commit past its byte budget', async () => {
    // JSON, which parses fast, of just under the limit of one file.
    const big = JSON.stringify({ Resources: { T: { Type: 'AWS::SNS::Topic' } }, Metadata: { Padding: 'x'.repeat(LIMITS.fileBytes - 200) } });
    const files = repo(40, () => big);
    const error = await loadDesired(watched(files), undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const refused = (error as ValidationError).problems.filter((p) => /in all/.test(p.message)).map((p) => /"(t\d+\.yaml)"/.exec(p.message)?.[1]);
    // Files are read in path order (t0, t1, t10, ...): the budget holds as many as fit, in that order.
    const order = Array.from({ length: 40 }, (_, i) => `t${i}.yaml`).sort();
    const fits = Math.floor((LIMITS.commitBytes - Buffer.byteLength(files['cairn.yaml'] as string)) / Buffer.byteLength(big));
    expect(fits).toBeLessThan(40);
    expect(refused.sort()).toEqual(order.slice(fits).sort());
  });

  it('gives every caller its own copy of a cairn.yaml parsed before, equal to a fresh parse', () => {
    for (const text of [readFileSync(new URL('../../examples/platform/cairn.yaml', import.meta.url), 'utf8'), 'version: 1\nstacks:\n  a: {template: 3}\n', repo(5)['cairn.yaml'] as string]) {
      const first = parsedManifest(text);
      expect(first).toStrictEqual(parseManifest(text));
      if (first.ok) Object.assign(first.value, { stacks: {} });
      else first.problems.length = 0;
      expect(parsedManifest(text)).toStrictEqual(parseManifest(text));
    }
  });
});
