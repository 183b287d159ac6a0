/**
 * The embedded runtime: one process hosting the webhook endpoint, the in-process FIFO queue, the
 * reconciler, the sweep on its schedule and the routing of stack status events, around the same
 * use cases the Lambda functions run, pull-request previews included. Local repositories are also
 * watched for new commits.
 */
import type { ApprovalNotices, ApprovalStore } from '../ports/approvals.js';
import type { Server } from 'node:http';
import { InProcessQueue } from '../adapters/in-process-queue.js';
import type { EmbeddedAccount } from '../adapters/embedded-account/index.js';
import { noCommitStatus } from '../adapters/commit-status/index.js';
import { noPullRequestComments } from '../adapters/pr-comments/index.js';
import type { Provider } from '../core/source-config.js';
import { parseDeploymentConfig } from '../core/source-config.js';
import type { CommitStatusReporter } from '../ports/commit-status.js';
import type { PullRequestComments } from '../ports/pr-comments.js';
import type { CairnEvent, EventSink } from '../ports/events.js';
import type { SourceRepo } from '../ports/source-repo.js';
import type { GatewayFactory } from '../ports/stack-gateway.js';
import type { WorkMessage } from '../ports/work-queue.js';
import { processBatch } from '../reconcile/process-batch.js';
import type { ReconcileContext, StepOptions } from '../reconcile/reconcile-source.js';
import { createReconciler, type Reconciler } from '../reconcile/reconciler.js';
import type { Settled } from '../reconcile/settle.js';
import { routeStackEvent } from '../reconcile/route-stack-event.js';
import { StallMemory } from '../reconcile/stall-memory.js';
import { sweep, type SweepReport } from '../reconcile/sweep.js';
import { handleWebhook, type IntakeLogEntry } from '../webhooks/intake.js';
import type { CommentCommandsFor } from '../webhooks/comment-commands.js';
import { startHttpFront } from './http-front.js';

export const WEBHOOK_SECRET_NAME = 'CAIRN_WEBHOOK_SECRET';

export interface LocalSource {
  name: string;
  repo: SourceRepo;
  /** What the webhook endpoint expects (signature scheme); github by default. */
  provider: Provider;
  branch: string;
  /** Shown in messages and /status. */
  location: string;
  /** The source's directory inside the repository, when it is not the root. */
  path?: string;
  /** Poll the repository for new commits (local repositories need no webhook). */
  watch: boolean;
  commitStatus?: CommitStatusReporter;
  /** Where pull-request previews are posted; without it, pull request events are previewed nowhere. */
  pullRequestComments?: PullRequestComments;
  /** Where a stack's wait for approval is announced (a comment on the commit); nowhere without it. */
  approvalNotices?: ApprovalNotices;
  /** Preview pull requests from forks too (see `previews.forks` in cairn.deploy.json). */
  previewForks?: boolean;
  /** The roles and regions this source may deploy with, and its default role; absent: any. */
  destinations?: NonNullable<ReconcileContext['destinations']> & { defaultRoleArn?: string };
}

export interface RuntimeOptions {
  sources: LocalSource[];
  webhookSecret: string;
  gateways: GatewayFactory;
  /** The embedded account, whose stack events wake the reconciler; absent for AWS. */
  account?: EmbeddedAccount;
  sink: EventSink;
  host?: string;
  port?: number;
  /** 0 turns the scheduled sweep off. */
  sweepEveryMs?: number;
  watchEveryMs?: number;
  /** Without stack events (AWS), check again this long after a step started work. */
  followUpMs?: number;
  step?: StepOptions;
  /** Upper bound on "come back later" delays, so a local runtime stays responsive. */
  maxRetryDelayMs?: number;
  /** Where people's approvals are kept (`cairn approve` writes them); stacks with an approval policy wait for one. */
  approvals?: ApprovalStore;
  /** What `/cairn approve` comments need per source; without it, such comments are acknowledged only. */
  commentCommands?: CommentCommandsFor;
  /**
   * Intake log entries (push received, ignored, failed), for the readable output. Rejected
   * deliveries are not passed one by one: they are counted in /status and summarised in one log
   * line per `rejectionSummaryMs`, so a flood of bad requests cannot flood the output.
   */
  onIntake?: (entry: IntakeLogEntry) => void;
  /** How often a line summarises the rejected requests since the last one (default 60 s). */
  rejectionSummaryMs?: number;
  /** Reconcile every source once at start (default true). */
  reconcileOnStart?: boolean;
}

export interface SourceState {
  name: string;
  location: string;
  branch: string;
  lastCommit: string | undefined;
  lastOutcome: Settled['outcome'] | undefined;
  lastSummary: string | undefined;
  lastFinishedAt: string | undefined;
  stalled: { commit: string; reason: string; message: string } | undefined;
}

export class LocalRuntime {
  readonly queue: InProcessQueue;
  readonly stalls = new StallMemory();
  private readonly states = new Map<string, SourceState>();
  private readonly sink: EventSink;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly abort = new AbortController();
  private readonly listeners = new Set<(e: CairnEvent) => void>();
  private readonly seen = new Map<string, string>();
  /**
   * Per source, the follow-up that wakes it should no stack event do so first (embedded account):
   * one at a time, and dropped once the source settles, so a commit applied by its stack events is
   * not reconciled once more, for nothing, when the follow-up comes due.
   */
  private readonly followUps = new Map<string, NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;
  private server: Server | undefined;
  private consumer: Promise<void> | undefined;
  private sweeping: Promise<SweepReport> | undefined;
  private stopping = false;
  /** Requests refused (by the HTTP front or the intake), by status code: since start, and since the last summary. */
  private readonly rejections = { total: new Map<number, number>(), recent: new Map<number, number>() };
  url = '';

  constructor(private readonly options: RuntimeOptions) {
    this.queue = new InProcessQueue({ visibilityTimeoutMs: 10_000, maxReceives: 10 });
    for (const s of options.sources) {
      this.states.set(s.name, { name: s.name, location: s.location, branch: s.branch, lastCommit: undefined, lastOutcome: undefined, lastSummary: undefined, lastFinishedAt: undefined, stalled: undefined });
    }
    this.sink = {
      emit: (event) => {
        if (event.type === 'reconcile.finished') {
          const state = this.states.get(event.source);
          if (state) {
            state.lastCommit = event.commit ?? state.lastCommit;
            state.lastOutcome = event.outcome;
            state.lastSummary = event.summary;
            state.lastFinishedAt = new Date().toISOString();
          }
          if (event.outcome === 'succeeded' || event.outcome === 'stalled') this.cancelFollowUp(event.source);
        }
        options.sink.emit(event);
        for (const l of this.listeners) l(event);
      },
    };
  }

  /** Listen to every event (tests and the demo wait on them). */
  onEvent(listener: (e: CairnEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<{ url: string }> {
    const { options } = this;
    const config = parseDeploymentConfig(
      {
        sources: options.sources.map((s) => ({
          name: s.name,
          repoUrl: s.location.replace(/\s/g, '%20'),
          branch: s.branch,
          ...(s.path ? { path: s.path } : {}),
          provider: s.provider,
          webhookSecretName: WEBHOOK_SECRET_NAME,
          ...(s.previewForks ? { previews: { forks: true } } : {}),
        })),
      },
      'the serve options',
    );
    const secret = options.webhookSecret;
    const front = await startHttpFront({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8080,
      webhook: (request) =>
        handleWebhook(request, {
          config,
          secrets: { get: async (name) => (name === WEBHOOK_SECRET_NAME ? secret : Promise.reject(new Error(`no secret named ${name}`))) },
          queue: this.queue,
          now: () => new Date(),
          log: (entry) => (entry.outcome === 'rejected' ? this.countRejection(entry.statusCode) : options.onIntake?.(entry)),
          ...(options.commentCommands ? { commentCommands: options.commentCommands } : {}),
        }),
      status: () => this.status(),
      onRejected: (statusCode) => this.countRejection(statusCode),
      onError: (error) => this.sink.emit({ source: 'runtime', type: 'log', level: 'error', message: `the HTTP endpoint failed answering a request: ${error instanceof Error ? error.message : String(error)}` }),
    });
    this.server = front.server;
    this.url = front.url;

    if (options.account) {
      const gateway = options.gateways(undefined);
      this.unsubscribe = options.account.onStackEvent((e) => {
        const source = e.tags['cairn:source'];
        if (source && this.states.has(source)) {
          this.sink.emit({ source, type: 'stack.progress', stack: e.tags['cairn:stack'] ?? e.stackName, stackName: e.stackName, status: e.status, ...(e.statusReason ? { reason: e.statusReason } : {}) });
        }
        routeStackEvent(
          { id: `${e.stackId}:${e.status}:${e.timestamp}`, stackId: e.stackId, stackName: e.stackName, status: e.status, time: e.timestamp, clientRequestToken: e.clientRequestToken },
          { queue: this.queue, gateway, knownSource: (n) => this.states.has(n) },
        ).catch((error: unknown) =>
          // The sweep (or the follow-up of the step that started the operation) wakes the source instead.
          this.sink.emit({ source: source ?? 'unknown', type: 'log', level: 'warn', message: `stack event ${e.stackName} ${e.status} not routed: ${(error as Error).message}` }),
        );
      });
    }
    if (options.reconcileOnStart !== false) for (const s of options.sources) await this.enqueue(s.name, 'push', `start-${Date.now()}`);
    if (options.sources.some((s) => s.watch)) {
      this.every(options.watchEveryMs ?? 2_000, () => this.watch());
    }
    if (options.sweepEveryMs) this.every(options.sweepEveryMs, () => this.sweepNow().then(() => undefined));
    const summaryMs = options.rejectionSummaryMs ?? 60_000;
    this.every(summaryMs, async () => this.summariseRejections(summaryMs));
    this.consumer = this.consume();
    return { url: this.url };
  }

  /** Stop taking new work, let the step in progress finish (or give up on it safely), and close. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    for (const source of [...this.followUps.keys()]) this.cancelFollowUp(source);
    this.unsubscribe?.();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.consumer;
    await this.sweeping?.catch(() => undefined);
  }

  /** Sweep now: this run's paced share of drift checks, or every owned stack with `all`. */
  async sweepNow(options: { all?: boolean } = {}): Promise<SweepReport> {
    if (this.sweeping) return this.sweeping;
    const intervalMs = this.options.sweepEveryMs || 15 * 60_000;
    this.sweeping = sweep({
      sources: [...this.states.keys()],
      queue: this.queue,
      gateways: this.options.gateways,
      sink: this.sink,
      intervalMs,
      ...(options.all ? { coverMs: intervalMs } : {}),
      pollMs: this.options.account ? 50 : 2_000,
      remainingMs: () => (this.stopping ? 0 : Number.POSITIVE_INFINITY),
    }).finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  async status(): Promise<unknown> {
    const stacks = await this.options.gateways(undefined).listStacks().catch(() => []);
    return {
      url: this.url,
      sources: [...this.states.values()].map((s) => ({ ...s, stalled: this.stalls.get(s.name) ?? null })),
      queue: this.queue.depth(),
      rejected: { total: sum(this.rejections.total), byStatus: Object.fromEntries(this.rejections.total) },
      stacks: stacks
        .filter((s) => this.states.has(s.tags['cairn:source'] ?? ''))
        .map((s) => ({ source: s.tags['cairn:source'], id: s.tags['cairn:stack'], stackName: s.stackName, status: s.status, commit: s.tags['cairn:commit'], drift: s.driftStatus ?? null })),
    };
  }

  private countRejection(statusCode: number): void {
    for (const counts of [this.rejections.total, this.rejections.recent]) counts.set(statusCode, (counts.get(statusCode) ?? 0) + 1);
  }

  /** One line for every request refused since the last one, if any. */
  private summariseRejections(periodMs: number): void {
    const recent = this.rejections.recent;
    if (recent.size === 0) return;
    const byStatus = [...recent].sort(([a], [b]) => a - b).map(([status, n]) => `${n} × ${status}`).join(', ');
    const n = sum(recent);
    recent.clear();
    this.sink.emit({ source: 'runtime', type: 'log', level: 'warn', message: `refused ${n} request${n === 1 ? '' : 's'} in the last ${periodMs < 1000 ? `${periodMs} ms` : `${Math.round(periodMs / 1000)} s`} (${byStatus}); totals in GET /status` });
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.stopping) return;
      running = true;
      fn()
        .catch((error: unknown) => this.sink.emit({ source: 'runtime', type: 'log', level: 'warn', message: error instanceof Error ? error.message : String(error) }))
        .finally(() => (running = false));
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Wake `source` in `seconds` unless it settles first; replaces the follow-up it had. */
  private followUp(source: string, seconds: number): void {
    this.cancelFollowUp(source);
    const t = setTimeout(() => {
      this.followUps.delete(source);
      void this.enqueue(source, 'stack-event', `later-${Date.now()}`);
    }, seconds * 1000);
    t.unref();
    this.followUps.set(source, t);
  }

  private cancelFollowUp(source: string): void {
    clearTimeout(this.followUps.get(source));
    this.followUps.delete(source);
  }

  private async enqueue(source: string, kind: 'push' | 'stack-event', dedupId: string, commit?: string): Promise<void> {
    await this.queue.send({ source, kind, dedupId, receivedAt: new Date().toISOString(), ...(commit ? { commit } : {}) });
  }

  private async watch(): Promise<void> {
    for (const s of this.options.sources.filter((x) => x.watch)) {
      const snapshot = await s.repo.snapshot();
      const previous = this.seen.get(s.name);
      this.seen.set(s.name, snapshot.commit);
      if (previous !== undefined && previous !== snapshot.commit) {
        this.sink.emit({ source: s.name, commit: snapshot.commit, type: 'log', level: 'info', message: `new commit noticed in ${s.location}` });
        await this.enqueue(s.name, 'push', `watch-${snapshot.commit}`, snapshot.commit);
      }
    }
  }

  /** The same reconciler the Lambda builds, over this runtime's sources, account and queue. */
  private reconciler(): Reconciler {
    const { options } = this;
    return createReconciler({
      sources: options.sources.map((s) => ({
        name: s.name,
        ...(s.destinations ? { destinations: s.destinations } : {}),
        ...(s.destinations?.defaultRoleArn ? { defaultRoleArn: s.destinations.defaultRoleArn } : {}),
      })),
      repos: new Map(options.sources.map((s) => [s.name, s.repo])),
      gateways: () => options.gateways,
      sink: this.sink,
      commitStatus: (name) => options.sources.find((s) => s.name === name)?.commitStatus ?? noCommitStatus,
      pullRequestComments: (name) => options.sources.find((s) => s.name === name)?.pullRequestComments ?? noPullRequestComments,
      approvalNotices: (name) => options.sources.find((s) => s.name === name)?.approvalNotices,
      stalls: this.stalls,
      step: () => ({
        pollMs: options.account ? 20 : 2_000,
        changeSetWaitMs: options.account ? 10_000 : 60_000,
        ...options.step,
        remainingMs: () => (this.stopping ? 0 : Number.POSITIVE_INFINITY),
      }),
      // Without stack events (AWS), nothing but a follow-up wakes a progressing source.
      ...(options.account ? {} : { followUpSeconds: (options.followUpMs ?? 10_000) / 1000 }),
      maxDelaySeconds: (options.maxRetryDelayMs ?? 10_000) / 1000,
      ...(options.approvals ? { approvals: options.approvals } : {}),
    });
  }

  private async consume(): Promise<void> {
    const { options } = this;
    const reconciler = this.reconciler();
    while (!this.stopping) {
      const batch = this.queue.receive({ max: 10, visibilityTimeoutMs: 30_000 });
      if (batch.length === 0) {
        await this.queue.waitForMessage(1_000, this.abort.signal).catch(() => false);
        continue;
      }
      const receipts = new Map(batch.map((m) => [m.messageId, m.receipt]));
      const showAgainAfter = (records: { messageId: string }[], seconds: number): void => {
        for (const r of records) this.queue.changeVisibility(receipts.get(r.messageId)!, seconds * 1000);
      };
      const result = await processBatch(
        batch.map((m) => ({ messageId: m.messageId, body: JSON.stringify(m.message), receiveCount: m.receiveCount })),
        {
          sink: this.sink,
          reconciler,
          retryLater: async (records, seconds) => {
            if (!options.account) return showAgainAfter(records, seconds);
            // Every stack event of the embedded account is routed here, so the settling stack wakes the
            // source by itself; a message held back would only block its FIFO group. Acknowledge it and
            // keep a follow-up as a safety net.
            for (const r of records) this.queue.delete(receipts.get(r.messageId)!);
            this.followUp(JSON.parse(records[0]!.body).source as string, seconds);
          },
          retryFailedLater: async (records, seconds) => showAgainAfter(records, seconds),
          // Held-back messages (AWS target) hand their work to a fresh one rather than wait twice and
          // drift toward the dead letters; the embedded account's path above acknowledges them instead.
          ...(options.account ? {} : { requeue: async (message: WorkMessage) => void (await this.queue.send(message)) }),
        },
      );
      const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
      for (const m of batch) if (!failed.has(m.messageId)) this.queue.delete(m.receipt);
    }
  }
}

function sum(counts: Map<number, number>): number {
  let n = 0;
  for (const v of counts.values()) n += v;
  return n;
}
