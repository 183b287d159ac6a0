/**
 * The CLI on a Git work tree, as a user runs it: plan shows the commit and names uncommitted edits,
 * apply refuses them unless --allow-dirty (then recorded as <sha>-dirty), status says why a stack
 * is not in sync, another source's stack names its owner and the flag that selects it, and `cairn
 * init` starts a repository whose state lives outside it.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, STACK_TRACE } from '../helpers/cli.js';
import { git } from '../helpers/git-server.js';

const EXAMPLE = new URL('../../examples/platform/', import.meta.url).pathname;
let work: string;
let repo: string;
let env: NodeJS.ProcessEnv;
let head: string;

interface StatusJson {
  commit: string;
  stacks: { id: string; inSync: boolean; commit: string | null; reason: string | null; status: string }[];
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cairn-cli-git-'));
  repo = join(work, 'platform');
  cpSync(EXAMPLE, repo, { recursive: true });
  await git(['init', '--quiet', '--initial-branch=main'], repo);
  await git(['add', '--all'], repo);
  await git(['commit', '--quiet', '-m', 'Declare the platform'], repo);
  head = await git(['rev-parse', 'HEAD'], repo);
  env = { CAIRN_HOME: join(work, 'home') };
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const appTemplate = (): string => readFileSync(join(repo, 'stacks/app.yaml'), 'utf8');

describe('CLI: a Git work tree is deployed from its commits', () => {
  it('applies HEAD and records its SHA, not a digest of the files', async () => {
    const r = cairn(['apply', repo, '--yes'], { env });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Apply source "platform" at ${head.slice(0, 7)} to the embedded account`);
    const status = JSON.parse(cairn(['status', repo, '--json'], { env }).stdout) as StatusJson;
    expect(status.commit).toBe(head);
    expect(status.stacks.map((s) => [s.id, s.commit, s.inSync]).sort()).toEqual([
      ['app', head, true],
      ['data', head, true],
      ['network', head, true],
      ['observability', head, true],
    ]);
  });

  it('plans HEAD while a template has an uncommitted edit, and names the edited file', () => {
    writeFileSync(join(repo, 'stacks/app.yaml'), appTemplate().replace('Default: 30', 'Default: 45'));
    const r = cairn(['plan', repo], { env });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`at ${head.slice(0, 7)} against`);
    expect(r.stderr).toMatch(/1 file that cairn\.yaml reads differs from commit [0-9a-f]{7}/);
    expect(r.stderr).toContain('stacks/app.yaml (modified)');
    const json = JSON.parse(cairn(['plan', repo, '--json'], { env }).stdout);
    expect(json).toMatchObject({ commit: head, changes: false, uncommitted: [{ path: 'stacks/app.yaml', change: 'modified' }] });
  });

  it('refuses to apply uncommitted edits, naming the files and what to do, and changes nothing', () => {
    const r = cairn(['apply', repo, '--yes'], { env });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cairn apply: 1 file that cairn\.yaml reads has uncommitted changes, and Cairn deploys commits only/);
    expect(r.stderr).toContain('stacks/app.yaml (modified)');
    expect(r.stderr).toMatch(/git add stacks\/app\.yaml && git commit.*--allow-dirty/s);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    const status = JSON.parse(cairn(['status', repo, '--json'], { env }).stdout) as StatusJson;
    expect(status.stacks.every((s) => s.commit === head && s.inSync)).toBe(true);
  });

  it('applies the work tree with --allow-dirty, recorded as the commit with a visible dirty marker', () => {
    const r = cairn(['apply', repo, '--yes', '--allow-dirty'], { env });
    expect(r.status).toBe(0);
    // The summary counts what this run did.
    expect(r.stdout).toMatch(/is in sync at [0-9a-f]{7}-dirty: 1 stack updated, 3 unchanged$/m);
    expect(r.stdout).toContain(`at ${head.slice(0, 7)}-dirty (uncommitted edits on top of ${head.slice(0, 7)})`);
    const status = JSON.parse(cairn(['status', repo, '--json', '--allow-dirty'], { env }).stdout) as StatusJson;
    expect(status.stacks.find((s) => s.id === 'app')!.commit).toBe(`${head}-dirty`);
    expect(cairn(['status', repo], { env }).stdout).toMatch(/app\s+UPDATE_COMPLETE.*[0-9a-f]{7}-dirty/);
  });

  it('says in status why a stack is not in sync with the commit', async () => {
    // HEAD still has the old timeout, so app differs from it.
    const text = cairn(['status', repo], { env });
    expect(text.stdout).toMatch(/Not in sync:\n\s+app: content changed/);
    const status = JSON.parse(cairn(['status', repo, '--json'], { env }).stdout) as StatusJson;
    expect(status.stacks.find((s) => s.id === 'app')).toMatchObject({ inSync: false, reason: expect.stringMatching(/content changed/) });
    expect(status.stacks.find((s) => s.id === 'network')).toMatchObject({ inSync: true, reason: null });
    await git(['commit', '--quiet', '-am', 'Give order workers more time'], repo);
    head = await git(['rev-parse', 'HEAD'], repo);
    expect(cairn(['plan', repo], { env }).status).toBe(0);
  });

  it('names the owner of another source’s stack and the exact field or flag that selects it', () => {
    const r = cairn(['plan', repo, '--source', 'platform-copy', '--json'], { env });
    expect(r.status).toBe(1);
    const blocked = JSON.parse(r.stdout).stacks.find((s: { id: string }) => s.id === 'network');
    expect(blocked.action).toBe('blocked');
    expect(blocked.reason).toMatch(/owned by source "platform", not "platform-copy": if this repository is that source, set `source: platform` in cairn\.yaml \(or pass --source platform\)/);
  });
});

describe('CLI: cairn init and the state directory', () => {
  it('starts a committed repository whose plan and apply work, with the account outside it', async () => {
    const home = join(work, 'user-home');
    const userEnv = { HOME: home, CAIRN_HOME: '', XDG_STATE_HOME: '' };
    const made = cairn(['init', join(work, 'my-infra')], { env: userEnv });
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(/Created source "my-infra" in .*first commit [0-9a-f]{7}/);
    const mine = join(work, 'my-infra');
    expect(readFileSync(join(mine, 'cairn.yaml'), 'utf8')).toMatch(/^source: my-infra/m);
    expect(await git(['status', '--porcelain'], mine)).toBe('');
    const applied = cairn(['apply', '--yes'], { cwd: mine, env: userEnv });
    expect(applied.status).toBe(0);
    expect(applied.stdout).toContain(`embedded account (us-east-1, ${join(home, '.local', 'state', 'cairn')})`);
    expect(existsSync(join(home, '.local', 'state', 'cairn'))).toBe(true);
    expect(existsSync(join(mine, '.cairn'))).toBe(false);
    expect(await git(['status', '--porcelain'], mine)).toBe('');
    // Running it again changes nothing; a non-empty directory is refused.
    expect(cairn(['init', mine], { env: userEnv })).toMatchObject({ status: 0, stdout: expect.stringContaining('already holds cairn.yaml') });
    const occupied = join(work, 'occupied');
    cpSync(join(mine, 'stacks'), occupied, { recursive: true });
    expect(cairn(['init', occupied], { env: userEnv })).toMatchObject({ status: 1, stderr: expect.stringContaining('is not empty') });
  });
});
