/**
 * Which commit of a source is stalled, and why: a stalled commit is not retried (the same input
 * fails the same way), but a new commit, or an explicit retry, resumes at once. Kept in memory per
 * process; after a cold start a stalled commit is tried once more and stalls again at no cost
 * beyond one validation or one refused change set.
 */

export interface Stall {
  commit: string;
  reason: string;
  message: string;
  at: string;
}

export class StallMemory {
  private readonly stalls = new Map<string, Stall>();

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
