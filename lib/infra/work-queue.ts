/**
 * WorkQueue: the SQS FIFO queue between intake (webhook, sweep, stack events) and the reconciler,
 * and its FIFO dead-letter queue. The source is the message group, so one source is reconciled in
 * order and never twice at once; the sender's dedupId is the deduplication id, scoped to the
 * message group, so sources (several of one repository among them) never drop each other's work.
 */
import { Duration } from 'aws-cdk-lib';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * Waiting never spends receives (a waiting message is held once, and a fresh message carries the
 * work on), so only failures count: ten failed attempts make a message poison. The reconciler
 * brings a failed message back after 5 s doubling per receive (at most 5 minutes), so that is about
 * twenty minutes; a message that is not a Cairn work message is moved to the dead letters at once.
 * Repeated failures are seen earlier: the reconcile-failure alarm counts them.
 */
export const MAX_RECEIVE_COUNT = 10;

const ONE_DAY_SECONDS = 24 * 3600;
const MAX_RETENTION_SECONDS = 14 * ONE_DAY_SECONDS;

export interface WorkQueueProps {
  /** At least six times the reconcile function's timeout, as Lambda's SQS event source advises. */
  visibilityTimeout: Duration;
}

export class WorkQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      fifo: true,
      retentionPeriod: Duration.seconds(MAX_RETENTION_SECONDS),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new Queue(this, 'Queue', {
      fifo: true,
      // Senders set the deduplication id: the delivery id of a push, the event id of a stack event.
      contentBasedDeduplication: false,
      // Deduplication per source: the same delivery id or event id sent for two sources is two messages.
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout: props.visibilityTimeout,
      // A failing message comes back once per visibility timeout: it must be kept long enough to
      // reach the dead letters after its last receive rather than expire unseen (SQS keeps at most 14 days).
      retentionPeriod: Duration.seconds(Math.min(MAX_RECEIVE_COUNT * props.visibilityTimeout.toSeconds() + ONE_DAY_SECONDS, MAX_RETENTION_SECONDS)),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
  }
}
