/**
 * The pack index Cairn writes for a fetched pack: the very bytes `git index-pack` writes for a
 * whole pack, a thin pack's deltas resolved against objects outside it, and every kind of damage
 * refused before anything is written.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexPack } from '../../../lib/adapters/git-fetch.js';
import { BadBytes, ObjectNotFoundError, ObjectStore } from '../../../lib/adapters/git-objects.js';
import { commits, createRepo, git, type TestRepo } from '../../helpers/git-server.js';

let root: string;
let repo: TestRepo;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cairn-git-fetch-test-'));
  const files: Record<string, string> = { 'cairn.yaml': 'version: 1\n' };
  for (let i = 0; i < 60; i++) files[`stacks/s${i}.yaml`] = `Resources:\n  Q${i}:\n    Type: AWS::SQS::Queue # ${'x'.repeat(100 + i)}\n`;
  repo = await createRepo(root, 'fetched', files);
  await commits(repo, Array.from({ length: 10 }, (_, c) => ({ [`stacks/s${c}.yaml`]: `Resources:\n  Q${c}:\n    Type: AWS::SNS::Topic # ${'x'.repeat(100 + c)} ${c}\n` })));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** `git pack-objects` of the revisions given (thin when asked: deltas may lean on the `^` side). */
function packOf(revs: string[], thin = false): Buffer {
  return execFileSync('git', ['pack-objects', '--revs', '--stdout', '-q', ...(thin ? ['--thin'] : [])], { cwd: repo.bareDir, input: `${revs.join('\n')}\n`, maxBuffer: 64 * 1024 * 1024 });
}

const nowhere = async (oid: string): Promise<never> => {
  throw new ObjectNotFoundError(oid);
};

describe('indexPack', () => {
  it('writes the index git writes, byte for byte, for a pack with delta chains', async () => {
    const pack = packOf(['HEAD']);
    const indexed = await indexPack(pack, { external: nowhere });
    const file = join(root, 'whole.pack');
    await writeFile(file, pack);
    execFileSync('git', ['index-pack', '-o', join(root, 'whole.idx'), file], { cwd: repo.bareDir });
    expect(indexed.index.equals(await readFile(join(root, 'whole.idx')))).toBe(true);
    expect(indexed.checksum).toBe(pack.subarray(-20).toString('hex'));
    expect(indexed.oids.has(await git(['rev-parse', 'HEAD'], repo.bareDir))).toBe(true);
  });

  it('resolves a thin pack against the objects outside it', async () => {
    const thin = packOf(['HEAD', '^HEAD~1'], true);
    await expect(indexPack(thin, { external: nowhere })).rejects.toThrow(/in no pack/);
    const store = new ObjectStore(repo.bareDir);
    const indexed = await indexPack(thin, { external: (oid) => store.readObject(oid) });
    const changed = await git(['rev-parse', 'HEAD:stacks/s9.yaml'], repo.bareDir);
    expect(indexed.oids.has(changed)).toBe(true);
    expect(indexed.index.readUInt32BE(8 + 255 * 4)).toBe(indexed.oids.size);
  });

  it('refuses a pack that does not match its checksum, is cut short or is not a pack', async () => {
    const pack = packOf(['HEAD']);
    const flipped = Buffer.from(pack);
    flipped[100] = flipped[100]! ^ 0xff;
    await expect(indexPack(flipped, { external: nowhere })).rejects.toThrow(BadBytes);
    await expect(indexPack(pack.subarray(0, pack.length - 1), { external: nowhere })).rejects.toThrow(BadBytes);
    await expect(indexPack(Buffer.from('<html>sign in</html>'.padEnd(64)), { external: nowhere })).rejects.toThrow('not a pack');
    // Damage that the checksum does not catch (it was made again over the damage): an entry that does not inflate.
    const damaged = Buffer.from(pack);
    damaged.fill(0, 40, 200);
    createHash('sha1').update(damaged.subarray(0, -20)).digest().copy(damaged, damaged.length - 20);
    await expect(indexPack(damaged, { external: nowhere })).rejects.toThrow(BadBytes);
  });

  it('stops between objects once its signal has aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    await expect(indexPack(packOf(['HEAD']), { external: nowhere, signal: controller.signal })).rejects.toThrow('deadline');
  });
});
