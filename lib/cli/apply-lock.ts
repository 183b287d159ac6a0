/**
 * One `cairn apply` at a time on an embedded account's home. Two applies side by side would each
 * clean up the change sets the other just made (they look stale to it), so the second is refused
 * at once with who holds the home, rather than failing later with a missing change set. A lock
 * left by a process that has gone is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { WaitingError } from '../core/errors.js';

interface Holder {
  pid: number;
  source: string;
  at: string;
}

function holderOf(path: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Holder;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Take the apply lock of `home` for `source`; returns its release. Throws WaitingError when a live apply holds it. */
export function acquireApplyLock(home: string, source: string): () => void {
  mkdirSync(home, { recursive: true });
  const path = join(home, 'apply.lock');
  const mine = JSON.stringify({ pid: process.pid, source, at: new Date().toISOString() } satisfies Holder);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, mine);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderOf(path);
    if (attempt < 2 && (!holder || !Number.isInteger(holder.pid) || !isAlive(holder.pid))) {
      // Gone (or half-written by a crash): take it over.
      try {
        unlinkSync(path);
      } catch {
        // Someone else took it over first; the next attempt sees their lock.
      }
      continue;
    }
    throw new WaitingError(
      'ApplyInProgress',
      `another cairn apply (pid ${holder?.pid ?? 'unknown'}, source "${holder?.source ?? 'unknown'}", since ${holder?.at ?? 'unknown'}) is applying to the embedded account in ${home}; ` +
        'wait for it to finish (or stop it with Ctrl-C) and run this again',
      5,
    );
  }
  return () => {
    if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
  };
}
