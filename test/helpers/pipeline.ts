/**
 * A whole local pipeline for end-to-end tests: a real repository served by git http-backend, the
 * embedded runtime (webhook endpoint, in-process queue, reconciler, stack events) on an embedded
 * account that moves on its own, and a recorder of commit statuses. Pushes are real commits and
 * real signed GitHub webhooks sent over HTTP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import { GitSource } from '../../lib/adapters/git-source.js';
import { withRetries } from '../../lib/adapters/retrying-gateway.js';
import { MemorySink, type CairnEvent } from '../../lib/ports/events.js';
import type { CommitStatus, CommitStatusReporter } from '../../lib/ports/commit-status.js';
import type { PullRequestComments } from '../../lib/ports/pr-comments.js';
import { LocalRuntime } from '../../lib/local/runtime.js';
import { commit, createRepo, startGitServer, type Files, type GitServer, type TestRepo } from './git-server.js';
import { deliveryHeaders, githubStylePush } from '../webhooks/deliveries.js';

export const SECRET = 'e2e-webhook-secret';

export interface Pipeline {
  account: EmbeddedAccount;
  runtime: LocalRuntime;
  server: GitServer;
  repo: TestRepo;
  sink: MemorySink;
  statuses: CommitStatus[];
  /** Commit files and send a signed push webhook for it; returns the new commit SHA. */
  push(files: Files): Promise<string>;
  /** Send a GitHub push webhook for `sha` (signed with `secret`); returns the HTTP status. */
  webhook(sha: string, secret?: string): Promise<{ status: number; body: unknown }>;
  /** Resolve with the first event (from now on, or already seen when `past`) that matches. */
  waitFor(match: (e: CairnEvent) => boolean, timeoutMs?: number): Promise<CairnEvent>;
  /** Wait for the reconcile of `sha` to end with one of these outcomes. */
  settled(sha: string, outcomes?: string[], timeoutMs?: number): Promise<CairnEvent>;
  stop(): Promise<void>;
}

export async function startPipeline(files: Files, options: { name?: string; pullRequestComments?: PullRequestComments } = {}): Promise<Pipeline> {
  const name = options.name ?? 'platform';
  const home = mkdtempSync(join(tmpdir(), 'cairn-e2e-'));
  const server = await startGitServer();
  const repo = await createRepo(server, name, files);
  const account = new EmbeddedAccount({ home, operationMs: 5, autoAdvance: true, pollMs: 20 });
  const gateway = withRetries(account.gateway());
  const sink = new MemorySink();
  const statuses: CommitStatus[] = [];
  const recorder: CommitStatusReporter = { report: async (s) => void statuses.push(s) };
  const runtime = new LocalRuntime({
    sources: [
      {
        name,
        repo: new GitSource({ url: repo.url!, branch: 'main', cacheDir: join(home, 'git-cache') }),
        provider: 'github',
        branch: 'main',
        location: repo.url!,
        watch: false,
        commitStatus: recorder,
        ...(options.pullRequestComments ? { pullRequestComments: options.pullRequestComments } : {}),
      },
    ],
    webhookSecret: SECRET,
    gateways: () => gateway,
    account,
    sink,
    port: 0,
    sweepEveryMs: 0,
    maxRetryDelayMs: 200,
    reconcileOnStart: false,
  });
  await runtime.start();

  const waitFor = (match: (e: CairnEvent) => boolean, timeoutMs = 20_000): Promise<CairnEvent> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no matching event within ${timeoutMs} ms; last events: ${JSON.stringify(sink.events.slice(-5))}`));
      }, timeoutMs);
      const off = runtime.onEvent((e) => {
        if (!match(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });

  const webhook = async (sha: string, secret = SECRET): Promise<{ status: number; body: unknown }> => {
    const body = githubStylePush('refs/heads/main', sha);
    const response = await fetch(`${runtime.url}/hooks/${name}`, {
      method: 'POST',
      headers: deliveryHeaders('github', { source: name, body, secret }),
      body,
    });
    return { status: response.status, body: await response.json() };
  };

  return {
    account,
    runtime,
    server,
    repo,
    sink,
    statuses,
    waitFor,
    webhook,
    settled: (sha, outcomes = ['succeeded', 'stalled'], timeoutMs) =>
      waitFor((e) => e.type === 'reconcile.finished' && e.commit === sha && outcomes.includes(e.outcome), timeoutMs),
    push: async (changed) => {
      const sha = await commit(repo, changed);
      const answer = await webhook(sha);
      if (answer.status !== 202) throw new Error(`webhook answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      return sha;
    },
    stop: async () => {
      await runtime.stop();
      account.close();
      await server.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
