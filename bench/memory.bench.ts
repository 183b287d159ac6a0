/**
 * Peak memory (maximum resident set, VmHWM on Linux) of each function's work, each run alone in a
 * fresh Node process, median of three; reconcile at 3,000 stacks is held to 256 MB.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, round, type BenchModule } from './harness.js';

const WORKLOADS = fileURLToPath(new URL('./workloads.js', import.meta.url));
const HARNESS = new URL('./harness.js', import.meta.url).href;
const rss = (args: string[]): number => (JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as { maxRssMB: number }).maxRssMB;

export const memoryBench: BenchModule = {
  name: 'memory',
  command: 'npm run bench -- memory',
  async run(ctx) {
    const baseline = median([1, 2, 3].map(() => rss(['--input-type=module', '-e', `import { peakRssMB } from ${JSON.stringify(HARNESS)}; console.log(JSON.stringify({ maxRssMB: peakRssMB() }))`])));
    ctx.add({ group: 'memory', name: 'empty Node process (for comparison)', value: round(baseline, 1), unit: 'MB', detail: 'median of 3' });
    const work: [string[], string][] = [
      [['webhook'], 'webhook: twenty 1 MB signed pushes'],
      [['reconcile'], 'reconcile: cold git read and apply of 50 stacks'],
      [['reconcile', '300'], 'reconcile: cold git read and apply of 300 stacks'],
      [['reconcile', '3000'], 'reconcile: cold git read and apply of 3,000 stacks'],
      [['sweep'], 'sweep: drift detection of 1,000 stacks'],
    ];
    for (const [args, label] of work) {
      const value = median([1, 2, 3].map(() => rss([WORKLOADS, ...args])));
      // The reconcile function has 1 GiB; its budget is 256 MB at the largest source measured.
      const budget = args[0] === 'reconcile' && args[1] === '3000' ? { target: '< 256', ok: value < 256 } : {};
      ctx.add({ group: 'memory', name: `peak memory, ${label}`, value: round(value, 1), unit: 'MB', ...budget, detail: 'max RSS, median of 3 processes' });
    }
  },
};
