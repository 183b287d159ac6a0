/**
 * The embedded account executing change sets as CloudFormation does: list attributes are lists,
 * values known only after create flow through Select, Split, Join and Cidr, and an error while
 * executing fails the stack with CloudFormation's statuses and reason instead of escaping.
 */
import { describe, expect, it } from 'vitest';
import { changeSet, deploy, newAccount, template } from './helpers.js';

const NETWORK = {
  Resources: {
    Vpc: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.0.0.0/16' } },
    Subnet: {
      Type: 'AWS::EC2::Subnet',
      Properties: { VpcId: { Ref: 'Vpc' }, CidrBlock: { 'Fn::Select': [1, { 'Fn::Cidr': [{ 'Fn::GetAtt': ['Vpc', 'CidrBlock'] }, 4, 8] }] } },
    },
    Eni: { Type: 'AWS::EC2::NetworkInterface', Properties: { SubnetId: { Ref: 'Subnet' }, SecondaryPrivateIpAddressCount: 2 } },
    Directory: {
      Type: 'AWS::DirectoryService::SimpleAD',
      Properties: { Name: 'corp.example.com', Password: 'x', Size: 'Small', VpcSettings: { SubnetIds: [{ Ref: 'Subnet' }], VpcId: { Ref: 'Vpc' } } },
    },
  },
  Outputs: {
    SubnetCidr: { Value: { 'Fn::GetAtt': ['Subnet', 'CidrBlock'] } },
    SecondIp: { Value: { 'Fn::Select': [1, { 'Fn::GetAtt': ['Eni', 'SecondaryPrivateIpAddresses'] }] } },
    Dns: { Value: { 'Fn::Join': [',', { 'Fn::GetAtt': ['Directory', 'DnsIpAddresses'] }] } },
    FirstOctets: { Value: { 'Fn::Select': [0, { 'Fn::Split': ['/', { 'Fn::GetAtt': ['Subnet', 'CidrBlock'] }] }] } },
  },
};

describe('EmbeddedAccount: executing change sets', () => {
  it('creates the standard VPC pattern: Cidr of a VPC attribute, Select over list attributes, Join and Split', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'net', templateBody: template(NETWORK) }));
    const stack = await gateway.describeStack('net');
    expect(stack?.status).toBe('CREATE_COMPLETE');
    expect(stack?.outputs['SubnetCidr']).toBe('10.0.1.0/24');
    expect(stack?.outputs['FirstOctets']).toBe('10.0.1.0');
    expect(stack?.outputs['SecondIp']).toMatch(/^10\.0\.1\.\d+$/);
    expect(stack?.outputs['Dns']).toMatch(/^10\.0\.0\.\d+,10\.0\.1\.\d+$/);
  });

  it('fails a create whose values turn out wrong once known: CREATE_FAILED, then ROLLBACK_COMPLETE with the reason', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const broken = structuredClone(NETWORK) as typeof NETWORK & { Resources: Record<string, unknown> };
    broken.Resources['Tagged'] = {
      Type: 'AWS::SNS::Topic',
      Properties: { DisplayName: { 'Fn::Select': [5, { 'Fn::GetAtt': ['Eni', 'SecondaryPrivateIpAddresses'] }] } },
    };
    const input = changeSet({ stackName: 'net', templateBody: template(broken) });
    await gateway.createChangeSet(input);
    account.settle();
    // The index is past the end only once the interface has its addresses: the change set is fine.
    expect((await gateway.describeChangeSet('net', input.changeSetName))?.status).toBe('CREATE_COMPLETE');
    await expect(gateway.executeChangeSet('net', input.changeSetName, input.clientToken)).resolves.toBeUndefined();
    account.settle();
    const stack = await gateway.describeStack('net');
    expect(stack).toMatchObject({ status: 'ROLLBACK_COMPLETE', statusReason: 'The following resource(s) failed to create: [Tagged]. Rollback requested by user.' });
    const events = await gateway.listStackEvents('net', 100);
    const failed = events.find((e) => e.status === 'CREATE_FAILED')!;
    expect(failed).toMatchObject({ logicalId: 'Tagged', statusReason: 'Template error: Fn::Select cannot select nonexistent value at index 5' });
    expect(events.map((e) => e.statusReason ?? '').join('\n')).not.toContain('\u0000');
  });

  it('rolls an update back to UPDATE_ROLLBACK_COMPLETE when a value fails once known', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'net', templateBody: template(NETWORK) }));
    const changed = structuredClone(NETWORK) as typeof NETWORK & { Resources: Record<string, unknown> };
    changed.Resources['Vpc'] = { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.9.0.0/16' } };
    changed.Outputs.SecondIp = { Value: { 'Fn::Select': [7, { 'Fn::GetAtt': ['Eni', 'SecondaryPrivateIpAddresses'] }] } };
    const input = changeSet({ stackName: 'net', changeSetName: 'v2', changeSetType: 'UPDATE', templateBody: template(changed) });
    await gateway.createChangeSet(input);
    account.settle();
    await gateway.executeChangeSet('net', 'v2', input.clientToken);
    account.settle();
    const stack = await gateway.describeStack('net');
    expect(stack).toMatchObject({ status: 'UPDATE_ROLLBACK_COMPLETE', statusReason: 'Template error: Fn::Select cannot select nonexistent value at index 7' });
    expect(stack?.outputs['SubnetCidr']).toBe('10.0.1.0/24');
  });

  it('fails the change set of a template using a macro the account does not hold, as CloudFormation does', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const input = changeSet({ stackName: 'm', capabilities: ['CAPABILITY_AUTO_EXPAND'], templateBody: template({ Transform: 'MyMacro', Resources: { T: { Type: 'AWS::SNS::Topic' } } }) });
    await gateway.createChangeSet(input);
    account.settle();
    expect(await gateway.describeChangeSet('m', input.changeSetName)).toMatchObject({ status: 'FAILED', statusReason: 'No transform named MyMacro found.' });
  });

  it('takes SAM Globals, expands Fn::ForEach over a parameter, and evaluates the other language extensions', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const sam = changeSet({
      stackName: 'sam',
      capabilities: ['CAPABILITY_AUTO_EXPAND'],
      templateBody: template({ Transform: 'AWS::Serverless-2016-10-31', Globals: { Function: { Runtime: 'python3.12' } }, Resources: { T: { Type: 'AWS::Serverless::SimpleTable' } } }),
    });
    await deploy(account, gateway, sam);
    const samEvents = await gateway.listStackEvents('sam', 100);
    expect(samEvents.find((e) => e.logicalId === 'T' && e.status === 'CREATE_COMPLETE')?.statusReason).toMatch(/^Kept as written: the simulated account does not run the AWS::Serverless-2016-10-31 transform/);

    const loop = changeSet({
      stackName: 'loop',
      capabilities: ['CAPABILITY_AUTO_EXPAND'],
      templateBody: template({
        Transform: 'AWS::LanguageExtensions',
        Parameters: { Names: { Type: 'CommaDelimitedList', Default: 'orders,pay-ments' } },
        Resources: {
          'Fn::ForEach::Topics': ['N', { Ref: 'Names' }, { 'Topic&{N}': { Type: 'AWS::SNS::Topic', Properties: { TopicName: { 'Fn::Sub': '${AWS::StackName}-${N}' } } } }],
        },
        Outputs: { 'Fn::ForEach::Arns': ['N', ['orders'], { '${N}Arn': { Value: { Ref: 'Topicorders' } } }] },
      }),
    });
    await deploy(account, gateway, loop);
    const looped = await gateway.describeStack('loop');
    expect(looped?.status).toBe('CREATE_COMPLETE');
    expect(looped?.outputs).toEqual({ ordersArn: 'arn:aws:sns:us-east-1:123456789012:loop-orders' });
    const events = (await gateway.listStackEvents('loop', 100)).filter((e) => e.status === 'CREATE_COMPLETE').map((e) => e.logicalId);
    expect(events.sort()).toEqual(['Topicorders', 'Topicpayments', 'loop'].sort());

    const extensions = changeSet({
      stackName: 'ext',
      capabilities: ['CAPABILITY_AUTO_EXPAND'],
      templateBody: template({
        Transform: 'AWS::LanguageExtensions',
        Mappings: { Sizes: { prod: { Count: '3' } } },
        Resources: { T: { Type: 'AWS::SNS::Topic' } },
        Outputs: {
          Length: { Value: { 'Fn::Length': [1, 2, 3] } },
          Json: { Value: { 'Fn::ToJsonString': { a: [1] } } },
          Fallback: { Value: { 'Fn::FindInMap': ['Sizes', 'dev', 'Count', { DefaultValue: '1' }] } },
        },
      }),
    });
    await deploy(account, gateway, extensions);
    expect((await gateway.describeStack('ext'))?.outputs).toEqual({ Length: '3', Json: '{"a":[1]}', Fallback: '1' });
  });

  it('gives Ref the ARN where CloudFormation returns one, in the shape of the schema\'s ARN', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const body = template({
      Resources: { Cert: { Type: 'AWS::CertificateManager::Certificate', Properties: { DomainName: 'example.com' } } },
      Outputs: { Ref: { Value: { Ref: 'Cert' } } },
    });
    await deploy(account, gateway, changeSet({ stackName: 'tls', templateBody: body }));
    expect((await gateway.describeStack('tls'))?.outputs['Ref']).toMatch(/^arn:aws:acm:us-east-1:123456789012:certificate\/[0-9a-f-]{36}$/);
  });
});
