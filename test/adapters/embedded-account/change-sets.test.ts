/**
 * Change sets in the embedded account: their lifecycle, idempotency, the changes they compute and
 * the errors CloudFormation gives for them.
 */
import { describe, expect, it } from 'vitest';
import type { Capability } from '../../../lib/core/model.js';
import { NO_CHANGES_REASON } from '../../../lib/adapters/embedded-account/index.js';
import { GatewayError, InsufficientCapabilitiesError } from '../../../lib/ports/stack-gateway.js';
import { BUCKET_TEMPLATE, changeSet, deploy, newAccount, template } from './helpers.js';

describe('EmbeddedAccount: change sets', () => {
  it('puts a new stack in REVIEW_IN_PROGRESS with the change set tags until the change set is executed', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const { stackId } = await gateway.createChangeSet(changeSet({ stackName: 'app', tags: { 'cairn:source': 'main' } }));
    const stack = await gateway.describeStack('app');
    expect(stack).toMatchObject({ stackId, status: 'REVIEW_IN_PROGRESS', tags: { 'cairn:source': 'main' } });
    expect((await gateway.listStacks()).map((s) => s.status)).toEqual(['REVIEW_IN_PROGRESS']);
  });

  it('moves a change set from CREATE_PENDING through CREATE_IN_PROGRESS to CREATE_COMPLETE over time', async () => {
    const account = newAccount({ operationMs: 20 });
    const gateway = account.gateway();
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'first' }));
    const seen = [(await gateway.describeChangeSet('app', 'first'))!];
    account.advance(20);
    seen.push((await gateway.describeChangeSet('app', 'first'))!);
    account.advance(20);
    seen.push((await gateway.describeChangeSet('app', 'first'))!);
    expect(seen.map((d) => [d.status, d.executionStatus])).toEqual([
      ['CREATE_PENDING', 'UNAVAILABLE'],
      ['CREATE_IN_PROGRESS', 'UNAVAILABLE'],
      ['CREATE_COMPLETE', 'AVAILABLE'],
    ]);
    expect(seen[0]!.changes).toEqual([]);
    expect(seen[2]!.changes).toEqual([
      { action: 'Add', logicalId: 'Bucket', physicalId: undefined, resourceType: 'AWS::S3::Bucket', replacement: undefined, properties: [] },
    ]);
  });

  it('returns the same change set for a retried create with the same client token', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const input = changeSet({ stackName: 'app', changeSetName: 'cs', clientToken: 'token-1' });
    const first = await gateway.createChangeSet(input);
    const second = await gateway.createChangeSet(input);
    expect(second).toEqual(first);
    expect(await gateway.listChangeSets('app')).toHaveLength(1);
  });

  it('refuses a second change set of the same name with another token as AlreadyExistsException', async () => {
    const gateway = newAccount().gateway();
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'cs', clientToken: 'a' }));
    const error = await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'cs', clientToken: 'b' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('AlreadyExistsException');
  });

  it('fails an update change set with the no-changes reason when template, parameters and tags are the same', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app', tags: { team: 'a' } }));
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'again', changeSetType: 'UPDATE', tags: { team: 'a' } }));
    account.settle();
    const d = await gateway.describeChangeSet('app', 'again');
    expect(d).toMatchObject({ status: 'FAILED', executionStatus: 'UNAVAILABLE', statusReason: NO_CHANGES_REASON, changes: [] });
  });

  it('shows a parameter change as Modify of the resources that use the parameter', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    await gateway.createChangeSet(
      changeSet({ stackName: 'app', changeSetName: 'prod', changeSetType: 'UPDATE', parameters: [{ key: 'Env', value: 'prod' }] }),
    );
    account.settle();
    const d = await gateway.describeChangeSet('app', 'prod');
    expect(d?.changes).toEqual([
      expect.objectContaining({ action: 'Modify', logicalId: 'Bucket', replacement: 'False', properties: ['Tags'] }),
    ]);
  });

  it('marks replacement from the schemas\' create-only properties, and a changed type as replacement', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const v1 = template({
      Resources: {
        Table: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            BillingMode: 'PAY_PER_REQUEST',
          },
        },
        Index: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          },
        },
        Vpc: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.0.0.0/16' } },
        Topic: { Type: 'AWS::SNS::Topic', Properties: {} },
        Old: { Type: 'AWS::SQS::Queue', Properties: {} },
      },
    });
    await deploy(account, gateway, changeSet({ stackName: 'data', templateBody: v1 }));
    const v2 = template({
      Resources: {
        Table: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'N' }],
            BillingMode: 'PROVISIONED',
          },
        },
        Index: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            AttributeDefinitions: [
              { AttributeName: 'pk', AttributeType: 'S' },
              { AttributeName: 'gsi', AttributeType: 'S' },
            ],
          },
        },
        Vpc: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.1.0.0/16' } },
        Topic: { Type: 'AWS::SQS::Queue', Properties: {} },
        New: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 7 } },
      },
    });
    await gateway.createChangeSet(changeSet({ stackName: 'data', changeSetName: 'v2', changeSetType: 'UPDATE', templateBody: v2 }));
    account.settle();
    const byId = Object.fromEntries((await gateway.describeChangeSet('data', 'v2'))!.changes.map((c) => [c.logicalId, c]));
    // Neither is create-only in the DynamoDB schema: CloudFormation updates the table in place.
    expect(byId['Table']).toMatchObject({ action: 'Modify', replacement: 'False', properties: ['AttributeDefinitions', 'BillingMode'] });
    expect(byId['Index']).toMatchObject({ action: 'Modify', replacement: 'False', properties: ['AttributeDefinitions'] });
    expect(byId['Vpc']).toMatchObject({ action: 'Modify', replacement: 'True', properties: ['CidrBlock'] });
    expect(byId['Topic']).toMatchObject({ action: 'Modify', replacement: 'True', resourceType: 'AWS::SQS::Queue' });
    expect(byId['New']).toMatchObject({ action: 'Add', resourceType: 'AWS::Logs::LogGroup' });
    expect(byId['Old']).toMatchObject({ action: 'Remove', resourceType: 'AWS::SQS::Queue' });
    expect(byId['Old']!.physicalId).toMatch(/^https:\/\/sqs\.us-east-1\.amazonaws\.com\/123456789012\//);
  });

  it('lists only the resources whose properties change, though the stack tags change too', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const body = (bucketName: string) =>
      template({
        Resources: {
          Table: {
            Type: 'AWS::DynamoDB::Table',
            Properties: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' },
          },
          Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: bucketName } },
        },
      });
    await deploy(account, gateway, changeSet({ stackName: 'data', templateBody: body('orders-a'), tags: { 'cairn:hash': 'a' } }));
    await gateway.createChangeSet(changeSet({ stackName: 'data', changeSetName: 'v2', changeSetType: 'UPDATE', templateBody: body('orders-b'), tags: { 'cairn:hash': 'b' } }));
    account.settle();
    const changes = (await gateway.describeChangeSet('data', 'v2'))!.changes;
    expect(changes.map((c) => [c.logicalId, c.action, c.replacement, c.properties])).toEqual([['Bucket', 'Modify', 'True', ['BucketName']]]);
  });

  it('reports Conditional replacement when an immutable property refers to a resource being replaced', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const withVpc = (cidr: string) =>
      template({
        Resources: {
          Vpc: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: cidr } },
          Subnet: { Type: 'AWS::EC2::Subnet', Properties: { VpcId: { Ref: 'Vpc' }, CidrBlock: '10.0.1.0/24' } },
        },
      });
    await deploy(account, gateway, changeSet({ stackName: 'net', templateBody: withVpc('10.0.0.0/16') }));
    await gateway.createChangeSet(changeSet({ stackName: 'net', changeSetName: 'cidr', changeSetType: 'UPDATE', templateBody: withVpc('10.0.0.0/17') }));
    account.settle();
    const changes = (await gateway.describeChangeSet('net', 'cidr'))!.changes;
    expect(changes.map((c) => [c.logicalId, c.replacement, c.properties])).toEqual([
      ['Vpc', 'True', ['CidrBlock']],
      ['Subnet', 'Conditional', ['VpcId']],
    ]);
  });

  it('fails a change set with CloudFormation reasons for unresolved references and missing parameters', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const badRef = template({ Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { Ref: 'Nowhere' } } } } });
    const needsParam = template({
      Parameters: { Name: { Type: 'String' } },
      Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { Ref: 'Name' } } } },
    });
    const badGetAtt = template({ Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::GetAtt': ['Ghost', 'Arn'] } } } } });
    await gateway.createChangeSet(changeSet({ stackName: 'a', changeSetName: 'ref', templateBody: badRef }));
    await gateway.createChangeSet(changeSet({ stackName: 'b', changeSetName: 'param', templateBody: needsParam }));
    await gateway.createChangeSet(changeSet({ stackName: 'c', changeSetName: 'att', templateBody: badGetAtt }));
    account.settle();
    expect(await gateway.describeChangeSet('a', 'ref')).toMatchObject({
      status: 'FAILED',
      statusReason: 'Template format error: Unresolved resource dependencies [Nowhere] in the Resources block of the template',
    });
    expect(await gateway.describeChangeSet('b', 'param')).toMatchObject({ status: 'FAILED', statusReason: 'Parameters: [Name] must have values' });
    expect((await gateway.describeChangeSet('c', 'att'))?.statusReason).toBe('Template error: instance of Fn::GetAtt references undefined resource Ghost');
    expect((await gateway.describeStack('a'))?.status).toBe('REVIEW_IN_PROGRESS');
  });

  it('throws InsufficientCapabilitiesError with CloudFormation message for IAM, named IAM and transforms', async () => {
    const gateway = newAccount().gateway();
    const role = (props: Record<string, unknown>) =>
      template({ Resources: { Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {}, ...props } } } });
    const attempt = (body: string, capabilities: Capability[]) =>
      gateway.createChangeSet(changeSet({ stackName: 'iam', templateBody: body, capabilities })).catch((e: unknown) => e);

    const iam = await attempt(role({}), []);
    expect(iam).toBeInstanceOf(InsufficientCapabilitiesError);
    expect((iam as InsufficientCapabilitiesError).message).toBe('Requires capabilities : [CAPABILITY_IAM]');
    expect((iam as InsufficientCapabilitiesError).capabilities).toEqual(['CAPABILITY_IAM']);

    const named = await attempt(role({ RoleName: 'deployer' }), ['CAPABILITY_IAM']);
    expect((named as InsufficientCapabilitiesError).capabilities).toEqual(['CAPABILITY_NAMED_IAM']);

    const transform = JSON.stringify({ ...JSON.parse(BUCKET_TEMPLATE), Transform: 'AWS::Serverless-2016-10-31' });
    expect(((await attempt(transform, [])) as InsufficientCapabilitiesError).message).toBe('Requires capabilities : [CAPABILITY_AUTO_EXPAND]');

    expect(await attempt(role({ RoleName: 'deployer' }), ['CAPABILITY_NAMED_IAM'])).toMatchObject({ changeSetId: expect.any(String) });
    expect(await gateway.describeStack('iam')).toBeDefined();
  });

  it('refuses a CREATE change set for a live stack and an UPDATE change set for a missing one', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    const create = await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'again' })).catch((e: unknown) => e);
    expect(create).toMatchObject({
      code: 'ValidationError',
      message: 'Stack [app] already exists and cannot be created again with the changeSet [again].',
    });
    const update = await gateway.createChangeSet(changeSet({ stackName: 'ghost', changeSetType: 'UPDATE' })).catch((e: unknown) => e);
    expect(update).toMatchObject({ code: 'ValidationError', message: 'Stack [ghost] does not exist' });
  });

  it('accepts YAML templates in long form and rejects malformed templates with a format error', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const yaml = [
      'Resources:',
      '  Queue:',
      '    Type: AWS::SQS::Queue',
      '    Properties:',
      '      QueueName:',
      '        Fn::Sub: "${AWS::StackName}-jobs"',
      'Outputs:',
      '  Url:',
      '    Value:',
      '      Ref: Queue',
    ].join('\n');
    await deploy(account, gateway, changeSet({ stackName: 'yaml', templateBody: yaml }));
    expect((await gateway.describeStack('yaml'))?.outputs).toEqual({ Url: 'https://sqs.us-east-1.amazonaws.com/123456789012/yaml-jobs' });
    expect(await gateway.getTemplate('yaml')).toBe(yaml);

    const broken = await gateway.createChangeSet(changeSet({ stackName: 'bad', templateBody: '{"Resources": ' })).catch((e: unknown) => e);
    expect(broken).toMatchObject({ code: 'ValidationError', message: expect.stringMatching(/^Template format error: JSON not well-formed/) });
  });

  it('refuses stack and change set names CloudFormation would refuse', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await expect(gateway.createChangeSet(changeSet({ stackName: '../escape' }))).rejects.toMatchObject({
      code: 'ValidationError',
      message: expect.stringContaining("Value '../escape' at 'stackName' failed to satisfy constraint"),
    });
    await expect(gateway.createChangeSet(changeSet({ stackName: 'ok', changeSetName: 'no_underscores' }))).rejects.toMatchObject({
      message: expect.stringContaining("at 'changeSetName'"),
    });
    expect(() => account.gateway('../x')).toThrow(RangeError);
  });

  it('lists and deletes change sets, and answers undefined for one that does not exist', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'one' }));
    await gateway.createChangeSet(changeSet({ stackName: 'app', changeSetName: 'two' }));
    expect((await gateway.listChangeSets('app')).map((s) => s.changeSetName)).toEqual(['one', 'two']);
    await gateway.deleteChangeSet('app', 'one');
    expect((await gateway.listChangeSets('app')).map((s) => s.changeSetName)).toEqual(['two']);
    expect(await gateway.describeChangeSet('app', 'one')).toBeUndefined();
    expect(await gateway.describeChangeSet('nowhere', 'one')).toBeUndefined();
    expect(await gateway.listChangeSets('nowhere')).toEqual([]);
    await expect(gateway.deleteChangeSet('app', 'one')).rejects.toMatchObject({ code: 'ChangeSetNotFoundException' });
  });
});
