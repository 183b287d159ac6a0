/**
 * GitHub webhooks: `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, checked with
 * @octokit/webhooks-methods), `X-GitHub-Delivery`, `X-GitHub-Event`; push, pull_request, ping and everything else.
 */
import { verify } from '@octokit/webhooks-methods';
import {
  deliveryIdFrom,
  githubStylePullRequest,
  payloadObject,
  singleRefChange,
  stringAt,
  utf8,
  type ProviderEvent,
  type Verification,
  type WebhookHeaders,
  type WebhookProvider,
} from './provider.js';

/** `synchronize` is a push to the pull request; `closed` covers merged ones too. */
const GITHUB_ACTIONS = { opened: 'opened', synchronize: 'updated', reopened: 'reopened', closed: 'closed' } as const;

function eventType(headers: WebhookHeaders): string {
  return headers['x-github-event'] ?? '';
}

export const github: WebhookProvider = {
  name: 'github',

  async verify(rawBody: Buffer, headers: WebhookHeaders, secrets: readonly string[]): Promise<Verification> {
    const signature = headers['x-hub-signature-256'];
    if (!signature) return 'missing';
    // Octokit signs text; only a body that round-trips through UTF-8 is the text GitHub signed, so
    // any other byte sequence is refused rather than verified as its lossy decoding.
    const text = utf8(rawBody);
    if (!text) return 'mismatch';
    let valid = false;
    for (const secret of secrets) {
      if (await verify(secret, text, signature)) valid = true;
    }
    return valid ? 'valid' : 'mismatch';
  },

  deliveryId(headers: WebhookHeaders, rawBody: Buffer): string {
    return deliveryIdFrom(headers, ['x-github-delivery'], rawBody);
  },

  eventType,

  normalise(payload: unknown, headers: WebhookHeaders): ProviderEvent {
    const event = eventType(headers);
    if (event === 'ping') return { kind: 'ping' };
    if (event === 'pull_request') return githubStylePullRequest(payload, 'GitHub pull_request', GITHUB_ACTIONS);
    if (event !== 'push') return { kind: 'other', eventType: event };
    const body = payloadObject(payload, 'GitHub push');
    return {
      kind: 'push',
      changes: [singleRefChange(body, 'GitHub push')],
      repository: stringAt(body, 'repository', 'full_name'),
    };
  },
};
