/**
 * What a process remembers between steps of a source: which commit is stalled, and why (a stalled
 * commit is not retried, since the same input fails the same way, but a new commit or an explicit
 * retry resumes at once), and which stacks the current commit deleted (they are gone by the time
 * the commit's summary is written). Kept in memory; after a cold start a stalled commit is tried
 * once more and stalls again at no cost beyond one validation or one refused change set.
 */

export interface Stall {
  commit: string;
  reason: string;
  message: string;
  at: string;
}

export class StallMemory {
  private readonly stalls = new Map<string, Stall>();
  private readonly deleted = new Map<string, { commit: string; stacks: Set<string> }>();

  noteDeleted(source: string, commit: string, stacks: string[]): void {
    const current = this.deleted.get(source);
    const entry = current?.commit === commit ? current : { commit, stacks: new Set<string>() };
    for (const s of stacks) entry.stacks.add(s);
    this.deleted.set(source, entry);
  }

  deletedBy(source: string, commit: string): number {
    const entry = this.deleted.get(source);
    return entry?.commit === commit ? entry.stacks.size : 0;
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
