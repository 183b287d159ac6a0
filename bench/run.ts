/**
 * `npm run bench [-- NAME ...]`: runs the benchmark modules (all, or those named), prints one
 * table of every figure with its target, and writes reports/bench.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
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
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
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
  return failed ? 1 : 0;
}

main().then((code) => (process.exitCode = code));
