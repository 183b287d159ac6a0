/**
 * The reconciler: one factory that wires the sources, their repositories, a gateway factory per
 * source, the event sink, commit statuses and the stall memory into "take one step of source S and
 * settle it". The reconcile Lambda and `cairn serve` both build theirs here, so a step runs and
 * settles the same way wherever it runs; only the queue underneath differs.
 */
import type { ApprovalNotices, ApprovalStore } from '../ports/approvals.js';
import type { CommitStatusReporter } from '../ports/commit-status.js';
import type { EventSink } from '../ports/events.js';
import type { SourceRepo } from '../ports/source-repo.js';
import type { GatewayFactory } from '../ports/stack-gateway.js';
import type { PullRequestComments } from '../ports/pr-comments.js';
import type { PullRequestWork } from '../ports/work-queue.js';
import { messageOf } from '../core/errors.js';
import { previewPullRequest, type PreviewOutcome } from './preview-pr.js';
import { reconcileSource, type ReconcileContext, type StepOptions, type Trigger } from './reconcile-source.js';
import { failureDelaySeconds, MAX_DELAY_SECONDS, settle, type Attempt, type QueueAction, type Settled, type StepFailure } from './settle.js';
import type { StallMemory } from './stall-memory.js';

export interface ReconcilerSource {
  name: string;
  /** Commit status context; `cairn/<name>` by default. */
  statusContext?: string;
  /** The roles and regions the source may use. */
  destinations?: ReconcileContext['destinations'];
  /** The CloudFormation service role for stacks whose cairn.yaml entry names none. */
  defaultRoleArn?: string;
}

export interface ReconcilerOptions {
  sources: readonly ReconcilerSource[];
  repos: ReadonlyMap<string, SourceRepo>;
  /** The stack gateways a source's work goes through: the seam for credentials of its own. */
  gateways: (source: string) => GatewayFactory;
  sink: EventSink;
  commitStatus: (source: string) => CommitStatusReporter;
  stalls: StallMemory;
  /** Step tuning for this trigger (time budget, waits); the source's default role is added. */
  step?: (trigger: Trigger) => StepOptions;
  /** With no stack events to wake the next step, check a progressing source again after this long. */
  followUpSeconds?: number;
  /** Upper bound on every delay (5 minutes by default). */
  maxDelaySeconds?: number;
  /** Where people's approvals are kept; stacks with an `approval` policy wait for one there. */
  approvals?: ApprovalStore;
  /** Where a source's pull-request previews are posted; without it, preview messages are dropped with a warning. */
  pullRequestComments?: (source: string) => PullRequestComments;
  /** Where a source's stacks announce that they await approval (a comment on the commit); none when absent. */
  approvalNotices?: (source: string) => ApprovalNotices | undefined;
}

export interface Reconciler {
  knownSource(name: string): boolean;
  /** Take one step of `source` and settle it; never throws for the step's own failures (they settle as `failed`). */
  reconcile(source: string, trigger: Trigger, attempt?: Attempt): Promise<{ outcome: Settled; action: QueueAction }>;
  /**
   * Take the preview step of one of `source`'s pull requests (never its apply step): done, or
   * retried after a failure like a reconcile step; never throws for the step's own failures.
   */
  preview?(source: string, pullRequest: PullRequestWork, attempt?: Attempt): Promise<{ outcome: PreviewOutcome | StepFailure | { outcome: 'skipped' }; action: QueueAction }>;
}

/** How many in-sync stacks a sweep compares with their live templates. */
const SWEEP_VERIFY_TEMPLATES = 25;

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const sources = new Map(options.sources.map((s) => [s.name, s]));
  return {
    knownSource: (name) => sources.has(name) && options.repos.has(name),
    async reconcile(name, trigger, attempt = { waits: 0, receiveCount: 1 }) {
      const source = sources.get(name);
      const repo = options.repos.get(name);
      if (!source || !repo) throw new Error(`no source named ${name} is configured`);
      const startedAt = Date.now();
      const notices = options.approvalNotices?.(name);
      let outcome: Settled;
      try {
        outcome = await reconcileSource(
          {
            source: name,
            repo,
            gateways: options.gateways(name),
            sink: options.sink,
            stalls: options.stalls,
            ...(source.destinations ? { destinations: source.destinations } : {}),
            step: {
              verifyTemplates: trigger.kind === 'sweep' ? SWEEP_VERIFY_TEMPLATES : 0,
              ...options.step?.(trigger),
              ...(source.defaultRoleArn ? { defaultRoleArn: source.defaultRoleArn } : {}),
              ...(options.approvals ? { approvals: options.approvals } : {}),
              ...(notices ? { approvalNotices: notices } : {}),
            },
          },
          trigger,
        );
      } catch (error) {
        outcome = { outcome: 'failed', error };
      }
      const action = await settle(outcome, {
        source: name,
        statusContext: source.statusContext ?? `cairn/${name}`,
        commitStatus: options.commitStatus(name),
        sink: options.sink,
        stalls: options.stalls,
        startedAt,
        attempt,
        ...(options.followUpSeconds !== undefined ? { followUpSeconds: options.followUpSeconds } : {}),
        ...(options.maxDelaySeconds !== undefined ? { maxDelaySeconds: options.maxDelaySeconds } : {}),
      });
      return { outcome, action };
    },
    async preview(name, pullRequest, attempt = { waits: 0, receiveCount: 1 }) {
      const source = sources.get(name);
      const repo = options.repos.get(name);
      if (!source || !repo) throw new Error(`no source named ${name} is configured`);
      if (!options.pullRequestComments) {
        options.sink.emit({ source: name, type: 'log', level: 'warn', message: `pull request #${pullRequest.number} not previewed: this runtime posts no pull request comments` });
        return { outcome: { outcome: 'skipped' }, action: { kind: 'delete' } };
      }
      const step = options.step?.({ kind: 'preview' }) ?? {};
      try {
        const outcome = await previewPullRequest(
          {
            source: name,
            repo,
            gateways: options.gateways(name),
            sink: options.sink,
            comments: options.pullRequestComments(name),
            commitStatus: options.commitStatus(name),
            statusContext: `${source.statusContext ?? `cairn/${name}`}/preview`,
            ...(source.destinations ? { destinations: source.destinations } : {}),
            ...(source.defaultRoleArn ? { defaultRoleArn: source.defaultRoleArn } : {}),
            changeSetWaitMs: step.changeSetWaitMs ?? 30_000,
            pollMs: step.pollMs ?? 1_000,
            ...(step.sleep ? { sleep: step.sleep } : {}),
          },
          pullRequest,
        );
        return { outcome, action: { kind: 'delete' } };
      } catch (error) {
        const seconds = failureDelaySeconds(attempt.receiveCount, options.maxDelaySeconds ?? MAX_DELAY_SECONDS);
        options.sink.emit({ source: name, type: 'log', level: 'error', message: `preview of pull request #${pullRequest.number} failed; will retry in ${seconds} s: ${messageOf(error)}` });
        return { outcome: { outcome: 'failed', error }, action: { kind: 'retry', seconds } };
      }
    },
  };
}
