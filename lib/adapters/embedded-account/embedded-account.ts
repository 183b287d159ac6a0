/**
 * The simulated CloudFormation account that lets Cairn run on one machine without AWS: stacks,
 * change sets, status events and drift, persisted under `<home>/embedded-account/` and shared by
 * every process that opens the same home. `gateway(region)` is the StackGateway the reconciler
 * uses; the rest is for tests, `cairn serve` and `cairn sim`: time control, fault injection, stack
 * status events, and changes made outside Cairn (console updates, foreign stacks, drift).
 */
import type { StackGateway } from '../../ports/stack-gateway.js';
import { AccountStore } from './account-store.js';
import { EmbeddedGateway, type GatewayBackend } from './embedded-gateway.js';
import { CallGate, Faults } from './faults.js';
import {
  SimulatedCloudFormation,
  type DirectCreateInput,
  type DirectUpdateInput,
  type DriftInjection,
} from './simulated-cloudformation.js';
import { StackEventPump, type StackStatusListener } from './stack-event-pump.js';
import { pendingTimes, type StackRecord } from './stack-record.js';

export type { FaultSettings, FaultOperation } from './faults.js';
export type { StackStatusEvent, StackStatusListener } from './stack-event-pump.js';
export { NO_CHANGES_REASON } from './simulated-cloudformation.js';

export const DEFAULT_ACCOUNT_ID = '123456789012';
export const DEFAULT_REGION = 'us-east-1';

export interface EmbeddedAccountOptions {
  /** Persistence directory; callers pass $CAIRN_HOME (default the per-user state directory). */
  home: string;
  /** Host clock in ms; the account's time is this plus whatever advance/settle added. */
  clock?: () => number;
  /** Simulated time per resource operation (and per change-set phase). Default 20. */
  operationMs?: number;
  /** Progress operations and deliver events on timers, for long-running processes. */
  autoAdvance?: boolean;
  /** How often (ms) an autoAdvance account looks for changes made by other processes. Default 200. */
  pollMs?: number;
  /** The region of `gateway()` without an argument. Default us-east-1. */
  region?: string;
  accountId?: string;
  /** Resource types a REVERT_DRIFT change set leaves alone. Default: AWS::EC2::Instance. */
  nonRevertibleTypes?: string[];
  /** Source of randomness for the error-rate fault. Default Math.random. */
  random?: () => number;
}

interface InRegion {
  /** Default: the account's region. */
  region?: string;
}

export type OutsideCreateInput = DirectCreateInput & InRegion;
export type OutsideUpdateInput = DirectUpdateInput & InRegion;
export type DriftInjectionInput = DriftInjection & InRegion;

export interface ForceStatusInput extends InRegion {
  stackName: string;
  status: string;
  statusReason?: string;
}

export interface ResourceDeletionInput extends InRegion {
  stackName: string;
  logicalId: string;
}

/** Guards settle() against listeners that start a new operation for every event they get. */
const MAX_SETTLE_ROUNDS = 1000;

export class EmbeddedAccount {
  readonly faults: Faults;
  readonly defaultRegion: string;
  readonly accountId: string;
  readonly operationMs: number;
  private readonly clock: () => number;
  private readonly autoAdvance: boolean;
  private readonly store: AccountStore;
  private readonly service: SimulatedCloudFormation;
  private readonly gate: CallGate;
  private readonly events = new StackEventPump();
  private readonly gateways = new Map<string, StackGateway>();
  private readonly backend: GatewayBackend;
  /**
   * `region/stackName` of every stack that changed, has something still to happen (a step, a
   * change set or a drift detection not yet due) or a status change not yet delivered: the only
   * stacks each call's bookkeeping looks at, so a call costs the same with 10 stacks or 3,000.
   */
  private readonly active = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: EmbeddedAccountOptions) {
    this.clock = options.clock ?? Date.now;
    this.operationMs = options.operationMs ?? 20;
    this.autoAdvance = options.autoAdvance ?? false;
    this.defaultRegion = options.region ?? DEFAULT_REGION;
    this.accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
    this.store = new AccountStore(options.home);
    this.store.watch((region, stackName) => this.active.add(`${region}/${stackName}`));
    this.store.refresh();
    this.gate = new CallGate(options.random ?? Math.random);
    this.service = new SimulatedCloudFormation({
      store: this.store,
      now: () => this.timeNow(),
      operationMs: this.operationMs,
      accountId: this.accountId,
      nonRevertibleTypes: new Set(options.nonRevertibleTypes ?? ['AWS::EC2::Instance']),
    });
    this.faults = new Faults({
      readFaults: () => {
        this.store.refresh();
        return this.store.currentMeta().faults;
      },
      writeFaults: (faults) => this.store.transaction((tx) => tx.setMeta({ faults })),
    });
    this.backend = {
      service: this.service,
      gate: this.gate,
      refresh: () => {
        this.store.refresh();
        return this.store.currentMeta().faults;
      },
      now: () => this.timeNow(),
      afterCall: () => this.afterChange(),
    };
    if (this.autoAdvance) {
      this.poller = setInterval(() => this.tick(), options.pollMs ?? 200);
      this.poller.unref();
      this.afterChange();
    }
  }

  /** The StackGateway for `region` (default: the account's region). */
  gateway(region: string = this.defaultRegion): StackGateway {
    // The region names a directory of the account's files.
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new RangeError(`"${region}" is not an AWS region name`);
    let gateway = this.gateways.get(region);
    if (!gateway) {
      gateway = new EmbeddedGateway(this.backend, region);
      this.gateways.set(region, gateway);
    }
    return gateway;
  }

  /** The account's current time in ms (host clock plus any advance). */
  now(): number {
    this.store.refresh();
    return this.timeNow();
  }

  /**
   * Move the account's time forward by `ms`, or, without an argument, to the next moment anything
   * pending changes; due stack events are delivered before it returns.
   */
  advance(ms?: number): void {
    if (ms !== undefined && !(ms >= 0)) throw new RangeError(`advance needs a non-negative number of ms, got ${ms}`);
    const t = this.now();
    const delta = ms ?? Math.min(...this.pending(t)) - t;
    if (Number.isFinite(delta) && delta > 0) this.service.advanceClock(delta);
    this.afterChange();
  }

  /** Run every pending operation, change set and drift detection to completion. */
  settle(): void {
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      const t = this.now();
      const times = this.pending(t);
      if (times.length === 0) {
        this.afterChange();
        return;
      }
      this.service.advanceClock(Math.max(...times) - t);
      this.afterChange();
    }
    throw new Error(`settle gave up after ${MAX_SETTLE_ROUNDS} rounds: stack event listeners keep starting new operations`);
  }

  /** Subscribe to stack status changes from now on; returns the unsubscribe function. */
  onStackEvent(listener: StackStatusListener): () => void {
    return this.events.subscribe(listener, this.now());
  }

  /** Gateway calls made through this account object, by operation name (e.g. `createChangeSet`). */
  calls(): Record<string, number> {
    return this.gate.calls();
  }

  /** Calls of one operation, or of all when no name is given. */
  callCount(operation?: string): number {
    return this.gate.callCount(operation);
  }

  resetCalls(): void {
    this.gate.resetCalls();
  }

  /** CreateStack as a console user would: no change set, no Cairn tags unless given. */
  createStackOutsideCairn(input: OutsideCreateInput): { stackId: string } {
    const stackId = this.mutate(() => this.service.createStackDirect(input.region ?? this.defaultRegion, input));
    return { stackId };
  }

  /** UpdateStack as a console user would; the stack is busy (UPDATE_IN_PROGRESS) for a while. */
  updateStackOutsideCairn(input: OutsideUpdateInput): void {
    this.mutate(() => this.service.updateStackDirect(input.region ?? this.defaultRegion, input));
  }

  /** Put a stack into any status at once (e.g. UPDATE_ROLLBACK_FAILED, DELETE_FAILED), cutting short what it was doing. */
  forceStackStatus(input: ForceStatusInput): void {
    this.mutate(() => this.service.forceStatus(input.region ?? this.defaultRegion, input.stackName, input.status, input.statusReason));
  }

  /**
   * Change a resource's live property outside CloudFormation. `detectable` is false when the
   * template does not set that property, in which case drift detection does not see it (as in AWS).
   */
  injectDrift(input: DriftInjectionInput): { detectable: boolean } {
    return this.mutate(() => this.service.injectDrift(input.region ?? this.defaultRegion, input));
  }

  /** Delete a resource outside CloudFormation: drift detection reports it DELETED. */
  deleteResourceOutsideCairn(input: ResourceDeletionInput): void {
    this.mutate(() => this.service.deleteResource(input.region ?? this.defaultRegion, input.stackName, input.logicalId));
  }

  /** Stop the timers of an autoAdvance account. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.poller);
  }

  private timeNow(): number {
    return this.clock() + this.store.currentMeta().skewMs;
  }

  private mutate<T>(fn: () => T): T {
    try {
      return fn();
    } finally {
      this.afterChange();
    }
  }

  private pending(t: number): number[] {
    const times: number[] = [];
    for (const record of this.activeRecords()) times.push(...pendingTimes(record, t));
    return times;
  }

  /** The records of the active stacks; stacks no longer in the store leave the set. */
  private activeRecords(): StackRecord[] {
    const records: StackRecord[] = [];
    for (const key of this.active) {
      const slash = key.indexOf('/');
      const record = this.store.get(key.slice(0, slash), key.slice(slash + 1));
      if (record) records.push(record);
      else this.active.delete(key);
    }
    return records;
  }

  private afterChange(): void {
    const t = this.timeNow();
    const records = this.activeRecords();
    this.events.pump(records, t);
    for (const record of records) {
      if (pendingTimes(record, t).length === 0 && this.events.isDrained(record, t)) this.active.delete(`${record.region}/${record.stackName}`);
    }
    if (this.autoAdvance && !this.closed) this.scheduleNext(records, t);
  }

  /** One timer for the next stack status step due anywhere in the account. */
  private scheduleNext(records: StackRecord[], t: number): void {
    let next = Infinity;
    for (const record of records) {
      for (const step of record.operation?.steps ?? []) {
        if (step.at > t) {
          next = Math.min(next, step.at);
          break;
        }
      }
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    if (Number.isFinite(next)) {
      this.timer = setTimeout(() => this.tick(), next - t);
      this.timer.unref();
    }
  }

  private tick(): void {
    if (this.closed) return;
    try {
      this.store.refresh();
      this.afterChange();
    } catch (error) {
      // A timer has no caller to throw to; the next tick tries again.
      process.emitWarning(`The embedded account could not advance: ${(error as Error).message ?? String(error)}`);
    }
  }
}
