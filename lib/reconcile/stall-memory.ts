/**
 * What a process remembers between steps of a source: which commit is stalled, and why (a stalled
 * commit is not retried, since the same input fails the same way, but a new commit or an explicit
 * retry resumes at once), and what the steps of the current commit started (stacks created,
 * updated, deleted ...), so that the step which finds the commit applied can say what applying it
 * did: a deleted stack is gone, and an updated one looks like any other, by the time it is written.
 * Kept in memory; after a cold start a stalled commit is tried once more and stalls again at no
 * cost beyond one validation or one refused change set, and the summary counts only what this
 * process saw.
 */
import type { StallReason } from '../core/errors.js';
import type { CairnEvent } from '../ports/events.js';

export interface Stall {
  commit: string;
  reason: StallReason;
  message: string;
  at: string;
}

/** The events run-tally counts: what a step started or refused. */
export type RunEvent = Extract<CairnEvent, { type: 'stack.action' | 'changeset.created' | 'stack.blocked' }>;

export function isRunEvent(e: CairnEvent): e is RunEvent {
  return e.type === 'stack.action' || e.type === 'changeset.created' || e.type === 'stack.blocked';
}

export class StallMemory {
  private readonly stalls = new Map<string, Stall>();
  private readonly runs = new Map<string, { commit: string; events: RunEvent[] }>();

  /** Remember what a step of `commit` started; a step of another commit starts the memory over. */
  noteRun(source: string, commit: string, events: readonly RunEvent[]): void {
    const current = this.runs.get(source);
    const entry = current?.commit === commit ? current : { commit, events: [] };
    // Only what the tally reads is kept: a change set's replaced resources, not its whole description.
    for (const e of events) {
      entry.events.push(e.type === 'changeset.created' ? { ...e, changes: e.changes.filter((c) => c.action === 'Modify' && c.replacement === 'True') } : e);
    }
    this.runs.set(source, entry);
  }

  /** What the steps of `commit` started so far, oldest first; empty for any other commit. */
  runOf(source: string, commit: string): readonly RunEvent[] {
    const entry = this.runs.get(source);
    return entry?.commit === commit ? entry.events : [];
  }

  /** The commit's outcome was reported: later steps of it start from nothing. */
  forgetRun(source: string): void {
    this.runs.delete(source);
  }

  get(source: string): Stall | undefined {
    return this.stalls.get(source);
  }

  isStalled(source: string, commit: string): boolean {
    return this.stalls.get(source)?.commit === commit;
  }

  set(source: string, stall: Stall): void {
    this.stalls.set(source, stall);
  }

  clear(source: string): void {
    this.stalls.delete(source);
  }

  all(): Record<string, Stall> {
    return Object.fromEntries(this.stalls);
  }
}
