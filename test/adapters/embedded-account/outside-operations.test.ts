/**
 * What happens to stacks outside Cairn, for tests: console creates and updates, and stacks forced
 * into a status.
 */
import { describe, expect, it } from 'vitest';
import { BUCKET_TEMPLATE, changeSet, deploy, newAccount } from './helpers.js';

describe('EmbeddedAccount: operations outside Cairn', () => {
  it('creates a stack directly, without a change set or Cairn tags', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const { stackId } = account.createStackOutsideCairn({ stackName: 'legacy', templateBody: BUCKET_TEMPLATE, tags: { owner: 'ops' } });
    expect(await gateway.describeStack('legacy')).toMatchObject({ stackId, status: 'CREATE_IN_PROGRESS', tags: { owner: 'ops' } });
    account.settle();
    expect((await gateway.describeStack('legacy'))?.status).toBe('CREATE_COMPLETE');
    expect(await gateway.listChangeSets('legacy')).toEqual([]);
    const statuses = (await gateway.listStackEvents('legacy', 10)).filter((e) => e.logicalId === 'legacy').map((e) => e.status);
    expect(statuses).toEqual(['CREATE_COMPLETE', 'CREATE_IN_PROGRESS']);
    expect(() => account.createStackOutsideCairn({ stackName: 'legacy', templateBody: BUCKET_TEMPLATE })).toThrow('Stack [legacy] already exists');
  });

  it('updates a stack as a console user would, keeping it busy for a while and making pending change sets obsolete', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'cairn', changeSetType: 'UPDATE', parameters: [{ key: 'Env', value: 'qa' }] }));
    account.settle();
    account.updateStackOutsideCairn({ stackName: 'app', parameters: { Env: 'hotfix' } });
    expect((await gateway.describeStack('app'))?.status).toBe('UPDATE_IN_PROGRESS');
    await expect(
      gateway.createChangeSet(changeSet({ stackName: 'app', changeSetType: 'UPDATE', parameters: [{ key: 'Env', value: 'qa' }] })),
    ).rejects.toMatchObject({ code: 'ValidationError' });
    expect((await gateway.describeChangeSet('app', 'cairn'))?.executionStatus).toBe('OBSOLETE');
    account.settle();
    expect(await gateway.describeStack('app')).toMatchObject({ status: 'UPDATE_COMPLETE', parameters: { Env: 'hotfix' } });
    expect(() => account.updateStackOutsideCairn({ stackName: 'app', parameters: { Env: 'hotfix' } })).toThrow('No updates are to be performed.');
  });

  it('forces a stack into a status at once, as a stuck stack would be', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    account.forceStackStatus({ stackName: 'app', status: 'UPDATE_ROLLBACK_FAILED', statusReason: 'Resource Bucket is stuck' });
    expect(await gateway.describeStack('app')).toMatchObject({ status: 'UPDATE_ROLLBACK_FAILED', statusReason: 'Resource Bucket is stuck' });
    expect((await gateway.listStackEvents('app', 1))[0]).toMatchObject({ logicalId: 'app', status: 'UPDATE_ROLLBACK_FAILED' });
    account.forceStackStatus({ stackName: 'app', status: 'DELETE_FAILED' });
    await gateway.deleteStack('app', { clientToken: 'retry', roleArn: undefined });
    account.settle();
    expect(await gateway.describeStack('app')).toBeUndefined();
  });

  it('cuts a running operation short when forcing a status', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    account.createStackOutsideCairn({ stackName: 'app', templateBody: BUCKET_TEMPLATE });
    account.forceStackStatus({ stackName: 'app', status: 'CREATE_FAILED' });
    account.settle();
    expect((await gateway.describeStack('app'))?.status).toBe('CREATE_FAILED');
  });

  it('refuses to inject drift into a busy stack or a resource it does not have', async () => {
    const account = newAccount();
    account.createStackOutsideCairn({ stackName: 'app', templateBody: BUCKET_TEMPLATE });
    expect(() => account.injectDrift({ stackName: 'app', logicalId: 'Bucket', path: 'Tags', value: [] })).toThrow(/CREATE_IN_PROGRESS/);
    account.settle();
    expect(() => account.injectDrift({ stackName: 'app', logicalId: 'Nope', path: 'Tags', value: [] })).toThrow('Stack [app] has no resource Nope');
  });
});
