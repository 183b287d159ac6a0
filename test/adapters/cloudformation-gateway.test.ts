/**
 * Tests of the CloudFormation gateway: request fields and response mapping against a mocked SDK
 * client, and endpoint override plus real SDK retries against a local HTTP server speaking
 * CloudFormation's awsQuery protocol.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChangeSetNotFoundException,
  CloudFormationClient,
  CloudFormationServiceException,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackEventsCommand,
  DescribeStackResourceDriftsCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  InsufficientCapabilitiesException,
  ListChangeSetsCommand,
  UpdateTerminationProtectionCommand,
  type CreateChangeSetCommandInput,
  type Stack,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import { HeadObjectCommand, NotFound, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StalledError } from '../../lib/core/errors.js';
import { toGatewayError } from '../../lib/adapters/aws-errors.js';
import { CloudFormationGateway } from '../../lib/adapters/cloudformation-gateway.js';
import { sourceGateways } from '../../lib/adapters/source-credentials.js';
import type { SourceConfig } from '../../lib/core/source-config.js';
import {
  AccessDeniedError,
  GatewayError,
  InsufficientCapabilitiesError,
  ThrottlingError,
  type ChangeSetInput,
} from '../../lib/ports/stack-gateway.js';

const REGION = 'eu-west-1';
const cfnClient = new CloudFormationClient({ region: REGION });
const s3Client = new S3Client({ region: REGION });
const cfn = mockClient(cfnClient);
const s3 = mockClient(s3Client);

function gateway(options: { templateBucket?: string; templatePrefix?: string } = {}): CloudFormationGateway {
  return new CloudFormationGateway({ client: cfnClient, s3: s3Client, ...options });
}

function serviceError(name: string, message: string, httpStatusCode = 400): CloudFormationServiceException {
  return new CloudFormationServiceException({ name, message, $fault: 'client', $metadata: { httpStatusCode } });
}

const stackId = (name: string) => `arn:aws:cloudformation:${REGION}:123456789012:stack/${name}/1`;

function sdkStack(name: string, status: StackStatus = 'CREATE_COMPLETE'): Stack {
  return { StackName: name, StackId: stackId(name), StackStatus: status, CreationTime: new Date('2024-05-01T10:00:00Z') };
}

function changeSetInput(overrides: Partial<ChangeSetInput> = {}): ChangeSetInput {
  return {
    stackName: 'app',
    changeSetName: 'cairn-abc123',
    changeSetType: 'UPDATE',
    templateBody: '{"Resources":{}}',
    parameters: [{ key: 'VpcId', value: 'vpc-123' }],
    tags: { 'cairn:source': 'platform', owner: 'team-a' },
    capabilities: ['CAPABILITY_IAM', 'CAPABILITY_AUTO_EXPAND'],
    roleArn: 'arn:aws:iam::123456789012:role/cairn-deployer',
    clientToken: 'token-1',
    description: 'Cairn platform@abc123',
    ...overrides,
  };
}

function createInput(index = 0): CreateChangeSetCommandInput {
  return cfn.commandCalls(CreateChangeSetCommand)[index]!.args[0].input;
}

beforeEach(() => {
  cfn.reset();
  s3.reset();
  cfn.on(CreateChangeSetCommand).resolves({ Id: 'cs-arn', StackId: stackId('app') });
});

describe('CloudFormationGateway', () => {
  describe('listStacks', () => {
    it('lists every stack in one call per page, leaving out deleted stacks', async () => {
      cfn
        .on(DescribeStacksCommand)
        .resolvesOnce({ Stacks: [sdkStack('network'), sdkStack('app')], NextToken: 'page-2' })
        .resolvesOnce({ Stacks: [sdkStack('old', 'DELETE_COMPLETE'), sdkStack('data', 'UPDATE_COMPLETE')] });

      const stacks = await gateway().listStacks();

      expect(stacks.map((stack) => stack.stackName)).toEqual(['network', 'app', 'data']);
      const calls = cfn.commandCalls(DescribeStacksCommand);
      expect(calls).toHaveLength(2);
      expect(calls.every((call) => call.args[0].input.StackName === undefined)).toBe(true);
      expect(cfn.calls()).toHaveLength(2);
    });

    it('passes the token of each page to the next call', async () => {
      const tokens: (string | undefined)[] = [];
      cfn.on(DescribeStacksCommand).callsFake((input: { NextToken?: string }) => {
        tokens.push(input.NextToken);
        return input.NextToken === undefined ? { Stacks: [sdkStack('a')], NextToken: 't1' } : { Stacks: [sdkStack('b')] };
      });

      await gateway().listStacks();

      expect(tokens).toEqual([undefined, 't1']);
    });

    it('maps tags, outputs, parameters, times and drift onto the actual stack', async () => {
      cfn.on(DescribeStacksCommand).resolves({
        Stacks: [
          {
            ...sdkStack('app', 'UPDATE_ROLLBACK_COMPLETE'),
            StackStatusReason: 'Resource update cancelled',
            LastUpdatedTime: new Date('2024-05-02T11:00:00Z'),
            Tags: [
              { Key: 'cairn:source', Value: 'platform' },
              { Key: 'cairn:hash', Value: 'h1' },
            ],
            Outputs: [{ OutputKey: 'Url', OutputValue: 'https://app.example.com' }],
            Parameters: [{ ParameterKey: 'VpcId', ParameterValue: 'vpc-123', ResolvedValue: 'ignored' }],
            EnableTerminationProtection: true,
            DriftInformation: { StackDriftStatus: 'DRIFTED', LastCheckTimestamp: new Date('2024-05-03T12:00:00Z') },
          },
        ],
      });

      const [stack] = await gateway().listStacks();

      expect(stack).toEqual({
        stackName: 'app',
        stackId: stackId('app'),
        region: REGION,
        status: 'UPDATE_ROLLBACK_COMPLETE',
        statusReason: 'Resource update cancelled',
        tags: { 'cairn:source': 'platform', 'cairn:hash': 'h1' },
        outputs: { Url: 'https://app.example.com' },
        parameters: { VpcId: 'vpc-123' },
        terminationProtection: true,
        createdAt: '2024-05-01T10:00:00.000Z',
        updatedAt: '2024-05-02T11:00:00.000Z',
        driftStatus: 'DRIFTED',
        driftCheckedAt: '2024-05-03T12:00:00.000Z',
      });
    });

    it('reports the region of the client it was given once a call has resolved it', async () => {
      cfn.on(DescribeStacksCommand).resolves({ Stacks: [] });
      const subject = gateway();

      await subject.listStacks();

      expect(subject.region).toBe(REGION);
      expect(subject.target).toBe('aws');
    });
  });

  describe('describeStack', () => {
    it('returns undefined for a stack that does not exist', async () => {
      cfn
        .on(DescribeStacksCommand, { StackName: 'ghost' })
        .rejects(serviceError('ValidationError', 'Stack with id ghost does not exist'));

      await expect(gateway().describeStack('ghost')).resolves.toBeUndefined();
    });

    it('returns the stack by name', async () => {
      cfn.on(DescribeStacksCommand, { StackName: 'app' }).resolves({ Stacks: [sdkStack('app')] });

      const stack = await gateway().describeStack('app');

      expect(stack?.stackId).toBe(stackId('app'));
      expect(stack?.createdAt).toBe('2024-05-01T10:00:00.000Z');
    });

    it('throws other service errors as GatewayError with the code and the SDK error as cause', async () => {
      const denied = serviceError('AccessDenied', 'User is not authorized to perform cloudformation:DescribeStacks', 403);
      cfn.on(DescribeStacksCommand).rejects(denied);

      const error = await gateway()
        .describeStack('app')
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(GatewayError);
      expect(error).toMatchObject({ code: 'AccessDenied', cause: denied });
      expect((error as Error).message).toContain('stack app');
      expect((error as Error).message).toContain('not authorized');
    });

    it('throws an IAM refusal as AccessDeniedError naming the refused action, which stalls rather than retries', async () => {
      const message =
        'User: arn:aws:sts::123456789012:assumed-role/Cairn-SourceRole/cairn-dev is not authorized to perform: cloudformation:ExecuteChangeSet on resource: arn:aws:cloudformation:eu-west-1:123456789012:stack/app/1 because no identity-based policy allows the cloudformation:ExecuteChangeSet action';
      cfn.on(ExecuteChangeSetCommand).rejects(serviceError('AccessDenied', message, 403));

      const error = await gateway()
        .executeChangeSet('app', 'cairn-1', 'cairn-token')
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(AccessDeniedError);
      expect(error).toMatchObject({ code: 'AccessDenied', action: 'cloudformation:ExecuteChangeSet' });
      const stall = (error as AccessDeniedError).toStall('app');
      expect(stall).toMatchObject({ reason: 'AccessDenied', stackId: 'app' });
      expect(stall.message).toMatch(/^stack app: IAM refused cloudformation:ExecuteChangeSet: ExecuteChangeSet cairn-1 for stack app failed: AccessDenied/);
      // Without the action in the message, the call's own name stands in.
      expect(toGatewayError(serviceError('AccessDeniedException', 'Access denied', 400), 'GetTemplate for stack app')).toMatchObject({ action: 'GetTemplate' });
    });

    it('lets errors that are not service errors through unchanged, as transient', async () => {
      const network = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      cfn.on(DescribeStacksCommand).rejects(network);

      await expect(gateway().describeStack('app')).rejects.toBe(network);
    });
  });

  describe('errors', () => {
    it('maps a throttling error left after the SDK retries to ThrottlingError', async () => {
      const throttled = new CloudFormationServiceException({
        name: 'Throttling',
        message: 'Rate exceeded',
        $fault: 'client',
        $metadata: { httpStatusCode: 400, attempts: 6 },
      });
      cfn.on(DescribeStacksCommand).rejects(throttled);

      const error = await gateway()
        .listStacks()
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ThrottlingError);
      expect(error).toMatchObject({ code: 'Throttling', cause: throttled });
      expect((error as Error).message).toContain('after 6 attempts');
    });

    it('raises InsufficientCapabilitiesError naming the capabilities from the message', async () => {
      cfn.on(CreateChangeSetCommand).rejects(
        new InsufficientCapabilitiesException({
          message: 'Requires capabilities : [CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND]',
          $metadata: { httpStatusCode: 400 },
        }),
      );

      const error = await gateway()
        .createChangeSet(changeSetInput({ capabilities: [] }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(InsufficientCapabilitiesError);
      expect((error as InsufficientCapabilitiesError).capabilities).toEqual([
        'CAPABILITY_NAMED_IAM',
        'CAPABILITY_AUTO_EXPAND',
      ]);
      expect((error as InsufficientCapabilitiesError).code).toBe('InsufficientCapabilitiesException');
    });
  });

  describe('createChangeSet', () => {
    it('sends every field of the change set', async () => {
      const result = await gateway().createChangeSet(changeSetInput());

      expect(result).toEqual({ changeSetId: 'cs-arn', stackId: stackId('app') });
      expect(createInput()).toEqual({
        StackName: 'app',
        ChangeSetName: 'cairn-abc123',
        ChangeSetType: 'UPDATE',
        TemplateBody: '{"Resources":{}}',
        Parameters: [{ ParameterKey: 'VpcId', ParameterValue: 'vpc-123' }],
        Tags: [
          { Key: 'cairn:source', Value: 'platform' },
          { Key: 'owner', Value: 'team-a' },
        ],
        Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_AUTO_EXPAND'],
        RoleARN: 'arn:aws:iam::123456789012:role/cairn-deployer',
        ClientToken: 'token-1',
        Description: 'Cairn platform@abc123',
        DeploymentMode: undefined,
        IncludeNestedStacks: false,
      });
    });

    it('asks for REVERT_DRIFT deployment mode when reverting drift', async () => {
      await gateway().createChangeSet(changeSetInput({ deploymentMode: 'REVERT_DRIFT', changeSetType: 'UPDATE' }));

      expect(createInput().DeploymentMode).toBe('REVERT_DRIFT');
    });

    it('keeps a template of exactly 51,200 bytes inline', async () => {
      const body = templateOfBytes(51_200);

      await gateway({ templateBucket: 'cairn-templates' }).createChangeSet(changeSetInput({ templateBody: body }));

      expect(createInput().TemplateBody).toBe(body);
      expect(createInput().TemplateURL).toBeUndefined();
      expect(s3.calls()).toHaveLength(0);
    });

    it('uploads a template over 51,200 bytes to S3 and passes its regional URL', async () => {
      const body = templateOfBytes(51_201);
      const sha = createHash('sha256').update(body).digest('hex');
      s3.on(HeadObjectCommand).rejects(
        new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } }),
      );
      s3.on(PutObjectCommand).resolves({});

      await gateway({ templateBucket: 'cairn-templates', templatePrefix: 'prod/' }).createChangeSet(
        changeSetInput({ templateBody: body }),
      );

      const put = s3.commandCalls(PutObjectCommand);
      expect(put).toHaveLength(1);
      expect(put[0]!.args[0].input).toMatchObject({
        Bucket: 'cairn-templates',
        Key: `prod/app/${sha}.json`,
        Body: body,
      });
      expect(createInput().TemplateURL).toBe(`https://cairn-templates.s3.${REGION}.amazonaws.com/prod/app/${sha}.json`);
      expect(createInput().TemplateBody).toBeUndefined();
    });

    it('skips the upload when the template object already exists', async () => {
      s3.on(HeadObjectCommand).resolves({ ContentLength: 51_201 });

      await gateway({ templateBucket: 'cairn-templates' }).createChangeSet(
        changeSetInput({ templateBody: templateOfBytes(51_201) }),
      );

      expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(1);
      expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
      expect(createInput().TemplateURL).toMatch(/^https:\/\/cairn-templates\.s3\.eu-west-1\.amazonaws\.com\/cairn\/templates\/app\/[0-9a-f]{64}\.json$/);
    });

    it('counts bytes, not characters, against the limit', async () => {
      // 25,601 two-byte characters: about half the limit in characters, over it in bytes.
      const body = JSON.stringify({ Description: 'é'.repeat(25_601) });

      const error = await new CloudFormationGateway({ client: cfnClient, templateBucket: '' })
        .createChangeSet(changeSetInput({ templateBody: body }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(StalledError);
    });

    it('stalls with TemplateTooLarge when a large template has no bucket to go to', async () => {
      const saved = process.env.CAIRN_TEMPLATE_BUCKET;
      delete process.env.CAIRN_TEMPLATE_BUCKET;
      try {
        const error = await gateway()
          .createChangeSet(changeSetInput({ templateBody: templateOfBytes(60_000) }))
          .catch((e: unknown) => e);

        expect(error).toBeInstanceOf(StalledError);
        expect((error as StalledError).reason).toBe('TemplateTooLarge');
        const message = (error as StalledError).message;
        expect(message).toContain('60000 bytes');
        expect(message).toContain('51,200-byte limit');
        expect(message).toContain('templateBucket');
        expect(message).toContain('CAIRN_TEMPLATE_BUCKET');
        expect(cfn.calls()).toHaveLength(0);
      } finally {
        if (saved !== undefined) process.env.CAIRN_TEMPLATE_BUCKET = saved;
      }
    });

    it('takes the template bucket from CAIRN_TEMPLATE_BUCKET when no option names one', async () => {
      const saved = process.env.CAIRN_TEMPLATE_BUCKET;
      process.env.CAIRN_TEMPLATE_BUCKET = 'env-bucket';
      try {
        s3.on(HeadObjectCommand).resolves({});

        await gateway().createChangeSet(changeSetInput({ templateBody: templateOfBytes(51_201) }));

        expect(s3.commandCalls(HeadObjectCommand)[0]!.args[0].input.Bucket).toBe('env-bucket');
      } finally {
        if (saved === undefined) delete process.env.CAIRN_TEMPLATE_BUCKET;
        else process.env.CAIRN_TEMPLATE_BUCKET = saved;
      }
    });
  });

  describe('previews with property values', () => {
    it('asks for property values on create and describe, and maps each detail to its path, old and new value', async () => {
      cfn.on(CreateChangeSetCommand).resolves({ Id: 'cs-arn', StackId: 'stack-arn' });
      cfn.on(DescribeChangeSetCommand).resolves({
        ChangeSetId: 'cs-arn',
        ChangeSetName: 'cairn-preview-x',
        StackName: 'data',
        Status: 'CREATE_COMPLETE',
        ExecutionStatus: 'AVAILABLE',
        CreationTime: new Date('2024-05-01T10:00:00Z'),
        Changes: [
          {
            Type: 'Resource',
            ResourceChange: {
              Action: 'Modify',
              LogicalResourceId: 'Uploads',
              ResourceType: 'AWS::S3::Bucket',
              Replacement: 'True',
              Details: [
                { Target: { Attribute: 'Properties', Name: 'BucketName', Path: '/Properties/BucketName', BeforeValue: 'uploads', AfterValue: 'uploads-v2', RequiresRecreation: 'Always' } },
                { Target: { Attribute: 'Tags' } },
              ],
            },
          },
        ],
      });
      await gateway().createChangeSet({
        stackName: 'data',
        changeSetName: 'cairn-preview-x',
        changeSetType: 'UPDATE',
        templateBody: '{"Resources":{}}',
        parameters: [],
        tags: {},
        capabilities: [],
        roleArn: undefined,
        clientToken: 'cairn-preview-x',
        includePropertyValues: true,
      });
      // CreateChangeSet has no such field (the SDK would drop it): only the describe asks for values.
      expect(cfn.commandCalls(CreateChangeSetCommand)[0]!.args[0].input).not.toHaveProperty('IncludePropertyValues');
      const d = await gateway().describeChangeSet('data', 'cairn-preview-x', { includePropertyValues: true });
      expect(cfn.commandCalls(DescribeChangeSetCommand)[0]!.args[0].input).toMatchObject({ IncludePropertyValues: true });
      expect(d!.changes).toEqual([
        {
          action: 'Modify',
          logicalId: 'Uploads',
          physicalId: undefined,
          resourceType: 'AWS::S3::Bucket',
          replacement: 'True',
          properties: ['BucketName'],
          values: [{ path: '/Properties/BucketName', before: 'uploads', after: 'uploads-v2', requiresRecreation: 'Always' }],
        },
      ]);
    });
  });

  describe('describeChangeSet', () => {
    it('collects the changes of every page and maps each resource change', async () => {
      const head = {
        ChangeSetId: 'cs-arn',
        ChangeSetName: 'cairn-abc123',
        StackName: 'app',
        Status: 'CREATE_COMPLETE',
        ExecutionStatus: 'AVAILABLE',
        CreationTime: new Date('2024-05-01T10:00:00Z'),
      } as const;
      cfn
        .on(DescribeChangeSetCommand)
        .resolvesOnce({
          ...head,
          NextToken: 'p2',
          Changes: [
            {
              Type: 'Resource',
              ResourceChange: {
                Action: 'Modify',
                LogicalResourceId: 'Bucket',
                PhysicalResourceId: 'app-bucket-1',
                ResourceType: 'AWS::S3::Bucket',
                Replacement: 'True',
                Details: [
                  { Target: { Attribute: 'Properties', Name: 'BucketName', RequiresRecreation: 'Always' } },
                  { Target: { Attribute: 'Properties', Name: 'BucketName', RequiresRecreation: 'Always' } },
                  { Target: { Attribute: 'Tags' } },
                  { Target: { Attribute: 'Properties', Name: 'VersioningConfiguration' } },
                ],
              },
            },
          ],
        })
        .resolvesOnce({
          ...head,
          NextToken: 'p3',
          Changes: [
            { Type: 'Resource', ResourceChange: { Action: 'Add', LogicalResourceId: 'Queue', ResourceType: 'AWS::SQS::Queue' } },
          ],
        })
        .resolvesOnce({
          ...head,
          Changes: [
            {
              Type: 'Resource',
              ResourceChange: {
                Action: 'Remove',
                LogicalResourceId: 'Topic',
                PhysicalResourceId: 'arn:aws:sns:eu-west-1:123456789012:t',
                ResourceType: 'AWS::SNS::Topic',
              },
            },
          ],
        });

      const description = await gateway().describeChangeSet('app', 'cairn-abc123');

      const calls = cfn.commandCalls(DescribeChangeSetCommand);
      expect(calls).toHaveLength(3);
      expect(description).toEqual({
        changeSetId: 'cs-arn',
        changeSetName: 'cairn-abc123',
        stackName: 'app',
        status: 'CREATE_COMPLETE',
        statusReason: undefined,
        executionStatus: 'AVAILABLE',
        createdAt: '2024-05-01T10:00:00.000Z',
        changes: [
          {
            action: 'Modify',
            logicalId: 'Bucket',
            physicalId: 'app-bucket-1',
            resourceType: 'AWS::S3::Bucket',
            replacement: 'True',
            properties: ['BucketName', 'VersioningConfiguration'],
          },
          {
            action: 'Add',
            logicalId: 'Queue',
            physicalId: undefined,
            resourceType: 'AWS::SQS::Queue',
            replacement: undefined,
            properties: [],
          },
          {
            action: 'Remove',
            logicalId: 'Topic',
            physicalId: 'arn:aws:sns:eu-west-1:123456789012:t',
            resourceType: 'AWS::SNS::Topic',
            replacement: undefined,
            properties: [],
          },
        ],
      });
    });

    it('stops paging when CloudFormation answers the same token again', async () => {
      let calls = 0;
      cfn.on(DescribeChangeSetCommand).callsFake(() => {
        // A loop that keeps following the token fails here instead of hanging the run.
        if (++calls > 5) throw new Error('paged past a repeated token');
        return { ChangeSetId: 'cs-arn', Status: 'CREATE_COMPLETE', NextToken: 'same', Changes: [] };
      });

      const description = await gateway().describeChangeSet('app', 'cairn-abc123');

      expect(description?.changeSetId).toBe('cs-arn');
      expect(cfn.commandCalls(DescribeChangeSetCommand)).toHaveLength(2);
    });

    it('returns undefined when the change set does not exist', async () => {
      cfn.on(DescribeChangeSetCommand).rejects(
        new ChangeSetNotFoundException({ message: 'ChangeSet [cairn-x] does not exist', $metadata: { httpStatusCode: 404 } }),
      );

      await expect(gateway().describeChangeSet('app', 'cairn-x')).resolves.toBeUndefined();
    });

    it('returns undefined when the stack does not exist', async () => {
      cfn.on(DescribeChangeSetCommand).rejects(serviceError('ValidationError', 'Stack [ghost] does not exist'));

      await expect(gateway().describeChangeSet('ghost', 'cairn-x')).resolves.toBeUndefined();
    });
  });

  describe('change set and stack operations', () => {
    it('lists the change sets of every page', async () => {
      cfn
        .on(ListChangeSetsCommand)
        .resolvesOnce({
          Summaries: [
            {
              ChangeSetId: 'cs-1',
              ChangeSetName: 'cairn-1',
              Status: 'CREATE_COMPLETE',
              ExecutionStatus: 'AVAILABLE',
              CreationTime: new Date('2024-05-01T10:00:00Z'),
            },
          ],
          NextToken: 'n',
        })
        .resolvesOnce({ Summaries: [{ ChangeSetId: 'cs-2', ChangeSetName: 'cairn-2', Status: 'FAILED', ExecutionStatus: 'UNAVAILABLE' }] });

      const summaries = await gateway().listChangeSets('app');

      expect(summaries).toEqual([
        {
          changeSetId: 'cs-1',
          changeSetName: 'cairn-1',
          status: 'CREATE_COMPLETE',
          executionStatus: 'AVAILABLE',
          createdAt: '2024-05-01T10:00:00.000Z',
        },
        { changeSetId: 'cs-2', changeSetName: 'cairn-2', status: 'FAILED', executionStatus: 'UNAVAILABLE', createdAt: '' },
      ]);
      expect(cfn.commandCalls(ListChangeSetsCommand)[0]!.args[0].input.StackName).toBe('app');
    });

    it('executes with the client request token and deletes with the token and the role', async () => {
      cfn.on(ExecuteChangeSetCommand).resolves({});
      cfn.on(DeleteStackCommand).resolves({});
      cfn.on(DeleteChangeSetCommand).resolves({});
      cfn.on(UpdateTerminationProtectionCommand).resolves({});
      const subject = gateway();

      await subject.executeChangeSet('app', 'cairn-abc123', 'exec-token');
      await subject.deleteChangeSet('app', 'cairn-old');
      await subject.deleteStack('app', { clientToken: 'delete-token', roleArn: 'arn:aws:iam::123456789012:role/r' });
      await subject.updateTerminationProtection('app', true);

      expect(cfn.commandCalls(ExecuteChangeSetCommand)[0]!.args[0].input).toEqual({
        StackName: 'app',
        ChangeSetName: 'cairn-abc123',
        ClientRequestToken: 'exec-token',
      });
      expect(cfn.commandCalls(DeleteChangeSetCommand)[0]!.args[0].input).toEqual({
        StackName: 'app',
        ChangeSetName: 'cairn-old',
      });
      expect(cfn.commandCalls(DeleteStackCommand)[0]!.args[0].input).toEqual({
        StackName: 'app',
        ClientRequestToken: 'delete-token',
        RoleARN: 'arn:aws:iam::123456789012:role/r',
      });
      expect(cfn.commandCalls(UpdateTerminationProtectionCommand)[0]!.args[0].input).toEqual({
        StackName: 'app',
        EnableTerminationProtection: true,
      });
    });

    it('reads the original template', async () => {
      cfn.on(GetTemplateCommand).resolves({ TemplateBody: 'Resources: {}\n' });

      await expect(gateway().getTemplate('app')).resolves.toBe('Resources: {}\n');
      expect(cfn.commandCalls(GetTemplateCommand)[0]!.args[0].input).toEqual({
        StackName: 'app',
        TemplateStage: 'Original',
      });
    });

    it('returns the newest events up to the limit without reading further pages', async () => {
      const event = (id: string, minute: number) => ({
        EventId: id,
        StackId: stackId('app'),
        StackName: 'app',
        LogicalResourceId: 'Bucket',
        ResourceType: 'AWS::S3::Bucket',
        ResourceStatus: 'UPDATE_COMPLETE' as const,
        Timestamp: new Date(Date.UTC(2024, 4, 1, 10, minute)),
      });
      cfn
        .on(DescribeStackEventsCommand)
        .resolvesOnce({ StackEvents: [event('e3', 3), event('e2', 2)], NextToken: 'n' })
        .resolvesOnce({ StackEvents: [event('e1', 1), event('e0', 0)], NextToken: 'm' })
        .resolvesOnce({ StackEvents: [event('never', 0)] });

      const events = await gateway().listStackEvents('app', 3);

      expect(events.map((e) => e.eventId)).toEqual(['e3', 'e2', 'e1']);
      expect(events[0]).toEqual({
        eventId: 'e3',
        stackName: 'app',
        logicalId: 'Bucket',
        resourceType: 'AWS::S3::Bucket',
        status: 'UPDATE_COMPLETE',
        statusReason: undefined,
        timestamp: '2024-05-01T10:03:00.000Z',
      });
      expect(cfn.commandCalls(DescribeStackEventsCommand)).toHaveLength(2);
    });
  });

  describe('drift', () => {
    it('starts detection and reports its status', async () => {
      cfn.on(DetectStackDriftCommand, { StackName: 'app' }).resolves({ StackDriftDetectionId: 'det-1' });
      cfn.on(DescribeStackDriftDetectionStatusCommand, { StackDriftDetectionId: 'det-1' }).resolves({
        StackId: stackId('app'),
        StackDriftDetectionId: 'det-1',
        DetectionStatus: 'DETECTION_COMPLETE',
        StackDriftStatus: 'DRIFTED',
        DriftedStackResourceCount: 2,
        Timestamp: new Date(),
      });
      const subject = gateway();

      const id = await subject.detectStackDrift('app');
      const detection = await subject.describeDriftDetection(id);

      expect(id).toBe('det-1');
      expect(detection).toEqual({
        status: 'DETECTION_COMPLETE',
        stackDriftStatus: 'DRIFTED',
        reason: undefined,
        driftedResourceCount: 2,
      });
    });

    it('lists modified and deleted resources of every page with their property differences', async () => {
      cfn
        .on(DescribeStackResourceDriftsCommand)
        .resolvesOnce({
          StackResourceDrifts: [
            {
              StackId: stackId('app'),
              LogicalResourceId: 'Bucket',
              PhysicalResourceId: 'app-bucket-1',
              ResourceType: 'AWS::S3::Bucket',
              StackResourceDriftStatus: 'MODIFIED',
              Timestamp: new Date('2024-05-03T12:00:00Z'),
              PropertyDifferences: [
                {
                  PropertyPath: '/VersioningConfiguration/Status',
                  ExpectedValue: 'Enabled',
                  ActualValue: 'Suspended',
                  DifferenceType: 'NOT_EQUAL',
                },
                { PropertyPath: '/Tags/1', ExpectedValue: '', ActualValue: '{"Key":"x"}', DifferenceType: 'ADD' },
              ],
            },
          ],
          NextToken: 'n',
        })
        .resolvesOnce({
          StackResourceDrifts: [
            {
              StackId: stackId('app'),
              LogicalResourceId: 'Queue',
              ResourceType: 'AWS::SQS::Queue',
              StackResourceDriftStatus: 'DELETED',
              Timestamp: new Date('2024-05-03T12:00:00Z'),
            },
          ],
        });

      const drifts = await gateway().listResourceDrifts('app');

      const calls = cfn.commandCalls(DescribeStackResourceDriftsCommand);
      expect(calls).toHaveLength(2);
      expect(calls[0]!.args[0].input.StackResourceDriftStatusFilters).toEqual(['MODIFIED', 'DELETED']);
      expect(drifts).toEqual([
        {
          logicalId: 'Bucket',
          physicalId: 'app-bucket-1',
          resourceType: 'AWS::S3::Bucket',
          status: 'MODIFIED',
          checkedAt: '2024-05-03T12:00:00.000Z',
          differences: [
            { path: '/VersioningConfiguration/Status', expected: 'Enabled', actual: 'Suspended', kind: 'NOT_EQUAL' },
            { path: '/Tags/1', expected: '', actual: '{"Key":"x"}', kind: 'ADD' },
          ],
        },
        {
          logicalId: 'Queue',
          physicalId: undefined,
          resourceType: 'AWS::SQS::Queue',
          status: 'DELETED',
          checkedAt: '2024-05-03T12:00:00.000Z',
          differences: [],
        },
      ]);
    });
  });
});

describe('CloudFormationGateway against an endpoint from the environment', () => {
  const requests: { url: string; body: string; authorization?: string | undefined; sessionToken?: string | undefined }[] = [];
  let respond: (body: string) => { status: number; xml: string } = () => ({ status: 500, xml: '' });
  let server: Server;
  let endpoint: string;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const sessionToken = req.headers['x-amz-security-token'];
        requests.push({ url: req.url ?? '', body, authorization: req.headers.authorization, sessionToken: Array.isArray(sessionToken) ? sessionToken[0] : sessionToken });
        const { status, xml } = respond(body);
        // Status 0: never answer, like a connection that hangs.
        if (status === 0) return;
        res.writeHead(status, { 'content-type': 'text/xml' });
        res.end(xml);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    requests.length = 0;
    process.env.AWS_ACCESS_KEY_ID = 'AKIDTESTONLY';
    process.env.AWS_SECRET_ACCESS_KEY = 'test-secret-not-real';
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });

  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  });

  it('sends DescribeStacks to AWS_ENDPOINT_URL and parses the stacks it answers', async () => {
    process.env.AWS_ENDPOINT_URL = endpoint;
    delete process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
    respond = () => ({ status: 200, xml: DESCRIBE_STACKS_XML });

    const stacks = await new CloudFormationGateway({ region: 'us-east-1' }).listStacks();

    expect(requests).toHaveLength(1);
    expect(new URLSearchParams(requests[0]!.body).get('Action')).toBe('DescribeStacks');
    expect(stacks).toEqual([
      {
        stackName: 'network',
        stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/network/1',
        region: 'us-east-1',
        status: 'CREATE_COMPLETE',
        statusReason: undefined,
        tags: { 'cairn:source': 'platform' },
        outputs: { VpcId: 'vpc-0abc' },
        parameters: { Cidr: '10.0.0.0/16' },
        terminationProtection: false,
        createdAt: '2024-05-01T10:00:00.000Z',
        updatedAt: undefined,
        driftStatus: 'NOT_CHECKED',
        driftCheckedAt: undefined,
      },
    ]);
  });

  it('signs a source\'s calls with the credentials of the source\'s assumed role, not the process\'s own', async () => {
    process.env.AWS_ENDPOINT_URL = endpoint;
    delete process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
    respond = () => ({ status: 200, xml: DESCRIBE_STACKS_XML });
    const assumed: unknown[] = [];
    const sts = {
      send: async (command: { input: unknown }) => {
        assumed.push(command.input);
        return { Credentials: { AccessKeyId: 'ASIAASSUMEDSOURCE', SecretAccessKey: 'assumed-secret', SessionToken: 'assumed-session-token', Expiration: new Date(Date.now() + 3_600_000) } };
      },
    };
    const role = 'arn:aws:iam::123456789012:role/Cairn-SourceRolesSourceplatform-1';
    const gateways = sourceGateways({ sts: sts as never })({ name: 'platform', sourceRoleArn: role } as SourceConfig);

    await gateways('us-east-1').listStacks();

    expect(assumed).toEqual([{ RoleArn: role, RoleSessionName: 'cairn-platform', DurationSeconds: 3600 }]);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.authorization).toContain('Credential=ASIAASSUMEDSOURCE/');
    expect(requests[0]!.sessionToken).toBe('assumed-session-token');
  });

  it('gives up on an answer that never comes at the attempt deadline, then retries', async () => {
    process.env.AWS_ENDPOINT_URL = endpoint;
    delete process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
    respond = () => ({ status: 0, xml: '' });
    const started = Date.now();
    const error = await new CloudFormationGateway({ region: 'us-east-1', maxAttempts: 2, requestTimeoutMs: 300 }).describeStack('app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('retries throttled calls with the adaptive strategy, then throws ThrottlingError', async () => {
    // The service-specific variable wins over the general one, which points nowhere.
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
    process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = endpoint;
    respond = () => ({ status: 400, xml: THROTTLING_XML });
    const subject = new CloudFormationGateway({ region: 'us-east-1', maxAttempts: 2 });

    const error = await subject.describeStack('app').catch((e: unknown) => e);

    expect(requests).toHaveLength(2);
    expect(error).toBeInstanceOf(ThrottlingError);
    expect((error as Error).message).toContain('Rate exceeded');
    const strategy = await (subject as unknown as { client: CloudFormationClient }).client.config.retryStrategy();
    expect((strategy as { mode?: string }).mode).toBe('adaptive');
  });
});

/** A JSON template of exactly `bytes` UTF-8 bytes. */
function templateOfBytes(bytes: number): string {
  const frame = JSON.stringify({ Description: '' });
  return JSON.stringify({ Description: 'x'.repeat(bytes - frame.length) });
}

const DESCRIBE_STACKS_XML = `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <DescribeStacksResult>
    <Stacks>
      <member>
        <StackName>network</StackName>
        <StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/network/1</StackId>
        <StackStatus>CREATE_COMPLETE</StackStatus>
        <CreationTime>2024-05-01T10:00:00.000Z</CreationTime>
        <EnableTerminationProtection>false</EnableTerminationProtection>
        <Tags><member><Key>cairn:source</Key><Value>platform</Value></member></Tags>
        <Outputs><member><OutputKey>VpcId</OutputKey><OutputValue>vpc-0abc</OutputValue></member></Outputs>
        <Parameters><member><ParameterKey>Cidr</ParameterKey><ParameterValue>10.0.0.0/16</ParameterValue></member></Parameters>
        <DriftInformation><StackDriftStatus>NOT_CHECKED</StackDriftStatus></DriftInformation>
      </member>
    </Stacks>
  </DescribeStacksResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</DescribeStacksResponse>`;

const THROTTLING_XML = `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
  <RequestId>req-2</RequestId>
</ErrorResponse>`;
