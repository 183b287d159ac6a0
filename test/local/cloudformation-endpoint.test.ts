/**
 * The CloudFormation endpoint over the embedded account, driven by the real SDK gateway: what the
 * SDK reads through it equals what the embedded gateway answers directly, pages are followed, and
 * CloudFormation's error codes reach the gateway's own error mapping.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudFormationGateway } from '../../lib/adapters/cloudformation-gateway.js';
import type { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import { startCloudFormationEndpoint, type CloudFormationEndpoint } from '../../lib/local/cloudformation-endpoint.js';
import { GatewayError, InsufficientCapabilitiesError, ThrottlingError, type StackGateway } from '../../lib/ports/stack-gateway.js';
import { BUCKET_TEMPLATE, changeSet, deploy, newAccount, template } from '../adapters/embedded-account/helpers.js';

const REGION = 'eu-west-1';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
let account: EmbeddedAccount;
let endpoint: CloudFormationEndpoint;
let sdk: CloudFormationGateway;
let direct: StackGateway;

beforeEach(async () => {
  account = newAccount({ region: REGION });
  // Pages of one, so every paginated read must follow NextToken to be right.
  endpoint = await startCloudFormationEndpoint({ account, pageSize: { changes: 1, events: 1, drifts: 1 } });
  const client = new CloudFormationClient({ region: REGION, endpoint: endpoint.url, credentials, maxAttempts: 1 });
  const s3 = new S3Client({ region: REGION, endpoint: endpoint.url, credentials, maxAttempts: 1 });
  sdk = new CloudFormationGateway({ client, s3, templateBucket: 'templates' });
  direct = account.gateway(REGION);
});
afterEach(async () => endpoint.close());

const TWO_BUCKETS = template({
  Parameters: { Env: { Type: 'String', Default: 'dev' } },
  Resources: {
    Bucket: { Type: 'AWS::S3::Bucket', Properties: { VersioningConfiguration: { Status: 'Suspended' }, Tags: [{ Key: 'env', Value: { Ref: 'Env' } }] } },
    Logs: { Type: 'AWS::S3::Bucket', Properties: {} },
  },
  Outputs: { BucketName: { Value: { Ref: 'Bucket' } } },
});

describe('Local: CloudFormation endpoint', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates, describes and executes a change set through the SDK, reading back what the embedded gateway reads', async () => {
    const input = changeSet({ stackName: 'app', parameters: [{ key: 'Env', value: 'prod' }], tags: { 'cairn:source': 'demo' }, roleArn: 'arn:aws:iam::123456789012:role/deployer' });
    const created = await sdk.createChangeSet(input);
    expect(created.stackId).toMatch(/^arn:aws:cloudformation:eu-west-1:/);
    account.settle();
    expect(await sdk.describeChangeSet('app', input.changeSetName)).toEqual(await direct.describeChangeSet('app', input.changeSetName));
    expect(await sdk.listChangeSets('app')).toEqual(await direct.listChangeSets('app'));
    await sdk.executeChangeSet('app', input.changeSetName, input.clientToken);
    account.settle();
    const stack = await sdk.describeStack('app');
    expect(stack).toEqual(await direct.describeStack('app'));
    expect(stack).toMatchObject({ status: 'CREATE_COMPLETE', parameters: { Env: 'prod' }, tags: { 'cairn:source': 'demo' }, outputs: { BucketName: expect.any(String) } });
    expect(await sdk.listStacks()).toEqual(await direct.listStacks());
    expect(await sdk.getTemplate('app')).toBe(BUCKET_TEMPLATE);
    // Several events, one per page: all of them, newest first, as the embedded gateway lists them.
    const events = await sdk.listStackEvents('app', 100);
    expect(events.length).toBeGreaterThan(2);
    expect(events).toEqual(await direct.listStackEvents('app', 100));
    expect(await sdk.listStackEvents('app', 2)).toEqual(events.slice(0, 2));
  });

  it('pages an update preview with property values, every change and value intact', async () => {
    await deploy(account, direct, changeSet({ stackName: 'app' }));
    const update = changeSet({ stackName: 'app', changeSetType: 'UPDATE', templateBody: TWO_BUCKETS, includePropertyValues: true });
    await sdk.createChangeSet(update);
    account.settle();
    const viaSdk = await sdk.describeChangeSet('app', update.changeSetName, { includePropertyValues: true });
    expect(viaSdk?.changes.map((c) => c.logicalId).sort()).toEqual(['Bucket', 'Logs']);
    expect(viaSdk?.changes.find((c) => c.logicalId === 'Bucket')?.values).toContainEqual(expect.objectContaining({ path: '/Properties/VersioningConfiguration', before: expect.stringContaining('Enabled'), after: expect.stringContaining('Suspended') }));
    expect(viaSdk).toEqual(await direct.describeChangeSet('app', update.changeSetName, { includePropertyValues: true }));
    await sdk.deleteChangeSet('app', update.changeSetName);
    expect(await sdk.describeChangeSet('app', update.changeSetName)).toBeUndefined();
  });

  it('answers with CloudFormation error codes that the gateway maps to the port errors', async () => {
    expect(await sdk.describeStack('missing')).toBeUndefined();
    expect(await sdk.listChangeSets('missing')).toEqual([]);
    expect(await sdk.describeChangeSet('missing', 'cs')).toBeUndefined();
    const input = changeSet({ stackName: 'app' });
    await sdk.createChangeSet(input);
    const rival = sdk.createChangeSet({ ...input, clientToken: 'another' });
    await expect(rival).rejects.toBeInstanceOf(GatewayError);
    await expect(rival).rejects.toMatchObject({ code: 'AlreadyExistsException' });
    await expect(sdk.executeChangeSet('app', 'nope', 't')).rejects.toMatchObject({ code: 'ChangeSetNotFoundException' });
    const iam = template({ Resources: { Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } } } });
    const denied = sdk.createChangeSet(changeSet({ stackName: 'roles', templateBody: iam }));
    await expect(denied).rejects.toBeInstanceOf(InsufficientCapabilitiesError);
    await expect(denied).rejects.toMatchObject({ capabilities: ['CAPABILITY_IAM'] });
    await expect(sdk.getTemplate('missing')).rejects.toMatchObject({ code: 'ValidationError', message: expect.stringContaining('does not exist') });
    account.faults.set({ throttlePerSecond: 1 });
    await sdk.listStacks();
    // The SDK knows CloudFormation's Throttling code as throttling; with one attempt it surfaces as the port's ThrottlingError.
    await expect(sdk.listStacks()).rejects.toBeInstanceOf(ThrottlingError);
  });

  it('protects, deletes with a token, and detects drift with property differences', async () => {
    await deploy(account, direct, changeSet({ stackName: 'app' }));
    await sdk.updateTerminationProtection('app', true);
    await expect(sdk.deleteStack('app', { clientToken: 'd1', roleArn: undefined })).rejects.toMatchObject({ code: 'ValidationError', message: expect.stringContaining('TerminationProtection') });
    await sdk.updateTerminationProtection('app', false);
    account.injectDrift({ region: REGION, stackName: 'app', logicalId: 'Bucket', path: 'VersioningConfiguration.Status', value: 'Suspended' });
    account.injectDrift({ region: REGION, stackName: 'app', logicalId: 'Bucket', path: 'Tags.0.Value', value: 'hacked' });
    const id = await sdk.detectStackDrift('app');
    expect(await sdk.describeDriftDetection(id)).toMatchObject({ status: 'DETECTION_IN_PROGRESS' });
    account.settle();
    expect(await sdk.describeDriftDetection(id)).toEqual(await direct.describeDriftDetection(id));
    expect(await sdk.describeDriftDetection(id)).toMatchObject({ status: 'DETECTION_COMPLETE', stackDriftStatus: 'DRIFTED', driftedResourceCount: 1 });
    const drifts = await sdk.listResourceDrifts('app');
    expect(drifts).toEqual(await direct.listResourceDrifts('app'));
    expect(drifts[0]?.differences).toHaveLength(2);
    await sdk.deleteStack('app', { clientToken: 'd1', roleArn: 'arn:aws:iam::123456789012:role/deployer' });
    account.settle();
    expect(await sdk.describeStack('app')).toBeUndefined();
  });

  it('takes a template over the inline limit through its S3 upload and TemplateURL', async () => {
    const big = template({
      Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: {} } },
      Metadata: { Padding: 'x'.repeat(60_000) },
    });
    const input = changeSet({ stackName: 'big', templateBody: big });
    await sdk.createChangeSet(input);
    account.settle();
    await sdk.executeChangeSet('big', input.changeSetName, input.clientToken);
    account.settle();
    expect(await sdk.getTemplate('big')).toBe(big);
    // The same content again: the gateway finds the object (HeadObject) and does not upload twice.
    await sdk.createChangeSet({ ...changeSet({ stackName: 'big', changeSetType: 'UPDATE', templateBody: big }) });
  });
});
