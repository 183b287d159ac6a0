/**
 * Bitbucket webhooks: Cloud (`repo:push`, `X-Request-UUID`) and Data Center (`repo:refs_changed`,
 * `X-Request-Id`, `diagnostics:ping` from "Test connection"). Both sign the raw body as
 * `X-Hub-Signature: sha256=<hex HMAC-SHA256>` and may report several refs in one push.
 */
import {
  branchAt,
  commitSha,
  deliveryIdFrom,
  isRecord,
  payloadObject,
  PayloadError,
  pullNumber,
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

const PR_ACTIONS = {
  'pullrequest:created': 'opened',
  'pullrequest:updated': 'updated',
  'pullrequest:fulfilled': 'closed',
  'pullrequest:rejected': 'closed',
} as const;

/**
 * Cloud's `pullrequest` object. Bitbucket keeps no pull request refs, so the head is fetched by its
 * branch, which only a pull request from the same repository has in the base repository. Its
 * `commit.hash` is abbreviated (12 digits), so the head commit is the one the branch names then.
 */
function pullRequest(event: keyof typeof PR_ACTIONS, payload: unknown): ProviderEvent {
  const what = `Bitbucket ${event}`;
  const body = payloadObject(payload, what);
  const pr = body['pullrequest'];
  if (!isRecord(pr)) throw new PayloadError(`${what} payload: pullrequest must be an object`);
  const headRef = branchAt(pr, what, 'source', 'branch', 'name');
  const head = stringAt(pr, 'source', 'repository', 'full_name');
  const base = stringAt(pr, 'destination', 'repository', 'full_name') ?? stringAt(body, 'repository', 'full_name');
  return {
    kind: 'pull-request',
    pullRequest: {
      number: pullNumber(pr['id'], what),
      action: PR_ACTIONS[event],
      headSha: commitSha(stringAt(pr, 'source', 'commit', 'hash')),
      headRef,
      baseRef: branchAt(pr, what, 'destination', 'branch', 'name'),
      fork: head === undefined || base === undefined || head.toLowerCase() !== base.toLowerCase(),
      fetchRef: `refs/heads/${headRef}`,
      url: stringAt(pr, 'links', 'html', 'href'),
    },
    repository: stringAt(body, 'repository', 'full_name'),
  };
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
    if (Object.hasOwn(PR_ACTIONS, event)) return pullRequest(event as keyof typeof PR_ACTIONS, payload);
    return { kind: 'other', eventType: event };
  },
};
