/**
 * `npm run bench [-- NAME ...]`: runs the benchmark modules (all, or those named), prints one
 * table of every figure with its target, and writes reports/bench.json. With `--against FILE` (an
 * earlier reports/bench.json) it also prints how far each ratio moved since that run, and MISSED
 * for any that moved more than 20%: the figures are meant to be reproducible, not lucky.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { usePackagedResourceSchemas } from '../lib/adapters/resource-schema-file.js';
import type { BenchModule, Figure } from './harness.js';

const MODULES: Record<string, () => Promise<BenchModule>> = {
  cli: async () => (await import('./cli.bench.js')).cliBench,
  git: async () => (await import('./git-source.bench.js')).gitBench,
  'git-validate': async () => (await import('./git-source.bench.js')).gitValidateBench,
  webhook: async () => (await import('./webhook.bench.js')).webhookBench,
  cold: async () => (await import('./cold-start.bench.js')).coldStartBench,
  reconcile: async () => (await import('./reconcile.bench.js')).reconcileBench,
  serve: async () => (await import('./serve.bench.js')).serveBench,
  memory: async () => (await import('./memory.bench.js')).memoryBench,
  scale: async () => (await import('./scale.bench.js')).scaleBench,
};

function table(figures: Figure[]): string {
  const rows = figures.map((f) => [f.group, f.name, `${f.value} ${f.unit}${f.spread ? ` (${f.spread[0]}–${f.spread[1]})` : ''}`, f.target ?? '', f.ok === undefined ? '' : f.ok ? 'ok' : 'MISSED', f.detail ?? '']);
  const head = ['group', 'figure', 'value', 'target', '', 'how'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  usePackagedResourceSchemas();
  const args = process.argv.slice(2);
  const againstAt = args.indexOf('--against');
  const against = againstAt >= 0 ? args[againstAt + 1] : undefined;
  if (againstAt >= 0 && !against) {
    process.stderr.write('bench: --against needs the path of an earlier report, e.g. --against reports/bench-1.json\n');
    return 1;
  }
  const wanted = args.filter((a, i) => !a.startsWith('-') && !(againstAt >= 0 && i === againstAt + 1));
  const unknown = wanted.filter((w) => !MODULES[w]);
  if (unknown.length) {
    process.stderr.write(`bench: unknown module ${unknown.join(', ')}; modules: ${Object.keys(MODULES).join(', ')}\n`);
    return 1;
  }
  const names = wanted.length ? wanted : Object.keys(MODULES);
  const figures: Figure[] = [];
  const commands: Record<string, string> = {};
  let failed = 0;
  const scale = Number(process.env['CAIRN_BENCH_SCALE'] ?? 1) || 1;
  for (const name of names) {
    const mod = await MODULES[name]!();
    commands[mod.name] = mod.command;
    process.stderr.write(`bench: ${mod.name} ...\n`);
    const started = Date.now();
    try {
      await mod.run({ add: (f) => figures.push(f), scale });
    } catch (error) {
      failed++;
      process.stderr.write(`bench: ${mod.name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.stderr.write(`bench: ${mod.name} took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const report = { date: new Date().toISOString(), node: process.version, platform: `${process.platform}-${process.arch}`, commands, figures };
  mkdirSync('reports', { recursive: true });
  writeFileSync('reports/bench.json', `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${table(figures)}\n\nWritten to reports/bench.json. Reproduce one group with the command in "commands".\n`);
  if (against) {
    let earlier: Figure[];
    try {
      earlier = (JSON.parse(readFileSync(against, 'utf8')) as { figures: Figure[] }).figures;
    } catch (error) {
      process.stderr.write(`bench: --against ${against}: not a report this bench wrote (${error instanceof Error ? error.message : String(error)})\n`);
      return 1;
    }
    process.stdout.write(`\nRatios against ${against}:\n${agreement(earlier, figures)}\n`);
  }
  return failed ? 1 : 0;
}

/** Each ratio of this run beside the same figure of an earlier run, and whether they agree within 20%. */
export function agreement(earlier: readonly Figure[], now: readonly Figure[]): string {
  const key = (f: Figure): string => `${f.group}\u0000${f.name}`;
  const before = new Map(earlier.map((f) => [key(f), f]));
  const rows = now
    .filter((f) => f.unit === 'ratio')
    .map((f) => {
      const b = before.get(key(f));
      if (!b) return `  ${f.group}  ${f.name}: ${f.value} (not in the earlier run)`;
      const moved = Math.abs(f.value - b.value) / Math.max(Math.abs(b.value), 1e-9);
      return `  ${f.group}  ${f.name}: ${b.value} then ${f.value}, ${(moved * 100).toFixed(0)}% apart${moved > 0.2 ? '  MISSED (> 20%)' : ''}`;
    });
  return rows.length ? rows.join('\n') : '  (no ratios in this run)';
}

main().then((code) => (process.exitCode = code));
