/**
 * Bitbucket webhooks: Cloud (`repo:push`, `X-Request-UUID`) and Data Center (`repo:refs_changed`,
 * `X-Request-Id`, `diagnostics:ping` from "Test connection"). Both sign the raw body as
 * `X-Hub-Signature: sha256=<hex HMAC-SHA256>` and may report several refs in one push.
 */
import {
  commitSha,
  deliveryIdFrom,
  isRecord,
  payloadObject,
  PayloadError,
  stringAt,
  verifyHexSignature,
  type ProviderEvent,
  type RefChange,
  type Verification,
  type WebhookHeaders,
  type WebhookProvider,
} from './provider.js';

function eventType(headers: WebhookHeaders): string {
  return headers['x-event-key'] ?? '';
}

function changesOf(body: Record<string, unknown>, what: string): unknown[] {
  const changes = body['changes'];
  if (!Array.isArray(changes)) throw new PayloadError(`${what} payload: changes must be an array`);
  return changes;
}

/** Cloud: `push.changes[]` of `{ new, old }` refs, `new` null when the ref was deleted. */
function cloudChanges(body: Record<string, unknown>): RefChange[] {
  const push = body['push'];
  if (!isRecord(push)) throw new PayloadError('Bitbucket repo:push payload: push must be an object');
  return changesOf(push, 'Bitbucket repo:push').flatMap((change, index): RefChange[] => {
    if (!isRecord(change)) throw new PayloadError(`Bitbucket repo:push payload: push.changes.${index} must be an object`);
    const current = isRecord(change['new']) ? change['new'] : undefined;
    const previous = isRecord(change['old']) ? change['old'] : undefined;
    const side = current ?? previous;
    const name = stringAt(side, 'name');
    if (!side || !name) return [];
    const prefix = side['type'] === 'tag' ? 'refs/tags/' : 'refs/heads/';
    return [{ ref: prefix + name, commit: commitSha(stringAt(current, 'target', 'hash')), deleted: current === undefined }];
  });
}

/** Data Center: `changes[]` of `{ refId, toHash, type: ADD | UPDATE | DELETE }`. */
function dataCenterChanges(body: Record<string, unknown>): RefChange[] {
  return changesOf(body, 'Bitbucket repo:refs_changed').flatMap((change, index): RefChange[] => {
    if (!isRecord(change)) throw new PayloadError(`Bitbucket repo:refs_changed payload: changes.${index} must be an object`);
    const ref = stringAt(change, 'refId') ?? stringAt(change, 'ref', 'id');
    if (!ref) return [];
    const deleted = change['type'] === 'DELETE';
    return [{ ref, commit: deleted ? undefined : commitSha(change['toHash']), deleted }];
  });
}

export const bitbucket: WebhookProvider = {
  name: 'bitbucket',

  async verify(rawBody: Buffer, headers: WebhookHeaders, secrets: readonly string[]): Promise<Verification> {
    const signature = headers['x-hub-signature'];
    if (!signature) return 'missing';
    return verifyHexSignature(rawBody, signature, secrets);
  },

  deliveryId(headers: WebhookHeaders, rawBody: Buffer): string {
    return deliveryIdFrom(headers, ['x-request-uuid', 'x-request-id'], rawBody);
  },

  eventType,

  normalise(payload: unknown, headers: WebhookHeaders): ProviderEvent {
    const event = eventType(headers);
    if (event === 'diagnostics:ping') return { kind: 'ping' };
    if (event === 'repo:push') {
      const body = payloadObject(payload, 'Bitbucket repo:push');
      return { kind: 'push', changes: cloudChanges(body), repository: stringAt(body, 'repository', 'full_name') };
    }
    if (event === 'repo:refs_changed') {
      const body = payloadObject(payload, 'Bitbucket repo:refs_changed');
      const project = stringAt(body, 'repository', 'project', 'key');
      const slug = stringAt(body, 'repository', 'slug');
      return { kind: 'push', changes: dataCenterChanges(body), repository: project && slug ? `${project}/${slug}` : slug };
    }
    return { kind: 'other', eventType: event };
  },
};
