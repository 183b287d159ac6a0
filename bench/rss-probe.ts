/**
 * Preloaded into a process the benchmarks time as a whole (`node --import rss-probe.js ...`): on
 * exit it appends the process's peak resident set in MB to the file CAIRN_BENCH_RSS_FILE names.
 */
import { appendFileSync } from 'node:fs';
import { peakRssMB } from './harness.js';

const file = process.env['CAIRN_BENCH_RSS_FILE'];
if (file) process.on('exit', () => appendFileSync(file, `${peakRssMB()}\n`));
