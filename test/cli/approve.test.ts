/**
 * `cairn approve SOURCE STACK` and `cairn reject SOURCE STACK` as a user runs them: the decision is
 * bound to the change set and commit the stack's approval state says it awaits (no repository
 * needed), written where `cairn serve` reads it with who and when; a stack not awaiting is refused
 * with what to do and nothing written; `cairn status` shows the approval on record.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileApprovals } from '../../lib/adapters/file-approvals.js';
import { cairn, STACK_TRACE } from '../helpers/cli.js';

let work: string;
let env: NodeJS.ProcessEnv;
const COMMIT = 'a1b2c3d'.padEnd(40, '0');
const USER = userInfo().username;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cairn-cli-approve-'));
  env = { CAIRN_HOME: join(work, 'home') };
  const store = new FileApprovals(join(work, 'home', 'approvals'));
  await store.putState({ source: 'platform', stack: 'app', state: 'awaiting', changeSetName: 'cairn-0123-new', commit: COMMIT, action: 'update', summary: '0 to add, 1 to modify, 0 to remove', since: '2026-03-01T12:00:00.000Z' });
  await store.putState({ source: 'platform', stack: 'data', state: 'approved', changeSetName: 'cairn-4567-new', commit: COMMIT, action: 'update', since: '2026-03-01T12:00:00.000Z' });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const approvalFile = (stack: string, changeSet: string) => join(work, 'home', 'approvals', 'platform', stack, `${changeSet}.json`);

describe('CLI: cairn approve SOURCE STACK', () => {
  it('approves the change set and commit the stack awaits, as the user running it', () => {
    const r = cairn(['approve', 'platform', 'app'], { env, cwd: work });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`✓ approved change set cairn-0123-new of stack app at a1b2c3d (0 to add, 1 to modify, 0 to remove), as ${USER}\n  the reconciler executes it on its next step\n`);
    expect(JSON.parse(readFileSync(approvalFile('app', 'cairn-0123-new'), 'utf8'))).toEqual({
      source: 'platform',
      stack: 'app',
      changeSetName: 'cairn-0123-new',
      commit: COMMIT,
      decision: 'approved',
      by: USER,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('refuses a stack that awaits nothing, saying why, and writes nothing', () => {
    for (const [stack, why] of [
      ['data', 'is not awaiting approval (its last change set was approved at a1b2c3d)'],
      ['web', 'is not awaiting approval (no approval state is recorded for it)'],
    ] as const) {
      const r = cairn(['reject', 'platform', stack], { env, cwd: work });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`stack ${stack} of source platform ${why}`);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    }
    expect(existsSync(approvalFile('data', 'cairn-4567-new'))).toBe(false);
  });
});
