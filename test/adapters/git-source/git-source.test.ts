/** GitSource against real repositories served by `git http-backend` on 127.0.0.1. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSource, type GitSnapshotReport, type GitSourceOptions } from '../../../lib/adapters/git-source.js';
import { LocalGitSource } from '../../../lib/adapters/local-source.js';
import { PathOutsideRepoError } from '../../../lib/ports/source-repo.js';
import { commit, createRepo, deleteBranch, forcePush, git, startGitServer, type GitServer, type TestRepo } from '../../helpers/git-server.js';

const MANIFEST = 'version: 1\nstacks:\n  network:\n    template: stacks/network.yaml\n';

function text(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

async function rejection(promise: Promise<unknown>): Promise<Error & { reason?: string; hint?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { reason?: string };
  }
  throw new Error('expected a rejection');
}

let server: GitServer;
let cacheRoot: string;
let caches = 0;

beforeAll(async () => {
  server = await startGitServer();
  cacheRoot = await mkdtemp(join(tmpdir(), 'cairn-git-source-test-'));
});

afterAll(async () => {
  await server.stop();
  await rm(cacheRoot, { recursive: true, force: true });
});

/** A source with its own cache directory, and every report it made. */
function source(repo: TestRepo, options: Partial<GitSourceOptions> = {}): { src: GitSource; reports: GitSnapshotReport[]; cacheDir: string } {
  const reports: GitSnapshotReport[] = [];
  const cacheDir = options.cacheDir ?? join(cacheRoot, `c${++caches}`);
  const src = new GitSource({ url: repo.url!, branch: repo.branch, cacheDir, onSnapshot: (r) => reports.push(r), ...options });
  return { src, reports, cacheDir };
}

describe('GitSource', () => {
  let repo: TestRepo;
  beforeAll(async () => {
    const files: Record<string, string> = { 'cairn.yaml': MANIFEST };
    for (let i = 0; i < 40; i++) files[`stacks/s${i}.yaml`] = `Resources:\n  Bucket${i}:\n    Type: AWS::S3::Bucket\n`;
    files['stacks/network.yaml'] = 'Resources: {}\n';
    repo = await createRepo(server, 'platform', files);
  });

  it('fetches the branch head on first use and reads files at that commit', async () => {
    const { src, reports } = source(repo);
    server.resetRequests();
    const snap = await src.snapshot();
    expect(snap.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(text(await snap.readFile('cairn.yaml'))).toBe(MANIFEST);
    expect(text(await snap.readFile('stacks/s3.yaml'))).toContain('Bucket3');
    expect(reports[0]).toMatchObject({ fetched: 'full', commit: snap.commit, requests: 2 });
    expect(server.count('info-refs', 'platform')).toBe(1);
    expect(server.count('upload-pack', 'platform')).toBe(1);
  });

  it('answers undefined for a missing file, a directory and a path through a file', async () => {
    const snap = await source(repo).src.snapshot();
    expect(await snap.readFile('stacks/missing.yaml')).toBeUndefined();
    expect(await snap.readFile('stacks')).toBeUndefined();
    expect(await snap.readFile('cairn.yaml/inside')).toBeUndefined();
    expect(text(await snap.readFile('./stacks/../cairn.yaml'))).toBe(MANIFEST);
  });

  it('checks an unchanged branch with one ref advertisement and no pack', async () => {
    const { src, reports } = source(repo);
    const first = await src.snapshot();
    server.resetRequests();
    const second = await src.snapshot();
    expect(second.commit).toBe(first.commit);
    expect(server.count('info-refs')).toBe(1);
    expect(server.count('upload-pack')).toBe(0);
    expect(reports[1]).toMatchObject({ fetched: 'none', packBytes: 0, requests: 1 });
  });

  it('reuses the cache from another GitSource instance (a warm invocation)', async () => {
    const { cacheDir } = source(repo);
    await source(repo, { cacheDir }).src.snapshot();
    server.resetRequests();
    const { src, reports } = source(repo, { cacheDir });
    await src.snapshot();
    expect(server.count('upload-pack')).toBe(0);
    expect(reports[0]?.fetched).toBe('none');
  });

  it('fetches only the new objects after one new commit', async () => {
    const r = await createRepo(server, 'one-commit', {
      'cairn.yaml': MANIFEST,
      ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`stacks/s${i}.yaml`, `Resources:\n  B${i}:\n    Type: AWS::SNS::Topic # ${'x'.repeat(200)}\n`])),
    });
    const { src, reports } = source(r);
    const before = await src.snapshot();
    const sha = await commit(r, { 'stacks/s7.yaml': 'changed\n' });
    server.resetRequests();
    const after = await src.snapshot();
    expect(after.commit).toBe(sha);
    expect(after.commit).not.toBe(before.commit);
    expect(text(await after.readFile('stacks/s7.yaml'))).toBe('changed\n');
    expect(text(await after.readFile('stacks/s8.yaml'))).toContain('B8');
    // The old snapshot stays pinned to its commit.
    expect(text(await before.readFile('stacks/s7.yaml'))).toContain('B7');
    expect(server.count('info-refs')).toBe(1);
    expect(server.count('upload-pack')).toBe(1);
    expect(reports[1]?.fetched).toBe('incremental');
    // One changed file of 200: a few hundred bytes, not the whole tree again.
    expect(reports[1]!.packBytes).toBeLessThan(reports[0]!.packBytes / 10);
  });

  it('names only the two newest cached commits as haves, and reads a commit restoring older content whole', async () => {
    const restoring = await createRepo(server, 'restoring', { 'cairn.yaml': MANIFEST, 'stacks/network.yaml': 'Resources: {}\n# first\n' });
    const { src, reports } = source(restoring);
    await src.snapshot();
    for (let i = 0; i < 4; i++) {
      await commit(restoring, { 'stacks/network.yaml': `Resources: {}\n# change ${i}\n` });
      await src.snapshot();
    }
    // The upload-pack request of the next fetch, as the server received it.
    let body = '';
    server.intercept((req) => {
      if (req.url?.endsWith('/git-upload-pack')) req.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
      return false;
    });
    try {
      // Back to the first content: its blob is in the cache, but only under a commit no longer named.
      await commit(restoring, { 'stacks/network.yaml': 'Resources: {}\n# first\n' });
      const snap = await src.snapshot();
      expect(reports.at(-1)?.fetched).toBe('incremental');
      expect(text(await snap.readFile('stacks/network.yaml'))).toBe('Resources: {}\n# first\n');
    } finally {
      server.intercept(undefined);
    }
    expect(body.match(/have [0-9a-f]{40}\n/g)).toHaveLength(2);
    expect(body.match(/shallow [0-9a-f]{40}\n/g)).toHaveLength(2);
  });

  it('leaves a cache on disk that a fresh process can read whole after incremental fetches', async () => {
    const r = await createRepo(server, 'on-disk', {
      'cairn.yaml': MANIFEST,
      ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`stacks/s${i}.yaml`, `Resources: # ${i} ${'y'.repeat(300)}\n`])),
    });
    const { src, cacheDir } = source(r);
    await src.snapshot();
    await commit(r, { 'stacks/s1.yaml': `Resources: # 1 ${'y'.repeat(300)} changed\n` });
    await src.snapshot();
    const head = await commit(r, { 'stacks/s2.yaml': null, 'stacks/new.yaml': 'new\n' });
    await src.snapshot();
    const [entry] = (await readdir(cacheDir)).filter((n) => !n.startsWith('.'));
    const [generation] = (await readdir(join(cacheDir, entry!))).filter((n) => n.startsWith('g-'));
    // A reader with nothing in memory, over the thin packs on disk.
    const fresh = await new LocalGitSource({ path: join(cacheDir, entry!, generation!), ref: head }).snapshot();
    expect(fresh.commit).toBe(head);
    expect(text(await fresh.readFile('stacks/s1.yaml'))).toContain('changed');
    expect(await fresh.readFile('stacks/s2.yaml')).toBeUndefined();
    expect(text(await fresh.readFile('stacks/new.yaml'))).toBe('new\n');
    for (let i = 3; i < 50; i++) expect(text(await fresh.readFile(`stacks/s${i}.yaml`))).toContain(`# ${i} `);
  });

  it('follows a force-push to a head that does not descend from the cached one', async () => {
    const r = await createRepo(server, 'forced', { 'cairn.yaml': MANIFEST, 'a.yaml': 'one\n' });
    await commit(r, { 'a.yaml': 'two\n' });
    const { src, reports } = source(r);
    const old = await src.snapshot();
    const rewritten = await forcePush(r, { 'a.yaml': 'rewritten\n' });
    const snap = await src.snapshot();
    expect(snap.commit).toBe(rewritten);
    expect(text(await snap.readFile('a.yaml'))).toBe('rewritten\n');
    expect(reports[1]?.fetched).toBe('incremental');
    // Force-pushing back to a head the cache already holds needs no pack at all.
    await git(['update-ref', `refs/heads/${r.branch}`, old.commit], r.bareDir);
    server.resetRequests();
    const back = await src.snapshot();
    expect(back.commit).toBe(old.commit);
    expect(text(await back.readFile('a.yaml'))).toBe('two\n');
    expect(server.count('upload-pack')).toBe(0);
  });

  it('says the branch does not exist when it was deleted on the remote', async () => {
    const r = await createRepo(server, 'deleted', { 'cairn.yaml': MANIFEST });
    const { src } = source(r);
    await src.snapshot();
    await deleteBranch(r);
    const err = await rejection(src.snapshot());
    expect(err.name).toBe('SourceInvalidError');
    expect(err.reason).toBe('SourceInvalid');
    expect(err.message).toContain(`${r.url} (branch main)`);
    expect(err.message).toContain('the branch main does not exist on the remote');
  });

  it('says which branch is missing when it never existed', async () => {
    const err = await rejection(source(repo, { branch: 'release' }).src.snapshot());
    expect(err.reason).toBe('SourceInvalid');
    expect(err.message).toContain('the branch release does not exist');
  });

  it('refuses a commit that has no cairn.yaml', async () => {
    const r = await createRepo(server, 'no-manifest', { 'README.md': 'hello\n' });
    const err = await rejection(source(r).src.snapshot());
    expect(err.reason).toBe('SourceInvalid');
    // A short SHA for the person reading it; the whole one travels with the error.
    expect(err.message).toMatch(/there is no cairn\.yaml at [0-9a-f]{12}$/);
    expect((err as Error & { commit?: string }).commit).toMatch(/^[0-9a-f]{40}$/);
    expect(err.hint).toContain('cairn.yaml');
  });

  it('refuses a pack larger than maxPackBytes and caches nothing', async () => {
    const { src, cacheDir } = source(repo, { maxPackBytes: 2_000 });
    const err = await rejection(src.snapshot());
    expect(err.reason).toBe('SourceInvalid');
    expect(err.message).toContain('larger than maxPackBytes (2000 bytes)');
    const left = await readdir(cacheDir).catch(() => [] as string[]);
    for (const entry of left.filter((n) => !n.startsWith('.'))) {
      expect((await readdir(join(cacheDir, entry))).filter((n) => n.startsWith('g-'))).toEqual([]);
    }
  });

  it('gives up with SourceUnavailable when the server is slower than timeoutMs', async () => {
    server.delay(1_000);
    try {
      const err = await rejection(source(repo, { timeoutMs: 150 }).src.snapshot());
      expect(err.name).toBe('SourceUnavailableError');
      expect(err.reason).toBe('SourceUnavailable');
      expect(err.message).toContain('longer than timeoutMs (150 ms)');
      expect(err.message).toContain(repo.url);
    } finally {
      server.delay(0);
    }
  });

  it('reports a 5xx as SourceUnavailable, to be retried', async () => {
    server.failWith(503);
    try {
      const err = await rejection(source(repo).src.snapshot());
      expect(err.reason).toBe('SourceUnavailable');
      expect(err.message).toContain('HTTP 503');
    } finally {
      server.failWith(undefined);
    }
  });

  it('reports a repository that does not exist as SourceInvalid', async () => {
    const err = await rejection(new GitSource({ url: server.url('nowhere'), branch: 'main', cacheDir: join(cacheRoot, 'x') }).snapshot());
    expect(err.reason).toBe('SourceInvalid');
    expect(err.message).toContain('no repository at this URL');
  });

  it('reports a URL that is not a Git server as SourceInvalid', async () => {
    const web = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(web.address() as { port: number }).port}/org/repo.git`;
      const err = await rejection(new GitSource({ url, branch: 'main', cacheDir: join(cacheRoot, 'x') }).snapshot());
      expect(err.reason).toBe('SourceInvalid');
      expect(err.message).toBe(`${url} (branch main): the URL does not serve Git over smart HTTP`);
    } finally {
      web.closeAllConnections();
      await new Promise((resolve) => web.close(resolve));
    }
  });

  it('reports an unreachable host as SourceUnavailable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const url = `http://127.0.0.1:${port}/gone.git`;
    const err = await rejection(new GitSource({ url, branch: 'main', cacheDir: join(cacheRoot, 'x') }).snapshot());
    expect(err.reason).toBe('SourceUnavailable');
    expect(err.message).toContain(`cannot reach 127.0.0.1:${port} (ECONNREFUSED)`);
    expect(err.message).toContain(`${url} (branch main)`);
  });

  it('shares one fetch between two snapshots taken at once', async () => {
    const { src, reports } = source(repo);
    server.resetRequests();
    const [a, b] = await Promise.all([src.snapshot(), src.snapshot()]);
    expect(a.commit).toBe(b.commit);
    expect(server.count('upload-pack')).toBe(1);
    expect(reports.map((r) => r.fetched).sort()).toEqual(['full', 'none']);
  });

  it('waits for a fetch lock held by another process, then uses what it fetched', async () => {
    const { src, cacheDir, reports } = source(repo);
    await src.snapshot();
    const [entry] = (await readdir(cacheDir)).filter((n) => !n.startsWith('.'));
    const lockFile = join(cacheDir, entry!, 'lock');
    // A live process on this host (our parent) owns it.
    await writeFile(lockFile, JSON.stringify({ pid: process.ppid, host: hostname(), at: Date.now() }));
    const meta = JSON.parse(await readFile(join(cacheDir, entry!, 'meta.json'), 'utf8')) as { tips: string[] };
    await writeFile(join(cacheDir, entry!, 'meta.json'), JSON.stringify({ ...meta, tips: ['0'.repeat(40)] }));
    let settled = false;
    const pending = src.snapshot().finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 150));
    expect(settled).toBe(false);
    await rm(lockFile);
    const snap = await pending;
    expect(text(await snap.readFile('cairn.yaml'))).toBe(MANIFEST);
    expect(reports.at(-1)?.fetched).toBe('incremental');
  });

  it('takes over a lock left by a process that has died', async () => {
    const { src, cacheDir } = source(repo);
    await src.snapshot();
    const [entry] = (await readdir(cacheDir)).filter((n) => !n.startsWith('.'));
    await writeFile(join(cacheDir, entry!, 'lock'), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), at: Date.now() }));
    const meta = JSON.parse(await readFile(join(cacheDir, entry!, 'meta.json'), 'utf8')) as { tips: string[] };
    await writeFile(join(cacheDir, entry!, 'meta.json'), JSON.stringify({ ...meta, tips: [] }));
    const snap = await src.snapshot();
    expect(snap.commit).toBe(meta.tips[0]);
  });

  it('starts a new generation when incremental packs have piled up, and deletes the old one', async () => {
    const r = await createRepo(server, 'generations', { 'cairn.yaml': MANIFEST });
    const { src, cacheDir, reports } = source(r);
    await src.snapshot();
    const [entry] = (await readdir(cacheDir)).filter((n) => !n.startsWith('.'));
    const metaFile = join(cacheDir, entry!, 'meta.json');
    const meta = JSON.parse(await readFile(metaFile, 'utf8')) as { generation: string; packs: number };
    await writeFile(metaFile, JSON.stringify({ ...meta, packs: 64 }));
    await commit(r, { 'b.yaml': 'b\n' });
    const snap = await src.snapshot();
    expect(reports[1]?.fetched).toBe('full');
    expect(text(await snap.readFile('b.yaml'))).toBe('b\n');
    const generations = (await readdir(join(cacheDir, entry!))).filter((n) => n.startsWith('g-'));
    expect(generations).toHaveLength(1);
    expect(generations[0]).not.toBe(meta.generation);
  });

  it('evicts the least recently used repository to stay under maxCacheBytes', async () => {
    const other = await createRepo(server, 'evict-me', { 'cairn.yaml': MANIFEST });
    const cacheDir = join(cacheRoot, 'eviction');
    await source(other, { cacheDir }).src.snapshot();
    const [otherEntry] = await readdir(cacheDir);
    const { src, reports } = source(repo, { cacheDir, maxCacheBytes: 1 });
    await src.snapshot();
    expect(reports[0]?.evicted).toBe(1);
    const left = (await readdir(cacheDir)).filter((n) => !n.startsWith('.'));
    expect(left).toHaveLength(1);
    expect(left[0]).not.toBe(otherEntry);
    // The evicted repository is fetched again, whole, on its next use.
    const again = source(other, { cacheDir });
    await again.src.snapshot();
    expect(again.reports[0]?.fetched).toBe('full');
  });

  it('follows symbolic links inside the repository and refuses those that leave it', async () => {
    const r = await createRepo(server, 'links', {
      'cairn.yaml': MANIFEST,
      'stacks/real.yaml': 'real\n',
      'stacks/alias.yaml': { symlink: 'real.yaml' },
      'all': { symlink: 'stacks' },
      'up.yaml': { symlink: 'stacks/../stacks/real.yaml' },
      'escape.yaml': { symlink: '../outside.yaml' },
      'stacks/deep-escape.yaml': { symlink: '../../etc/passwd' },
      'absolute.yaml': { symlink: '/etc/passwd' },
      'stacks/absolute.yaml': { symlink: '/etc/passwd' },
      'loop.yaml': { symlink: 'loop.yaml' },
      'dangling.yaml': { symlink: 'nothing.yaml' },
    });
    const snap = await source(r).src.snapshot();
    expect(text(await snap.readFile('stacks/alias.yaml'))).toBe('real\n');
    expect(text(await snap.readFile('all/real.yaml'))).toBe('real\n');
    expect(text(await snap.readFile('all/alias.yaml'))).toBe('real\n');
    expect(text(await snap.readFile('up.yaml'))).toBe('real\n');
    expect(await snap.readFile('dangling.yaml')).toBeUndefined();
    for (const path of ['escape.yaml', 'stacks/deep-escape.yaml', 'absolute.yaml', 'stacks/absolute.yaml', '../cairn.yaml', '/etc/passwd']) {
      const err = await rejection(snap.readFile(path));
      expect(err, path).toBeInstanceOf(PathOutsideRepoError);
      expect(err.message.startsWith(path)).toBe(true);
    }
    expect((await rejection(snap.readFile('loop.yaml'))).reason).toBe('SourceInvalid');
  });

  it('reads a repository of 5,000 files', async () => {
    const files: Record<string, string> = { 'cairn.yaml': MANIFEST };
    for (let i = 0; i < 5_000; i++) files[`files/d${i % 10}/f${i}.txt`] = `file ${i}\n`;
    const r = await createRepo(server, 'big', files);
    const { src, reports } = source(r);
    const snap = await src.snapshot();
    expect(reports[0]?.fetched).toBe('full');
    for (let i = 0; i < 5_000; i += 1) {
      if (i % 250 === 0) expect(text(await snap.readFile(`files/d${i % 10}/f${i}.txt`))).toBe(`file ${i}\n`);
    }
    await commit(r, { 'files/d3/f3.txt': 'changed\n' });
    const next = await src.snapshot();
    expect(text(await next.readFile('files/d3/f3.txt'))).toBe('changed\n');
    expect(reports[1]?.fetched).toBe('incremental');
    expect(reports[1]!.packBytes).toBeLessThan(2_000);
  });
});
