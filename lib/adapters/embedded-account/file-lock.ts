/**
 * A lock file that serialises read-modify-write of the simulated account across processes
 * (`cairn serve` and a CLI started beside it share one `home`). Held only for synchronous work,
 * so it is never held across an await and a crashed holder is detected by its pid.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';

export interface FileLockOptions {
  /** Give up after this long; a live holder never keeps the lock this long. */
  timeoutMs?: number;
  /** A lock older than this whose holder cannot be checked is taken over. */
  staleMs?: number;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function holderIsGone(path: string, staleMs: number): boolean {
  try {
    const [pidText] = readFileSync(path, 'utf8').split(' ');
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
      } catch (error) {
        // EPERM means the process exists but belongs to someone else: still a live holder.
        if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
      }
    }
    return Date.now() - statSync(path).mtimeMs > staleMs;
  } catch {
    // The holder released it between our attempts: try again at once.
    return false;
  }
}

/** Run `fn` while holding the lock file at `path`. */
export function withFileLock<T>(path: string, fn: () => T, options: FileLockOptions = {}): T {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 30_000;
  const started = Date.now();
  let wait = 1;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid} ${Date.now()}`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (holderIsGone(path, staleMs)) {
        try {
          unlinkSync(path);
        } catch {
          // Another process took it over first; the next attempt sees its lock.
        }
        continue;
      }
      if (Date.now() - started > timeoutMs) {
        throw new Error(`Could not lock ${path} within ${timeoutMs} ms: another process holds it`);
      }
      sleepSync(wait);
      wait = Math.min(wait * 2, 20);
    }
  }
  try {
    return fn();
  } finally {
    unlinkSync(path);
  }
}
