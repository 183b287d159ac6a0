/**
 * The embedded account's persistence: several processes on one home see one consistent account,
 * read-modify-write is serialised by a lock file, and a thousand stacks stay cheap to list.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withFileLock } from '../../../lib/adapters/embedded-account/file-lock.js';
import { changeSet, deploy, manualClock, newAccount, tempHome } from './helpers.js';

const TOPIC = '{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}';

describe('EmbeddedAccount: persistence', () => {
  it('starts empty when the home holds no state, and writes nothing for reads', async () => {
    const home = tempHome();
    const account = newAccount({ home });
    expect(await account.gateway().listStacks()).toEqual([]);
    expect(existsSync(path.join(home, 'embedded-account'))).toBe(false);
  });

  it('shows an account opened later on the same home the stacks, statuses and time of the first', async () => {
    const home = tempHome();
    const clock = manualClock();
    const first = newAccount({ home, clock });
    await deploy(first, first.gateway(), changeSet({ stackName: 'app', tags: { team: 'a' } }));
    const later = newAccount({ home, clock });
    expect(later.now()).toBe(first.now());
    expect(await later.gateway().describeStack('app')).toEqual(await first.gateway().describeStack('app'));
  });

  it('keeps two live accounts on one home in step, whichever of them writes', async () => {
    const home = tempHome();
    const clock = manualClock();
    const serving = newAccount({ home, clock });
    const cli = newAccount({ home, clock });
    expect(await serving.gateway().listStacks()).toEqual([]);
    await deploy(cli, cli.gateway(), changeSet({ stackName: 'app' }));
    expect((await serving.gateway().describeStack('app'))?.status).toBe('CREATE_COMPLETE');

    cli.injectDrift({ stackName: 'app', logicalId: 'Bucket', path: 'VersioningConfiguration.Status', value: 'Suspended' });
    const id = await serving.gateway().detectStackDrift('app');
    serving.settle();
    expect((await serving.gateway().describeDriftDetection(id)).stackDriftStatus).toBe('DRIFTED');
    expect((await cli.gateway().describeDriftDetection(id)).stackDriftStatus).toBe('DRIFTED');
  });

  it('lets statuses move with the clock alone, so a reader needs no writer to see progress', async () => {
    const home = tempHome();
    const clock = manualClock();
    const writer = newAccount({ home, clock, operationMs: 100 });
    const reader = newAccount({ home, clock, operationMs: 100 });
    writer.createStackOutsideCairn({ stackName: 'slow', templateBody: TOPIC });
    expect((await reader.gateway().describeStack('slow'))?.status).toBe('CREATE_IN_PROGRESS');
    clock.add(100);
    expect((await reader.gateway().describeStack('slow'))?.status).toBe('CREATE_COMPLETE');
  });

  it('waits for a lock held by another live process and takes over one left by a dead process', async () => {
    const dir = tempHome();
    const lock = path.join(dir, '.lock');
    writeFileSync(lock, '999999999 0');
    expect(withFileLock(lock, () => 'taken over')).toBe('taken over');

    const holder = spawn(process.execPath, [
      '-e',
      `const fs = require('node:fs'); fs.writeFileSync(${JSON.stringify(lock)}, process.pid + ' ' + Date.now()); process.stdout.write('held'); setTimeout(() => fs.unlinkSync(${JSON.stringify(lock)}), 150);`,
    ]);
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const started = Date.now();
    const result = withFileLock(lock, () => existsSync(lock));
    expect(result).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(existsSync(lock)).toBe(false);
    await new Promise((resolve) => holder.once('exit', resolve));
  });

  it('lists a thousand stacks, including for an account that was open while they were made', async () => {
    const home = tempHome();
    const clock = manualClock();
    const watcher = newAccount({ home, clock });
    expect(await watcher.gateway().listStacks()).toEqual([]);
    const maker = newAccount({ home, clock });
    for (let i = 0; i < 1000; i++) maker.createStackOutsideCairn({ stackName: `stack-${i}`, templateBody: TOPIC, tags: { n: String(i) } });
    maker.settle();
    const stacks = await watcher.gateway().listStacks();
    expect(stacks).toHaveLength(1000);
    expect(new Set(stacks.map((s) => s.status))).toEqual(new Set(['CREATE_COMPLETE']));
    expect(stacks.find((s) => s.stackName === 'stack-999')?.tags).toEqual({ n: '999' });
    expect(await newAccount({ home, clock }).gateway().listStacks()).toHaveLength(1000);
  });
});
