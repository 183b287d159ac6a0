/**
 * The reconciler Lambda: consumes the SQS FIFO queue in batches, folds each source's messages into
 * one reconcile of its branch head, takes one step with the reconciler every runtime builds
 * (lib/reconcile/reconciler.ts), and carries out the queue action its settle step chose, reporting
 * partial batch failures. Waiting
 * sources come back after a growing delay, failed ones after a short growing one (both by message
 * visibility); stalled ones are reported on the commit and dropped; malformed messages are moved
 * to the dead-letter queue at once. Pull-request preview messages take their own preview step,
 * which comments on the pull request and never applies.
 */
import { approvalsUnavailable } from '../lib/ports/approvals.js';
import { S3Approvals } from '../lib/adapters/s3-approvals.js';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createCommitStatusReporter } from '../lib/adapters/commit-status/index.js';
import { createPullRequestComments } from '../lib/adapters/pr-comments/index.js';
import { GitSource } from '../lib/adapters/git-source.js';
import { deploymentConfigFromEnv, requiredEnv } from '../lib/adapters/lambda-environment.js';
import { PowertoolsSink } from '../lib/adapters/powertools-sink.js';
import { usePackagedResourceSchemas } from '../lib/adapters/resource-schema-file.js';
import { SecretsManagerSecrets } from '../lib/adapters/secrets-manager.js';
import { sourceGateways } from '../lib/adapters/source-credentials.js';
import { SqsWorkQueue } from '../lib/adapters/sqs-queue.js';
import { ENV } from '../lib/core/environment.js';
import { findSource } from '../lib/core/source-config.js';
import type { GatewayFactory } from '../lib/ports/stack-gateway.js';
import { processBatch } from '../lib/reconcile/process-batch.js';
import { createReconciler } from '../lib/reconcile/reconciler.js';
import { StallMemory } from '../lib/reconcile/stall-memory.js';

usePackagedResourceSchemas();
const config = deploymentConfigFromEnv();
const queueUrl = requiredEnv(ENV.queueUrl);
const deadLetterQueueUrl = process.env[ENV.deadLetterQueueUrl];
const secrets = new SecretsManagerSecrets();
const sink = new PowertoolsSink();
const sqs = new SQSClient({});
const queue = new SqsWorkQueue({ queueUrl, client: sqs });
// Kept across warm invocations: stalled commits, each source's gateways per region (signed with
// that source's own role), and each source's git cache.
const stalls = new StallMemory();
const templateBucket = process.env[ENV.templateBucket];
const gatewaysForSource = sourceGateways({ templateBucket });
/** Each source's stacks go through its own role, assumed for that source's work alone. */
const gatewaysOf = (name: string): GatewayFactory => gatewaysForSource(findSource(config, name)!);
const repos = new Map(
  config.sources.map((s) => [
    s.name,
    new GitSource({ url: s.repoUrl, branch: s.branch, path: s.path, provider: s.provider === 'generic' ? undefined : s.provider, tokenSecret: s.gitTokenSecretName, secrets }),
  ]),
);

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  sink.setCorrelationId(context.awsRequestId);
  const receipts = new Map(event.Records.map((r) => [r.messageId, r.receiptHandle]));
  const showAgainAfter = async (records: { messageId: string }[], seconds: number): Promise<void> => {
    await Promise.all(
      records.map((r) =>
        sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receipts.get(r.messageId), VisibilityTimeout: Math.min(seconds, 43_200) })),
      ),
    );
  };
  // Built per invocation for this invocation's time budget; what it remembers lives above.
  const reconciler = createReconciler({
    sources: config.sources.map((s) => ({
      name: s.name,
      statusContext: s.statusContext ?? `cairn/${s.name}`,
      destinations: { ...s.destinations, configuredIn: `cairn.deploy.json, source ${s.name}` },
      ...(s.roleArn ? { defaultRoleArn: s.roleArn } : {}),
    })),
    repos,
    gateways: gatewaysOf,
    sink,
    stalls,
    commitStatus: (name) => {
      const source = findSource(config, name)!;
      return createCommitStatusReporter({
        provider: source.provider,
        repoUrl: source.repoUrl,
        tokenSecret: source.gitTokenSecretName,
        secrets,
        onError: (e) => sink.emit({ source: name, commit: e.status.commit, type: 'log', level: 'warn', message: e.message }),
      });
    },
    // Pull-request previews post with the same token the commit statuses use.
    pullRequestComments: (name) => {
      const source = findSource(config, name)!;
      return createPullRequestComments({ provider: source.provider, repoUrl: source.repoUrl, tokenSecret: source.gitTokenSecretName, secrets });
    },
    // A stack held for approval says so on the commit, with its change set, where GitHub or GitLab can
    // take the `/cairn approve` answer; the provider code loads only when a stack first waits.
    approvalNotices: (name) => {
      const source = findSource(config, name)!;
      const { provider, gitTokenSecretName: tokenSecret } = source;
      if ((provider !== 'github' && provider !== 'gitlab') || !tokenSecret) return undefined;
      return {
        awaiting: async (commit, markdown) => {
          const { commitNotices } = await import('../lib/adapters/provider-access.js');
          await commitNotices({ provider, repoUrl: source.repoUrl, tokenSecret, secrets }).awaiting(commit, markdown);
        },
      };
    },
    step: () => ({ remainingMs: () => context.getRemainingTimeInMillis(), reserveMs: 30_000 }),
    // Approvals are objects in the deployment's bucket, written by people (`cairn approve --target aws`), read here.
    approvals: templateBucket ? new S3Approvals({ bucket: templateBucket }) : approvalsUnavailable('this deployment cannot take: it has no bucket configured'),
  });
  try {
    const result = await processBatch(
      event.Records.map((r) => ({ messageId: r.messageId, body: r.body, receiveCount: Number(r.attributes.ApproximateReceiveCount ?? 1) })),
      {
        sink,
        reconciler,
        requeue: async (message) => void (await queue.send(message)),
        retryLater: (records, seconds) => showAgainAfter(records, seconds),
        retryFailedLater: (records, seconds) => showAgainAfter(records, seconds),
        ...(deadLetterQueueUrl
          ? {
              deadLetter: async (record) => {
                // FIFO: one group for everything rejected; the message id makes a repeated move a duplicate.
                await sqs.send(new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, MessageBody: record.body, MessageGroupId: 'rejected', MessageDeduplicationId: record.messageId }));
              },
            }
          : {}),
      },
    );
    return { batchItemFailures: result.batchItemFailures };
  } finally {
    sink.flush();
  }
};
