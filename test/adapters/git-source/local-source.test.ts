/** Sources on disk (a working tree, a repository read at a ref) and openSource's choice of adapter. */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSource } from '../../../lib/adapters/git-source.js';
import { LocalGitSource, openSource, WorkingTreeSource } from '../../../lib/adapters/local-source.js';
import { PathOutsideRepoError } from '../../../lib/ports/source-repo.js';
import { commit, createRepo, git, type TestRepo } from '../../helpers/git-server.js';

function text(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

async function rejection(promise: Promise<unknown>): Promise<Error & { reason?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { reason?: string };
  }
  throw new Error('expected a rejection');
}

let root: string;
let repo: TestRepo;
let workDir: string;
let first: string;
let second: string;
let third: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cairn-local-source-test-'));
  repo = await createRepo(root, 'platform', { 'cairn.yaml': 'version: 1\n', 'stacks/app.yaml': 'v1\n' });
  first = await git(['rev-parse', 'HEAD'], repo.bareDir);
  second = await commit(repo, { 'stacks/app.yaml': 'v2\n', 'stacks/link.yaml': { symlink: 'app.yaml' } });
  // A working clone with a tag, a branch, packed refs and a commit of its own in loose objects,
  // as a repository on a laptop has.
  workDir = join(root, 'work');
  await git(['clone', '--quiet', repo.bareDir, workDir]);
  await git(['tag', '-a', '-m', 'first release', 'v1', first], workDir);
  await git(['branch', 'old', first], workDir);
  await writeFile(join(workDir, 'stacks/app.yaml'), 'v3\n');
  await git(['commit', '--quiet', '-am', 'Local change'], workDir);
  third = await git(['rev-parse', 'HEAD'], workDir);
  await git(['pack-refs', '--all'], workDir);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('LocalGitSource', () => {
  it('reads a bare repository at its HEAD', async () => {
    const src = new LocalGitSource({ path: repo.bareDir });
    const snap = await src.snapshot();
    expect(snap.commit).toBe(second);
    expect(text(await snap.readFile('stacks/app.yaml'))).toBe('v2\n');
    expect(text(await snap.readFile('stacks/link.yaml'))).toBe('v2\n');
    expect(src.description).toBe(`${repo.bareDir}@HEAD`);
  });

  it('reads a working clone at a branch, a tag or a commit, never the files on disk', async () => {
    await writeFile(join(workDir, 'stacks/app.yaml'), 'uncommitted\n');
    try {
      const main = await new LocalGitSource({ path: workDir, ref: 'main' }).snapshot();
      expect(main.commit).toBe(third);
      expect(text(await main.readFile('stacks/app.yaml'))).toBe('v3\n');
      expect(text(await main.readFile('stacks/link.yaml'))).toBe('v3\n');
      const old = await new LocalGitSource({ path: workDir, ref: 'old' }).snapshot();
      expect(old.commit).toBe(first);
      expect(text(await old.readFile('stacks/app.yaml'))).toBe('v1\n');
      expect((await new LocalGitSource({ path: workDir, ref: 'v1' }).snapshot()).commit).toBe(first);
      expect((await new LocalGitSource({ path: workDir, ref: 'origin/main' }).snapshot()).commit).toBe(second);
      expect((await new LocalGitSource({ path: workDir, ref: first.slice(0, 10) }).snapshot()).commit).toBe(first);
    } finally {
      await git(['checkout', '--', 'stacks/app.yaml'], workDir);
    }
  });

  it('reads a linked worktree at its own HEAD, with the refs and objects of its repository', async () => {
    const linked = join(root, 'linked');
    await git(['worktree', 'add', '--quiet', '-b', 'feature', linked, 'old'], workDir);
    const head = await new LocalGitSource({ path: linked }).snapshot();
    expect(head.commit).toBe(first);
    expect(text(await head.readFile('stacks/app.yaml'))).toBe('v1\n');
    expect((await new LocalGitSource({ path: linked, ref: 'main' }).snapshot()).commit).toBe(third);
  });

  it('says which ref does not exist', async () => {
    const err = await rejection(new LocalGitSource({ path: repo.bareDir, ref: 'release' }).snapshot());
    expect(err.reason).toBe('SourceInvalid');
    expect(err.message).toBe(`${repo.bareDir} (branch release): the ref release does not exist in the repository`);
  });

  it('refuses a commit without cairn.yaml', async () => {
    const other = await createRepo(root, 'no-manifest', { 'README.md': 'x\n' });
    const err = await rejection(new LocalGitSource({ path: other.bareDir }).snapshot());
    expect(err.reason).toBe('SourceInvalid');
    expect(err.message).toContain('there is no cairn.yaml at');
  });
});

describe('WorkingTreeSource', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'tree');
    await mkdir(join(dir, 'stacks'), { recursive: true });
    await mkdir(join(dir, '.cairn'), { recursive: true });
    await writeFile(join(dir, 'cairn.yaml'), 'version: 1\n');
    await writeFile(join(dir, 'stacks/app.yaml'), 'app\n');
    await writeFile(join(root, 'secret.txt'), 'outside\n');
    await symlink('app.yaml', join(dir, 'stacks/alias.yaml'));
    await symlink('stacks', join(dir, 'linked'));
    await symlink('../secret.txt', join(dir, 'escape.txt'));
    await symlink(root, join(dir, 'up'));
  });

  it('reads files as they are on disk, under a content digest', async () => {
    const snap = await new WorkingTreeSource({ dir }).snapshot();
    expect(snap.commit).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(text(await snap.readFile('stacks/app.yaml'))).toBe('app\n');
    expect(text(await snap.readFile('stacks/alias.yaml'))).toBe('app\n');
    expect(text(await snap.readFile('linked/app.yaml'))).toBe('app\n');
    expect(await snap.readFile('stacks/none.yaml')).toBeUndefined();
    expect(await snap.readFile('stacks')).toBeUndefined();
  });

  it('keeps its digest while nothing changes, and changes it with one byte, but not for .cairn state', async () => {
    const a = (await new WorkingTreeSource({ dir }).snapshot()).commit;
    await writeFile(join(dir, '.cairn/state.json'), '{}');
    expect((await new WorkingTreeSource({ dir }).snapshot()).commit).toBe(a);
    await writeFile(join(dir, 'stacks/app.yaml'), 'app!\n');
    try {
      expect((await new WorkingTreeSource({ dir }).snapshot()).commit).not.toBe(a);
    } finally {
      await writeFile(join(dir, 'stacks/app.yaml'), 'app\n');
    }
    expect((await new WorkingTreeSource({ dir }).snapshot()).commit).toBe(a);
  });

  it('reads every file as the snapshot hashed it, whatever changes on disk after, and ignores files created after it', async () => {
    const snap = await new WorkingTreeSource({ dir }).snapshot();
    await writeFile(join(dir, 'stacks/new.yaml'), 'new\n');
    await writeFile(join(dir, 'stacks/app.yaml'), 'edited\n');
    try {
      expect(await snap.readFile('stacks/new.yaml')).toBeUndefined();
      // The content of the snapshot, never a mix of two versions.
      expect(Buffer.from((await snap.readFile('stacks/app.yaml'))!).toString()).toBe('app\n');
      expect(Buffer.from((await snap.readFile('./stacks/../stacks/app.yaml'))!).toString()).toBe('app\n');
    } finally {
      await writeFile(join(dir, 'stacks/app.yaml'), 'app\n');
      await rm(join(dir, 'stacks/new.yaml'));
    }
  });

  it('rejects paths and symbolic links that leave the directory', async () => {
    const snap = await new WorkingTreeSource({ dir }).snapshot();
    for (const path of ['escape.txt', 'up/secret.txt', '../secret.txt', '/etc/passwd']) {
      expect(await rejection(snap.readFile(path)), path).toBeInstanceOf(PathOutsideRepoError);
    }
  });

  it('refuses a directory without cairn.yaml', async () => {
    const err = await rejection(new WorkingTreeSource({ dir: join(dir, 'stacks') }).snapshot());
    expect(err.reason).toBe('SourceInvalid');
    expect(err.message).toMatch(/there is no cairn\.yaml at ~[0-9a-f]{7}$/);
  });
});

describe('openSource', () => {
  it('picks GitSource for an http(s) URL, on main unless a ref is given', () => {
    const src = openSource({ repo: 'https://github.com/org/infra.git', ref: 'prod' });
    expect(src).toBeInstanceOf(GitSource);
    expect(src.description).toBe('https://github.com/org/infra.git@prod');
    expect(openSource({ repo: 'https://github.com/org/infra.git' }).description).toBe('https://github.com/org/infra.git@main');
  });

  it('picks the local reader for a bare repository, or a repository with a ref', () => {
    expect(openSource({ repo: repo.bareDir })).toBeInstanceOf(LocalGitSource);
    expect(openSource({ repo: pathToFileURL(repo.bareDir).href })).toBeInstanceOf(LocalGitSource);
    expect(openSource({ repo: workDir, ref: 'main' })).toBeInstanceOf(LocalGitSource);
  });

  it('reads a plain directory as it is, but a work tree at its commit (HEAD) even without a ref', () => {
    expect(openSource({ dir: join(root, 'tree') })).toBeInstanceOf(WorkingTreeSource);
    expect(openSource({ repo: workDir })).toBeInstanceOf(LocalGitSource);
  });

  it('refuses what it cannot read, with a clear reason', () => {
    expect(() => openSource({ repo: join(root, 'missing') })).toThrow(/is not a directory/);
    expect(() => openSource({ dir: join(root, 'tree'), ref: 'main' })).toThrow(/not in a Git repository/);
    expect(() => openSource({ repo: 'git@github.com:org/infra.git' })).toThrow(/only http\(s\) URLs and local paths/);
    expect(() => openSource({ repo: 'ssh://token@host/org/infra.git' })).toThrow(/only http\(s\) URLs/);
  });
});
