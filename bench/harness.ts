/**
 * The benchmark harness: every bench module adds figures to one report, which `npm run bench`
 * prints as a table and writes as JSON. Figures are medians or ratios of several runs, never one run.
 */
import { readFileSync } from 'node:fs';

export interface Figure {
  /** Group, e.g. "cli", "git", "webhook". */
  group: string;
  name: string;
  value: number;
  unit: 'ms' | 'MB' | 'KB' | 'ratio' | 'calls' | 's' | 'count';
  /** The target this figure is held against, e.g. "< 300" or "<= 1.0". */
  target?: string;
  /** Whether the target is met, when there is one. */
  ok?: boolean;
  /** How the figure was made: e.g. "median of 9 runs". */
  detail?: string;
  /** Lowest and highest of the runs the median was taken of, printed beside it. */
  spread?: [number, number];
}

export interface BenchContext {
  add(figure: Figure): void;
  /** Scale factor from CAIRN_BENCH_SCALE (default 1); modules may use fewer runs below 1. */
  readonly scale: number;
}

export interface BenchModule {
  /** Group name shown in the report. */
  name: string;
  /** The command that reproduces this module's figures alone. */
  command: string;
  run(ctx: BenchContext): Promise<void>;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of `values` with their spread (lowest, highest), rounded to `digits`. */
export function summary(values: number[], digits = 0): { value: number; spread: [number, number] } {
  return { value: round(median(values), digits), spread: [round(Math.min(...values), digits), round(Math.max(...values), digits)] };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Run `fn` `runs` times after `warmup` uncounted runs; returns each run's wall time in ms. */
export async function timeRuns(fn: () => Promise<unknown> | unknown, runs: number, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * This process's own peak resident set, in MB. On Linux, VmHWM from /proc/self/status: getrusage's
 * maxRSS survives exec, so a child spawned by a large parent reports at least the parent's size
 * (the fork's shared pages), which once made every figure read 114 MB. Elsewhere, maxRSS.
 */
export function peakRssMB(): number {
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    if (Number.isFinite(kb) && kb > 0) return kb / 1024;
  } catch {
    // Not Linux: fall back below.
  }
  return process.resourceUsage().maxRSS / 1024;
}
