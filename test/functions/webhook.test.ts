/**
 * The webhook Lambda as a Function URL invokes it, over mocked Secrets Manager and SQS clients:
 * configuration read at module load, the event mapped to intake and the answer mapped back.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { deliveryHeaders, githubStylePush } from '../webhooks/deliveries.js';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/cairn-work.fifo';
const SECRET = 'function-test-secret';
const CONFIG = {
  sources: [
    { name: 'platform', repoUrl: 'https://github.com/org/platform.git', provider: 'github', webhookSecretName: 'cairn/platform/webhook' },
  ],
};

const sqs = mockClient(SQSClient);
const secretsManager = mockClient(SecretsManagerClient);

type Handler = typeof import('../../functions/webhook.js')['handler'];

function setEnvironment(config: unknown): void {
  vi.stubEnv('CAIRN_CONFIG', typeof config === 'string' ? config : JSON.stringify(config));
  vi.stubEnv('CAIRN_QUEUE_URL', QUEUE_URL);
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
}

function functionUrlEvent(overrides: Partial<APIGatewayProxyEventV2> & { method?: string } = {}): APIGatewayProxyEventV2 {
  const body = githubStylePush('refs/heads/main');
  const headers = Object.fromEntries(
    Object.entries(deliveryHeaders('github', { source: 'platform', body, secret: SECRET, deliveryId: 'gh-delivery-1' })).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const { method = 'POST', ...rest } = overrides;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/hooks/platform',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc123',
      domainName: 'abc123.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abc123',
      http: { method, path: '/hooks/platform', protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'GitHub-Hookshot/abc' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '01/Mar/2026:12:00:00 +0000',
      timeEpoch: 1772366400000,
    },
    body,
    isBase64Encoded: false,
    ...rest,
  };
}

describe('Function: webhook', () => {
  let handler: Handler;

  beforeAll(async () => {
    setEnvironment(CONFIG);
    vi.resetModules();
    ({ handler } = await import('../../functions/webhook.js'));
  });

  beforeEach(() => {
    sqs.reset();
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand, { SecretId: 'cairn/platform/webhook' }).resolves({ SecretString: SECRET });
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  });

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('queues a verified push on the FIFO queue and answers 202 with JSON', async () => {
    const result = await handler(functionUrlEvent());
    expect(result.statusCode).toBe(202);
    expect(result.headers).toEqual({ 'content-type': 'application/json' });
    expect(JSON.parse(result.body!)).toMatchObject({ queued: true, deliveryId: 'gh-delivery-1', source: 'platform', branch: 'main' });
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ QueueUrl: QUEUE_URL, MessageGroupId: 'platform', MessageDeduplicationId: 'gh-delivery-1' });
    expect(JSON.parse(input.MessageBody!)).toMatchObject({ source: 'platform', kind: 'push', dedupId: 'gh-delivery-1', commit: 'a'.repeat(40) });
  });

  it('queues a pull request into the source branch as a preview in its own message group', async () => {
    const body = JSON.stringify({
      action: 'synchronize',
      number: 7,
      pull_request: { number: 7, head: { ref: 'feature', sha: 'c'.repeat(40), repo: { full_name: 'org/platform' } }, base: { ref: 'main', repo: { full_name: 'org/platform' } } },
      repository: { full_name: 'org/platform' },
    });
    const headers = Object.fromEntries(
      Object.entries(deliveryHeaders('github', { source: 'platform', body, secret: SECRET, event: 'pull_request', deliveryId: 'gh-pr-1' })).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const result = await handler(functionUrlEvent({ body, headers }));
    expect(result.statusCode).toBe(202);
    expect(JSON.parse(result.body!)).toMatchObject({ queued: true, pullRequest: 7, commit: 'c'.repeat(40) });
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ MessageGroupId: 'platform#pr-7', MessageDeduplicationId: 'gh-pr-1' });
    expect(JSON.parse(input.MessageBody!)).toMatchObject({ kind: 'preview', pullRequest: { number: 7, action: 'updated', fetchRef: 'refs/pull/7/head', fork: false } });
  });

  it('verifies a base64 body as Function URLs deliver non-text content', async () => {
    const event = functionUrlEvent();
    const result = await handler({ ...event, body: Buffer.from(event.body!).toString('base64'), isBase64Encoded: true });
    expect(result.statusCode).toBe(202);
  });

  it('rejects a body whose signature does not match without touching the queue', async () => {
    const event = functionUrlEvent();
    const result = await handler({ ...event, body: githubStylePush('refs/heads/main', 'b'.repeat(40)) });
    expect(result.statusCode).toBe(401);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('maps a 405 with its Allow header', async () => {
    const result = await handler(functionUrlEvent({ method: 'GET' }));
    expect(result.statusCode).toBe(405);
    expect(result.headers).toEqual({ 'content-type': 'application/json', allow: 'POST' });
  });

  it('answers 503 without detail when SQS fails, never a stack trace', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('connect ETIMEDOUT 10.0.0.1:443'));
    const result = await handler(functionUrlEvent());
    expect(result.statusCode).toBe(503);
    expect(result.body).toBe(JSON.stringify({ queued: false, deliveryId: 'gh-delivery-1', error: 'the work queue is unavailable; retry later' }));
  });

  it('fails at module load, naming the field, when the configuration is invalid', async () => {
    setEnvironment({ sources: [{ name: 'Bad Name', repoUrl: 'https://github.com/org/x.git', provider: 'github', webhookSecretName: 's' }] });
    vi.resetModules();
    await expect(import('../../functions/webhook.js')).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'environment variable CAIRN_CONFIG: sources.0.name: expected lower-case letters, digits and hyphens, e.g. platform-prod',
    });
    setEnvironment(CONFIG);
  });

  it('fails at module load when CAIRN_QUEUE_URL is missing', async () => {
    setEnvironment(CONFIG);
    vi.stubEnv('CAIRN_QUEUE_URL', '');
    vi.resetModules();
    await expect(import('../../functions/webhook.js')).rejects.toThrow('Environment variable CAIRN_QUEUE_URL is not set');
    setEnvironment(CONFIG);
  });
});
