/**
 * SqsWorkQueue against a mocked SQS client: what it sends (group, deduplication id, body) and how
 * it reports a failure.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { toSqsId, SqsWorkQueue } from '../../lib/adapters/sqs-queue.js';
import { TransientError } from '../../lib/core/errors.js';
import type { WorkMessage } from '../../lib/ports/work-queue.js';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/cairn-work.fifo';
const sqs = mockClient(SQSClient);

const MESSAGE: WorkMessage = {
  source: 'platform-prod',
  kind: 'push',
  dedupId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
  commit: 'a'.repeat(40),
  receivedAt: '2026-03-01T12:00:00.000Z',
};

afterEach(() => sqs.reset());

describe('Adapter: SqsWorkQueue', () => {
  it('sends a pull request preview in a group of its own, apart from the source', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'sqs-2' });
    const queue = new SqsWorkQueue({ queueUrl: QUEUE_URL, client: new SQSClient({ region: 'eu-west-1' }) });
    await queue.send({ ...MESSAGE, kind: 'preview', pullRequest: { number: 7, action: 'opened', headRef: 'feature', fetchRef: 'refs/pull/7/head', fork: false } });
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageGroupId).toBe('platform-prod#pr-7');
  });

  it('sends the message as JSON with the source as group and the delivery id as deduplication id', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'sqs-1' });
    const queue = new SqsWorkQueue({ queueUrl: QUEUE_URL, client: new SQSClient({ region: 'eu-west-1' }) });
    expect(await queue.send(MESSAGE)).toEqual({ messageId: 'sqs-1', duplicate: false });
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input).toEqual({
      QueueUrl: QUEUE_URL,
      MessageBody: JSON.stringify(MESSAGE),
      MessageGroupId: 'platform-prod',
      MessageDeduplicationId: MESSAGE.dedupId,
    });
    expect(JSON.parse(input.MessageBody!)).toEqual(MESSAGE);
  });

  it('hashes a deduplication id longer than 128 characters or with characters SQS refuses', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'sqs-2' });
    const queue = new SqsWorkQueue({ queueUrl: QUEUE_URL, client: new SQSClient({ region: 'eu-west-1' }) });
    await queue.send({ ...MESSAGE, dedupId: 'x'.repeat(129) });
    await queue.send({ ...MESSAGE, dedupId: 'has space' });
    await queue.send({ ...MESSAGE, dedupId: 'x'.repeat(128) });
    const ids = sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input.MessageDeduplicationId);
    expect(ids[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(ids[1]).toMatch(/^[0-9a-f]{64}$/);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[2]).toBe('x'.repeat(128));
  });

  it('keeps punctuation SQS allows in a deduplication id', () => {
    expect(toSqsId('sweep:2026-03-01T12:00Z/{a}')).toBe('sweep:2026-03-01T12:00Z/{a}');
    expect(toSqsId('café')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports a failed send as a TransientError naming the source and the queue', async () => {
    sqs.on(SendMessageCommand).rejects(Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable' }));
    const queue = new SqsWorkQueue({ queueUrl: QUEUE_URL, client: new SQSClient({ region: 'eu-west-1' }) });
    const error = await queue.send(MESSAGE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).reason).toBe('ServiceUnavailable');
    expect((error as Error).message).toBe(`Could not send push for source platform-prod to queue ${QUEUE_URL}: ServiceUnavailable: Service unavailable`);
  });
});
