/**
 * The generic HMAC webhook, for any sender that can sign a request: `X-Signature: sha256=<hex
 * HMAC-SHA256 of the raw body>`, optional `X-Delivery-Id` and `X-Event-Type` (default `push`; `ping`
 * answers a setup check), and a JSON body `{ "ref": "refs/heads/main" | "main", "after"?: "<sha>",
 * "deleted"?: true }` (`branch` and `commit` are accepted for `ref` and `after`).
 */
import {
  commitSha,
  deliveryIdFrom,
  isZeroSha,
  payloadObject,
  PayloadError,
  verifyHexSignature,
  type ProviderEvent,
  type Verification,
  type WebhookHeaders,
  type WebhookProvider,
} from './provider.js';

function eventType(headers: WebhookHeaders): string {
  return headers['x-event-type'] || 'push';
}

export const generic: WebhookProvider = {
  name: 'generic',

  async verify(rawBody: Buffer, headers: WebhookHeaders, secrets: readonly string[]): Promise<Verification> {
    const signature = headers['x-signature'];
    if (!signature) return 'missing';
    return verifyHexSignature(rawBody, signature, secrets);
  },

  deliveryId(headers: WebhookHeaders, rawBody: Buffer): string {
    return deliveryIdFrom(headers, ['x-delivery-id'], rawBody);
  },

  eventType,

  normalise(payload: unknown, headers: WebhookHeaders): ProviderEvent {
    const event = eventType(headers);
    if (event === 'ping') return { kind: 'ping' };
    if (event !== 'push') return { kind: 'other', eventType: event };
    const body = payloadObject(payload, 'generic push');
    const name = body['ref'] ?? body['branch'];
    if (typeof name !== 'string' || name === '') {
      throw new PayloadError('generic push payload: ref (or branch) must be a non-empty string, e.g. "refs/heads/main" or "main"');
    }
    const after = body['after'] ?? body['commit'];
    return {
      kind: 'push',
      changes: [
        {
          ref: name.startsWith('refs/') ? name : `refs/heads/${name}`,
          commit: commitSha(after),
          deleted: body['deleted'] === true || isZeroSha(after),
        },
      ],
      repository: typeof body['repository'] === 'string' ? body['repository'] : undefined,
    };
  },
};
