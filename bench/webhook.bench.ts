/**
 * Webhook figures: handleWebhook latency (p50, p99) for a 25 KB and a 1 MB signed GitHub push, and
 * the webhook Lambda's bundle (esbuild, minified, ESM, node20) with its module initialisation time,
 * both with the AWS SDK left to the Lambda runtime and with it bundled; and the reconcile Lambda's
 * bundle as deployed (it carries the compact resource schemas), against its 1 MB budget.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { RESOURCE_SCHEMAS_FILE } from '../lib/adapters/resource-schema-file.js';
import { parseDeploymentConfig } from '../lib/core/source-config.js';
import type { WorkQueue } from '../lib/ports/work-queue.js';
import { handleWebhook, type WebhookRequest } from '../lib/webhooks/intake.js';
import { median, percentile, round, timeRuns, type BenchContext, type BenchModule } from './harness.js';

const SECRET = 'bench-webhook-secret';
const CONFIG = { sources: [{ name: 'bench', repoUrl: 'https://github.com/org/bench.git', provider: 'github', webhookSecretName: 'bench/webhook' }] };

/** The repository root, whether this runs from bench/ or from dist/bench/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'functions', 'webhook.ts'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('could not find functions/webhook.ts above the bench module');
    dir = parent;
  }
  return dir;
}

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

/** Bundle a handler of functions/ into node_modules/.cache, so externals resolve as in the runtime. */
async function bundle(root: string, handler: string, outfile: string, external: string[]): Promise<number> {
  const result = await build({
    entryPoints: [join(root, 'functions', `${handler}.ts`)],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external,
    // ESM builds first, as CDK's NodejsFunction does for ESM output: the SDK tree-shakes far better.
    mainFields: ['module', 'main'],
    logLevel: 'error',
    // Some bundled CommonJS dependencies call require(); ESM output needs it defined.
    banner: { js: "import { createRequire as __cairnRequire } from 'node:module'; const require = __cairnRequire(import.meta.url);" },
  });
  if (result.errors.length > 0) throw new Error(`esbuild failed: ${result.errors.map((e) => e.text).join('; ')}`);
  return statSync(outfile).size;
}

/** Milliseconds to import the bundle in a fresh process, as a cold Lambda container does. */
function initTime(file: string): number {
  const script = `const s = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - s));`;
  const output = execFileSync(process.execPath, ['--input-type=module', '--no-warnings', '-e', script], {
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'] ?? '',
      AWS_REGION: 'eu-west-1',
      CAIRN_CONFIG: JSON.stringify(CONFIG),
      CAIRN_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/cairn-work.fifo',
    },
  });
  return Number(output);
}

export const webhookBench: BenchModule = {
  name: 'webhook',
  command: 'npm run bench -- webhook',
  async run(ctx) {
    await latency(ctx, '25 KB', 25 * 1024, Math.max(50, Math.round(2000 * ctx.scale)));
    await latency(ctx, '1 MB', 1_000_000, Math.max(20, Math.round(200 * ctx.scale)));

    const root = repoRoot();
    const dir = join(root, 'node_modules', '.cache', 'cairn-bench');
    mkdirSync(dir, { recursive: true });
    const variants = [
      { name: 'AWS SDK from the Lambda runtime', file: join(dir, 'webhook-sdk-external.mjs'), external: ['@aws-sdk/*'] },
      { name: 'AWS SDK bundled', file: join(dir, 'webhook-sdk-bundled.mjs'), external: [] },
    ];
    const runs = Math.max(3, Math.round(9 * ctx.scale));
    // What importing any module costs in a fresh process here: the floor the figures sit on.
    const empty = join(dir, 'empty.mjs');
    const reconcileFile = join(dir, 'reconcile.mjs');
    writeFileSync(empty, 'export {};\n');
    initTime(empty);
    const floor = round(median(Array.from({ length: runs }, () => initTime(empty))), 1);
    try {
      for (const variant of variants) {
        const bytes = await bundle(root, 'webhook', variant.file, variant.external);
        const kb = round(bytes / 1024, 1);
        ctx.add({ group: 'webhook', name: `bundle size, ${variant.name}`, value: kb, unit: 'KB', target: '< 250', ok: kb < 250, detail: 'esbuild: bundle, minify, esm, node20' });
        initTime(variant.file);
        const times = Array.from({ length: runs }, () => initTime(variant.file));
        const ms = round(median(times), 1);
        ctx.add({ group: 'webhook', name: `module initialisation, ${variant.name}`, value: ms, unit: 'ms', target: '< 100', ok: ms < 100, detail: `median of ${runs} fresh processes importing the bundle; an empty module takes ${floor} ms` });
      }
      // The deployed externals: only the SDK clients the runtime provides (lib/infra/functions.ts).
      const { EXTERNAL_MODULES } = await import('../lib/infra/functions.js');
      const js = await bundle(root, 'reconcile', reconcileFile, EXTERNAL_MODULES);
      const schemas = statSync(join(root, 'lib', 'adapters', RESOURCE_SCHEMAS_FILE)).size;
      const kb = round((js + schemas) / 1024, 1);
      ctx.add({
        group: 'webhook',
        name: 'reconcile bundle size with its resource schemas file, as deployed',
        value: kb,
        unit: 'KB',
        target: '< 1024',
        ok: kb < 1024,
        detail: `esbuild: bundle, minify, esm, node20, externals of lib/infra/functions.ts: ${round(js / 1024, 1)} KB + ${RESOURCE_SCHEMAS_FILE} ${round(schemas / 1024, 1)} KB`,
      });
    } finally {
      for (const file of [empty, reconcileFile, ...variants.map((variant) => variant.file)]) rmSync(file, { force: true });
    }
  },
};
