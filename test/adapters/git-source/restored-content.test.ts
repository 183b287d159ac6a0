/**
 * GitSource over caches a server's packs can leave behind: a commit that restores a file to earlier
 * content, read through the real git server into a cache read cold afterwards, and caches whose
 * objects are corrupt or missing, which are discarded and fetched again.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { indexPack } from '../../../lib/adapters/git-fetch.js';
import { ObjectStore } from '../../../lib/adapters/git-objects.js';
import { GitCommitSnapshot } from '../../../lib/adapters/git-snapshot.js';
import { GitSource, type GitSnapshotReport } from '../../../lib/adapters/git-source.js';
import { commit, createRepo, git, startGitServer, type GitServer, type TestRepo } from '../../helpers/git-server.js';

const BASE = `version: 1\nstacks:\n${Array.from({ length: 40 }, (_, i) => `  s${i}:\n    template: t.yaml\n`).join('')}`;
const EDITED = BASE.replace('  s7:\n', '  s7x:\n');

let server: GitServer;
let root: string;
let dirs = 0;

beforeAll(async () => {
  server = await startGitServer();
  root = await mkdtemp(join(tmpdir(), 'cairn-restored-test-'));
});

afterAll(async () => {
  await server.stop();
  await rm(root, { recursive: true, force: true });
});

function text(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

function source(repo: TestRepo, cacheDir: string, timeoutMs?: number): { src: GitSource; reports: GitSnapshotReport[] } {
  const reports: GitSnapshotReport[] = [];
  return { src: new GitSource({ url: repo.url!, branch: repo.branch, cacheDir, onSnapshot: (r) => reports.push(r), ...(timeoutMs ? { timeoutMs } : {}) }), reports };
}

/** The one generation directory of the one entry in a cache. */
async function generationDir(cacheDir: string): Promise<string> {
  const [entry] = (await readdir(cacheDir)).filter((n) => !n.startsWith('.'));
  const [generation] = (await readdir(join(cacheDir, entry!))).filter((n) => n.startsWith('g-'));
  return join(cacheDir, entry!, generation!);
}

/** A copy of a cache directory: a new process would find it like this, with nothing in memory. */
async function coldCopy(cacheDir: string): Promise<string> {
  const copy = join(root, `cold-${++dirs}`);
  await cp(cacheDir, copy, { recursive: true });
  return copy;
}

describe('GitSource when a commit restores earlier content', () => {
  it('fetches nothing for content the cache holds, and a cold cache reads every head', async () => {
    const repo = await createRepo(server, 'restored', { 'cairn.yaml': BASE, 't.yaml': 'Resources: {}\n' });
    const cacheDir = join(root, 'restored-cache');
    const { src, reports } = source(repo, cacheDir);
    await src.snapshot();
    const heads: string[] = [];
    for (let round = 0; round < 6; round++) {
      heads.push(await commit(repo, { 'cairn.yaml': round % 2 === 0 ? EDITED : BASE }));
      const snap = await src.snapshot();
      expect(text(await snap.readFile('cairn.yaml')), `round ${round}`).toBe(round % 2 === 0 ? EDITED : BASE);
    }
    expect(reports.slice(1).map((r) => r.fetched)).toEqual(Array(6).fill('incremental'));
    // After the first edit, each fetch brings only its commit: the tree and blobs are ones the cache holds.
    const gitdir = await generationDir(cacheDir);
    const idx = (await readdir(join(gitdir, 'objects', 'pack'))).filter((n) => n.endsWith('.idx'));
    const counts = await Promise.all(idx.map(async (n) => (await readFile(join(gitdir, 'objects', 'pack', n))).readUInt32BE(8 + 255 * 4)));
    expect(counts.sort((a, b) => a - b)).toEqual([1, 1, 1, 1, 1, 3, 4]);
    const cold = new ObjectStore(gitdir);
    for (const [i, head] of heads.entries()) {
      const tree = await cold.readTree(await cold.commitTree(head));
      expect(text(await cold.readBlob(tree.get('cairn.yaml')!.oid)), `head ${i}`).toBe(i % 2 === 0 ? EDITED : BASE);
    }
    const fresh = source(repo, await coldCopy(cacheDir));
    const snap = await fresh.src.snapshot();
    expect(fresh.reports[0]?.fetched).toBe('none');
    expect(text(await snap.readFile('cairn.yaml'))).toBe(BASE);
  });
});

describe('GitSource over a broken cache', () => {
  let repo: TestRepo;
  let cacheDir: string;
  beforeAll(async () => {
    repo = await createRepo(server, 'broken', { 'cairn.yaml': BASE, 't.yaml': 'Resources: {}\n' });
    cacheDir = join(root, 'broken-cache');
    await source(repo, cacheDir).src.snapshot();
  });

  it('discards a cache whose pack is corrupt and fetches the head whole again', async () => {
    const copy = await coldCopy(cacheDir);
    const gitdir = await generationDir(copy);
    const packDir = join(gitdir, 'objects', 'pack');
    const pack = join(packDir, (await readdir(packDir)).find((n) => n.endsWith('.pack'))!);
    const bytes = await readFile(pack);
    bytes.fill(0, 32, bytes.length - 32);
    await writeFile(pack, bytes);
    const { src, reports } = source(repo, copy);
    const snap = await src.snapshot();
    expect(reports.map((r) => r.fetched)).toEqual(['full']);
    expect(text(await snap.readFile('cairn.yaml'))).toBe(BASE);
    expect(await generationDir(copy)).not.toBe(gitdir);
  });

  it('discards a cache whose pack has gone and fetches the head whole again', async () => {
    const copy = await coldCopy(cacheDir);
    const gitdir = await generationDir(copy);
    await rm(join(gitdir, 'objects', 'pack'), { recursive: true });
    const { src, reports } = source(repo, copy);
    const snap = await src.snapshot();
    expect(reports.map((r) => r.fetched)).toEqual(['full']);
    expect(text(await snap.readFile('t.yaml'))).toBe('Resources: {}\n');
  });

  it('fails a read of broken objects as transient after telling the cache to discard them', async () => {
    const onBroken = vi.fn(async () => undefined);
    const empty = await mkdtemp(join(root, 'empty-'));
    const snap = new GitCommitSnapshot({ store: new ObjectStore(empty), commit: 'a'.repeat(40), at: { source: repo.url!, branch: 'main' }, onBroken });
    const err = (await snap.readFile('cairn.yaml').catch((e: unknown) => e)) as Error & { reason?: string };
    expect(err.reason).toBe('SourceUnavailable');
    expect(err.message).toContain(`objects of ${'a'.repeat(40)} in ${empty} are missing or corrupt`);
    expect(onBroken).toHaveBeenCalledTimes(1);
  });

  it('stops a fetch whose thin pack leans on a delta cycle in the cache, and fetches the head whole', async () => {
    const r = await createRepo(server, 'cycle-fetch', { 'cairn.yaml': BASE, 't.yaml': 'Resources: {}\n' });
    const cacheDir = join(root, 'cycle-cache');
    const first = source(r, cacheDir);
    const c1 = (await first.src.snapshot()).commit;
    const c2 = await commit(r, { 'cairn.yaml': EDITED });
    await first.src.snapshot();
    // Rebuild the generation's packs so that BASE and EDITED exist only as deltas of each other,
    // as an older Cairn could leave them: commits, trees and t.yaml in one whole pack, then A on B
    // and B on A (indexed while B was still whole, as the cache indexes them), then B's whole copy gone.
    const gitdir = await generationDir(cacheDir);
    const packDir = join(gitdir, 'objects', 'pack');
    const original = await readdir(packDir);
    const ids = (await Promise.all([c1, c2].map((c) => git(['ls-tree', c], r.bareDir)))).join('\n');
    const oid = (name: string, tree: string): string => tree.split('\n').find((l) => l.endsWith(`\t${name}`))!.split(/\s+/)[2]!;
    const trees = await Promise.all([c1, c2].map((c) => git(['rev-parse', `${c}^{tree}`], r.bareDir)));
    const whole = execFileSync('git', ['pack-objects', '--stdout', '-q'], { cwd: r.bareDir, input: `${[c1, c2, ...trees, oid('t.yaml', ids)].join('\n')}\n` });
    const work = join(root, 'cycle-work');
    await mkdir(work);
    await git(['init', '--quiet'], work);
    const commitFile = async (content: string, branch: string, orphan: boolean): Promise<string> => {
      if (orphan) await git(['checkout', '--quiet', '--orphan', branch], work);
      await writeFile(join(work, 'cairn.yaml'), content);
      await git(['add', 'cairn.yaml'], work);
      await git(['-c', 'user.name=Cairn', '-c', 'user.email=cairn@cairn.invalid', 'commit', '--quiet', '-m', branch], work);
      return git(['rev-parse', 'HEAD'], work);
    };
    const [s1, s2, p1, p2] = [await commitFile(BASE, 's', true), await commitFile(EDITED, 's', false), await commitFile(EDITED, 'p', true), await commitFile(BASE, 'p', false)];
    const thin = (revs: string[]): Buffer => execFileSync('git', ['pack-objects', '--thin', '--revs', '--stdout', '-q'], { cwd: work, input: `${revs.join('\n')}\n` });
    for (const [name, bytes] of [['pack-w', whole], ['pack-x', thin([s2, `^${s1}`])], ['pack-y', thin([p2, `^${p1}`])]] as const) {
      await writeFile(join(packDir, `${name}.pack`), bytes);
      const store = new ObjectStore(gitdir);
      await writeFile(join(packDir, `${name}.idx`), (await indexPack(bytes, { external: (oid) => store.readObject(oid) })).index);
    }
    for (const name of original) await rm(join(packDir, name));
    const cold = await coldCopy(cacheDir);
    const next = BASE.replace('  s9:\n', '  s9y:\n');
    await commit(r, { 'cairn.yaml': next });
    // The new blob comes as a delta of BASE or EDITED; indexing it would resolve that cycle for
    // ever. The loop is caught, that generation discarded, and the head fetched whole, in one snapshot.
    const started = Date.now();
    const { src, reports } = source(r, cold, 20_000);
    const snap = await src.snapshot();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(reports.map((x) => x.fetched)).toEqual(['full']);
    expect(text(await snap.readFile('cairn.yaml'))).toBe(next);
    expect(await generationDir(cold)).not.toBe(join(cold, gitdir.slice(cacheDir.length)));
  });
});
