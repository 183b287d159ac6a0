/**
 * Test deliveries as each provider sends them: the headers it sets and the signature it computes,
 * written from the providers' documentation with plain node:crypto (not the code under test), plus
 * in-memory dependencies for handleWebhook that record what was queued and logged.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { parseDeploymentConfig, type DeploymentConfig, type Provider, type SourceConfigInput } from '../../lib/core/source-config.js';
import { githubPullRequestPayload } from '../../lib/local/github-payloads.js';
import type { SecretProvider } from '../../lib/ports/secrets.js';
import type { SendResult, WorkMessage, WorkQueue } from '../../lib/ports/work-queue.js';
import type { IntakeLogEntry, WebhookDeps, WebhookRequest } from '../../lib/webhooks/intake.js';

export const NOW = new Date('2026-03-01T12:00:00.000Z');

export function hexHmac(secret: string | Buffer, body: Buffer | string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export interface DeliveryOptions {
  /** The source name in the path. */
  source: string;
  body: Buffer | string;
  secret: string;
  /** The provider's event name; each provider's push event when absent. */
  event?: string;
  deliveryId?: string;
  /** GitLab only: sign with a `whsec_` signing token instead of sending the token header. */
  signingToken?: boolean;
  now?: Date;
  contentType?: string;
}

const PUSH_EVENT: Record<Provider, string> = {
  github: 'push',
  gitlab: 'Push Hook',
  gitea: 'push',
  forgejo: 'push',
  bitbucket: 'repo:push',
  generic: 'push',
};

/** The headers `provider` sends with `body`, signed with `secret`. */
export function deliveryHeaders(provider: Provider, options: DeliveryOptions): Record<string, string> {
  const body = Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body, 'utf8');
  const event = options.event ?? PUSH_EVENT[provider];
  const id = options.deliveryId ?? randomUUID();
  const hex = hexHmac(options.secret, body);
  const common = { 'Content-Type': options.contentType ?? 'application/json' };
  switch (provider) {
    case 'github':
      return { ...common, 'X-GitHub-Event': event, 'X-GitHub-Delivery': id, 'X-Hub-Signature-256': `sha256=${hex}` };
    case 'gitlab': {
      const base = { ...common, 'X-Gitlab-Event': event, 'Idempotency-Key': id, 'X-Gitlab-Event-UUID': randomUUID() };
      if (!options.signingToken) return { ...base, 'X-Gitlab-Token': options.secret };
      const timestamp = String(Math.floor((options.now ?? NOW).getTime() / 1000));
      const key = Buffer.from(options.secret.replace(/^whsec_/, ''), 'base64');
      const signature = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
      return { ...base, 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
    }
    case 'gitea':
      return { ...common, 'X-Gitea-Event': event, 'X-Gitea-Delivery': id, 'X-Gitea-Signature': hex, 'X-GitHub-Event': event };
    case 'forgejo':
      return {
        ...common,
        'X-Forgejo-Event': event,
        'X-Forgejo-Delivery': id,
        'X-Forgejo-Signature': hex,
        'X-Gitea-Event': event,
        'X-Gitea-Delivery': id,
        'X-Gitea-Signature': hex,
      };
    case 'bitbucket':
      return { ...common, 'X-Event-Key': event, 'X-Request-UUID': id, 'X-Hook-UUID': randomUUID(), 'X-Hub-Signature': `sha256=${hex}` };
    case 'generic':
      return { ...common, 'X-Event-Type': event, 'X-Delivery-Id': id, 'X-Signature': `sha256=${hex}` };
  }
}

export function delivery(provider: Provider, options: DeliveryOptions): WebhookRequest {
  return { method: 'POST', path: `/hooks/${options.source}`, headers: deliveryHeaders(provider, options), body: options.body };
}

/** A queue that keeps what it was sent and drops repeated dedupIds, as SQS FIFO does. */
export class RecordingQueue implements WorkQueue {
  readonly sent: WorkMessage[] = [];
  async send(message: WorkMessage): Promise<SendResult> {
    const duplicate = this.sent.some((m) => m.dedupId === message.dedupId);
    if (!duplicate) this.sent.push(message);
    return { messageId: `m-${this.sent.length}`, duplicate };
  }
}

export class MapSecrets implements SecretProvider {
  readonly calls: string[] = [];
  constructor(private readonly values: Record<string, string>) {}
  async get(name: string): Promise<string> {
    this.calls.push(name);
    const value = this.values[name];
    if (value === undefined) throw new Error(`Secret ${name} does not exist`);
    return value;
  }
}

export function config(...sources: SourceConfigInput[]): DeploymentConfig {
  return parseDeploymentConfig({ sources }, 'test');
}

export interface TestDeps extends WebhookDeps {
  queue: RecordingQueue;
  logs: IntakeLogEntry[];
}

export function testDeps(options: { config: DeploymentConfig; secrets: Record<string, string>; now?: Date; maxBodyBytes?: number }): TestDeps {
  const logs: IntakeLogEntry[] = [];
  return {
    config: options.config,
    secrets: new MapSecrets(options.secrets),
    queue: new RecordingQueue(),
    now: () => options.now ?? NOW,
    log: (entry) => logs.push(entry),
    logs,
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
  };
}

/** A push payload in GitHub's shape (also Gitea's and the generic one's). */
export function githubStylePush(ref: string, after = 'a'.repeat(40), extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ref, before: 'b'.repeat(40), after, repository: { full_name: 'org/repo' }, ...extra });
}

/** A GitHub `pull_request` payload for pull request #1 of org/platform, from `feature` into `main`, at `head`. */
export function githubPullRequest(action: string, head: string): string {
  return JSON.stringify(githubPullRequestPayload({ action, head, repo: 'org/platform', headRef: 'feature' }));
}
