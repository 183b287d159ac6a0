/**
 * The webhook Lambda behind a Function URL: reads the deployment configuration once per container,
 * wires Secrets Manager and the SQS FIFO queue, hands each request to handleWebhook and maps the
 * answer to the Function URL response. Kept to these imports so the bundle stays small and cold
 * starts short.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { logger, setCorrelationId } from '../lib/adapters/lambda-logger.js';
import { SecretsManagerSecrets } from '../lib/adapters/secrets-manager.js';
import { SqsWorkQueue } from '../lib/adapters/sqs-queue.js';
import { optionalPositiveInteger, requiredEnv } from '../lib/adapters/lambda-environment.js';
import { ENV } from '../lib/core/environment.js';
import { parseDeploymentConfig } from '../lib/core/source-config.js';
import { handleWebhook, type IntakeLogEntry } from '../lib/webhooks/intake.js';
import type { CommentCommandsFor } from '../lib/webhooks/comment-commands.js';

// Providers give up after 10 s (Gitea after 5 s): a stalled AWS call must fail while there is still
// time to answer, and the provider's own redelivery is the retry.
// The SDK only warns at requestTimeout unless told to throw.
const sdkOptions = { maxAttempts: 2, requestHandler: { connectionTimeout: 1000, requestTimeout: 1500, throwOnRequestTimeout: true } };

// Validated at module load: a broken configuration fails the deployment's first invocation loudly
// instead of answering every delivery with an error.
const config = parseDeploymentConfig(requiredEnv(ENV.config), `environment variable ${ENV.config}`);
const maxBodyBytes = optionalPositiveInteger(ENV.maxBodyBytes);
const secretTtlMs = optionalPositiveInteger(ENV.secretTtlMs);
const secrets = new SecretsManagerSecrets({
  client: new SecretsManagerClient(sdkOptions),
  ...(secretTtlMs === undefined ? {} : { ttlMs: secretTtlMs }),
});
const queue = new SqsWorkQueue({ queueUrl: requiredEnv(ENV.queueUrl), client: new SQSClient(sdkOptions) });

// `/cairn approve` comments write approvals to the deployment's bucket. Rare next to pushes, so the
// S3 client and the provider API code load on the first one, not at every cold start.
const approvalsBucket = process.env[ENV.templateBucket];
const commentCommands: CommentCommandsFor = async (source) => {
  if (!approvalsBucket) return { unavailable: 'this deployment has no bucket for approvals' };
  const [{ S3Approvals }, { commentCommandsWith }] = await Promise.all([import('../lib/adapters/s3-approvals.js'), import('../lib/adapters/provider-access.js')]);
  return commentCommandsWith({ approvals: async () => new S3Approvals({ bucket: approvalsBucket }), secrets })(source);
};

function log(entry: IntakeLogEntry): void {
  const { level, message, ...fields } = entry;
  logger[level](message, fields);
}

export async function handler(event: APIGatewayProxyEventV2, context?: Context): Promise<APIGatewayProxyStructuredResultV2> {
  if (context) logger.addContext(context);
  setCorrelationId(event.requestContext.requestId);
  const result = await handleWebhook(
    {
      method: event.requestContext.http.method,
      path: event.rawPath,
      headers: event.headers ?? {},
      body: event.body,
      isBase64Encoded: event.isBase64Encoded,
    },
    { config, secrets, queue, now: () => new Date(), log, commentCommands, ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }) },
  );
  return {
    statusCode: result.statusCode,
    headers: { 'content-type': 'application/json', ...result.headers },
    body: JSON.stringify(result.body),
  };
}
