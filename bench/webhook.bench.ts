/**
 * Webhook figures: handleWebhook latency (p50, p99) for a 25 KB and a 1 MB signed GitHub push. The
 * webhook Lambda's bundle and cold start are in cold-start.bench.ts, with the other functions'.
 */
import { createHmac } from 'node:crypto';
import { parseDeploymentConfig } from '../lib/core/source-config.js';
import type { WorkQueue } from '../lib/ports/work-queue.js';
import { handleWebhook, type WebhookRequest } from '../lib/webhooks/intake.js';
import { median, percentile, round, timeRuns, type BenchContext, type BenchModule } from './harness.js';

const SECRET = 'bench-webhook-secret';
const CONFIG = { sources: [{ name: 'bench', repoUrl: 'https://github.com/org/bench.git', provider: 'github', webhookSecretName: 'bench/webhook' }] };

/** A GitHub push to main of about `bytes` bytes: as many realistic commits as fit. */
function pushPayload(bytes: number): string {
  const commit = (i: number) => ({
    id: createHmac('sha1', 'c').update(String(i)).digest('hex'),
    tree_id: createHmac('sha1', 't').update(String(i)).digest('hex'),
    distinct: true,
    message: `Update stack ${i}\n\nAdjust parameters and tags for the service.`,
    timestamp: '2026-03-01T12:00:00Z',
    url: `https://github.com/org/bench/commit/${i}`,
    author: { name: 'Dev', email: 'dev@example.com', username: 'dev' },
    committer: { name: 'Dev', email: 'dev@example.com', username: 'dev' },
    added: [],
    removed: [],
    modified: [`stacks/service-${i}.yaml`, 'cairn.yaml'],
  });
  const payload = {
    ref: 'refs/heads/main',
    before: 'b'.repeat(40),
    after: 'a'.repeat(40),
    created: false,
    deleted: false,
    forced: false,
    repository: { full_name: 'org/bench', clone_url: 'https://github.com/org/bench.git' },
    commits: [] as unknown[],
    padding: '',
  };
  for (let i = 0; JSON.stringify(payload).length + 700 < bytes; i++) payload.commits.push(commit(i));
  payload.padding = 'x'.repeat(Math.max(0, bytes - JSON.stringify(payload).length));
  return JSON.stringify(payload);
}

async function latency(ctx: BenchContext, label: string, bytes: number, runs: number): Promise<void> {
  const config = parseDeploymentConfig(CONFIG, 'bench');
  const body = pushPayload(bytes);
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const queue: WorkQueue = { send: async () => ({ messageId: 'm', duplicate: false }) };
  const deps = { config, secrets: { get: async () => SECRET }, queue, now: () => new Date() };
  let n = 0;
  const times = await timeRuns(
    async () => {
      const request: WebhookRequest = {
        method: 'POST',
        path: '/hooks/bench',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `d-${n++}`, 'x-hub-signature-256': signature },
        body,
      };
      const response = await handleWebhook(request, deps);
      if (response.statusCode !== 202) throw new Error(`the ${label} push was answered ${response.statusCode}, expected 202`);
    },
    runs,
    Math.min(20, runs),
  );
  const detail = `${runs} deliveries of ${Buffer.byteLength(body)} bytes; secret cached, queue in memory`;
  ctx.add({ group: 'webhook', name: `handler latency p50, ${label} push`, value: round(median(times), 3), unit: 'ms', detail });
  ctx.add({ group: 'webhook', name: `handler latency p99, ${label} push`, value: round(percentile(times, 99), 3), unit: 'ms', detail });
}

export const webhookBench: BenchModule = {
  name: 'webhook',
  command: 'npm run bench -- webhook',
  async run(ctx) {
    await latency(ctx, '25 KB', 25 * 1024, Math.max(50, Math.round(2000 * ctx.scale)));
    await latency(ctx, '1 MB', 1_000_000, Math.max(20, Math.round(200 * ctx.scale)));
  },
};
