/**
 * The reconcile Lambda as the SQS event source invokes it, over a mocked SQS client: a record that
 * is not a Cairn work message is moved to the dead-letter queue on its first receive and
 * acknowledged, with one JSON error line saying so.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/cairn-work.fifo';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/cairn-dead-letters.fifo';
const CONFIG = {
  sources: [{ name: 'platform', repoUrl: 'https://github.com/org/platform.git', provider: 'github', webhookSecretName: 'cairn/platform/webhook' }],
};

const sqs = mockClient(SQSClient);

type Handler = typeof import('../../functions/reconcile.js')['handler'];

function record(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1772366400000',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1772366400000',
      MessageGroupId: 'platform',
      MessageDeduplicationId: messageId,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:cairn-work.fifo',
    awsRegion: 'eu-west-1',
  };
}

const context = { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 100_000 } as unknown as Context;

describe('Function: reconcile', () => {
  let handler: Handler;
  let lines: string[];

  beforeAll(async () => {
    vi.stubEnv('CAIRN_CONFIG', JSON.stringify(CONFIG));
    vi.stubEnv('CAIRN_QUEUE_URL', QUEUE_URL);
    vi.stubEnv('CAIRN_DEAD_LETTER_QUEUE_URL', DLQ_URL);
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
    vi.resetModules();
    ({ handler } = await import('../../functions/reconcile.js'));
  });

  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
    lines = [];
    // Powertools writes ERROR lines to stderr, the rest to stdout.
    for (const stream of [process.stdout, process.stderr]) vi.spyOn(stream, 'write').mockImplementation((chunk) => (lines.push(String(chunk)), true));
  });

  afterAll(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('moves a malformed message to the dead-letter queue on its first receive and acknowledges it', async () => {
    const event: SQSEvent = { Records: [record('m-1', '{"source":"platform","kind":"bogus"}'), record('m-2', '{"source":"ghost","kind":"push","dedupId":"d","receivedAt":"2026-03-01T12:00:00Z"}')] };
    const result = await handler(event, context);
    vi.restoreAllMocks();
    expect(result).toEqual({ batchItemFailures: [] });
    const sent = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sent).toEqual([
      { QueueUrl: DLQ_URL, MessageBody: '{"source":"platform","kind":"bogus"}', MessageGroupId: 'rejected', MessageDeduplicationId: 'm-1' },
      expect.objectContaining({ QueueUrl: DLQ_URL, MessageGroupId: 'rejected', MessageDeduplicationId: 'm-2' }),
    ]);
    const errors = lines.flatMap((l) => (l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : [])).filter((l) => l['level'] === 'ERROR');
    expect(errors.map((e) => e['message'])).toEqual([
      expect.stringContaining('message m-1 is not a Cairn work message; it was moved to the dead-letter queue'),
      expect.stringContaining('message m-2 names unknown source "ghost"; it was moved to the dead-letter queue'),
    ]);
  });

  it('fails the record as before when the dead-letter queue refuses it', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('AccessDenied'));
    const result = await handler({ Records: [record('m-3', 'not json')] }, context);
    vi.restoreAllMocks();
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-3' }] });
  });
});
