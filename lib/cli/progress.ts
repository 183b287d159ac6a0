/**
 * The CLI's progress line: one line on stderr, rewritten in place (`\r`, then erase the line), for
 * work that takes a while: a fetch, reading and validating templates, waiting on change sets or
 * drift detections. Nothing shows during a phase's first two seconds, so quick commands print
 * exactly what they always did. Only on a terminal: never with --json, when stderr is not a TTY,
 * under CI, on a dumb terminal, or in Lambda (whose code never creates one; the use cases take an
 * optional listener, lib/ports/progress.ts, and report nothing without it).
 *
 * The line never mixes with output: it is erased when its phase ends (every use case ends the
 * phases it reports, whether it succeeds or throws, so before a command prints its result or an
 * error), before a line printed through `printing()` (the events `cairn apply` prints) and while
 * `suspended()` (a question waiting for its answer).
 */
import type { Progress, ProgressListener, ProgressPhase } from '../ports/progress.js';

/** How long a phase runs before its line is shown. */
export const PROGRESS_AFTER_MS = 2_000;

/**
 * Environment variable, for tests: the delay before a phase shows (ms) instead of two seconds, so
 * a test of the built CLI can see the line without waiting.
 */
export const PROGRESS_AFTER_ENV = 'CAIRN_PROGRESS_AFTER_MS';

/** How often the line is redrawn while nothing reports (the seconds counter, the first showing). */
const TICK_MS = 250;
/** Reports closer together than this do not each redraw the line (3000 templates validated in a second). */
const REDRAW_MS = 100;

const ERASE_LINE = '\r\u001b[2K';

export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface ProgressClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Call `tick` every `ms` until the returned function is called; never keeps the process alive. */
  every(ms: number, tick: () => void): () => void;
}

export const systemClock: ProgressClock = {
  now: () => performance.now(),
  every: (ms, tick) => {
    const timer = setInterval(tick, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

export interface ProgressOptions {
  /** --json: machine output, so no line. */
  json?: boolean;
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  clock?: ProgressClock;
  /** Default PROGRESS_AFTER_MS, or PROGRESS_AFTER_ENV. */
  afterMs?: number;
}

/** Whether a progress line may be drawn on `stream` at all. */
export function progressAllowed(stream: ProgressStream, json: boolean, env: NodeJS.ProcessEnv): boolean {
  if (json || !stream.isTTY) return false;
  if (env['TERM'] === 'dumb') return false;
  const ci = env['CI']?.trim().toLowerCase();
  if (ci && ci !== '0' && ci !== 'false') return false;
  // The CLI does not run in Lambda; should its code ever be, its log is no terminal.
  if (env['AWS_LAMBDA_FUNCTION_NAME']) return false;
  return true;
}

function delayFrom(env: NodeJS.ProcessEnv): number {
  const raw = env[PROGRESS_AFTER_ENV];
  const ms = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw);
  return Number.isFinite(ms) && ms >= 0 ? ms : PROGRESS_AFTER_MS;
}

export class ProgressLine {
  readonly enabled: boolean;
  /**
   * What to hand the use cases: undefined when no line can be drawn, so that they do not even
   * build their reports.
   */
  readonly listener: ProgressListener | undefined;
  private readonly stream: ProgressStream;
  private readonly clock: ProgressClock;
  private readonly afterMs: number;
  private phase: { name: ProgressPhase; since: number; last: Progress } | undefined;
  /** The text on the terminal now; '' when the line is clear. */
  private shown = '';
  private drawnAt = Number.NEGATIVE_INFINITY;
  private suspensions = 0;
  private stopTicking: (() => void) | undefined;

  constructor(options: ProgressOptions = {}) {
    const env = options.env ?? process.env;
    this.stream = options.stream ?? process.stderr;
    this.clock = options.clock ?? systemClock;
    this.afterMs = options.afterMs ?? delayFrom(env);
    this.enabled = progressAllowed(this.stream, options.json === true, env);
    this.listener = this.enabled ? (p) => this.report(p) : undefined;
  }

  report(progress: Progress): void {
    if (!this.enabled) return;
    if (progress.finished) {
      if (this.phase?.name === progress.phase) this.end();
      return;
    }
    if (this.phase?.name !== progress.phase) {
      this.end();
      this.phase = { name: progress.phase, since: this.clock.now(), last: progress };
      this.stopTicking = this.clock.every(TICK_MS, () => this.draw(true));
    } else this.phase.last = progress;
    this.draw(false);
  }

  /** Print through this: the line is erased first and drawn again after. */
  printing<T>(print: () => T): T {
    this.clear();
    try {
      return print();
    } finally {
      this.draw(true);
    }
  }

  /** No line while `work` runs (a question waiting for an answer), and drawn again after. */
  async suspended<T>(work: () => Promise<T>): Promise<T> {
    this.suspensions++;
    this.clear();
    try {
      return await work();
    } finally {
      this.suspensions--;
      this.draw(true);
    }
  }

  private end(): void {
    this.stopTicking?.();
    this.stopTicking = undefined;
    this.phase = undefined;
    this.clear();
  }

  private clear(): void {
    if (!this.shown) return;
    this.stream.write(ERASE_LINE);
    this.shown = '';
  }

  private draw(force: boolean): void {
    if (!this.phase || this.suspensions > 0) return;
    const now = this.clock.now();
    const elapsed = now - this.phase.since;
    if (elapsed < this.afterMs) return;
    if (!force && this.shown && now - this.drawnAt < REDRAW_MS) return;
    const text = fit(describeProgress(this.phase.last, elapsed), (this.stream.columns || 80) - 1);
    if (text === this.shown) return;
    this.stream.write(`${ERASE_LINE}${text}`);
    this.shown = text;
    this.drawnAt = now;
  }
}

export function createProgress(options: ProgressOptions = {}): ProgressLine {
  return new ProgressLine(options);
}

/** The line for a report, `elapsedMs` into its phase. */
export function describeProgress(p: Progress, elapsedMs: number): string {
  const seconds = `${Math.floor(elapsedMs / 1000)} s`;
  if (p.finished) return '';
  switch (p.phase) {
    case 'fetch': {
      const stage = p.stage ? `: ${p.stage}${p.total ? ` ${Math.min(100, Math.floor(((p.loaded ?? 0) / p.total) * 100))}%` : ''}` : '';
      return `fetching ${p.url}${stage}${p.bytes > 0 ? ` (${formatSize(p.bytes)})` : ''}`;
    }
    case 'templates':
      return `${p.step} templates: ${p.done} of ${p.total} file${p.total === 1 ? '' : 's'}`;
    case 'change-sets':
      return `waiting on change sets${names(p.waiting)} (${seconds})`;
    case 'apply':
      return `applying change sets${names(p.waiting)} (${seconds})`;
    case 'drift':
      return `detecting drift${names(p.waiting)} (${seconds})`;
  }
}

const NAMES_SHOWN = 6;

function names(ids: readonly string[]): string {
  if (ids.length === 0) return '';
  const shown = ids.slice(0, NAMES_SHOWN).join(', ');
  return `: ${shown}${ids.length > NAMES_SHOWN ? ` and ${ids.length - NAMES_SHOWN} more` : ''}`;
}

/** Bytes as people read them in a progress line: 812 B, 45.1 kB, 1.2 MB. */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  if (bytes < 1_000_000_000) return `${(bytes / 1_000_000).toFixed(1)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(1)} GB`;
}

/** Cut to the terminal's width: a line that wraps cannot be erased with `\r`. */
function fit(text: string, width: number): string {
  const max = Math.max(10, width);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
