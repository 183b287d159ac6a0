/**
 * Two sources of one repository over real git smart HTTP, as the deployment runs them (GitSource with
 * a path, one webhook address and commit status context each): a push reaches both, only the source
 * whose files changed makes a change set, and neither drops the other's delivery as a duplicate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import { GitSource } from '../../lib/adapters/git-source.js';
import { withRetries } from '../../lib/adapters/retrying-gateway.js';
import { LocalRuntime } from '../../lib/local/runtime.js';
import type { CommitStatus } from '../../lib/ports/commit-status.js';
import { MemorySink, type CairnEvent } from '../../lib/ports/events.js';
import { commit, createRepo, git, startGitServer, type GitServer, type TestRepo } from '../helpers/git-server.js';
import { deliveryHeaders, githubStylePush } from '../webhooks/deliveries.js';

const SECRET = 'one-repo-secret';
const queue = (name: string, timeout: number): string =>
  `Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: ${name}\n      VisibilityTimeout: ${timeout}\n`;
const manifest = (env: string): string => `version: 1\nsource: infra-${env}\nstacks:\n  ${env}-queue:\n    template: queue.yaml\n`;

let home: string;
let server: GitServer;
let repo: TestRepo;
let account: EmbeddedAccount;
let runtime: LocalRuntime;
const sink = new MemorySink();
const statuses: CommitStatus[] = [];

function finished(source: string, commitSha: string): Promise<CairnEvent & { type: 'reconcile.finished' }> {
  return new Promise((resolve) => {
    const seen = sink.events.find((e) => e.type === 'reconcile.finished' && e.source === source && e.commit === commitSha);
    if (seen) return resolve(seen as CairnEvent & { type: 'reconcile.finished' });
    const off = runtime.onEvent((e) => {
      if (e.type === 'reconcile.finished' && e.source === source && e.commit === commitSha && e.outcome !== 'progressing' && e.outcome !== 'waiting') {
        off();
        resolve(e);
      }
    });
  });
}

async function deliver(source: string, sha: string, deliveryId: string): Promise<number> {
  const body = githubStylePush('refs/heads/main', sha);
  const response = await fetch(`${runtime.url}/hooks/${source}`, { method: 'POST', headers: deliveryHeaders('github', { source, body, secret: SECRET, deliveryId }), body });
  const answer = (await response.json()) as { queued: boolean };
  return answer.queued ? response.status : -response.status;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'cairn-one-repo-'));
  server = await startGitServer({ root: join(home, 'served') });
  repo = await createRepo(server, 'infra', {
    'envs/dev/cairn.yaml': manifest('dev'),
    'envs/dev/queue.yaml': queue('dev-orders', 30),
    'envs/prod/cairn.yaml': manifest('prod'),
    'envs/prod/queue.yaml': queue('prod-orders', 30),
  });
  account = new EmbeddedAccount({ home: join(home, 'account'), operationMs: 5, autoAdvance: true, pollMs: 20 });
  const gateway = withRetries(account.gateway());
  runtime = new LocalRuntime({
    sources: ['dev', 'prod'].map((env) => ({
      name: `infra-${env}`,
      repo: new GitSource({ url: repo.url!, branch: 'main', path: `envs/${env}`, cacheDir: join(home, 'git-cache') }),
      provider: 'github' as const,
      branch: 'main',
      path: `envs/${env}`,
      location: repo.url!,
      watch: false,
      commitStatus: { report: async (s: CommitStatus) => void statuses.push(s) },
    })),
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
});

afterAll(async () => {
  await runtime.stop();
  account.close();
  await server.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('End to end: two sources of one repository', () => {
  it('reconciles each source from its own path, with its own commit status context', async () => {
    const first = await git(['rev-parse', 'main'], repo.bareDir);
    expect(await deliver('infra-dev', first, 'delivery-1')).toBe(202);
    // The same delivery id for the other source's address is that source's own delivery.
    expect(await deliver('infra-prod', first, 'delivery-1')).toBe(202);
    const [dev, prod] = await Promise.all([finished('infra-dev', first), finished('infra-prod', first)]);
    expect([dev.outcome, prod.outcome]).toEqual(['succeeded', 'succeeded']);
    const stacks = await account.gateway().listStacks();
    expect(stacks.map((s) => [s.stackName, s.tags['cairn:source'], s.tags['cairn:commit']]).sort()).toEqual([
      ['dev-queue', 'infra-dev', first],
      ['prod-queue', 'infra-prod', first],
    ]);
    // A late stack event may wake a source once more and report its success again: contexts, not reports, are counted.
    expect([...new Set(statuses.filter((s) => s.commit === first && s.state === 'success').map((s) => s.context))].sort()).toEqual(['cairn/infra-dev', 'cairn/infra-prod']);
  });

  it('makes a change set only for the source whose files a push touches', async () => {
    const second = await commit(repo, { 'envs/dev/queue.yaml': queue('dev-orders', 45) }, 'Dev workers get more time');
    const mark = sink.events.length;
    expect(await deliver('infra-dev', second, 'delivery-2')).toBe(202);
    expect(await deliver('infra-prod', second, 'delivery-2')).toBe(202);
    const [dev, prod] = await Promise.all([finished('infra-dev', second), finished('infra-prod', second)]);
    expect([dev.outcome, prod.outcome]).toEqual(['succeeded', 'succeeded']);
    const changeSets = sink.events.slice(mark).filter((e) => e.type === 'changeset.created');
    expect(changeSets.map((e) => e.source)).toEqual(['infra-dev']);
    const prodStack = (await account.gateway().listStacks()).find((s) => s.stackName === 'prod-queue')!;
    expect(prodStack.tags['cairn:commit']).not.toBe(second);
  });
});
