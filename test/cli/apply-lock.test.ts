/** One `cairn apply` at a time on an embedded home: a second is refused, naming who holds it; a dead holder's lock is taken over. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireApplyLock } from '../../lib/cli/apply-lock.js';
import { WaitingError } from '../../lib/core/errors.js';

const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});
function home(): string {
  const h = mkdtempSync(join(tmpdir(), 'cairn-apply-lock-'));
  homes.push(h);
  return h;
}

describe('acquireApplyLock', () => {
  it('refuses a second apply on the same home with who holds it, and allows one after release', () => {
    const h = home();
    const release = acquireApplyLock(h, 'platform');
    let refused: unknown;
    try {
      acquireApplyLock(h, 'other');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(WaitingError);
    expect(refused).toMatchObject({ reason: 'ApplyInProgress' });
    expect((refused as Error).message).toContain(`another cairn apply (pid ${process.pid}, source "platform"`);
    expect((refused as Error).message).toContain(h);
    release();
    expect(existsSync(join(h, 'apply.lock'))).toBe(false);
    acquireApplyLock(h, 'other')();
  });

  it('takes over a lock whose holder has gone', () => {
    const h = home();
    writeFileSync(join(h, 'apply.lock'), JSON.stringify({ pid: 2 ** 22 + 11, source: 'platform', at: '2026-01-01T00:00:00Z' }));
    const release = acquireApplyLock(h, 'platform');
    expect(() => acquireApplyLock(h, 'platform')).toThrow(WaitingError);
    release();
  });
});
