/**
 * WebhookProvider: what intake needs from each Git provider (GitHub, GitLab, Gitea/Forgejo,
 * Bitbucket, generic HMAC): verify a delivery over its raw bytes, name it, and say what it reports.
 * Also the pieces every provider shares: header lookup, constant-time comparison, push payload shapes.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Provider } from '../core/source-config.js';
import type { CommentAuthor, CommentTarget } from '../ports/provider-access.js';

/** Request headers with lower-case names (see normaliseHeaders). */
export type WebhookHeaders = Readonly<Record<string, string | undefined>>;

/**
 * The outcome of checking a delivery's signature or token: `missing` when the provider's header is
 * absent, `expired` when a signed timestamp is outside the tolerance, `mismatch` otherwise.
 */
export type Verification = 'valid' | 'missing' | 'mismatch' | 'expired';

/** One ref a push moved: a branch or a tag, to a commit, or deleted. */
export interface RefChange {
  /** The full ref, e.g. `refs/heads/main` or `refs/tags/v1.0.0`. */
  ref: string;
  commit: string | undefined;
  deleted: boolean;
}

/** A pull request (merge request) opened, pushed to, reopened or closed, as every provider reports it. */
export interface PullRequestChange {
  number: number;
  action: 'opened' | 'updated' | 'reopened' | 'closed';
  /** The head commit, when the payload names a full SHA (Bitbucket Cloud sends 12 digits). */
  headSha: string | undefined;
  /** The branch the pull request comes from. */
  headRef: string;
  /** The branch it would merge into. */
  baseRef: string;
  /** The head lives in another repository than the base. */
  fork: boolean;
  /** The full ref the head commit can be fetched by from the base repository. */
  fetchRef: string;
  /** The pull request's web page. */
  url: string | undefined;
}

/** A comment written on a pull request or a commit (GitHub, GitLab), which may hold a `/cairn` command. */
export interface CommentChange {
  /** The comment's text (markdown). */
  body: string;
  author: CommentAuthor;
  /** Written by a bot or an app (Cairn's own replies among them): never a command. */
  bot: boolean;
  on: CommentTarget;
  /** The comment's web page. */
  url: string | undefined;
}

/** What a verified delivery reports. A push may move several refs (Bitbucket sends them together). */
export type ProviderEvent =
  | { kind: 'ping' }
  | { kind: 'push'; changes: RefChange[]; repository: string | undefined }
  | { kind: 'pull-request'; pullRequest: PullRequestChange; repository: string | undefined }
  | { kind: 'comment'; comment: CommentChange; repository: string | undefined }
  | { kind: 'other'; eventType: string };

/** A pull request payload's number: a positive integer or PayloadError. */
export function pullNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new PayloadError(`${what} payload: the pull request number must be a positive integer`);
  return value;
}

/**
 * The `{ action, number, pull_request: { head, base, html_url } }` shape GitHub and Gitea/Forgejo
 * share; `actions` maps the provider's action names onto Cairn's, and any other action (edited,
 * labeled ...) is not a preview's business. The head is fetched by `refs/pull/N/head`, which both
 * providers keep in the base repository, forks included.
 */
export function githubStylePullRequest(
  payload: unknown,
  what: string,
  actions: Readonly<Record<string, PullRequestChange['action']>>,
): ProviderEvent {
  const body = payloadObject(payload, what);
  const raw = body['action'];
  const action = typeof raw === 'string' && Object.hasOwn(actions, raw) ? actions[raw] : undefined;
  if (!action) return { kind: 'other', eventType: `pull_request ${typeof raw === 'string' ? raw : ''}`.trim() };
  const pr = body['pull_request'];
  if (!isRecord(pr)) throw new PayloadError(`${what} payload: pull_request must be an object`);
  const number = pullNumber(pr['number'] ?? body['number'], what);
  const base = stringAt(pr, 'base', 'repo', 'full_name') ?? stringAt(body, 'repository', 'full_name');
  // A head repository that is gone (a deleted fork) is no longer the base's own.
  const head = stringAt(pr, 'head', 'repo', 'full_name');
  return {
    kind: 'pull-request',
    pullRequest: {
      number,
      action,
      headSha: commitSha(stringAt(pr, 'head', 'sha')),
      headRef: branchAt(pr, what, 'head', 'ref'),
      baseRef: branchAt(pr, what, 'base', 'ref'),
      fork: head === undefined || base === undefined || head.toLowerCase() !== base.toLowerCase(),
      fetchRef: `refs/pull/${number}/head`,
      url: stringAt(pr, 'html_url'),
    },
    repository: stringAt(body, 'repository', 'full_name'),
  };
}

/** A branch name a pull request payload must carry, or PayloadError. */
export function branchAt(value: unknown, what: string, ...path: string[]): string {
  const found = stringAt(value, ...path);
  if (found === undefined) throw new PayloadError(`${what} payload: ${path.join('.')} must be a non-empty string`);
  return found;
}

export interface WebhookProvider {
  readonly name: Provider;
  /** Check the delivery against every accepted secret (two during rotation), in constant time. */
  verify(rawBody: Buffer, headers: WebhookHeaders, secrets: readonly string[], now: Date): Promise<Verification>;
  /** The provider's id for this delivery, the same across its retries where the provider allows. */
  deliveryId(headers: WebhookHeaders, rawBody: Buffer): string;
  /** The provider's name for the event, e.g. `push`, `Push Hook`, `repo:push`; empty when absent. */
  eventType(headers: WebhookHeaders): string;
  /** Read a verified, parsed payload; throws PayloadError when it is not in the provider's shape. */
  normalise(payload: unknown, headers: WebhookHeaders): ProviderEvent;
}

/** A verified payload that is not in the shape its provider documents: the sender's fault, a 400. */
export class PayloadError extends Error {
  override name = 'PayloadError';
}

/** Lower-case header names; a repeated header keeps its first value, as a signature must be single. */
export function normaliseHeaders(headers: Readonly<Record<string, string | readonly string[] | undefined>>): WebhookHeaders {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const first = typeof value === 'string' ? value : value?.[0];
    const key = name.toLowerCase();
    if (first !== undefined && !(key in result)) result[key] = first;
  }
  return result;
}

export function hmacSha256(key: string | Buffer, ...parts: Buffer[]): Buffer {
  const hmac = createHmac('sha256', key);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/**
 * Constant-time equality of two values of any length: comparing digests keeps timingSafeEqual's
 * equal-length requirement from revealing the expected length.
 */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * Verify a hex HMAC-SHA256 of the body (`sha256=` prefix optional) against each secret. Anything but
 * 64 hex digits is a mismatch before any comparison, so malformed headers cost nothing.
 */
export function verifyHexSignature(rawBody: Buffer, signature: string, secrets: readonly string[]): Verification {
  const hex = signature.trim().replace(/^sha256=/i, '');
  if (!/^[0-9a-f]{64}$/i.test(hex)) return 'mismatch';
  const given = Buffer.from(hex, 'hex');
  let valid = false;
  // Every secret is tried, so the time taken does not say which one matched.
  for (const secret of secrets) {
    if (timingSafeEqual(hmacSha256(secret, rawBody), given)) valid = true;
  }
  return valid ? 'valid' : 'mismatch';
}

/** The hex SHA-256 of the body: the delivery id of providers that send none, stable across retries. */
export function bodyDigest(rawBody: Buffer): string {
  return createHash('sha256').update(rawBody).digest('hex');
}

/**
 * The first of `names` present with a plausible id (printable ASCII, at most 200 characters),
 * else the body digest: a delivery id ends up in logs, responses and queue attributes.
 */
export function deliveryIdFrom(headers: WebhookHeaders, names: readonly string[], rawBody: Buffer): string {
  for (const name of names) {
    const value = headers[name]?.trim();
    if (value && /^[\x21-\x7e]{1,200}$/.test(value)) return value;
  }
  return bodyDigest(rawBody);
}

export function firstHeader(headers: WebhookHeaders, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A full SHA-1 or SHA-256 commit id; the all-zero id providers send for a deleted ref is not one. */
export function commitSha(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i.test(value) || /^0+$/.test(value)) return undefined;
  return value.toLowerCase();
}

export function isZeroSha(value: unknown): boolean {
  return typeof value === 'string' && /^0{40}(?:0{24})?$/.test(value);
}

/** The payload as an object, or PayloadError naming what arrived instead. */
export function payloadObject(payload: unknown, what: string): Record<string, unknown> {
  if (!isRecord(payload)) {
    const kind = payload === null ? 'null' : Array.isArray(payload) ? 'an array' : typeof payload;
    throw new PayloadError(`${what} payload must be a JSON object, got ${kind}`);
  }
  return payload;
}

/**
 * The ref change of a push payload in the `{ ref, after, deleted? }` shape GitHub, GitLab and
 * Gitea/Forgejo share. A deletion shows as `deleted: true` or an all-zero `after`.
 */
export function singleRefChange(payload: Record<string, unknown>, what: string): RefChange {
  const ref = payload['ref'];
  if (typeof ref !== 'string' || ref === '') throw new PayloadError(`${what} payload: ref must be a non-empty string`);
  const after = payload['after'];
  return { ref, commit: commitSha(after), deleted: payload['deleted'] === true || isZeroSha(after) };
}

export function stringAt(value: unknown, ...path: string[]): string | undefined {
  let current = value;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return typeof current === 'string' && current !== '' ? current : undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body as text when it is valid UTF-8, else undefined (no provider sends anything else). */
export function utf8(rawBody: Buffer): string | undefined {
  try {
    return strictUtf8.decode(rawBody);
  } catch {
    return undefined;
  }
}
