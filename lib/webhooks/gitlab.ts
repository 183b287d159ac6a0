/**
 * GitLab webhooks. GitLab authenticates with the secret token itself in `X-Gitlab-Token`; where a
 * signing token is configured it also signs `{webhook-id}.{webhook-timestamp}.{body}` with
 * HMAC-SHA256 (Standard Webhooks: `webhook-signature: v1,<base64>`, key = the base64 after `whsec_`).
 * Retries keep `Idempotency-Key`, which is therefore the delivery id.
 */
import {
  branchAt,
  commitSha,
  deliveryIdFrom,
  hmacSha256,
  isRecord,
  payloadObject,
  PayloadError,
  pullNumber,
  safeEqual,
  singleRefChange,
  stringAt,
  type CommentChange,
  type ProviderEvent,
  type Verification,
  type WebhookHeaders,
  type WebhookProvider,
} from './provider.js';

/** Standard Webhooks' recommended replay window for signed timestamps. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

const SIGNING_TOKEN_PREFIX = 'whsec_';

function eventType(headers: WebhookHeaders): string {
  return headers['x-gitlab-event'] ?? '';
}

/** Signing-token secrets, as HMAC keys; other secrets are plain tokens and cannot check a signature. */
function signingKeys(secrets: readonly string[]): Buffer[] {
  return secrets
    .filter((secret) => secret.startsWith(SIGNING_TOKEN_PREFIX))
    .map((secret) => Buffer.from(secret.slice(SIGNING_TOKEN_PREFIX.length), 'base64'))
    .filter((key) => key.length > 0);
}

function verifySignature(
  rawBody: Buffer,
  headers: WebhookHeaders,
  signatureHeader: string,
  keys: Buffer[],
  now: Date,
): Verification {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  if (!id || !timestamp) return 'missing';
  if (!/^\d{1,12}$/.test(timestamp)) return 'mismatch';
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) return 'expired';
  // The header may list several space-separated `v1,<base64>` signatures (key rotation on GitLab's side).
  const given = signatureHeader
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => entry.slice(3));
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), rawBody]);
  let valid = false;
  for (const key of keys) {
    const expected = hmacSha256(key, signed).toString('base64');
    for (const signature of given) if (safeEqual(signature, expected)) valid = true;
  }
  return valid ? 'valid' : 'mismatch';
}

/** GitLab's merge request actions that change what a preview shows; `merge` and `close` end it. */
const MR_ACTIONS = { open: 'opened', update: 'updated', reopen: 'reopened', close: 'closed', merge: 'closed' } as const;

/**
 * `object_attributes` of a Merge Request Hook: `iid` is the number people see, `last_commit.id`
 * the head; GitLab keeps the head of every merge request, forks' too, at `refs/merge-requests/N/head`.
 */
function mergeRequest(payload: unknown): ProviderEvent {
  const what = 'GitLab Merge Request Hook';
  const body = payloadObject(payload, what);
  const mr = body['object_attributes'];
  if (!isRecord(mr)) throw new PayloadError(`${what} payload: object_attributes must be an object`);
  const raw = mr['action'];
  const action = typeof raw === 'string' && Object.hasOwn(MR_ACTIONS, raw) ? MR_ACTIONS[raw as keyof typeof MR_ACTIONS] : undefined;
  if (!action) return { kind: 'other', eventType: `Merge Request Hook ${typeof raw === 'string' ? raw : ''}`.trim() };
  const number = pullNumber(mr['iid'], what);
  const source = mr['source_project_id'];
  const target = mr['target_project_id'];
  return {
    kind: 'pull-request',
    pullRequest: {
      number,
      action,
      headSha: commitSha(stringAt(mr, 'last_commit', 'id')),
      headRef: branchAt(mr, what, 'source_branch'),
      baseRef: branchAt(mr, what, 'target_branch'),
      fork: source === undefined || source !== target,
      fetchRef: `refs/merge-requests/${number}/head`,
      url: stringAt(mr, 'url'),
    },
    repository: stringAt(body, 'project', 'path_with_namespace') ?? stringAt(body, 'project', 'web_url'),
  };
}

/**
 * A Note Hook on a merge request or a commit: `object_attributes.note` is the text, `user.id` the
 * author (GitLab's member API takes ids). Edits (`action: update`) are no new word, so not commands.
 */
function note(payload: unknown): ProviderEvent {
  const what = 'GitLab Note Hook';
  const body = payloadObject(payload, what);
  const attributes = body['object_attributes'];
  if (!isRecord(attributes)) throw new PayloadError(`${what} payload: object_attributes must be an object`);
  const action = attributes['action'];
  if (action !== undefined && action !== 'create') return { kind: 'other', eventType: `Note Hook ${typeof action === 'string' ? action : ''}`.trim() };
  const type = attributes['noteable_type'];
  let on: CommentChange['on'];
  if (type === 'MergeRequest') {
    on = { kind: 'pull-request', number: pullNumber(isRecord(body['merge_request']) ? body['merge_request']['iid'] : undefined, what) };
  } else if (type === 'Commit') {
    const sha = commitSha(stringAt(body, 'commit', 'id') ?? attributes['commit_id']);
    if (!sha) throw new PayloadError(`${what} payload: commit.id must be a full commit SHA`);
    on = { kind: 'commit', sha };
  } else {
    return { kind: 'other', eventType: `Note Hook on ${typeof type === 'string' ? type : 'something else'}` };
  }
  const user = body['user'];
  const login = stringAt(user, 'username');
  if (!login) throw new PayloadError(`${what} payload: user.username must be a non-empty string`);
  const id = isRecord(user) && (typeof user['id'] === 'number' || typeof user['id'] === 'string') ? String(user['id']) : undefined;
  return {
    kind: 'comment',
    comment: {
      body: typeof attributes['note'] === 'string' ? attributes['note'] : '',
      author: { login, ...(id ? { id } : {}) },
      bot: isRecord(user) && user['bot'] === true,
      on,
      url: stringAt(attributes, 'url'),
    },
    repository: stringAt(body, 'project', 'path_with_namespace') ?? stringAt(body, 'project', 'web_url'),
  };
}

export const gitlab: WebhookProvider = {
  name: 'gitlab',

  async verify(rawBody: Buffer, headers: WebhookHeaders, secrets: readonly string[], now: Date): Promise<Verification> {
    const signature = headers['webhook-signature'];
    const keys = signingKeys(secrets);
    // Once Cairn holds a signing token, only a signature counts, even while a plain token is still
    // configured for a rotation: the token header travels in clear, proves less, and has no replay
    // window, so accepting it would let an old or replayed delivery bypass the signature.
    if (keys.length > 0) return signature ? verifySignature(rawBody, headers, signature, keys, now) : 'missing';
    const token = headers['x-gitlab-token'];
    if (!token) return 'missing';
    let valid = false;
    for (const secret of secrets) if (safeEqual(token, secret)) valid = true;
    return valid ? 'valid' : 'mismatch';
  },

  deliveryId(headers: WebhookHeaders, rawBody: Buffer): string {
    return deliveryIdFrom(headers, ['idempotency-key', 'webhook-id', 'x-gitlab-event-uuid'], rawBody);
  },

  eventType,

  normalise(payload: unknown, headers: WebhookHeaders): ProviderEvent {
    const event = eventType(headers);
    if (event === 'Merge Request Hook') return mergeRequest(payload);
    if (event === 'Note Hook') return note(payload);
    if (event !== 'Push Hook' && event !== 'Tag Push Hook' && event !== 'System Hook') return { kind: 'other', eventType: event };
    const body = payloadObject(payload, `GitLab ${event}`);
    // System hooks carry pushes too, told apart by object_kind.
    const kind = body['object_kind'];
    if (event === 'System Hook' && kind !== 'push' && kind !== 'tag_push') {
      return { kind: 'other', eventType: `System Hook ${typeof kind === 'string' ? kind : ''}`.trim() };
    }
    return {
      kind: 'push',
      changes: [singleRefChange(body, `GitLab ${event}`)],
      repository: stringAt(body, 'project', 'path_with_namespace') ?? stringAt(body, 'project', 'web_url'),
    };
  },
};
