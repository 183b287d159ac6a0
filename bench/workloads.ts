/**
 * One function's work per process, for measuring its peak memory from outside:
 * `node dist/bench/workloads.js webhook|reconcile|sweep` prints {"maxRssMB": N}.
 * webhook: twenty 1 MB signed pushes through the intake; reconcile [N]: a cold git read of an N-stack (default 50)
 * repository plus its whole apply; sweep: drift detection over 1,000 owned stacks; apply REPO HOME:
 * read a directory and apply every stack it declares into the embedded account at HOME, on simulated
 * time, printing {"applyMs": N} first.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedAccount } from '../lib/adapters/embedded-account/index.js';
import { GitSource } from '../lib/adapters/git-source.js';
import { InProcessQueue } from '../lib/adapters/in-process-queue.js';
import { openSource } from '../lib/adapters/local-source.js';
import { usePackagedResourceSchemas } from '../lib/adapters/resource-schema-file.js';
import { parseDeploymentConfig } from '../lib/core/source-config.js';
import { createRepo, startGitServer } from '../lib/local/git-http-server.js';
import { nullSink } from '../lib/ports/events.js';
import { converge } from '../lib/reconcile/converge.js';
import { loadDesired } from '../lib/reconcile/load-desired.js';
import { sweep } from '../lib/reconcile/sweep.js';
import { handleWebhook } from '../lib/webhooks/intake.js';
import { manyStacks } from './cli.bench.js';
import { peakRssMB } from './harness.js';

function simulated(home: string) {
  let now = Date.UTC(2026, 0, 1);
  const account = new EmbeddedAccount({ home, clock: () => now, operationMs: 20 });
  return { account, sleep: async (ms: number) => void ((now += ms), account.advance(0)) };
}

const WORKLOADS: Record<string, (dir: string) => Promise<void>> = {
  async webhook() {
    const config = parseDeploymentConfig({ sources: [{ name: 'p', repoUrl: 'https://git.example/p.git', provider: 'github', webhookSecretName: 's' }] }, 'bench');
    const queue = new InProcessQueue();
    const padding = 'x'.repeat(1_000_000);
    for (let i = 0; i < 20; i++) {
      const body = JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40), before: 'b'.repeat(40), repository: { full_name: 'o/p' }, padding: padding.slice(0, 1_000_000 - 200) });
      const r = await handleWebhook(
        { method: 'POST', path: '/hooks/p', body: Buffer.from(body), headers: { 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${createHmac('sha256', 'secret').update(body).digest('hex')}`, 'content-type': 'application/json' } },
        { config, secrets: { get: async () => 'secret' }, queue, now: () => new Date() },
      );
      if (r.statusCode !== 202) throw new Error(`webhook answered ${r.statusCode}`);
    }
  },
  async reconcile(dir) {
    const server = await startGitServer({ root: join(dir, 'git') });
    try {
      // The stack count may follow the name (`reconcile 300`); 50 by default.
      const repo = await createRepo(server, 'r', manyStacks(Number(process.argv[3] ?? 50)));
      const source = new GitSource({ url: repo.url!, branch: 'main', cacheDir: join(dir, 'cache') });
      const desired = await loadDesired(await source.snapshot(), 'bench');
      const { account, sleep } = simulated(join(dir, 'home'));
      const r = await converge(desired, { gateways: (g) => account.gateway(g), sink: nullSink, sleep, pollMs: 100, stepIntervalMs: 1000, maxParallel: 8 });
      if (r.outcome !== 'succeeded') throw new Error(`reconcile ended ${r.outcome}`);
      account.close();
    } finally {
      await server.stop();
    }
  },
  async apply() {
    const [repo, home] = process.argv.slice(3);
    if (!repo || !home) throw new Error('apply needs a repository directory and an account home');
    const { account, sleep } = simulated(home);
    const started = performance.now();
    const desired = await loadDesired(await openSource({ dir: repo }).snapshot(), undefined);
    const r = await converge(desired, { gateways: (g) => account.gateway(g), sink: nullSink, sleep, pollMs: 100, stepIntervalMs: 1000, maxParallel: 8 });
    if (r.outcome !== 'succeeded') throw new Error(`apply ended ${r.outcome}`);
    account.close();
    process.stdout.write(`${JSON.stringify({ applyMs: performance.now() - started })}\n`);
  },
  async sweep(dir) {
    const { account, sleep } = simulated(join(dir, 'home'));
    const template = JSON.stringify({ Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } } } });
    for (let i = 0; i < 1000; i++) account.createStackOutsideCairn({ stackName: `s${i}`, templateBody: template, tags: { 'cairn:source': 'bench', 'cairn:stack': `s${i}` } });
    account.settle();
    const report = await sweep({ sources: ['bench'], queue: new InProcessQueue(), gateways: () => account.gateway(), sink: nullSink, intervalMs: 1, coverMs: 1, sleep, pollMs: 100, concurrency: 8 });
    if (report.checked !== 1000) throw new Error(`sweep checked ${report.checked}`);
    account.close();
  },
};

const name = process.argv[2] ?? '';
const workload = WORKLOADS[name];
if (!workload) {
  process.stderr.write(`workloads: unknown workload "${name}"; one of ${Object.keys(WORKLOADS).join(', ')}\n`);
  process.exitCode = 1;
} else {
  // A process of its own, like the CLI and the Lambda: it provides the schemas template checks read.
  usePackagedResourceSchemas();
  const dir = mkdtempSync(join(tmpdir(), `cairn-workload-${name}-`));
  workload(dir)
    .then(() => process.stdout.write(`${JSON.stringify({ maxRssMB: peakRssMB() })}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`workload ${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    })
    .finally(() => rmSync(dir, { recursive: true, force: true }));
}
