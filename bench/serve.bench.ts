/**
 * Push-to-apply latency through `cairn serve` (a child process, as a user runs it) on the
 * embedded account: 100 signed GitHub pushes to a 10-stack repository served over git HTTP, each
 * timed from webhook receipt to change set execution (target p50 under 500 ms), and the runtime's
 * peak memory.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commit, createRepo, startGitServer } from '../lib/local/git-http-server.js';
import { manyStacks } from './cli.bench.js';
import { median, percentile, round, type BenchModule } from './harness.js';

const CLI = fileURLToPath(new URL('../bin/cairn.js', import.meta.url));
const SECRET = 'bench-secret';

export const serveBench: BenchModule = {
  name: 'serve',
  command: 'npm run bench -- serve',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-serve-'));
    const server = await startGitServer({ root: join(dir, 'git') });
    const files = manyStacks(10);
    const repo = await createRepo(server, 'bench', files);
    const child = spawn(process.execPath, [CLI, 'serve', '--repo', repo.url!, '--port', '0', '--sweep-every', '0', '--json', '--source', 'bench'], {
      env: { ...process.env, CAIRN_HOME: join(dir, 'home'), CAIRN_WEBHOOK_SECRET: SECRET, TMPDIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const waiters: { match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
    let buffer = '';
    let url = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let event: Record<string, unknown>;
        try {
          event = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (event['type'] === 'serving') url = String(event['url']);
        for (const w of [...waiters]) {
          if (w.match(event)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(event);
          }
        }
      }
    });
    const next = (match: (e: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('serve did not report in time')), timeoutMs);
        waiters.push({ match, resolve: (e) => (clearTimeout(t), resolve(e)) });
      });
    try {
      await next((e) => e['type'] === 'reconcile.finished' && e['outcome'] === 'succeeded');
      const pushes = Math.max(10, Math.round(100 * ctx.scale));
      const serverSide: number[] = [];
      const clientSide: number[] = [];
      for (let i = 1; i <= pushes; i++) {
        const id = `svc-${String(i % 10).padStart(3, '0')}`;
        const sha = await commit(repo, { [`stacks/${id}.yaml`]: files[`stacks/${id}.yaml`]!.replace('Default: 30', `Default: ${100 + i}`) });
        const applied = next((e) => e['type'] === 'stack.action' && e['commit'] === sha);
        const settled = next((e) => e['type'] === 'reconcile.finished' && e['commit'] === sha && e['outcome'] === 'succeeded');
        const body = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, repository: { full_name: 'bench/bench' } });
        const sent = performance.now();
        const res = await fetch(`${url}/hooks/bench`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
          body,
        });
        if (res.status !== 202) throw new Error(`the webhook was answered ${res.status}`);
        const action = await applied;
        clientSide.push(performance.now() - sent);
        serverSide.push(Number(action['pushToApplyMs']));
        await settled;
      }
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const peakKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      // A push folded into a step another wake-up started carries no receipt time; those are left out, and counted.
      const timed = serverSide.filter((v) => Number.isFinite(v));
      const untimed = serverSide.length - timed.length;
      serverSide.splice(0, serverSide.length, ...timed);
      const p50 = median(serverSide);
      ctx.add({ group: 'serve', name: `push-to-apply p50, ${pushes} pushes, 10 stacks`, value: round(p50, 0), unit: 'ms', target: '< 500', ok: p50 < 500, detail: 'webhook receipt to change set execution, as logged by serve' });
      ctx.add({ group: 'serve', name: 'push-to-apply p99', value: round(percentile(serverSide, 99), 0), unit: 'ms', detail: `same ${pushes} pushes${untimed ? `; ${untimed} applied without a push receipt time, left out` : ''}` });
      ctx.add({ group: 'serve', name: 'webhook sent to change set executed, p50 (client side)', value: round(median(clientSide), 0), unit: 'ms', detail: 'includes HTTP and log delivery' });
      ctx.add({ group: 'serve', name: 'runtime peak memory (RSS)', value: round(peakKb / 1024, 1), unit: 'MB', detail: 'VmHWM of the cairn serve process after the run' });
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('close', r));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
