/**
 * What the use cases tell a progress listener: templates read and validated, previews waited on,
 * apply's stacks under way, drift detections running; each waiting phase ended, and nothing at
 * all asked of code given no listener.
 */
import { describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../lib/adapters/in-process-queue.js';
import type { Progress } from '../../lib/ports/progress.js';
import { converge } from '../../lib/reconcile/converge.js';
import { loadDesired } from '../../lib/reconcile/load-desired.js';
import { planSource } from '../../lib/reconcile/plan-source.js';
import { sweep } from '../../lib/reconcile/sweep.js';
import { memorySnapshot, type MemoryFiles } from '../helpers/memory-source.js';
import { APP, repo, world } from '../helpers/world.js';

const TOPIC = (i: number) => `Resources:\n  T${i}: {Type: AWS::SNS::Topic}\n`;

function many(n: number): MemoryFiles {
  const files: MemoryFiles = { 'cairn.yaml': `version: 1\nsource: s\nstacks:\n${Array.from({ length: n }, (_, i) => `  s${i}: {template: t${i}.yaml}`).join('\n')}\n` };
  for (let i = 0; i < n; i++) files[`t${i}.yaml`] = TOPIC(i);
  return files;
}

type TemplatesProgress = Extract<Progress, { step: string }>;
const templates = (seen: Progress[], step: TemplatesProgress['step']): TemplatesProgress[] => seen.flatMap((p) => ('step' in p && p.step === step ? [p] : []));
const CHANGED_APP = APP.replace('Tags: [{Key: vpc', 'Tags: [{Key: vpc-id');

describe('Use cases: progress', () => {
  it('loadDesired counts the files read, 32 at a time, then each file as it is validated', async () => {
    const seen: Progress[] = [];
    const desired = await loadDesired(memorySnapshot(many(70)), undefined, { progress: (p) => seen.push(p) });
    expect(desired.stacks).toHaveLength(70);
    const read = templates(seen, 'reading');
    expect(read).toEqual([
      { phase: 'templates', step: 'reading', done: 32, total: 70 },
      { phase: 'templates', step: 'reading', done: 64, total: 70 },
      { phase: 'templates', step: 'reading', done: 70, total: 70 },
    ]);
    const validated = templates(seen, 'validating');
    expect(validated.map((p) => p.done)).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
    expect(validated.every((p) => p.total === 70)).toBe(true);
    // Reading comes first, all of it.
    expect(seen.indexOf(validated[0]!)).toBe(read.length);
  });

  it('loadDesired counts templates that deployment files name, in a second round of reads', async () => {
    const seen: Progress[] = [];
    const files: MemoryFiles = {
      'cairn.yaml': 'version: 1\nsource: s\nstacks:\n  app: {deploymentFile: app.deploy.yaml}\n  db: {template: db.yaml}\n',
      'app.deploy.yaml': 'template-file-path: app.yaml\n',
      'app.yaml': TOPIC(1),
      'db.yaml': TOPIC(2),
    };
    await loadDesired(memorySnapshot(files), undefined, { progress: (p) => seen.push(p) });
    expect(templates(seen, 'reading')).toEqual([
      { phase: 'templates', step: 'reading', done: 2, total: 2 },
      { phase: 'templates', step: 'reading', done: 3, total: 3 },
    ]);
    expect(seen.at(-1)).toEqual({ phase: 'templates', step: 'validating', done: 3, total: 3 });
  });

  it('planSource names the stacks whose previews CloudFormation is computing, and ends the phase', async () => {
    const w = world();
    const files = repo();
    expect((await w.converge(await w.desired(files))).outcome).toBe('succeeded');
    const changed = await w.desired({ ...files, 'app.yaml': CHANGED_APP }, 'b'.repeat(40));
    const seen: Progress[] = [];
    const { plan } = await planSource(changed, { gateways: w.gateways, preview: { waitMs: 10_000, pollMs: 500, sleep: w.sleep }, progress: (p) => seen.push(p) });
    expect(plan.stacks.find((s) => s.id === 'app')?.preview?.state).toBe('ready');
    expect(seen).toEqual([
      { phase: 'change-sets', waiting: ['app'] },
      { phase: 'change-sets', waiting: [] },
      { phase: 'change-sets', finished: true },
    ]);
  });

  it('planSource ends the phase when a preview fails', async () => {
    const w = world();
    const files = repo();
    await w.converge(await w.desired(files));
    const changed = await w.desired({ ...files, 'app.yaml': CHANGED_APP }, 'b'.repeat(40));
    const broken = (r: string | undefined) => {
      const g = w.gateways(r);
      return Object.assign(Object.create(g) as typeof g, { createChangeSet: () => Promise.reject(new Error('the network went away')) });
    };
    const seen: Progress[] = [];
    await expect(planSource(changed, { gateways: broken, preview: { waitMs: 10_000, pollMs: 500, sleep: w.sleep }, progress: (p) => seen.push(p) })).rejects.toThrow('the network went away');
    expect(seen.at(-1)).toEqual({ phase: 'change-sets', finished: true });
  });

  it('converge reports the stacks under way around each step, drops each as it settles, and ends', async () => {
    const w = world();
    const desired = await w.desired(repo());
    const seen: Progress[] = [];
    const result = await converge(desired, { gateways: w.gateways, sink: w.sink, sleep: w.sleep, pollMs: 500, changeSetWaitMs: 5_000, stepIntervalMs: 2_000, progress: (p) => seen.push(p) });
    expect(result.outcome).toBe('succeeded');
    expect(seen[0]).toEqual({ phase: 'apply', waiting: [] });
    const named = new Set(seen.flatMap((p) => (p.phase === 'apply' && !p.finished ? p.waiting : [])));
    expect([...named].sort()).toEqual(desired.stacks.map((s) => s.id).sort());
    expect(seen.at(-2)).toEqual({ phase: 'apply', waiting: [] });
    expect(seen.at(-1)).toEqual({ phase: 'apply', finished: true });
  });

  it('sweep names the drift detections running, then ends', async () => {
    const w = world();
    await w.converge(await w.desired(repo()));
    const seen: Progress[] = [];
    const report = await sweep({ sources: ['src'], queue: new InProcessQueue(), gateways: w.gateways, sink: w.sink, intervalMs: 3_600_000, sleep: w.sleep, pollMs: 500, concurrency: 1, progress: (p) => seen.push(p) });
    expect(report.checked).toBeGreaterThan(1);
    const started = seen.filter((p) => p.phase === 'drift' && !p.finished && p.waiting.length === 1);
    expect(started).toHaveLength(report.checked);
    expect(seen.at(-1)).toEqual({ phase: 'drift', finished: true });
  });
});
