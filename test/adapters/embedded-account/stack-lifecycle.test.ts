/**
 * Executing change sets and deleting stacks in the embedded account: statuses over simulated time,
 * per-resource events, outputs, obsolete change sets, termination protection.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../lib/ports/stack-gateway.js';
import { BUCKET_TEMPLATE, changeSet, deploy, newAccount, template } from './helpers.js';

const TWO_RESOURCES = template({
  Parameters: { Env: { Type: 'String', Default: 'dev' }, Secret: { Type: 'String', Default: 'hunter2', NoEcho: true } },
  Resources: {
    Key: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: {} } },
    Bucket: {
      Type: 'AWS::S3::Bucket',
      Properties: {
        BucketName: { 'Fn::Sub': '${AWS::StackName}-${Env}-data' },
        BucketEncryption: { KMSMasterKeyID: { 'Fn::GetAtt': ['Key', 'Arn'] } },
      },
    },
  },
  Outputs: {
    BucketName: { Value: { Ref: 'Bucket' } },
    KeyArn: { Value: { 'Fn::GetAtt': ['Key', 'Arn'] }, Export: { Name: { 'Fn::Sub': '${AWS::StackName}-key' } } },
    Where: { Value: { 'Fn::Join': [':', [{ Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }, { Ref: 'AWS::Partition' }]] } },
  },
});

describe('EmbeddedAccount: stack lifecycle', () => {
  it('creates a stack over simulated time, one resource at a time in dependency order', async () => {
    const account = newAccount({ operationMs: 10 });
    const gateway = account.gateway();
    const input = changeSet({ stackName: 'app', templateBody: TWO_RESOURCES, tags: { 'cairn:source': 'main' } });
    await gateway.createChangeSet(input);
    account.settle();
    await gateway.executeChangeSet('app', input.changeSetName, input.clientToken);
    const statuses = [(await gateway.describeStack('app'))!.status];
    account.advance(10);
    statuses.push((await gateway.describeStack('app'))!.status);
    expect((await gateway.describeChangeSet('app', input.changeSetName))?.executionStatus).toBe('EXECUTE_IN_PROGRESS');
    account.settle();
    statuses.push((await gateway.describeStack('app'))!.status);
    expect(statuses).toEqual(['CREATE_IN_PROGRESS', 'CREATE_IN_PROGRESS', 'CREATE_COMPLETE']);
    expect((await gateway.describeChangeSet('app', input.changeSetName))?.executionStatus).toBe('EXECUTE_COMPLETE');

    const events = await gateway.listStackEvents('app', 100);
    expect(events.map((e) => `${e.logicalId} ${e.status}`)).toEqual([
      'app CREATE_COMPLETE',
      'Bucket CREATE_COMPLETE',
      'Bucket CREATE_IN_PROGRESS',
      'Key CREATE_COMPLETE',
      'Key CREATE_IN_PROGRESS',
      'app CREATE_IN_PROGRESS',
      'app REVIEW_IN_PROGRESS',
    ]);
    expect(events[0]!.clientRequestToken).toBe(input.clientToken);
    expect(Date.parse(events[0]!.timestamp) - Date.parse(events[5]!.timestamp)).toBe(20);
    expect(await gateway.listStackEvents('app', 2)).toHaveLength(2);
  });

  it('evaluates outputs and keeps parameters and tags, hiding NoEcho values', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app', templateBody: TWO_RESOURCES, tags: { team: 'core' }, parameters: [{ key: 'Env', value: 'prod' }] }));
    const stack = (await gateway.describeStack('app'))!;
    expect(stack.outputs['BucketName']).toBe('app-prod-data');
    expect(stack.outputs['KeyArn']).toMatch(/^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f-]{36}$/);
    expect(stack.outputs['Where']).toBe('us-east-1:123456789012:aws');
    expect(stack.parameters).toEqual({ Env: 'prod', Secret: '****' });
    expect(stack.tags).toEqual({ team: 'core' });
    expect(stack.createdAt).toBe(new Date(account.now() - 80).toISOString());
    expect(stack.updatedAt).toBeUndefined();
  });

  it('updates a stack and makes its other change sets OBSOLETE', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'prod', changeSetType: 'UPDATE', parameters: [{ key: 'Env', value: 'prod' }] }));
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'test', changeSetType: 'UPDATE', parameters: [{ key: 'Env', value: 'test' }] }));
    account.settle();
    await gateway.executeChangeSet('app', 'prod', 'prod');
    expect((await gateway.describeStack('app'))?.status).toBe('UPDATE_IN_PROGRESS');
    account.settle();
    const stack = (await gateway.describeStack('app'))!;
    expect(stack).toMatchObject({ status: 'UPDATE_COMPLETE', parameters: { Env: 'prod' } });
    expect(stack.updatedAt).toBeDefined();
    const statuses = Object.fromEntries((await gateway.listChangeSets('app')).map((s) => [s.changeSetName, s.executionStatus]));
    expect(statuses).toMatchObject({ prod: 'EXECUTE_COMPLETE', test: 'OBSOLETE' });
    const error = await gateway.executeChangeSet('app', 'test', 'test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('InvalidChangeSetStatus');
  });

  it('refuses to execute a change set that is still being computed, and ignores a repeated execute with the same token', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const input = changeSet({ stackName: 'app' });
    await gateway.createChangeSet(input);
    await expect(gateway.executeChangeSet('app', input.changeSetName, 'x')).rejects.toMatchObject({
      code: 'InvalidChangeSetStatus',
      message: expect.stringContaining('[UNAVAILABLE]'),
    });
    account.settle();
    await gateway.executeChangeSet('app', input.changeSetName, 'x');
    await gateway.executeChangeSet('app', input.changeSetName, 'x');
    account.settle();
    const creates = (await gateway.listStackEvents('app', 100)).filter((e) => e.logicalId === 'app' && e.status === 'CREATE_IN_PROGRESS');
    expect(creates).toHaveLength(1);
  });

  it('deletes a stack through DELETE_IN_PROGRESS to DELETE_COMPLETE and then no longer lists it', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app', templateBody: TWO_RESOURCES }));
    const { stackId } = (await gateway.describeStack('app'))!;
    await gateway.deleteStack('app', { clientToken: 'del-1', roleArn: undefined });
    expect((await gateway.describeStack('app'))?.status).toBe('DELETE_IN_PROGRESS');
    account.settle();
    expect(await gateway.describeStack('app')).toBeUndefined();
    expect(await gateway.listStacks()).toEqual([]);
    // As the CloudFormation gateway: DescribeStacks still finds it by id, the gateway calls it gone.
    expect(await gateway.describeStack(stackId)).toBeUndefined();
    const events = await gateway.listStackEvents(stackId, 5);
    expect(events.map((e) => `${e.logicalId} ${e.status}`)).toEqual([
      'app DELETE_COMPLETE',
      'Key DELETE_COMPLETE',
      'Key DELETE_IN_PROGRESS',
      'Bucket DELETE_COMPLETE',
      'Bucket DELETE_IN_PROGRESS',
    ]);
    await expect(gateway.getTemplate('app')).rejects.toMatchObject({ code: 'ValidationError', message: 'Stack with id app does not exist' });
    await gateway.deleteStack('app', { clientToken: 'del-2', roleArn: undefined });
  });

  it('refuses to delete a stack with termination protection', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    await gateway.updateTerminationProtection('app', true);
    expect((await gateway.describeStack('app'))?.terminationProtection).toBe(true);
    await expect(gateway.deleteStack('app', { clientToken: 'd', roleArn: undefined })).rejects.toMatchObject({
      code: 'ValidationError',
      message: 'Stack [app] cannot be deleted while TerminationProtection is enabled',
    });
    await gateway.updateTerminationProtection('app', false);
    await gateway.deleteStack('app', { clientToken: 'd', roleArn: undefined });
    account.settle();
    expect(await gateway.describeStack('app')).toBeUndefined();
  });

  it('refuses to update a stack that is busy or that a failed create left in ROLLBACK_COMPLETE', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'u1', changeSetType: 'UPDATE', parameters: [{ key: 'Env', value: 'x' }] }));
    account.settle();
    await gateway.executeChangeSet('app', 'u1', 'u1');
    await expect(
      gateway.createChangeSet(changeSet({ stackName: 'app', changeSetType: 'UPDATE', parameters: [{ key: 'Env', value: 'y' }] })),
    ).rejects.toMatchObject({ code: 'ValidationError', message: expect.stringMatching(/is in UPDATE_IN_PROGRESS state and can not be updated\.$/) });
    await expect(gateway.deleteStack('app', { clientToken: 'd', roleArn: undefined })).rejects.toMatchObject({
      message: 'Stack [app] cannot be deleted while in status UPDATE_IN_PROGRESS',
    });
    account.settle();
    account.forceStackStatus({ stackName: 'app', status: 'ROLLBACK_COMPLETE' });
    await expect(
      gateway.createChangeSet(changeSet({ stackName: 'app', changeSetType: 'UPDATE', parameters: [{ key: 'Env', value: 'z' }] })),
    ).rejects.toMatchObject({ message: expect.stringContaining('is in ROLLBACK_COMPLETE state and can not be updated.') });
  });

  it('resolves Fn::ImportValue from another stack and refuses a duplicate export', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'keys', templateBody: TWO_RESOURCES }));
    const consumer = template({
      Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { KmsMasterKeyId: { 'Fn::ImportValue': 'keys-key' } } } },
      Outputs: { Imported: { Value: { 'Fn::ImportValue': 'keys-key' } } },
    });
    await deploy(account, gateway, changeSet({ stackName: 'consumer', templateBody: consumer }));
    const keys = (await gateway.describeStack('keys'))!;
    expect((await gateway.describeStack('consumer'))?.outputs['Imported']).toBe(keys.outputs['KeyArn']);

    const duplicate = template({
      Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
      Outputs: { Same: { Value: 'x', Export: { Name: 'keys-key' } } },
    });
    await gateway.createChangeSet(changeSet({ stackName: 'dupe', changeSetName: 'dupe', templateBody: duplicate }));
    const missing = template({ Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: { 'Fn::ImportValue': 'nope' } } } } });
    await gateway.createChangeSet(changeSet({ stackName: 'orphan', changeSetName: 'orphan', templateBody: missing }));
    account.settle();
    expect((await gateway.describeChangeSet('dupe', 'dupe'))?.statusReason).toMatch(/^Export with name keys-key is already exported by stack keys/);
    expect((await gateway.describeChangeSet('orphan', 'orphan'))?.statusReason).toBe('No export named nope found');
  });

  it('creates, replaces and removes resources as conditions and parameters change', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const body = template({
      Parameters: { Env: { Type: 'String', AllowedValues: ['dev', 'prod'] } },
      Mappings: { Retention: { dev: { Days: 1 }, prod: { Days: 30 } } },
      Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] } },
      Resources: {
        Logs: {
          Type: 'AWS::Logs::LogGroup',
          Properties: {
            LogGroupName: { 'Fn::Sub': '/app/${Env}' },
            RetentionInDays: { 'Fn::FindInMap': ['Retention', { Ref: 'Env' }, 'Days'] },
            KmsKeyId: { 'Fn::If': ['IsProd', 'alias/prod', { Ref: 'AWS::NoValue' }] },
          },
        },
        Alarm: { Type: 'AWS::SNS::Topic', Condition: 'IsProd', Properties: { DisplayName: { Ref: 'Logs' } } },
      },
      Outputs: {
        LogGroup: { Value: { Ref: 'Logs' } },
        AlarmTopic: { Condition: 'IsProd', Value: { Ref: 'Alarm' } },
      },
    });
    const at = (env: string) => ({ stackName: 'app', templateBody: body, parameters: [{ key: 'Env', value: env }] });
    await deploy(account, gateway, changeSet(at('dev')));
    expect((await gateway.describeStack('app'))?.outputs).toEqual({ LogGroup: '/app/dev' });

    await gateway.createChangeSet(changeSet({ ...at('prod'), changeSetName: 'to-prod', changeSetType: 'UPDATE' }));
    account.settle();
    const changes = (await gateway.describeChangeSet('app', 'to-prod'))!.changes;
    expect(changes.map((c) => [c.action, c.logicalId, c.replacement, c.properties])).toEqual([
      ['Modify', 'Logs', 'True', ['KmsKeyId', 'LogGroupName', 'RetentionInDays']],
      ['Add', 'Alarm', undefined, []],
    ]);
    await gateway.executeChangeSet('app', 'to-prod', 'to-prod');
    account.settle();
    const prod = (await gateway.describeStack('app'))!;
    expect(prod.outputs).toEqual({ LogGroup: '/app/prod', AlarmTopic: expect.stringMatching(/^arn:aws:sns:us-east-1:123456789012:app-Alarm-/) });
    const cleanup = (await gateway.listStackEvents('app', 6)).map((e) => `${e.logicalId} ${e.status}`);
    expect(cleanup).toEqual([
      'app UPDATE_COMPLETE',
      'Logs DELETE_COMPLETE',
      'Logs DELETE_IN_PROGRESS',
      'app UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
      'Alarm CREATE_COMPLETE',
      'Alarm CREATE_IN_PROGRESS',
    ]);

    await gateway.createChangeSet(changeSet({ ...at('dev'), changeSetName: 'to-dev', changeSetType: 'UPDATE' }));
    account.settle();
    expect((await gateway.describeChangeSet('app', 'to-dev'))!.changes.map((c) => [c.action, c.logicalId])).toEqual([
      ['Modify', 'Logs'],
      ['Remove', 'Alarm'],
    ]);
    await gateway.createChangeSet(changeSet({ ...at('qa'), changeSetName: 'to-qa', changeSetType: 'UPDATE' }));
    account.settle();
    expect((await gateway.describeChangeSet('app', 'to-qa'))?.statusReason).toBe("Parameter 'Env' must be one of AllowedValues");
  });

  it('skips resources with DeletionPolicy Retain when deleting the stack', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const body = template({
      Resources: {
        Kept: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain' },
        Gone: { Type: 'AWS::SNS::Topic' },
      },
    });
    await deploy(account, gateway, changeSet({ stackName: 'app', templateBody: body }));
    const { stackId } = (await gateway.describeStack('app'))!;
    await gateway.deleteStack('app', { clientToken: 'd', roleArn: undefined });
    account.settle();
    const events = (await gateway.listStackEvents(stackId, 4)).map((e) => `${e.logicalId} ${e.status}`);
    expect(events).toEqual(['app DELETE_COMPLETE', 'Kept DELETE_SKIPPED', 'Gone DELETE_COMPLETE', 'Gone DELETE_IN_PROGRESS']);
  });

  it('returns the template body exactly as sent', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    expect(await gateway.getTemplate('app')).toBe(BUCKET_TEMPLATE);
  });

  it('keeps regions apart', async () => {
    const account = newAccount();
    await deploy(account, account.gateway('eu-west-1'), changeSet({ stackName: 'app' }));
    expect(account.gateway('eu-west-1').region).toBe('eu-west-1');
    expect((await account.gateway('eu-west-1').listStacks()).map((s) => s.region)).toEqual(['eu-west-1']);
    expect(await account.gateway().listStacks()).toEqual([]);
    expect((await account.gateway('eu-west-1').describeStack('app'))?.outputs['BucketArn']).toMatch(/^arn:aws:s3:::app-bucket-/);
  });
});
