/**
 * Drift in the embedded account: injected changes and deletions, detection over time with property
 * paths, and REVERT_DRIFT change sets that put resources back.
 */
import { describe, expect, it } from 'vitest';
import { BUCKET_TEMPLATE, changeSet, deploy, newAccount, template } from './helpers.js';

const WITH_INSTANCE = template({
  Resources: {
    Bucket: { Type: 'AWS::S3::Bucket', Properties: { VersioningConfiguration: { Status: 'Enabled' } } },
    Server: { Type: 'AWS::EC2::Instance', Properties: { InstanceType: 't3.micro', ImageId: 'ami-123' } },
  },
});

describe('EmbeddedAccount: drift', () => {
  it('detects injected drift: in progress first, then DRIFTED with property paths and values', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    const { detectable } = account.injectDrift({ stackName: 'app', logicalId: 'Bucket', path: 'VersioningConfiguration.Status', value: 'Suspended' });
    expect(detectable).toBe(true);
    account.injectDrift({ stackName: 'app', logicalId: 'Bucket', path: 'Tags.0.Value', value: 'hacked' });

    const id = await gateway.detectStackDrift('app');
    expect(await gateway.describeDriftDetection(id)).toEqual({
      status: 'DETECTION_IN_PROGRESS',
      stackDriftStatus: undefined,
      reason: undefined,
      driftedResourceCount: undefined,
    });
    account.settle();
    expect(await gateway.describeDriftDetection(id)).toMatchObject({ status: 'DETECTION_COMPLETE', stackDriftStatus: 'DRIFTED', driftedResourceCount: 1 });
    const drifts = await gateway.listResourceDrifts('app');
    expect(drifts).toHaveLength(1);
    expect(drifts[0]).toMatchObject({ logicalId: 'Bucket', resourceType: 'AWS::S3::Bucket', status: 'MODIFIED' });
    expect(drifts[0]!.differences).toEqual([
      { path: '/VersioningConfiguration/Status', expected: 'Enabled', actual: 'Suspended', kind: 'NOT_EQUAL' },
      { path: '/Tags/0/Value', expected: 'dev', actual: 'hacked', kind: 'NOT_EQUAL' },
    ]);
    expect(await gateway.describeStack('app')).toMatchObject({ driftStatus: 'DRIFTED', driftCheckedAt: expect.any(String) });
  });

  it('reports IN_SYNC for a stack nobody changed and NOT_CHECKED before any detection', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    expect((await gateway.describeStack('app'))?.driftStatus).toBe('NOT_CHECKED');
    const id = await gateway.detectStackDrift('app');
    account.settle();
    expect(await gateway.describeDriftDetection(id)).toMatchObject({ stackDriftStatus: 'IN_SYNC', driftedResourceCount: 0 });
    expect(await gateway.listResourceDrifts('app')).toEqual([]);
  });

  it('reports a resource deleted outside CloudFormation as DELETED', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    account.deleteResourceOutsideCairn({ stackName: 'app', logicalId: 'Bucket' });
    await gateway.detectStackDrift('app');
    account.settle();
    expect(await gateway.listResourceDrifts('app')).toEqual([expect.objectContaining({ logicalId: 'Bucket', status: 'DELETED', differences: [] })]);
  });

  it('does not see drift in a property the template does not set, as CloudFormation does not', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    const { detectable } = account.injectDrift({ stackName: 'app', logicalId: 'Bucket', path: 'AccelerateConfiguration', value: { AccelerationStatus: 'Enabled' } });
    expect(detectable).toBe(false);
    const id = await gateway.detectStackDrift('app');
    account.settle();
    expect((await gateway.describeDriftDetection(id)).stackDriftStatus).toBe('IN_SYNC');
  });

  it('reverts drift with a REVERT_DRIFT change set so that the next detection is IN_SYNC', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    account.injectDrift({ stackName: 'app', logicalId: 'Bucket', path: 'VersioningConfiguration.Status', value: 'Suspended' });

    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'plain', changeSetType: 'UPDATE' }));
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'revert', changeSetType: 'UPDATE', deploymentMode: 'REVERT_DRIFT' }));
    account.settle();
    expect((await gateway.describeChangeSet('app', 'plain'))?.status).toBe('FAILED');
    expect((await gateway.describeChangeSet('app', 'revert'))?.changes).toEqual([
      expect.objectContaining({ action: 'Modify', logicalId: 'Bucket', replacement: 'False', properties: ['VersioningConfiguration'] }),
    ]);
    await gateway.executeChangeSet('app', 'revert', 'revert');
    account.settle();
    expect((await gateway.describeStack('app'))?.status).toBe('UPDATE_COMPLETE');
    const id = await gateway.detectStackDrift('app');
    account.settle();
    expect((await gateway.describeDriftDetection(id)).stackDriftStatus).toBe('IN_SYNC');
  });

  it('reports replacement for reverting drift in an immutable property or a deleted resource', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const named = template({
      Resources: {
        Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: 'app-logs', RetentionInDays: 7 } },
        Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
      },
    });
    await deploy(account, gateway, changeSet({ stackName: 'app', templateBody: named }));
    account.injectDrift({ stackName: 'app', logicalId: 'Logs', path: 'LogGroupName', value: 'renamed' });
    account.deleteResourceOutsideCairn({ stackName: 'app', logicalId: 'Bucket' });
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'revert', changeSetType: 'UPDATE', templateBody: named, deploymentMode: 'REVERT_DRIFT' }));
    account.settle();
    const changes = (await gateway.describeChangeSet('app', 'revert'))!.changes;
    expect(changes.map((c) => [c.logicalId, c.action, c.replacement])).toEqual([
      ['Logs', 'Modify', 'True'],
      ['Bucket', 'Modify', 'True'],
    ]);
  });

  it('leaves resources of types it cannot revert out of a REVERT_DRIFT change set', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app', templateBody: WITH_INSTANCE }));
    account.injectDrift({ stackName: 'app', logicalId: 'Server', path: 'InstanceType', value: 't3.large' });
    account.injectDrift({ stackName: 'app', logicalId: 'Bucket', path: 'VersioningConfiguration.Status', value: 'Suspended' });
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'revert', changeSetType: 'UPDATE', templateBody: WITH_INSTANCE, deploymentMode: 'REVERT_DRIFT' }));
    account.settle();
    expect((await gateway.describeChangeSet('app', 'revert'))!.changes.map((c) => c.logicalId)).toEqual(['Bucket']);
    await gateway.executeChangeSet('app', 'revert', 'revert');
    account.settle();
    await gateway.detectStackDrift('app');
    account.settle();
    expect((await gateway.listResourceDrifts('app')).map((d) => d.logicalId)).toEqual(['Server']);
  });

  it('takes the list of types it cannot revert from the options', async () => {
    const account = newAccount({ nonRevertibleTypes: ['AWS::S3::Bucket'] });
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    account.injectDrift({ stackName: 'app', logicalId: 'Bucket', path: 'VersioningConfiguration.Status', value: 'Suspended' });
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'revert', changeSetType: 'UPDATE', templateBody: BUCKET_TEMPLATE, deploymentMode: 'REVERT_DRIFT' }));
    account.settle();
    expect(await gateway.describeChangeSet('app', 'revert')).toMatchObject({ status: 'FAILED' });
  });

  it('refuses drift detection on a stack that is not in a settled state', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await gateway.createChangeSet(changeSet({ stackName: 'app' }));
    await expect(gateway.detectStackDrift('app')).rejects.toMatchObject({ code: 'ValidationError', message: expect.stringContaining('REVIEW_IN_PROGRESS') });
    await expect(gateway.describeDriftDetection('no-such-id')).rejects.toMatchObject({ code: 'ValidationError' });
  });
});
