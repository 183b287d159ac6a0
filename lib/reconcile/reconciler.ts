/**
 * The reconciler: one factory that wires the sources, their repositories, a gateway factory per
 * source, the event sink, commit statuses and the stall memory into "take one step of source S and
 * settle it". The reconcile Lambda and `cairn serve` both build theirs here, so a step runs and
 * settles the same way wherever it runs; only the queue underneath differs.
 */
import type { ApprovalStore } from '../ports/approvals.js';
import type { CommitStatusReporter } from '../ports/commit-status.js';
import type { EventSink } from '../ports/events.js';
import type { SourceRepo } from '../ports/source-repo.js';
import type { GatewayFactory } from '../ports/stack-gateway.js';
import { reconcileSource, type ReconcileContext, type StepOptions, type Trigger } from './reconcile-source.js';
import { settle, type Attempt, type QueueAction, type Settled } from './settle.js';
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
}

export interface Reconciler {
  knownSource(name: string): boolean;
  /** Take one step of `source` and settle it; never throws for the step's own failures (they settle as `failed`). */
  reconcile(source: string, trigger: Trigger, attempt?: Attempt): Promise<{ outcome: Settled; action: QueueAction }>;
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
  };
}
