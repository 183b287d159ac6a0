/**
 * No secret reaches a log line or an error. A full reconcile runs against a real Git server that
 * requires basic auth (token read through a SecretProvider), the embedded account, and a fake GitHub
 * commit-status API with its own token, with every output captured: EventSink events, the
 * PowertoolsSink's JSON lines on stdout/stderr, console output, returned outcomes and thrown errors.
 * Four paths: stacks created, cairn.yaml invalid (stalled), a wrong Git token (AccessDenied), and a
 * status API that answers 401 echoing the Authorization header it received (the Git server echoes
 * credentials in its errors too). Neither token, nor its URL-encoded or base64 (basic-auth) form,
 * nor any credential header may appear in what was captured.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCommitStatusReporter, SentStatuses } from '../../lib/adapters/commit-status/index.js';
import { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import { EnvSecrets } from '../../lib/adapters/env-secrets.js';
import { GitSource } from '../../lib/adapters/git-source.js';
import { PowertoolsSink } from '../../lib/adapters/powertools-sink.js';
import { MemorySink, type CairnEvent, type EventSink } from '../../lib/ports/events.js';
import { processBatch } from '../../lib/reconcile/process-batch.js';
import { createReconciler, type Reconciler } from '../../lib/reconcile/reconciler.js';
import type { StepOutcome } from '../../lib/reconcile/reconcile-source.js';
import { StallMemory } from '../../lib/reconcile/stall-memory.js';
import { commit, createRepo, startGitServer, type GitServer, type TestRepo } from '../helpers/git-server.js';
import { APP, NETWORK } from '../helpers/world.js';

// Characters that change under URL encoding and that base64 spreads across groups.
const GIT_TOKEN = 'gt_S3cr3t/Tok+en=Zq9';
const WRONG_TOKEN = 'gt_Wr0ng/Tok+en=Ab1';
const STATUS_TOKEN = 'st_An0ther/Secret+Xy8';
const TOKENS = [GIT_TOKEN, WRONG_TOKEN, STATUS_TOKEN];

/** Every form in which a token could leak: as is, URL-encoded, base64, and as a basic-auth pair. */
const LEAKS = TOKENS.flatMap((t) => [
  t,
  encodeURIComponent(t),
  Buffer.from(t).toString('base64'),
  Buffer.from(t).toString('base64url'),
  ...['x-access-token', 'git', 'oauth2', 'x-token-auth'].map((user) => Buffer.from(`${user}:${t}`).toString('base64')),
]);

const MANIFEST = [
  'version: 1',
  'stacks:',
  '  network: {template: stacks/network.yaml, parameters: {Cidr: 10.0.0.0/16}}',
  '  app:',
  '    template: stacks/app.yaml',
  '    parameters: {VpcId: {fromStack: network, output: VpcId}}',
].join('\n');

/** A stand-in for the GitHub REST API's commit statuses: accepts them, or answers 401 echoing the credential. */
interface FakeGitHub {
  url: string;
  received: { url: string; authorization: string | undefined; state: string }[];
  refuse: boolean;
  server: Server;
}

async function startFakeGitHub(): Promise<FakeGitHub> {
  const fake: FakeGitHub = { url: '', received: [], refuse: false, server: createServer() };
  fake.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const authorization = req.headers.authorization;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { state?: string };
      fake.received.push({ url: req.url ?? '', authorization, state: body.state ?? '' });
      if (fake.refuse) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `Bad credentials: received Authorization: ${authorization}`, documentation_url: 'https://docs.github.com/rest' }));
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ state: body.state }));
    });
  });
  fake.server.listen(0, '127.0.0.1');
  await once(fake.server, 'listening');
  fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  return fake;
}

let git: GitServer;
let repo: TestRepo;
let github: FakeGitHub;
let home: string;
let account: EmbeddedAccount;
let now = Date.UTC(2026, 0, 1);
const env: NodeJS.ProcessEnv = { GIT_TOKEN, STATUS_TOKEN };
const secrets = new EnvSecrets({ env });
const stalls = new StallMemory();
const statusMemory = new SentStatuses();

/** What a test captured: every write to stdout and stderr, console calls, events, outcomes and errors. */
let captured: string[];
let events: MemorySink;
let powertools: PowertoolsSink;

beforeAll(async () => {
  // The server repeats the credentials it received in every error it answers, as careless servers do.
  git = await startGitServer({ auth: { username: 'x-access-token', password: GIT_TOKEN }, echoCredentials: true });
  repo = await createRepo(git, 'platform', { 'cairn.yaml': MANIFEST, 'stacks/network.yaml': NETWORK, 'stacks/app.yaml': APP });
  github = await startFakeGitHub();
  home = await mkdtemp(join(tmpdir(), 'cairn-secrets-'));
  account = new EmbeddedAccount({ home: join(home, 'account'), clock: () => now, operationMs: 1000 });
});

afterAll(async () => {
  account.close();
  await git.stop();
  github.server.close();
  await rm(home, { recursive: true, force: true });
});

beforeEach(() => {
  vi.stubEnv('POWERTOOLS_DEV', 'false');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  captured = [];
  const keep = (chunk: unknown): boolean => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(keep);
  vi.spyOn(process.stderr, 'write').mockImplementation(keep);
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      captured.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 8 }))).join(' '));
    });
  }
  events = new MemorySink();
  powertools = new PowertoolsSink();
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** Everything there is to read about an error: message, stack, hint, fields, and its causes. */
function describeError(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 8 })];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    parts.push(e.name, e.message, e.stack ?? '', JSON.stringify(e), String((e as { hint?: unknown }).hint ?? ''));
  }
  return parts.join('\n');
}

/** A reconciler wired as functions/reconcile.ts wires it, through the batch and into both sinks. */
function reconcilerFor(sink: EventSink): Reconciler {
  return createReconciler({
    sources: [{ name: 'platform' }],
    repos: new Map([['platform', new GitSource({ url: repo.url!, branch: repo.branch, provider: 'github', tokenSecret: 'GIT_TOKEN', secrets, cacheDir: join(home, 'git-cache') })]]),
    gateways: () => (region) => account.gateway(region),
    sink,
    stalls,
    commitStatus: () =>
      createCommitStatusReporter({
        provider: 'github',
        repoUrl: 'https://github.com/acme/platform.git',
        tokenSecret: 'STATUS_TOKEN',
        secrets,
        apiBaseUrl: github.url,
        memory: statusMemory,
        onError: (e) => {
          sink.emit({ source: 'platform', commit: e.status.commit, type: 'log', level: 'warn', message: e.message });
          console.warn(e);
        },
      }),
    step: () => ({
      pollMs: 500,
      changeSetWaitMs: 5_000,
      sleep: async (ms) => {
        now += ms;
        account.advance(0);
      },
    }),
  });
}

const inProgress = (o: StepOutcome | undefined): boolean => o?.outcome === 'progressing' || o?.outcome === 'waiting';

/** Reconcile through processBatch until the outcome is not in progress; returns the last outcome and what was thrown. */
async function reconcile(): Promise<{ outcome: StepOutcome | undefined; thrown: unknown[] }> {
  const sink: EventSink = { emit: (event: CairnEvent) => (events.emit(event), powertools.emit(event)) };
  const reconciler = reconcilerFor(sink);
  const thrown: unknown[] = [];
  const last: { outcome?: StepOutcome } = {};
  for (let step = 0; step < 30; step++) {
    delete last.outcome;
    const body = JSON.stringify({ source: 'platform', kind: 'push', dedupId: `d${step}`, receivedAt: new Date(now).toISOString() });
    await processBatch([{ messageId: `m${step}`, body, receiveCount: 1 }], {
      sink,
      reconciler: {
        knownSource: reconciler.knownSource,
        reconcile: async (...args) => {
          const settled = await reconciler.reconcile(...args);
          if (settled.outcome.outcome === 'failed') thrown.push(settled.outcome.error);
          else last.outcome = settled.outcome;
          return settled;
        },
      },
      retryLater: async () => undefined,
      retryFailedLater: async () => undefined,
    });
    powertools.flush();
    if (!inProgress(last.outcome)) break;
    now += 5_000;
    account.advance(0);
  }
  const { outcome } = last;
  captured.push(JSON.stringify(events.events), JSON.stringify(outcome), inspect(outcome, { depth: 8 }), ...thrown.map(describeError));
  if (outcome?.outcome === 'stalled') captured.push(describeError(outcome.error));
  return { outcome, thrown };
}

function expectNoSecrets(): void {
  const text = captured.join('\n');
  expect(text.length).toBeGreaterThan(0);
  for (const leak of LEAKS) expect(text.includes(leak), `captured output contains ${JSON.stringify(leak)}`).toBe(false);
  expect(text).not.toMatch(/\b(?:Basic|Bearer|token) [A-Za-z0-9+/=_-]{8,}/);
}

describe('Secrets in logs', () => {
  it('creates the stacks, with both tokens used and neither in any log line, event or status', async () => {
    const { outcome, thrown } = await reconcile();
    expect(thrown).toEqual([]);
    expect(outcome).toMatchObject({ outcome: 'succeeded' });
    expect((await account.gateway().describeStack('app'))?.status).toBe('CREATE_COMPLETE');
    // The tokens really were sent, so their absence below means something.
    expect(git.requests.some((r) => r.username === 'x-access-token' && r.status === 200)).toBe(true);
    expect(github.received.some((r) => r.authorization === `Bearer ${STATUS_TOKEN}` && r.state === 'success')).toBe(true);
    expect(captured.join('\n')).toMatch(/"event":"reconcile.finished"/);
    expectNoSecrets();
  });

  it('stalls on an invalid cairn.yaml and reports it without a token', async () => {
    await commit(repo, { 'cairn.yaml': `${MANIFEST}\n  broken: {templte: stacks/app.yaml}\n` });
    const { outcome } = await reconcile();
    expect(outcome).toMatchObject({ outcome: 'stalled', error: { name: 'ValidationError', reason: 'ManifestInvalid' } });
    expect(github.received.at(-1)).toMatchObject({ state: 'failure', authorization: `Bearer ${STATUS_TOKEN}` });
    expectNoSecrets();
  });

  it('logs a commit status API that answers 401 echoing the Authorization header without the token', async () => {
    await commit(repo, { 'cairn.yaml': MANIFEST });
    github.refuse = true;
    try {
      const { outcome } = await reconcile();
      expect(outcome).toMatchObject({ outcome: 'succeeded' });
    } finally {
      github.refuse = false;
    }
    // The fake did echo the token; Cairn logged the refusal, scrubbed.
    expect(github.received.at(-1)?.authorization).toBe(`Bearer ${STATUS_TOKEN}`);
    expect(captured.join('\n')).toMatch(/HTTP 401 from .*Bad credentials/);
    expectNoSecrets();
  });

  it('stalls with AccessDenied on a wrong Git token, naming the secret but not the token', async () => {
    env['GIT_TOKEN'] = WRONG_TOKEN;
    try {
      const { outcome, thrown } = await reconcile();
      expect(thrown).toEqual([]);
      expect(outcome).toMatchObject({ outcome: 'stalled', error: { name: 'SourceAccessDeniedError', reason: 'AccessDenied' } });
      expect(outcome?.summary).toContain('the token from secret "GIT_TOKEN" was refused');
    } finally {
      env['GIT_TOKEN'] = GIT_TOKEN;
    }
    expect(git.requests.at(-1)).toMatchObject({ status: 401, username: 'x-access-token' });
    expect(captured.join('\n')).toMatch(/"outcome":"stalled"/);
    expectNoSecrets();
  });
});
