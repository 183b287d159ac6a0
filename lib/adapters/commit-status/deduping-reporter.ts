/**
 * DedupingReporter: skip a commit status identical (commit, context, state, description) to the
 * last one sent for that commit and context. Every reconcile step of a long apply reports the
 * same "pending", and each would otherwise be a provider API call, a rate-limit unit and (on
 * GitLab) a refused transition. The memory is bounded and can be shared for the whole process.
 */
import type { CommitStatus, CommitStatusReporter } from '../../ports/commit-status.js';

export const DEFAULT_STATUS_MEMORY_SIZE = 1_000;

/** The last status sent per commit and context; the oldest entries go first once it is full. */
export class SentStatuses {
  private readonly entries = new Map<string, string>();

  constructor(private readonly maxEntries: number = DEFAULT_STATUS_MEMORY_SIZE) {}

  get(key: string): string | undefined {
    return this.entries.get(key);
  }

  set(key: string, fingerprint: string): void {
    // Re-inserting moves the key to the end, so eviction removes the least recently reported.
    this.entries.delete(key);
    this.entries.set(key, fingerprint);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string, fingerprint: string): void {
    if (this.entries.get(key) === fingerprint) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface DedupingReporterOptions {
  /** Share one memory between reporters built per invocation, so a warm process keeps deduping. */
  memory?: SentStatuses;
  /** Keeps reporters for different repositories apart in a shared memory. */
  scope?: string;
}

export class DedupingReporter implements CommitStatusReporter {
  private readonly memory: SentStatuses;
  private readonly scope: string;

  constructor(
    private readonly inner: CommitStatusReporter,
    options: DedupingReporterOptions = {},
  ) {
    this.memory = options.memory ?? new SentStatuses();
    this.scope = options.scope ?? '';
  }

  async report(status: CommitStatus): Promise<void> {
    const key = this.keyOf(status);
    const fingerprint = fingerprintOf(status);
    if (this.memory.get(key) === fingerprint) return;
    // Remembered before sending, so a concurrent identical report is skipped too.
    this.memory.set(key, fingerprint);
    await this.inner.report(status);
  }

  /** Forget a status that was not set, so the next identical report tries again. */
  forget(status: CommitStatus): void {
    this.memory.delete(this.keyOf(status), fingerprintOf(status));
  }

  private keyOf(status: CommitStatus): string {
    return `${this.scope}\u0000${status.commit}\u0000${status.context}`;
  }
}

function fingerprintOf(status: CommitStatus): string {
  return `${status.state}\u0000${status.description}`;
}
