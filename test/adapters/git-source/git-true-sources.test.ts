/**
 * Git-true sources over real git: a directory in a work tree is read at a commit whatever is edited,
 * staged or untracked on disk; uncommitted edits to the files cairn.yaml reads are named; a source
 * may be a sub-directory that nothing can leave; and the name comes from cairn.yaml, so the same
 * repository over HTTP and on disk is one source.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSource } from '../../../lib/adapters/git-source.js';
import { LocalGitSource, openSource, recordReads, WorkingTreeSource } from '../../../lib/adapters/local-source.js';
import { ValidationError } from '../../../lib/core/errors.js';
import { loadDesired } from '../../../lib/reconcile/load-desired.js';
import { createRepo, git, startGitServer, type GitServer, type TestRepo } from '../../helpers/git-server.js';

const TEMPLATE = (name: string): string => `Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: ${name}\n`;
const FILES = {
  'cairn.yaml': 'version: 1\nsource: infra\nstacks:\n  app:\n    template: stacks/app.yaml\n',
  'stacks/app.yaml': TEMPLATE('committed'),
  'README.md': 'notes\n',
  'envs/dev/cairn.yaml': 'version: 1\nsource: infra-dev\nstacks:\n  dev-app:\n    template: app.yaml\n',
  'envs/dev/app.yaml': TEMPLATE('dev'),
  'envs/prod/cairn.yaml': 'version: 1\nsource: infra-prod\nstacks:\n  prod-app:\n    template: app.yaml\n',
  'envs/prod/app.yaml': TEMPLATE('prod'),
  'shared/app.yaml': TEMPLATE('shared'),
};

const text = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

let root: string;
let server: GitServer;
let repo: TestRepo;
let work: string;
let head: string;

/** Load the source at `dir` the way the CLI does, returning what was read and what is uncommitted. */
async function load(options: Parameters<typeof openSource>[0]) {
  const source = openSource(options);
  const snapshot = await source.snapshot();
  const recorded = recordReads(snapshot);
  const desired = await loadDesired(recorded.snapshot, undefined, { sourceFrom: 'flag' });
  const uncommitted = source instanceof LocalGitSource ? await source.uncommitted(recorded.reads) : [];
  return { source, snapshot, desired, uncommitted };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cairn-git-true-'));
  server = await startGitServer({ root: join(root, 'served') });
  repo = await createRepo(server, 'infra', FILES);
  work = join(root, 'work');
  await git(['clone', '--quiet', repo.bareDir, work]);
  head = await git(['rev-parse', 'HEAD'], work);
});

afterAll(async () => {
  await server.stop();
  await rm(root, { recursive: true, force: true });
});

describe('Git-true sources: a work tree is read at a commit', () => {
  it('reads a clean work tree at HEAD, under the name cairn.yaml declares', async () => {
    const { source, snapshot, desired, uncommitted } = await load({ dir: work });
    expect(source).toBeInstanceOf(LocalGitSource);
    expect(snapshot.commit).toBe(head);
    expect(desired.commit).toBe(head);
    expect(desired.source).toBe('infra');
    expect(uncommitted).toEqual([]);
  });

  it('never reads unstaged, staged or untracked content, and names the read files that differ', async () => {
    await writeFile(join(work, 'stacks/app.yaml'), TEMPLATE('unstaged edit'));
    await writeFile(join(work, 'cairn.yaml'), `${FILES['cairn.yaml']}  extra:\n    template: stacks/new.yaml\n`);
    await git(['add', 'cairn.yaml'], work);
    await writeFile(join(work, 'stacks/new.yaml'), TEMPLATE('untracked'));
    await writeFile(join(work, 'README.md'), 'edited notes, not read by cairn.yaml\n');
    try {
      const { snapshot, desired, uncommitted } = await load({ dir: work });
      expect(snapshot.commit).toBe(head);
      expect(desired.stacks.map((s) => s.id)).toEqual(['app']);
      expect(desired.stacks[0]!.templateBody).toContain('committed');
      expect(uncommitted).toEqual([
        { path: 'cairn.yaml', change: 'modified' },
        { path: 'stacks/app.yaml', change: 'modified' },
      ]);
    } finally {
      await git(['reset', '--quiet', '--hard'], work);
      await rm(join(work, 'stacks/new.yaml'));
    }
  });

  it('names a read file deleted from the work tree, and one cairn.yaml names that only the work tree has', async () => {
    await rm(join(work, 'stacks/app.yaml'));
    try {
      expect((await load({ dir: work })).uncommitted).toEqual([{ path: 'stacks/app.yaml', change: 'deleted' }]);
    } finally {
      await git(['checkout', '--quiet', '--', 'stacks/app.yaml'], work);
    }
    // A commit that names a template it forgot to add: the commit is invalid, and the file is named as not committed.
    await writeFile(join(work, 'cairn.yaml'), `${FILES['cairn.yaml']}  extra:\n    template: stacks/forgotten.yaml\n`);
    await git(['commit', '--quiet', '-am', 'Add a stack, forget its template'], work);
    await writeFile(join(work, 'stacks/forgotten.yaml'), TEMPLATE('forgotten'));
    try {
      const source = openSource({ dir: work }) as LocalGitSource;
      const recorded = recordReads(await source.snapshot());
      await expect(loadDesired(recorded.snapshot, undefined, { sourceFrom: 'flag' })).rejects.toThrow(/stacks\/forgotten\.yaml/);
      expect(await source.uncommitted(recorded.reads)).toEqual([{ path: 'stacks/forgotten.yaml', change: 'untracked' }]);
    } finally {
      await git(['reset', '--quiet', '--hard', head], work);
      await rm(join(work, 'stacks/forgotten.yaml'));
    }
  });

  it('reads the work tree as it is only when asked, recorded as the commit with a -dirty marker', async () => {
    await writeFile(join(work, 'stacks/app.yaml'), TEMPLATE('asked for'));
    try {
      const source = openSource({ dir: work }) as LocalGitSource;
      const dirty = source.workTree(head);
      expect(dirty).toBeInstanceOf(WorkingTreeSource);
      const snapshot = await dirty.snapshot();
      expect(snapshot.commit).toBe(`${head}-dirty`);
      expect(text(await snapshot.readFile('stacks/app.yaml'))).toContain('asked for');
    } finally {
      await git(['checkout', '--quiet', '--', 'stacks/app.yaml'], work);
    }
  });

  it('follows a detached HEAD, a branch named by --ref, and HEAD moving on every snapshot', async () => {
    await writeFile(join(work, 'stacks/app.yaml'), TEMPLATE('second'));
    await git(['commit', '--quiet', '-am', 'Second'], work);
    const second = await git(['rev-parse', 'HEAD'], work);
    const source = openSource({ dir: work });
    expect((await source.snapshot()).commit).toBe(second);
    await git(['checkout', '--quiet', '--detach', head], work);
    try {
      // The same source object: HEAD is resolved again on each snapshot, so a checkout or reset is seen.
      expect((await source.snapshot()).commit).toBe(head);
      const onMain = openSource({ dir: work, ref: 'main' }) as LocalGitSource;
      const snap = await onMain.snapshot();
      expect(snap.commit).toBe(second);
      // The work tree is not what a ref of another commit reads, so nothing in it is "uncommitted".
      const recorded = recordReads(snap);
      await loadDesired(recorded.snapshot, undefined, { sourceFrom: 'flag' });
      expect(await onMain.uncommitted(recorded.reads)).toEqual([]);
    } finally {
      await git(['checkout', '--quiet', 'main'], work);
      await git(['reset', '--quiet', '--hard', head], work);
    }
  });

  it('says a cairn.yaml that exists only in the work tree is not committed, and that a new repository has no commit', async () => {
    const fresh = join(root, 'fresh');
    await mkdir(fresh);
    await git(['init', '--quiet', '--initial-branch=main'], fresh);
    await writeFile(join(fresh, 'cairn.yaml'), FILES['cairn.yaml']);
    await expect(openSource({ dir: fresh }).snapshot()).rejects.toThrow(/has no commit yet/);
    await writeFile(join(fresh, 'README.md'), 'x\n');
    await git(['add', 'README.md'], fresh);
    await git(['commit', '--quiet', '-m', 'Only a readme'], fresh);
    await expect(openSource({ dir: fresh }).snapshot()).rejects.toThrow(/cairn\.yaml is in the work tree but not in commit/);
  });
});

describe('Git-true sources: a sub-directory of a repository', () => {
  it('reads a directory below the top as the source path, the same as --path from the top', async () => {
    const below = await load({ dir: join(work, 'envs/prod') });
    const flagged = await load({ dir: work, path: 'envs/prod' });
    for (const { source, desired } of [below, flagged]) {
      expect((source as LocalGitSource).subdir).toBe('envs/prod');
      expect(desired.source).toBe('infra-prod');
      expect(desired.commit).toBe(head);
      expect(desired.stacks.map((s) => [s.id, s.templateFile])).toEqual([['prod-app', 'app.yaml']]);
      expect(desired.stacks[0]!.templateBody).toContain('prod');
    }
  });

  it('keeps two sources of one repository apart: own names, own files', async () => {
    const dev = await load({ dir: work, path: 'envs/dev' });
    const prod = await load({ dir: work, path: 'envs/prod' });
    expect([dev.desired.source, prod.desired.source]).toEqual(['infra-dev', 'infra-prod']);
    expect(dev.desired.stacks[0]!.templateBody).toContain('dev');
    expect(prod.desired.stacks[0]!.templateBody).toContain('prod');
    // An edit under envs/dev is uncommitted for dev only.
    await writeFile(join(work, 'envs/dev/app.yaml'), TEMPLATE('dev edit'));
    try {
      expect((await load({ dir: work, path: 'envs/dev' })).uncommitted).toEqual([{ path: 'app.yaml', change: 'modified' }]);
      expect((await load({ dir: work, path: 'envs/prod' })).uncommitted).toEqual([]);
    } finally {
      await git(['checkout', '--quiet', '--', 'envs/dev/app.yaml'], work);
    }
  });

  it('lets no path in cairn.yaml, and no symbolic link, leave the source directory', async () => {
    await writeFile(join(work, 'envs/prod/cairn.yaml'), 'version: 1\nsource: infra-prod\nstacks:\n  up:\n    template: ../../shared/app.yaml\n  linked:\n    template: link.yaml\n');
    await symlink('../../shared/app.yaml', join(work, 'envs/prod/link.yaml'));
    await git(['add', '--all'], work);
    await git(['commit', '--quiet', '-m', 'Reach outside the source'], work);
    try {
      const error = await load({ dir: work, path: 'envs/prod' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ValidationError);
      const problems = (error as ValidationError).problems;
      expect(problems.find((p) => p.path === 'stacks.up.template')?.message).toMatch(/leaves the repository/);
      expect(problems.find((p) => p.path === 'stacks.linked.template')?.message).toMatch(/outside/);
    } finally {
      await git(['reset', '--quiet', '--hard', head], work);
    }
  });

  it('refuses a --path that climbs out, and names a path without cairn.yaml', async () => {
    expect(() => openSource({ dir: work, path: '../elsewhere' })).toThrow(/not a directory inside the repository/);
    await expect(openSource({ dir: work, path: 'shared' }).snapshot()).rejects.toThrow(/there is no shared\/cairn\.yaml/);
  });
});

describe('Git-true sources: one name wherever the repository is read from', () => {
  it('reads the same commit and the same source name over HTTP and on disk, at the top and at a path', async () => {
    const cacheDir = join(root, 'cache');
    for (const path of [undefined, 'envs/dev']) {
      const http = new GitSource({ url: repo.url!, branch: 'main', cacheDir, ...(path ? { path } : {}) });
      const overHttp = await loadDesired(await http.snapshot(), undefined, { sourceFrom: 'flag' });
      const onDisk = (await load({ dir: work, ...(path ? { path } : {}) })).desired;
      const bare = (await load({ repo: repo.bareDir, ...(path ? { path } : {}) })).desired;
      expect(overHttp.commit).toBe(head);
      expect([onDisk.commit, bare.commit]).toEqual([head, head]);
      expect(new Set([overHttp.source, onDisk.source, bare.source]).size).toBe(1);
      expect(overHttp.stacks.map((s) => s.templateBody)).toEqual(onDisk.stacks.map((s) => s.templateBody));
    }
  });

  it('refuses a repository whose cairn.yaml claims another name than the one Cairn follows it as', async () => {
    const snapshot = await openSource({ dir: work }).snapshot();
    await expect(loadDesired(snapshot, 'infra')).resolves.toMatchObject({ source: 'infra' });
    const error = await loadDesired(snapshot, 'payments').catch((e: unknown) => e as ValidationError);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).problems[0]).toMatchObject({ file: 'cairn.yaml', path: 'source', line: 2 });
    expect((error as ValidationError).problems[0]!.message).toMatch(/declares source "infra", but Cairn follows this repository as source "payments"/);
    // The CLI's --source is the user's explicit choice, and wins.
    await expect(loadDesired(snapshot, 'payments', { sourceFrom: 'flag' })).resolves.toMatchObject({ source: 'payments' });
  });

  it('asks for a name when cairn.yaml declares none and none is given', async () => {
    const bare = join(root, 'nameless');
    await mkdir(bare);
    await writeFile(join(bare, 'cairn.yaml'), 'version: 1\nstacks: {}\n');
    const snapshot = await new WorkingTreeSource({ dir: bare }).snapshot();
    await expect(loadDesired(snapshot, undefined, { sourceFrom: 'flag' })).rejects.toThrow(/names no source: add `source: NAME`/);
  });
});
