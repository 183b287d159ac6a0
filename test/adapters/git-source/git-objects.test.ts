/** The native object reader against what `git` itself says is in a repository, in every storage form. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectNotFoundError, ObjectStore } from '../../../lib/adapters/git-objects.js';
import { commits, createRepo, git, type TestRepo } from '../../helpers/git-server.js';

let root: string;
let repo: TestRepo;

/** Every blob at HEAD as git reads it: path to [oid, content]. */
async function blobsAtHead(gitdir: string): Promise<Map<string, { oid: string; content: string }>> {
  const out = new Map<string, { oid: string; content: string }>();
  for (const line of (await git(['-c', 'core.quotePath=false', 'ls-tree', '-r', 'HEAD'], gitdir)).split('\n')) {
    const [meta, path] = line.split('\t');
    const oid = meta!.split(' ')[2]!;
    out.set(path!, { oid, content: await git(['cat-file', 'blob', oid], gitdir) });
  }
  return out;
}

async function expectSameAsGit(gitdir: string): Promise<void> {
  const store = new ObjectStore(gitdir);
  const blobs = await blobsAtHead(gitdir);
  expect(blobs.size).toBeGreaterThan(50);
  for (const [path, { oid, content }] of blobs) {
    expect(new TextDecoder().decode(await store.readBlob(oid)).trimEnd(), path).toBe(content);
  }
  const head = await git(['rev-parse', 'HEAD'], gitdir);
  const tree = await store.readTree(await store.commitTree(head));
  expect([...tree.keys()].sort()).toEqual((await git(['-c', 'core.quotePath=false', 'ls-tree', '--name-only', 'HEAD'], gitdir)).split('\n').sort());
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cairn-git-objects-test-'));
  const files: Record<string, string> = {};
  for (let i = 0; i < 60; i++) files[`stacks/s${i}.yaml`] = `Resources:\n  Queue${i}:\n    Type: AWS::SQS::Queue\n${'    # shared text\n'.repeat(30)}`;
  repo = await createRepo(root, 'objects', { ...files, 'ünïcode name.txt': 'ü\n', 'tool.sh': 'echo\n' });
  await commits(
    repo,
    Array.from({ length: 40 }, (_, c) => ({ [`stacks/s${c % 60}.yaml`]: `${files[`stacks/s${c % 60}.yaml`]}    # revision ${c}\n` })),
  );
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('ObjectStore', () => {
  it('reads what git reads from deep delta chains', async () => {
    await git(['repack', '-a', '-d', '-f', '--depth=50', '--window=100', '--quiet'], repo.bareDir);
    await expectSameAsGit(repo.bareDir);
  });

  it('reads a pack whose index is version 1', async () => {
    const dir = join(root, 'v1.git');
    await git(['clone', '--quiet', '--bare', '--no-local', repo.bareDir, dir]);
    await git(['-c', 'pack.indexVersion=1', 'repack', '-a', '-d', '-f', '--quiet'], dir);
    await expectSameAsGit(dir);
  });

  it('reads a pack index with 64-bit offsets', async () => {
    const dir = join(root, 'large-offsets.git');
    await git(['clone', '--quiet', '--bare', '--no-local', repo.bareDir, dir]);
    const packDir = join(dir, 'objects/pack');
    const name = (await readdir(packDir)).find((n) => n.endsWith('.pack'))!;
    const idx = join(packDir, name.replace(/\.pack$/, '.idx'));
    await rm(idx);
    // Every offset past the first kilobyte goes to the 64-bit table (git wants at least one in the 32-bit one).
    await git(['index-pack', '--index-version=2,1024', '-o', idx, join(packDir, name)], dir);
    await expectSameAsGit(dir);
  });

  it('reads loose objects and objects borrowed through alternates', async () => {
    const dir = join(root, 'shared');
    await git(['clone', '--quiet', '--shared', repo.bareDir, dir]);
    await git(['-c', 'core.symlinks=true', 'commit', '--quiet', '--allow-empty', '-m', 'loose'], dir);
    await expectSameAsGit(join(dir, '.git'));
  });

  it('says which object is missing', async () => {
    const err = await new ObjectStore(repo.bareDir).readBlob('0'.repeat(40)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectNotFoundError);
    expect((err as Error).message).toBe(`object ${'0'.repeat(40)} is not in the repository`);
  });

  it('peels an annotated tag to its commit and refuses a tree', async () => {
    const head = await git(['rev-parse', 'HEAD'], repo.bareDir);
    await git(['tag', '-a', '-m', 'release', 'v1', head], repo.bareDir);
    const store = new ObjectStore(repo.bareDir);
    expect(await store.peelToCommit(await git(['rev-parse', 'v1'], repo.bareDir))).toBe(head);
    expect(await store.peelToCommit(await git(['rev-parse', 'HEAD^{tree}'], repo.bareDir))).toBeUndefined();
  });
});
