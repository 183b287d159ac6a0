/**
 * Simulated time for the reliability suite: a discrete-event clock shared by the queue, the
 * embedded account and every sleep. Tasks run as ordinary promises; when none of them can make
 * progress (each waits on a sleep), time jumps to the earliest sleep that ends or to the next
 * moment the account has something due, whichever is first. So a scenario of an hour of
 * CloudFormation time runs in milliseconds, and concurrent sleeps overlap as they would for real.
 */

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

export interface RunLimits {
  /** Stop with SimulationLimitError past this clock time. */
  maxTime: number;
  /** Stop with SimulationLimitError after this many time jumps. */
  maxSteps: number;
}

export class SimulationLimitError extends Error {
  override name = 'SimulationLimitError';
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SimClock {
  private t: number;
  private seq = 0;
  private readonly timers: Timer[] = [];
  steps = 0;

  constructor(
    start: number,
    private readonly hooks: {
      /** The next moment after `now` at which something outside the timers falls due (stack events). */
      nextDue?: (now: number) => number | undefined;
      /** Called after every time jump, before the sleepers wake (deliver due stack events). */
      onTick?: () => void;
    } = {},
  ) {
    this.t = start;
  }

  readonly now = (): number => this.t;

  readonly sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, resolve };
      let i = this.timers.length;
      while (i > 0 && (this.timers[i - 1]!.at > timer.at || (this.timers[i - 1]!.at === timer.at && this.timers[i - 1]!.seq > timer.seq))) i--;
      this.timers.splice(i, 0, timer);
    });

  /** Run until `done()` holds with every task blocked on a sleep. */
  async runUntil(done: () => boolean, limits: RunLimits): Promise<void> {
    for (;;) {
      await flush();
      if (done()) return;
      const due = this.hooks.nextDue?.(this.t);
      const timer = this.timers[0]?.at;
      const next = due === undefined ? timer : timer === undefined ? due : Math.min(due, timer);
      if (next === undefined) throw new SimulationLimitError(`the simulation ran dry at ${new Date(this.t).toISOString()}: no task can run and nothing is scheduled`);
      if (next > limits.maxTime) throw new SimulationLimitError(`the simulation passed its time limit (${new Date(limits.maxTime).toISOString()}) without settling`);
      if (++this.steps > limits.maxSteps) throw new SimulationLimitError(`the simulation took more than ${limits.maxSteps} time steps without settling`);
      this.t = Math.max(this.t, next);
      this.hooks.onTick?.();
      while (this.timers.length > 0 && this.timers[0]!.at <= this.t) this.timers.shift()!.resolve();
    }
  }

  /** Run until `task` settles; its result or error. */
  async drive<T>(task: Promise<T>, limits: RunLimits): Promise<T> {
    let settled = false;
    const watched = task.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    await this.runUntil(() => settled, limits);
    return watched;
  }
}
