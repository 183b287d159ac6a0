/**
 * Gitea and Forgejo webhooks (Forgejo keeps Gitea's format and adds X-Forgejo-* headers): the bare
 * hex HMAC-SHA256 of the raw body in `X-Forgejo-Signature` or `X-Gitea-Signature`, else in the
 * GitHub-style `X-Hub-Signature-256` newer versions also send; delivery and event headers alike. Pushes and pull requests (GitHub's payload shape).
 */
import {
  deliveryIdFrom,
  firstHeader,
  githubStylePullRequest,
  payloadObject,
  singleRefChange,
  stringAt,
  verifyHexSignature,
  type ProviderEvent,
  type Verification,
  type WebhookHeaders,
  type WebhookProvider,
} from './provider.js';

// In order of precedence: the first header present is the one checked, so a bad Forgejo signature
// is not rescued by another header carrying a different value.
const SIGNATURE_HEADERS = ['x-forgejo-signature', 'x-gitea-signature', 'x-hub-signature-256'] as const;
const DELIVERY_HEADERS = ['x-forgejo-delivery', 'x-gitea-delivery', 'x-gogs-delivery', 'x-github-delivery'] as const;
const EVENT_HEADERS = ['x-forgejo-event', 'x-gitea-event', 'x-gogs-event', 'x-github-event'] as const;

/** Gitea says `synchronized` where GitHub says `synchronize`; both are accepted. */
const GITEA_ACTIONS = { opened: 'opened', synchronized: 'updated', synchronize: 'updated', reopened: 'reopened', closed: 'closed' } as const;

function eventType(headers: WebhookHeaders): string {
  return firstHeader(headers, EVENT_HEADERS) ?? '';
}

function createGiteaProvider(name: 'gitea' | 'forgejo', label: string): WebhookProvider {
  return {
    name,

    async verify(rawBody: Buffer, headers: WebhookHeaders, secrets: readonly string[]): Promise<Verification> {
      const signature = firstHeader(headers, SIGNATURE_HEADERS);
      if (!signature) return 'missing';
      return verifyHexSignature(rawBody, signature, secrets);
    },

    deliveryId(headers: WebhookHeaders, rawBody: Buffer): string {
      return deliveryIdFrom(headers, DELIVERY_HEADERS, rawBody);
    },

    eventType,

    normalise(payload: unknown, headers: WebhookHeaders): ProviderEvent {
      const event = eventType(headers);
      if (event === 'pull_request') return githubStylePullRequest(payload, `${label} pull_request`, GITEA_ACTIONS);
      if (event !== 'push') return { kind: 'other', eventType: event };
      const body = payloadObject(payload, `${label} push`);
      return {
        kind: 'push',
        changes: [singleRefChange(body, `${label} push`)],
        repository: stringAt(body, 'repository', 'full_name'),
      };
    },
  };
}

export const gitea: WebhookProvider = createGiteaProvider('gitea', 'Gitea');
export const forgejo: WebhookProvider = createGiteaProvider('forgejo', 'Forgejo');
