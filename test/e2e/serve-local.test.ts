/**
 * `cairn serve` on a repository on disk, as a user runs it: it deploys commits and branch moves,
 * never saved files; it follows two sources of one repository (--path twice) independently; and
 * it does not start on a work tree whose files cairn.yaml reads have uncommitted edits.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, cairn, cairnAsync, until } from '../helpers/cli.js';
import { git } from '../helpers/git-server.js';

const queue = (name: string, timeout: number): string =>
  `Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: ${name}\n      VisibilityTimeout: ${timeout}\n`;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A repository holding two sources, envs/dev and envs/prod, committed once. */
async function twoEnvironments(root: string): Promise<string> {
  const dir = join(root, 'infra');
  for (const env of ['dev', 'prod']) {
    mkdirSync(join(dir, 'envs', env), { recursive: true });
    writeFileSync(join(dir, 'envs', env, 'cairn.yaml'), `version: 1\nsource: infra-${env}\nstacks:\n  ${env}-queue:\n    template: queue.yaml\n`);
    writeFileSync(join(dir, 'envs', env, 'queue.yaml'), queue(`${env}-orders`, 30));
  }
  writeFileSync(join(dir, 'README.md'), 'Two environments\n');
  await git(['init', '--quiet', '--initial-branch=main'], dir);
  await git(['add', '--all'], dir);
  await git(['commit', '--quiet', '-m', 'Two environments'], dir);
  return dir;
}

function serve(args: string[], env: NodeJS.ProcessEnv): { output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--sweep-every', '0', '--watch-every', '200ms', ...args], { env: { ...process.env, NO_COLOR: '1', ...env } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  cleanup.push(() => {
    if (child.exitCode === null) child.kill('SIGINT');
    return exited.then(() => undefined);
  });
  return { output: () => output, exited };
}

interface StatusJson {
  commit: string;
  stacks: { id: string; commit: string | null; inSync: boolean; appliedAt: string | null }[];
}

describe('End to end: cairn serve on a repository on disk', () => {
  it('follows two sources of one repository, deploying commits (not saves) to the source whose files they touch', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cairn-serve-local-'));
    cleanup.push(() => rmSync(root, { recursive: true, force: true }));
    const repo = await twoEnvironments(root);
    const first = await git(['rev-parse', 'HEAD'], repo);
    const env = { CAIRN_HOME: join(root, 'home'), CAIRN_WEBHOOK_SECRET: 's3cret' };
    const status = async (path: string): Promise<StatusJson> => JSON.parse((await cairnAsync(['status', repo, '--path', path, '--json'], { env })).stdout) as StatusJson;

    const served = serve(['--repo', repo, '--path', 'envs/dev', '--path', 'envs/prod'], env);
    await until('both sources to be served', () => (/POST \S+\/hooks\/infra-dev/.test(served.output()) && /POST \S+\/hooks\/infra-prod/.test(served.output()) ? true : undefined));
    await until('both sources in sync at the first commit', async () => {
      const [dev, prod] = [await status('envs/dev'), await status('envs/prod')];
      return [dev, prod].every((s) => s.stacks.length === 1 && s.stacks[0]!.inSync && s.stacks[0]!.commit === first) ? true : undefined;
    });
    const prodBefore = (await status('envs/prod')).stacks[0]!;

    // A saved but uncommitted edit is never deployed.
    writeFileSync(join(repo, 'envs/dev/queue.yaml'), queue('dev-orders', 45));
    const seen = served.output().length;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(served.output().slice(seen)).not.toMatch(/reconciling/);
    expect((await status('envs/dev')).stacks[0]!.commit).toBe(first);

    // Committing it deploys it to dev; prod, whose files the commit does not touch, gets no change set.
    await git(['commit', '--quiet', '-am', 'Dev workers get more time'], repo);
    const second = await git(['rev-parse', 'HEAD'], repo);
    await until('dev at the new commit', async () => ((await status('envs/dev')).stacks[0]!.commit === second ? true : undefined));
    const after = served.output().slice(seen);
    expect(after).toMatch(/dev-queue\s+change set/);
    expect(after).not.toMatch(/prod-queue\s+change set/);
    const prodAfter = (await status('envs/prod')).stacks[0]!;
    expect(prodAfter).toMatchObject({ inSync: true, commit: first, appliedAt: prodBefore.appliedAt });

    // A branch move (here a reset to the first commit) is followed like a new commit.
    await git(['reset', '--quiet', '--hard', first], repo);
    await until('dev back at the first commit', async () => ((await status('envs/dev')).stacks[0]!.commit === first ? true : undefined));
  });

  it('does not start while a file cairn.yaml reads has uncommitted edits, unless --allow-dirty', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cairn-serve-dirty-'));
    cleanup.push(() => rmSync(root, { recursive: true, force: true }));
    const repo = await twoEnvironments(root);
    writeFileSync(join(repo, 'envs/prod/queue.yaml'), queue('prod-orders', 99));
    const env = { CAIRN_HOME: join(root, 'home') };
    const refused = cairn(['serve', '--repo', repo, '--path', 'envs/prod', '--port', '0'], { env });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/cairn serve: 1 file that cairn\.yaml reads has uncommitted changes/);
    expect(refused.stderr).toContain('queue.yaml (modified)');
    expect(refused.stderr).toContain('--allow-dirty to start anyway (uncommitted edits are still not deployed)');

    const served = serve(['--repo', repo, '--path', 'envs/prod', '--allow-dirty'], env);
    const first = await git(['rev-parse', 'HEAD'], repo);
    await until('the committed content applied', () => (/succeeded: 1 stack created/.test(served.output()) ? true : undefined));
    expect(served.output()).toContain('Note: 1 file that cairn.yaml reads differs from commit');
    const status = JSON.parse(cairn(['status', repo, '--path', 'envs/prod', '--json', '--ref', 'main'], { env }).stdout) as StatusJson;
    expect(status.stacks[0]).toMatchObject({ commit: first, inSync: true });
  });
});
