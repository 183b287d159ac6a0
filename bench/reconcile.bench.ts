/**
 * Reconcile and sweep figures against the embedded account: one reconcile step of 200 stacks with
 * nothing to change (wall time and CloudFormation calls), and a drift sweep of 1,000 owned stacks
 * under a throttle of 5 CloudFormation calls per second (measured in the account's simulated time,
 * which the throttle is counted in, and in real time).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedAccount } from '../lib/adapters/embedded-account/index.js';
import { InProcessQueue } from '../lib/adapters/in-process-queue.js';
import { openSource } from '../lib/adapters/local-source.js';
import { withRetries } from '../lib/adapters/retrying-gateway.js';
import { nullSink } from '../lib/ports/events.js';
import { advance } from '../lib/reconcile/advance.js';
import { converge } from '../lib/reconcile/converge.js';
import { loadDesired } from '../lib/reconcile/load-desired.js';
import { sweep } from '../lib/reconcile/sweep.js';
import { writeManyStacks } from './cli.bench.js';
import { median, round, timeRuns, type BenchModule } from './harness.js';

function simulatedAccount(home: string, operationMs = 50) {
  let now = Date.UTC(2026, 0, 1);
  const account = new EmbeddedAccount({ home, clock: () => now, operationMs });
  const sleep = async (ms: number): Promise<void> => {
    now += ms;
    account.advance(0);
  };
  return { account, sleep, now: () => now };
}

export const reconcileBench: BenchModule = {
  name: 'reconcile',
  command: 'npm run bench -- reconcile',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-reconcile-'));
    try {
      const repo = join(dir, 'repo');
      writeManyStacks(repo, 200);
      const { account, sleep } = simulatedAccount(join(dir, 'home-200'));
      const desired = await loadDesired(await openSource({ dir: repo }).snapshot(), 'bench');
      const gateways = (r: string | undefined) => account.gateway(r);
      const applied = await converge(desired, { gateways, sink: nullSink, sleep, pollMs: 100, stepIntervalMs: 1_000, maxParallel: 16 });
      if (applied.outcome !== 'succeeded') throw new Error(`setting up 200 stacks ended ${applied.outcome}`);
      let calls = 0;
      const times = await timeRuns(async () => {
        const before = account.callCount();
        const step = await advance(desired, { gateways, sink: nullSink, sleep });
        calls = account.callCount() - before;
        if (step.outcome !== 'succeeded') throw new Error(`an unchanged reconcile ended ${step.outcome}`);
      }, 7);
      account.close();
      ctx.add({ group: 'reconcile', name: 'one step, 200 stacks, nothing to change', value: round(median(times), 1), unit: 'ms', detail: 'median of 7, in process' });
      ctx.add({ group: 'reconcile', name: 'CloudFormation calls for that step', value: calls, unit: 'calls', target: 'no growth per stack', ok: calls <= 2, detail: 'one listing per region' });

      const n = Math.max(50, Math.round(1000 * ctx.scale));
      const sim = simulatedAccount(join(dir, 'home-1000'), 20);
      const template = JSON.stringify({ Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } } } });
      for (let i = 0; i < n; i++) {
        const name = `svc-${i}`;
        sim.account.createStackOutsideCairn({ stackName: name, templateBody: template, tags: { 'cairn:source': 'bench', 'cairn:stack': name, 'cairn:drift': 'alert' } });
      }
      sim.account.settle();
      for (let i = 0; i < n; i += 50) sim.account.injectDrift({ stackName: `svc-${i}`, logicalId: 'Queue', path: 'VisibilityTimeout', value: 99 });
      sim.account.faults.set({ throttlePerSecond: 5 });
      const throttled = withRetries(sim.account.gateway(), { sleep: sim.sleep, maxAttempts: 50, baseDelayMs: 200, maxDelayMs: 5_000 });
      const simStart = sim.now();
      const realStart = performance.now();
      const report = await sweep({
        sources: ['bench'],
        queue: new InProcessQueue(),
        gateways: () => throttled,
        sink: nullSink,
        intervalMs: 3_600_000,
        coverMs: 3_600_000,
        concurrency: 3,
        pollMs: 1_000,
        sleep: sim.sleep,
      });
      const simulatedSeconds = (sim.now() - simStart) / 1000;
      const realMs = performance.now() - realStart;
      sim.account.close();
      if (report.checked !== n || report.failed.length > 0) throw new Error(`the sweep checked ${report.checked} of ${n} stacks (${report.failed.length} failed)`);
      ctx.add({
        group: 'sweep',
        name: `drift sweep of ${n} owned stacks, 5 calls/s throttle`,
        value: round(simulatedSeconds, 0),
        unit: 's',
        target: '< 3600 (all within an hour)',
        ok: simulatedSeconds < 3600,
        detail: `account time; ${report.drifted} drifted found, none lost; ${round(realMs / 1000, 1)} s real`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
