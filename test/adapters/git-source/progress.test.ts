/** GitSource's progress reports, against a real repository served by `git http-backend` on 127.0.0.1. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSource } from '../../../lib/adapters/git-source.js';
import type { Progress } from '../../../lib/ports/progress.js';
import { createRepo, startGitServer, type GitServer, type TestRepo } from '../../helpers/git-server.js';

let server: GitServer;
let cacheRoot: string;
let repo: TestRepo;

beforeAll(async () => {
  server = await startGitServer();
  cacheRoot = await mkdtemp(join(tmpdir(), 'cairn-git-progress-test-'));
  const files: Record<string, string> = { 'cairn.yaml': 'version: 1\nstacks:\n  s0: {template: stacks/s0.yaml}\n' };
  for (let i = 0; i < 60; i++) files[`stacks/s${i}.yaml`] = `Resources:\n  Bucket${i}:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: bucket-${i}-${'x'.repeat(200)}}\n`;
  repo = await createRepo(server, 'platform', files);
});

afterAll(async () => {
  await server.stop();
  await rm(cacheRoot, { recursive: true, force: true });
});

describe('GitSource: progress', () => {
  it('reports the pack bytes received as they grow, the steps, the URL without credentials, and the end', async () => {
    const seen: Progress[] = [];
    const url = repo.url!.replace('://', '://someone:s3cret@');
    const src = new GitSource({ url, branch: repo.branch, cacheDir: join(cacheRoot, 'a'), progress: (p) => seen.push(p) });
    await src.snapshot();
    const fetches = seen.flatMap((p) => (p.phase === 'fetch' && !p.finished ? [p] : []));
    expect(fetches[0]).toEqual({ phase: 'fetch', url: repo.url, bytes: 0 });
    const bytes = fetches.map((p) => p.bytes);
    expect(bytes.at(-1)).toBeGreaterThan(1000);
    expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
    // The fetch's steps: the pack arriving, then indexed.
    expect([...new Set(fetches.flatMap((p) => (p.stage ? [p.stage] : [])))]).toEqual(['Receiving objects', 'Indexing objects']);
    expect(JSON.stringify(seen)).not.toContain('s3cret');
    expect(seen.at(-1)).toEqual({ phase: 'fetch', finished: true });
  });

  it('ends the phase when the snapshot fails', async () => {
    const seen: Progress[] = [];
    const src = new GitSource({ url: repo.url!, branch: 'no-such-branch', cacheDir: join(cacheRoot, 'b'), progress: (p) => seen.push(p) });
    await expect(src.snapshot()).rejects.toThrow(/no-such-branch/);
    expect(seen.at(-1)).toEqual({ phase: 'fetch', finished: true });
  });
});
