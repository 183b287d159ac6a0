/** The native object reader against what `git` itself says is in a repository, in every storage form. */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexPack } from '../../../lib/adapters/git-fetch.js';
import { CorruptObjectStoreError, ObjectNotFoundError, ObjectStore } from '../../../lib/adapters/git-objects.js';
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

/**
 * Packs as a shallow cache collects them when a commit restores a file to earlier content: B whole
 * (the first fetch), A as a delta of B (a thin pack), and B as a delta of A (a thin pack on top).
 */
describe('ObjectStore over packs that hold deltas both ways', () => {
  const B = `version: 1\nstacks:\n${Array.from({ length: 40 }, (_, i) => `  s${i}:\n    template: t.yaml\n`).join('')}`;
  const A = B.replace('  s7:\n', '  s7x:\n');
  let work: string;
  let packs: { whole: Buffer; aOnB: Buffer; bOnA: Buffer };
  let oids: { a: string; b: string };

  /** `git pack-objects` of the revisions given, thin: deltas may lean on objects the `^` side has. */
  function pack(revs: string[]): Buffer {
    return execFileSync('git', ['pack-objects', '--thin', '--revs', '--stdout', '-q'], { cwd: work, input: `${revs.join('\n')}\n` });
  }

  async function commitFile(content: string, branch: string, orphan: boolean): Promise<string> {
    if (orphan) await git(['checkout', '--quiet', '--orphan', branch], work);
    await writeFile(join(work, 'cairn.yaml'), content);
    await git(['add', 'cairn.yaml'], work);
    await git(['-c', 'user.name=Cairn', '-c', 'user.email=cairn@cairn.invalid', 'commit', '--quiet', '-m', branch], work);
    return git(['rev-parse', 'HEAD'], work);
  }

  /** A gitdir holding the named packs, each indexed the way the cache indexes them (git-fetch.ts, bases in the packs before it allowed). */
  async function gitdirWith(name: string, files: Array<[string, Buffer]>): Promise<string> {
    const dir = join(root, name);
    await mkdir(join(dir, 'objects', 'pack'), { recursive: true });
    for (const [file, bytes] of files) {
      await writeFile(join(dir, 'objects', 'pack', `${file}.pack`), bytes);
      const store = new ObjectStore(dir);
      await writeFile(join(dir, 'objects', 'pack', `${file}.idx`), (await indexPack(bytes, { external: (oid) => store.readObject(oid) })).index);
    }
    return dir;
  }

  beforeAll(async () => {
    work = join(root, 'both-ways');
    await mkdir(work);
    await git(['init', '--quiet'], work);
    // Two unrelated histories: S (B) then T (A); P (A) then Q (B).
    const s = await commitFile(B, 's', true);
    const t = await commitFile(A, 's', false);
    const p = await commitFile(A, 'p', true);
    const q = await commitFile(B, 'p', false);
    packs = { whole: pack([s]), aOnB: pack([t, `^${s}`]), bOnA: pack([q, `^${p}`]) };
    oids = {
      a: execFileSync('git', ['hash-object', '--stdin'], { cwd: work, input: A }).toString().trim(),
      b: execFileSync('git', ['hash-object', '--stdin'], { cwd: work, input: B }).toString().trim(),
    };
    // Each thin pack really leans on the other side: git alone cannot index it.
    expect(() => execFileSync('git', ['index-pack', '--stdin'], { cwd: work, input: packs.bOnA, stdio: 'pipe' })).toThrow(/unresolved delta/);
  });

  it('reads both objects, whichever pack lists them first', async () => {
    // The whole copy is indexed first (the thin packs need it) and then named to sort last.
    const dir = await gitdirWith('both-ways-whole', [
      ['pack-1', packs.whole],
      ['pack-2', packs.aOnB],
      ['pack-3', packs.bOnA],
    ]);
    for (const ext of ['pack', 'idx']) await rename(join(dir, `objects/pack/pack-1.${ext}`), join(dir, `objects/pack/pack-9.${ext}`));
    const store = new ObjectStore(dir);
    expect(new TextDecoder().decode(await store.readBlob(oids.a))).toBe(A);
    expect(new TextDecoder().decode(await new ObjectStore(dir).readBlob(oids.b))).toBe(B);
  });

  it('gives up on a delta cycle with no whole copy, naming the object and the cycle', async () => {
    const dir = await gitdirWith('cycle', [
      ['pack-1', packs.whole],
      ['pack-2', packs.aOnB],
      ['pack-3', packs.bOnA],
    ]);
    for (const ext of ['pack', 'idx']) await rm(join(dir, `objects/pack/pack-1.${ext}`));
    const err = await new ObjectStore(dir).readBlob(oids.b).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptObjectStoreError);
    expect((err as Error).message).toContain(`object ${oids.b} in ${dir} cannot be read`);
    expect((err as Error).message).toContain('delta cycle');
  });

  it('reports a delta whose base is in no pack as a broken store, not a missing object', async () => {
    const dir = await gitdirWith('missing-base', [
      ['pack-1', packs.whole],
      ['pack-2', packs.aOnB],
    ]);
    for (const ext of ['pack', 'idx']) await rm(join(dir, `objects/pack/pack-1.${ext}`));
    const err = await new ObjectStore(dir).readBlob(oids.a).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptObjectStoreError);
    expect((err as Error).message).toContain(`its delta base ${oids.b} is in no pack`);
  });

  it('skips a corrupt copy for a good one, and names the corruption when none is left', async () => {
    const dir = await gitdirWith('corrupt', [['pack-1', packs.whole]]);
    await copyFile(join(dir, 'objects/pack/pack-1.pack'), join(dir, 'objects/pack/pack-2.pack'));
    await copyFile(join(dir, 'objects/pack/pack-1.idx'), join(dir, 'objects/pack/pack-2.idx'));
    // Zero the middle of the first pack: its entries no longer inflate to what they claim.
    const bytes = await readFile(join(dir, 'objects/pack/pack-1.pack'));
    bytes.fill(0, 40, bytes.length - 40);
    await writeFile(join(dir, 'objects/pack/pack-1.pack'), bytes);
    expect(new TextDecoder().decode(await new ObjectStore(dir).readBlob(oids.b))).toBe(B);
    for (const ext of ['pack', 'idx']) await rm(join(dir, `objects/pack/pack-2.${ext}`));
    const err = await new ObjectStore(dir).readBlob(oids.b).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptObjectStoreError);
    expect((err as Error).message).toMatch(/pack-1\.pack at \d+: /);
  });

  it('reads a directory once when many reads through it start together, however wide it is', async () => {
    const wide: Record<string, string> = { 'cairn.yaml': 'version: 1\n' };
    for (let i = 0; i < 3000; i++) wide[`stacks/s${i}.yaml`] = `Resources: {Q${i}: {Type: AWS::SQS::Queue}}\n`;
    const made = await createRepo(root, 'wide', wide);
    const store = new ObjectStore(made.bareDir);
    const stacksTree = await git(['rev-parse', 'HEAD:stacks'], made.bareDir);
    const reads: string[] = [];
    const readObject = store.readObject.bind(store);
    store.readObject = (oid, maxBytes) => {
      reads.push(oid);
      return readObject(oid, maxBytes);
    };
    const trees = await Promise.all(Array.from({ length: 100 }, () => store.readTree(stacksTree)));
    expect(trees[0]!.size).toBe(3000);
    expect(new Set(trees).size).toBe(1);
    expect(reads.filter((oid) => oid === stacksTree)).toHaveLength(1);
    // Kept afterwards too, although it has more entries than a sixteenth of the budget would hold.
    await store.readTree(stacksTree);
    expect(reads.filter((oid) => oid === stacksTree)).toHaveLength(1);
  });
});
