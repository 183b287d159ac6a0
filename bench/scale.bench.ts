/**
 * How Cairn's costs grow with the stacks one source declares, from 10 to 3,000. Each figure is a median with
 * its spread, and where there is a peer measured in the same run, a ratio against it:
 *   - `cairn validate` and the first `cairn plan` (every stack new), whole processes, nothing cached;
 *   - apply of every stack into an empty embedded account (simulated time), one process each;
 *   - a no-op `cairn plan`, whole process, the templates cached by an earlier run (target < 1 s at
 *     1,000 stacks);
 *   each at 10, 100, 1,000 and 3,000 stacks with its peak RSS (VmHWM, target < 256 MB);
 *   - a no-op reconcile step in process (a warm `serve` step or Lambda invocation: snapshot, load,
 *     step) against its floor, hashing the files and listing the stacks (target within 3x);
 *   - growth: each figure at 3,000 stacks against 1,000 (target 3.5x for three times the stacks).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedAccount } from '../lib/adapters/embedded-account/index.js';
import { openSource } from '../lib/adapters/local-source.js';
import { sha256 } from '../lib/core/canonical.js';
import { MemoryTemplateStore } from '../lib/core/template-cache.js';
import { nullSink } from '../lib/ports/events.js';
import { advance } from '../lib/reconcile/advance.js';
import { loadDesired } from '../lib/reconcile/load-desired.js';
import { writeManyStacks } from './cli.bench.js';
import { round, summary, type BenchContext, type BenchModule } from './harness.js';

const CLI = fileURLToPath(new URL('../bin/cairn.js', import.meta.url));
const PROBE = new URL('./rss-probe.js', import.meta.url).href;
const WORKLOADS = fileURLToPath(new URL('./workloads.js', import.meta.url));
const SIZES = [10, 100, 1000, 3000];
/** The largest size, and the growth allowed from 1,000 stacks to it. */
const TOP = 3000;
const GROWTH = 3.5;

interface Run {
  ms: number;
  rssMB: number;
}

/** One whole `cairn` process: wall time and peak RSS. */
function cairn(dir: string, args: string[], env: NodeJS.ProcessEnv, expectStatus: number): Run {
  const rssFile = join(dir, `rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const started = performance.now();
  const r = spawnSync(process.execPath, ['--import', PROBE, CLI, ...args], { env: { ...process.env, NO_COLOR: '1', ...env, CAIRN_BENCH_RSS_FILE: rssFile }, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (r.status !== expectStatus) throw new Error(`cairn ${args.join(' ')} exited ${r.status}, expected ${expectStatus}: ${r.stderr.slice(0, 400)}`);
  const rssMB = Number(readFileSync(rssFile, 'utf8').trim());
  rmSync(rssFile);
  return { ms, rssMB };
}

function applyProcess(repo: string, home: string): Run {
  const out = execFileSync(process.execPath, [WORKLOADS, 'apply', repo, home], { encoding: 'utf8' }).trim().split('\n');
  const { applyMs } = JSON.parse(out[0]!) as { applyMs: number };
  const { maxRssMB } = JSON.parse(out[1]!) as { maxRssMB: number };
  return { ms: applyMs, rssMB: maxRssMB };
}

/**
 * A directory for the run's repositories and homes: on a RAM-backed file system when there is one
 * (/dev/shm), since writing thousands of cache files to a disk shared with other work made the
 * growth ratios wander by a third between runs.
 */
function scratchDir(): string {
  for (const base of [process.env['CAIRN_BENCH_TMPDIR'], '/dev/shm', tmpdir()].filter((d): d is string => Boolean(d))) {
    try {
      return mkdtempSync(join(base, 'cairn-bench-scale-'));
    } catch {
      // Not there, or not writable: the next one.
    }
  }
  throw new Error('no writable temporary directory for the scale benchmark');
}

function growth(ctx: BenchContext, name: string, at: Map<number, number>, unit: string): void {
  const ratio = at.get(TOP)! / at.get(1000)!;
  ctx.add({
    group: 'scale',
    name: `${name}: 3,000 stacks / 1,000`,
    value: round(ratio, 2),
    unit: 'ratio',
    target: `<= ${GROWTH}`,
    ok: ratio <= GROWTH,
    detail: `${round(at.get(TOP)!, 0)} vs ${round(at.get(1000)!, 0)} ${unit}, medians`,
  });
}

/**
 * One figure at every size, each size once per round, round after round, so load that comes and
 * goes reaches each size alike: a time and a peak-RSS line per size, then the growth from 1,000 to
 * 3,000 stacks. Returns the median time at each size.
 */
function curve(
  ctx: BenchContext,
  figure: { name: string; detail: string; rounds: number; skip?: number; timeTarget?: (n: number, ms: number) => { target: string; ok: boolean } | undefined },
  measure: (n: number, round: number) => Run,
): Map<number, number> {
  const times = new Map<number, number[]>(SIZES.map((n) => [n, []]));
  const rss = new Map<number, number[]>(SIZES.map((n) => [n, []]));
  const skip = figure.skip ?? 0;
  for (let i = 0; i < figure.rounds + skip; i++) {
    for (const n of SIZES) {
      const r = measure(n, i);
      // The first rounds warm the file system's caches, as every other figure's warm-up does.
      if (i < skip) continue;
      times.get(n)!.push(r.ms);
      rss.get(n)!.push(r.rssMB);
    }
  }
  const medians = new Map<number, number>();
  for (const n of SIZES) {
    const t = summary(times.get(n)!);
    const m = summary(rss.get(n)!, 1);
    medians.set(n, t.value);
    ctx.add({ group: 'scale', name: `${figure.name}, ${n} stacks`, ...t, unit: 'ms', ...(figure.timeTarget?.(n, t.value) ?? {}), detail: `${figure.detail}; median of ${figure.rounds} processes, sizes interleaved` });
    ctx.add({ group: 'scale', name: `peak memory, ${figure.name}, ${n} stacks`, ...m, unit: 'MB', target: '< 256', ok: m.value < 256, detail: `VmHWM, median of ${figure.rounds} processes` });
  }
  growth(ctx, figure.name, medians, 'ms');
  return medians;
}

export const scaleBench: BenchModule = {
  name: 'scale',
  command: 'npm run bench -- scale',
  async run(ctx) {
    const dir = scratchDir();
    const runs = Math.max(1, Math.round(3 * Math.min(1, ctx.scale)));
    try {
      const repos = new Map<number, string>();
      for (const n of SIZES) {
        const repo = join(dir, `repo-${n}`);
        writeManyStacks(repo, n);
        repos.set(n, repo);
      }
      /** A whole `cairn` command in a home of its own, removed after: nothing cached. */
      const fresh = (n: number, round: number, args: string[], status: number): Run => {
        const home = join(dir, `fresh-${args[0]}-${n}-${round}`);
        try {
          return cairn(dir, [...args, repos.get(n)!], { CAIRN_HOME: home }, status);
        } finally {
          rmSync(home, { recursive: true, force: true });
        }
      };

      curve(ctx, { name: 'cairn validate', detail: 'whole process, nothing cached', rounds: runs + 2 }, (n, i) => fresh(n, i, ['validate'], 0));
      // Every stack new: the first plan of a source, every template read, checked and diffed against nothing.
      curve(ctx, { name: 'cairn plan of new stacks', detail: 'whole process, nothing cached, an empty embedded account (exit 2: changes)', rounds: runs + 2 }, (n, i) => fresh(n, i, ['plan'], 2));
      curve(ctx, { name: 'apply of new stacks', detail: 'embedded account, simulated time, one process each: read, plan and every change set', rounds: runs }, (n, i) =>
        applyProcess(repos.get(n)!, join(dir, `home-${n}-${i}`)),
      );
      // The first plan fills the template cache, as the apply before it would have on a user's machine.
      const applied = (n: number): NodeJS.ProcessEnv => ({ CAIRN_HOME: join(dir, `home-${n}-0`) });
      curve(
        ctx,
        {
          name: 'no-op cairn plan',
          detail: 'whole process, after the apply, templates cached by an earlier plan',
          rounds: runs + 2,
          skip: 1,
          timeTarget: (n, ms) => (n === 1000 ? { target: '< 1000', ok: ms < 1000 } : undefined),
        },
        (n) => cairn(dir, ['plan', repos.get(n)!], applied(n), 0),
      );

      await stepAgainstFloor(ctx, repos.get(1000)!, join(dir, 'home-1000-0'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** The in-process no-op step against hashing the same files and listing the stacks, alternately. */
async function stepAgainstFloor(ctx: BenchContext, repo: string, home: string): Promise<void> {
  const account = new EmbeddedAccount({ home });
  const gateways = (region: string | undefined) => account.gateway(region);
  const templates = new MemoryTemplateStore();
  const step = async (): Promise<void> => {
    const desired = await loadDesired(await openSource({ dir: repo }).snapshot(), 'bench', { templates });
    const r = await advance(desired, { gateways, sink: nullSink, sleep: async () => {} });
    if (r.outcome !== 'succeeded') throw new Error(`a no-op step ended ${r.outcome}`);
  };
  const floor = async (): Promise<void> => {
    const files = [join(repo, 'cairn.yaml'), ...(await readdir(join(repo, 'stacks'))).map((f) => join(repo, 'stacks', f))];
    await Promise.all(files.map(async (f) => sha256(await readFile(f))));
    await gateways(undefined).listStacks();
  };
  await step();
  await floor();
  const steps: number[] = [];
  const floors: number[] = [];
  const runs = Math.max(3, Math.round(7 * Math.min(1, ctx.scale)));
  for (let i = 0; i < runs; i++) {
    let started = performance.now();
    await step();
    steps.push(performance.now() - started);
    started = performance.now();
    await floor();
    floors.push(performance.now() - started);
  }
  account.close();
  const s = summary(steps, 1);
  const f = summary(floors, 1);
  ctx.add({ group: 'scale', name: 'no-op reconcile step, 1,000 stacks, in process (warm)', ...s, unit: 'ms', detail: `median of ${runs}: snapshot, load with templates kept, one step` });
  ctx.add({ group: 'scale', name: 'its floor: hash the 1,001 files and list the stacks', ...f, unit: 'ms', detail: `median of ${runs}, alternating with the step` });
  const ratio = s.value / f.value;
  ctx.add({ group: 'scale', name: 'no-op step / its floor', value: round(ratio, 2), unit: 'ratio', target: '<= 3', ok: ratio <= 3, detail: `${s.value} vs ${f.value} ms` });
}
