/**
 * The stack-events Lambda as EventBridge invokes it, over mocked CloudFormation and SQS clients:
 * events shaped as EventBridge delivers them (stack id, status, client request token; no tags),
 * routed to the owning source's FIFO group, one JSON log line each.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { EventBridgeEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/cairn-work.fifo';
const CONFIG = {
  sources: [{ name: 'platform', repoUrl: 'https://github.com/org/platform.git', provider: 'github', webhookSecretName: 'cairn/platform/webhook' }],
};
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/data/5f3a8e10-0b1c-11f1-9a4e-0a1b2c3d4e5f';

const sqs = mockClient(SQSClient);
const cloudformation = mockClient(CloudFormationClient);

type Handler = typeof import('../../functions/stack-events.js')['handler'];
type Detail = Parameters<Handler>[0]['detail'];

/** A "CloudFormation Stack Status Change" event as EventBridge delivers it. */
function statusChange(status: string, token: string | undefined): EventBridgeEvent<'CloudFormation Stack Status Change', Detail> {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': 'CloudFormation Stack Status Change',
    source: 'aws.cloudformation',
    account: '123456789012',
    time: '2026-03-01T12:00:00Z',
    region: 'eu-west-1',
    resources: [STACK_ID],
    detail: {
      'stack-id': STACK_ID,
      'status-details': { status, 'status-reason': '' },
      ...(token ? { 'client-request-token': token } : {}),
    },
  };
}

describe('Function: stack-events', () => {
  let handler: Handler;
  let lines: string[];

  beforeAll(async () => {
    vi.stubEnv('CAIRN_CONFIG', JSON.stringify(CONFIG));
    vi.stubEnv('CAIRN_QUEUE_URL', QUEUE_URL);
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
    vi.resetModules();
    ({ handler } = await import('../../functions/stack-events.js'));
  });

  beforeEach(() => {
    sqs.reset();
    cloudformation.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    lines = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (lines.push(String(chunk)), true));
  });

  afterAll(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('wakes the source of a pruned stack on DELETE_COMPLETE from the request token, without describing the stack', async () => {
    const result = await handler(statusChange('DELETE_COMPLETE', 'cairn-delete-0123456789abcdef01234567-Splatform'));
    vi.mocked(process.stdout.write).mockRestore();
    expect(result).toEqual({ routed: true, source: 'platform' });
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ QueueUrl: QUEUE_URL, MessageGroupId: 'platform' });
    expect(JSON.parse(input.MessageBody!)).toMatchObject({ source: 'platform', kind: 'stack-event', stackName: 'data' });
    expect(cloudformation.commandCalls(DescribeStacksCommand)).toHaveLength(0);
    // One Powertools JSON line, with a level, a timestamp and the event id to correlate by.
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toEqual([expect.objectContaining({ level: 'INFO', timestamp: expect.any(String), correlationId: statusChange('', '').id, routed: true, source: 'platform' })]);
  });

  it('reads the owner from the stack tags when the token is one Cairn did not stamp with a source', async () => {
    cloudformation.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: 'data', StackId: STACK_ID, StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Tags: [{ Key: 'cairn:source', Value: 'platform' }] }],
    });
    const result = await handler(statusChange('UPDATE_COMPLETE', 'cairn-0123456789abcdef01234567-mx5c8h52'));
    vi.mocked(process.stdout.write).mockRestore();
    expect(result).toEqual({ routed: true, source: 'platform' });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
  });
});
