/**
 * Failure modes tests inject into the simulated account: resources that fail, rollbacks and deletes
 * that fail, throttling, 5xx-like errors and latency. The settings are persisted with the account so
 * a `cairn sim` command in one process affects a `cairn serve` in another; the throttle window and
 * the call counters belong to the process that makes the calls.
 */
import { GatewayError, ThrottlingError } from '../../ports/stack-gateway.js';

export interface FaultSettings {
  /** Resource types whose creation fails (new stacks, added resources, replacements). */
  failOnCreate: string[];
  /** Resource types whose in-place update fails. */
  failOnUpdate: string[];
  /** Resource types whose deletion fails, leaving the stack DELETE_FAILED. */
  failOnDelete: string[];
  /** The rollback after a failure fails too: ROLLBACK_FAILED or UPDATE_ROLLBACK_FAILED. */
  failRollback: boolean;
  /** Calls allowed per second of account time; excess calls throw ThrottlingError. Null: no limit. */
  throttlePerSecond: number | null;
  /** Share (0..1) of calls that throw GatewayError('InternalFailure'). */
  errorRate: number;
  /** Real milliseconds added to every gateway call. */
  latencyMs: number;
}

export const NO_FAULTS: FaultSettings = Object.freeze({
  failOnCreate: [],
  failOnUpdate: [],
  failOnDelete: [],
  failRollback: false,
  throttlePerSecond: null,
  errorRate: 0,
  latencyMs: 0,
}) as FaultSettings;

/** Where the settings live: the account's persisted state. */
export interface FaultStorage {
  readFaults(): FaultSettings;
  writeFaults(settings: FaultSettings): void;
}

export type FaultOperation = 'create' | 'update' | 'delete';

/** The `account.faults` API. */
export class Faults {
  constructor(private readonly storage: FaultStorage) {}

  /** The settings in force now (possibly set by another process). */
  get settings(): FaultSettings {
    return this.storage.readFaults();
  }

  /** Change some settings, keeping the others. */
  set(changes: Partial<FaultSettings>): void {
    const next = { ...this.storage.readFaults(), ...changes };
    if (next.errorRate < 0 || next.errorRate > 1) throw new RangeError(`errorRate must be within 0..1, got ${next.errorRate}`);
    if (next.throttlePerSecond !== null && !(next.throttlePerSecond > 0)) {
      throw new RangeError(`throttlePerSecond must be positive or null, got ${next.throttlePerSecond}`);
    }
    this.storage.writeFaults(next);
  }

  /** Make resources of `type` fail on the given operations (default: create and update). */
  failResourceType(type: string, on: FaultOperation[] = ['create', 'update']): void {
    const current = this.storage.readFaults();
    const add = (list: string[], op: FaultOperation) => (on.includes(op) && !list.includes(type) ? [...list, type] : list);
    this.set({
      failOnCreate: add(current.failOnCreate, 'create'),
      failOnUpdate: add(current.failOnUpdate, 'update'),
      failOnDelete: add(current.failOnDelete, 'delete'),
    });
  }

  reset(): void {
    this.storage.writeFaults({ ...NO_FAULTS });
  }
}

/**
 * Applies the call-level faults to one gateway call and counts it. Throttling uses a sliding
 * one-second window of account time, so a test drives it with `advance`.
 */
export class CallGate {
  private readonly counts = new Map<string, number>();
  private accepted: number[] = [];

  constructor(private readonly random: () => number) {}

  count(operation: string): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }

  /** Throws what AWS would for a throttled or failed call; otherwise records the call as accepted. */
  admit(settings: FaultSettings, now: number): void {
    if (settings.throttlePerSecond !== null) {
      this.accepted = this.accepted.filter((at) => at > now - 1000);
      if (this.accepted.length >= settings.throttlePerSecond) throw new ThrottlingError('Rate exceeded');
      this.accepted.push(now);
    }
    if (settings.errorRate > 0 && this.random() < settings.errorRate) {
      throw new GatewayError('InternalFailure', 'We encountered an internal error. Please try again.');
    }
  }

  calls(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  callCount(operation?: string): number {
    if (operation !== undefined) return this.counts.get(operation) ?? 0;
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  resetCalls(): void {
    this.counts.clear();
  }
}

export function normalizeFaults(value: unknown): FaultSettings {
  if (typeof value !== 'object' || value === null) return { ...NO_FAULTS };
  return { ...NO_FAULTS, ...(value as Partial<FaultSettings>) };
}
