/**
 * EventSink: what Cairn did, as typed events. Lambda renders them as Powertools JSON logs and EMF
 * metrics; the CLI and `cairn serve` render one readable line each. Use cases emit, never print.
 */
import type { PlanAction } from '../core/model.js';
import type { ChangeSetChange, PropertyDifference } from './stack-gateway.js';

interface Base {
  source: string;
  /** Commit SHA the work is for, when known. */
  commit?: string;
}

export type CairnEvent =
  | (Base & { type: 'reconcile.started'; trigger: string; receivedAt?: string })
  | (Base & { type: 'plan.computed'; counts: Record<PlanAction, number> })
  | (Base & { type: 'changeset.created'; stack: string; stackName: string; changeSetName: string; changes: ChangeSetChange[] })
  | (Base & { type: 'changeset.empty'; stack: string; stackName: string })
  | (Base & {
      type: 'stack.action';
      stack: string;
      stackName: string;
      action: 'create' | 'update' | 'delete' | 'recreate' | 'revert-drift' | 'adopt';
      summary: string;
      /** Milliseconds from webhook receipt to this execution, for push-triggered work. */
      pushToApplyMs?: number;
    })
  | (Base & { type: 'stack.progress'; stack: string; stackName: string; status: string; reason?: string })
  | (Base & { type: 'stack.settled'; stack: string; stackName: string; status: string; healthy: boolean; reason?: string })
  | (Base & { type: 'stack.blocked'; stack: string; stackName: string; reason: string; message: string })
  | (Base & { type: 'stack.waiting'; stack: string; stackName: string; status: string })
  | (Base & {
      type: 'drift.detected';
      stack: string;
      stackName: string;
      policy: string;
      resources: { logicalId: string; resourceType: string; status: string; differences: PropertyDifference[] }[];
    })
  | (Base & { type: 'drift.in-sync'; stack: string; stackName: string })
  | (Base & {
      type: 'reconcile.finished';
      outcome: 'succeeded' | 'progressing' | 'waiting' | 'stalled' | 'failed';
      summary: string;
      durationMs: number;
      /** What the commit's steps did (run-tally.ts), on the outcome that reports the commit applied or stalled. */
      counts?: Partial<Record<'created' | 'updated' | 'replaced' | 'deleted' | 'reverted' | 'blocked' | 'unchanged', number>>;
      reason?: string;
    })
  | (Base & { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; stack?: string });

export type CairnEventType = CairnEvent['type'];

export interface EventSink {
  emit(event: CairnEvent): void;
}

/** A sink that keeps events in memory: for tests and for the embedded runtime's /status. */
export class MemorySink implements EventSink {
  readonly events: CairnEvent[] = [];
  emit(event: CairnEvent): void {
    this.events.push(event);
  }
  ofType<T extends CairnEventType>(type: T): Extract<CairnEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<CairnEvent, { type: T }> => e.type === type);
  }
}

export const nullSink: EventSink = { emit: () => undefined };
