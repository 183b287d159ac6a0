/**
 * SqsWorkQueue: the WorkQueue over an SQS FIFO queue. The source is the message group, so one
 * source's work is handled in order and never concurrently; the dedupId is the deduplication id,
 * so a provider's retry within SQS's 5-minute window is dropped by SQS itself.
 */
import { createHash } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { TransientError } from '../core/errors.js';
import { messageGroup, type SendResult, type WorkMessage, type WorkQueue } from '../ports/work-queue.js';

export interface SqsWorkQueueOptions {
  /** The FIFO queue's URL (ends in `.fifo`). */
  queueUrl: string;
  /** A ready client; defaults to one over the SDK's region and credential chains. */
  client?: SQSClient;
}

/** SQS's rule for MessageDeduplicationId and MessageGroupId: 1..128 of these characters. */
const SQS_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

/**
 * A MessageGroupId or MessageDeduplicationId: `id` when SQS accepts it as is, else its SHA-256
 * (64 hex characters), which it always accepts.
 */
export function toSqsId(id: string): string {
  return SQS_ID.test(id) ? id : createHash('sha256').update(id).digest('hex');
}

export class SqsWorkQueue implements WorkQueue {
  private readonly queueUrl: string;
  private readonly client: SQSClient;

  constructor(options: SqsWorkQueueOptions) {
    this.queueUrl = options.queueUrl;
    this.client = options.client ?? new SQSClient({});
  }

  /**
   * SQS accepts a duplicate within its window without saying so, so `duplicate` is always false
   * here; the duplicate is still delivered once.
   */
  async send(message: WorkMessage): Promise<SendResult> {
    try {
      const output = await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(message),
          MessageGroupId: toSqsId(messageGroup(message)),
          MessageDeduplicationId: toSqsId(message.dedupId),
        }),
      );
      return { messageId: output.MessageId ?? '', duplicate: false };
    } catch (error) {
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new TransientError('ServiceUnavailable', `Could not send ${message.kind} for source ${message.source} to queue ${this.queueUrl}: ${detail}`, {
        cause: error,
      });
    }
  }
}
