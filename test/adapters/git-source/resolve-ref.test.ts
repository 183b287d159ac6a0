/**
 * resolveRefOnDisk, which reads refs for local repositories without loading isomorphic-git,
 * against isomorphic-git's own resolveRef on the same repository: branches, lightweight and
 * annotated tags, remote-tracking refs and their HEAD, symbolic refs, loose and packed, a full SHA,
 * and names that resolve to nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as isomorphicGit from 'isomorphic-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitFs } from '../../../lib/adapters/git-cache.js';
import { resolveRefOnDisk } from '../../../lib/adapters/local-source.js';
import { git } from '../../helpers/git-server.js';

let dir: string;
let gitdir: string;

async function outcome(resolve: () => Promise<string>): Promise<string> {
  return resolve().then(
    (oid) => oid,
    () => 'not found',
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-resolve-ref-'));
  gitdir = join(dir, '.git');
  await git(['init', '--quiet', dir]);
  await writeFile(join(dir, 'a.txt'), 'a');
  await git(['add', '.'], dir);
  await git(['commit', '--quiet', '-m', 'first'], dir);
  await git(['tag', 'light'], dir);
  await git(['tag', '-a', 'annotated', '-m', 'an annotated tag'], dir);
  await git(['branch', 'packed-branch'], dir);
  await git(['pack-refs', '--all'], dir);
  await writeFile(join(dir, 'a.txt'), 'b');
  await git(['commit', '--quiet', '-am', 'second'], dir);
  await git(['branch', 'loose-branch'], dir);
  await git(['update-ref', 'refs/remotes/origin/main', 'HEAD~1'], dir);
  await git(['symbolic-ref', 'refs/remotes/origin/HEAD', 'refs/remotes/origin/main'], dir);
  await git(['symbolic-ref', 'refs/heads/alias', 'refs/heads/loose-branch'], dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Function: resolveRefOnDisk', () => {
  it('resolves every ref as isomorphic-git does', async () => {
    const head = await git(['rev-parse', 'HEAD'], dir);
    const refs = [
      'HEAD', 'main', 'refs/heads/main', 'loose-branch', 'packed-branch', 'refs/heads/packed-branch', 'alias', 'light', 'annotated', 'tags/annotated',
      'refs/tags/annotated', 'origin', 'origin/main', 'remotes/origin/HEAD', 'no-such-ref', 'refs/heads/none', head, head.toUpperCase(), head.slice(0, 8), 'config', 'index', '',
    ];
    let found = 0;
    for (const ref of refs) {
      const ours = await outcome(() => resolveRefOnDisk(gitdir, ref));
      const theirs = await outcome(() => isomorphicGit.resolveRef({ fs: gitFs, gitdir, ref }));
      expect(ours, ref).toBe(theirs);
      if (ours !== 'not found') found++;
    }
    // Most of them name something: the comparison is not of two failures.
    expect(found).toBeGreaterThan(12);
  });

  it('refuses a cycle of symbolic refs instead of looping', async () => {
    await writeFile(join(gitdir, 'refs/heads/loop-a'), 'ref: refs/heads/loop-b\n');
    await writeFile(join(gitdir, 'refs/heads/loop-b'), 'ref: refs/heads/loop-a\n');
    await expect(resolveRefOnDisk(gitdir, 'loop-a')).rejects.toThrow(/Circular reference/);
  });
});
