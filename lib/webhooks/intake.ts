/**
 * Webhook intake, the front door: route `POST /hooks/{source}`, refuse oversized bodies unread,
 * verify the delivery against the source's secrets, normalise a push to a GitEvent and queue it,
 * and a pull request into the source's branch to a preview;
 * acknowledge pings, tags, other branches, deletions and other events without queueing. Everything
 * the sender controls gets a 2xx or 4xx with a reason; only Cairn's own dependencies yield a 5xx.
 */
import { DEFAULT_MAX_BODY_BYTES } from '../core/environment.js';
import { messageOf } from '../core/errors.js';
import { findSource, type DeploymentConfig, type Provider, type SourceConfig } from '../core/source-config.js';
import type { SecretProvider } from '../ports/secrets.js';
import type { WorkMessage, WorkQueue } from '../ports/work-queue.js';
import { bitbucket } from './bitbucket.js';
import { parseCommands, runCommentCommands, type CommentCommandsFor } from './comment-commands.js';
import { generic } from './generic.js';
import { toPreviewMessage, toWorkMessage, type GitEvent } from './git-event.js';
import { forgejo, gitea } from './gitea.js';
import { github } from './github.js';
import { gitlab, SIGNATURE_TOLERANCE_SECONDS } from './gitlab.js';
import { normaliseHeaders, PayloadError, utf8, type PullRequestChange, type RefChange, type WebhookHeaders, type WebhookProvider } from './provider.js';

export const WEBHOOK_PROVIDERS: Readonly<Record<Provider, WebhookProvider>> = {
  github,
  gitlab,
  gitea,
  forgejo,
  bitbucket,
  generic,
};

export interface WebhookRequest {
  method: string;
  /** The request path without query string, e.g. `/hooks/platform-prod`. */
  path: string;
  /** Header names in any case. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  body: Buffer | string | undefined;
  /** The body string is base64 (Lambda Function URLs encode non-text content types). */
  isBase64Encoded?: boolean;
}

export type IntakeOutcome = 'queued' | 'duplicate' | 'ignored' | 'ping' | 'rejected' | 'failed';

/** Why a verified delivery was acknowledged without being queued. */
export type IgnoreReason = 'not-a-push' | 'tag' | 'other-branch' | 'branch-deleted' | 'no-ref' | 'fork' | 'not-a-command' | 'commands-off' | 'command-refused';

export interface IntakeLogEntry {
  level: 'info' | 'warn' | 'error';
  message: string;
  outcome: IntakeOutcome;
  statusCode: number;
  source?: string;
  provider?: Provider;
  deliveryId?: string;
  eventType?: string;
  branch?: string;
  commit?: string;
  ignored?: IgnoreReason;
  /** What failed inside Cairn (secret store, queue), for 5xx only; never a secret value. */
  error?: string;
  /** Degradations that did not stop the delivery, e.g. one of two rotation secrets unreadable. */
  warnings?: string[];
}

export interface WebhookDeps {
  config: DeploymentConfig;
  secrets: SecretProvider;
  queue: WorkQueue;
  now: () => Date;
  log?: (entry: IntakeLogEntry) => void;
  /** Largest body accepted, in bytes; DEFAULT_MAX_BODY_BYTES when absent. */
  maxBodyBytes?: number;
  /**
   * What `/cairn approve` and `/cairn reject` comments need (the approval store and the provider's
   * API, per source); without it such comments are acknowledged and not acted on.
   */
  commentCommands?: CommentCommandsFor;
}

export interface WebhookResponseBody {
  queued: boolean;
  deliveryId?: string;
  /** The queue already held this delivery (a provider retry or a replay): it was not queued twice. */
  duplicate?: boolean;
  ignored?: IgnoreReason;
  /** Why the delivery was answered this way, for the provider's delivery log. */
  reason?: string;
  /** What was wrong with the request. */
  error?: string;
  source?: string;
  branch?: string;
  commit?: string;
  /** For a pull request event: its number. */
  pullRequest?: number;
}

export interface WebhookResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body: WebhookResponseBody;
}

const HOOK_PATH = /^\/hooks\/([^/]+)\/?$/;

export async function handleWebhook(request: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  const log: Omit<IntakeLogEntry, 'level' | 'message' | 'outcome' | 'statusCode'> = {};
  const respond = (
    statusCode: number,
    outcome: IntakeOutcome,
    body: WebhookResponseBody,
    message: string,
    extra: { headers?: Record<string, string>; error?: string } = {},
  ): WebhookResponse => {
    const level = statusCode >= 500 ? 'error' : statusCode >= 400 || log.warnings ? 'warn' : 'info';
    deps.log?.({ level, message, outcome, statusCode, ...log, ...(extra.error ? { error: extra.error } : {}) });
    return extra.headers ? { statusCode, headers: extra.headers, body } : { statusCode, body };
  };
  const reject = (statusCode: number, error: string, headers?: Record<string, string>): WebhookResponse =>
    respond(statusCode, 'rejected', { queued: false, ...(log.deliveryId ? { deliveryId: log.deliveryId } : {}), error }, error, { headers });

  try {
    const receivedAt = deps.now();
    const name = HOOK_PATH.exec(request.path)?.[1];
    if (name === undefined) return reject(404, 'no webhook at this path: deliveries go to POST /hooks/{source}');
    if (request.method.toUpperCase() !== 'POST') {
      return reject(405, `method ${request.method.slice(0, 16)} is not allowed: deliveries are POST requests`, { allow: 'POST' });
    }
    const source = findSource(deps.config, name);
    if (!source) {
      return reject(404, /^[a-z0-9-]{1,64}$/.test(name) ? `no source named ${name} is configured` : 'no source by that name is configured');
    }
    const provider = WEBHOOK_PROVIDERS[source.provider];
    log.source = source.name;
    log.provider = source.provider;

    const headers = normaliseHeaders(request.headers);
    const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const size = Math.max(declaredLength(headers) ?? 0, bodyLength(request));
    if (size > maxBodyBytes) return reject(413, `body of ${size} bytes is over the limit of ${maxBodyBytes} bytes`);

    const rawBody = decodeBody(request);
    let secrets: string[];
    try {
      secrets = await webhookSecrets(source, deps.secrets, (warning) => (log.warnings = [warning]));
    } catch (error) {
      return respond(503, 'failed', { queued: false, error: 'the webhook secret is unavailable; retry later' }, 'webhook secret unavailable', {
        error: messageOf(error),
      });
    }

    const verification = await provider.verify(rawBody, headers, secrets, receivedAt);
    if (verification !== 'valid') return reject(401, verificationError(provider.name, verification));

    const deliveryId = provider.deliveryId(headers, rawBody);
    log.deliveryId = deliveryId;
    log.eventType = clip(provider.eventType(headers));

    /** Queue a verified delivery's message once, and say so (or that the queue already had it). */
    const queue = async (message: WorkMessage, extra: Partial<WebhookResponseBody>, commit: string | undefined, queuedMessage: string): Promise<WebhookResponse> => {
      let sent;
      try {
        sent = await deps.queue.send(message);
      } catch (error) {
        return respond(503, 'failed', { queued: false, deliveryId, error: 'the work queue is unavailable; retry later' }, 'queue send failed', {
          error: messageOf(error),
        });
      }
      const body: WebhookResponseBody = { queued: !sent.duplicate, deliveryId, source: source.name, branch: source.branch, ...extra };
      if (commit) body.commit = commit;
      if (sent.duplicate) {
        body.duplicate = true;
        body.reason = `delivery ${deliveryId} was already queued`;
        return respond(202, 'duplicate', body, body.reason);
      }
      return respond(202, 'queued', body, queuedMessage);
    };

    const parsed = parsePayload(rawBody, headers);
    if ('error' in parsed) return reject(400, parsed.error);
    let event;
    try {
      event = provider.normalise(parsed.payload, headers);
    } catch (error) {
      if (error instanceof PayloadError) return reject(400, error.message);
      throw error;
    }

    if (event.kind === 'ping') {
      return respond(200, 'ping', { queued: false, deliveryId, reason: `ping received: the webhook of source ${source.name} is verified` }, `the webhook of source ${source.name} is verified`);
    }
    if (event.kind === 'other') {
      const reason = `${event.eventType ? `event ${clip(event.eventType)}` : 'an event without a type header'} is not a push; nothing to do`;
      log.ignored = 'not-a-push';
      return respond(202, 'ignored', { queued: false, deliveryId, ignored: 'not-a-push', reason }, reason);
    }

    if (event.kind === 'pull-request') {
      const pr = event.pullRequest;
      const refused = refusePullRequest(pr, source);
      if (refused) {
        log.ignored = refused.ignored;
        return respond(202, 'ignored', { queued: false, deliveryId, ignored: refused.ignored, reason: refused.reason }, refused.reason);
      }
      log.branch = source.branch;
      if (pr.headSha) log.commit = pr.headSha;
      return await queue(toPreviewMessage(source.name, pr, deliveryId, receivedAt.toISOString()), { pullRequest: pr.number }, pr.headSha, `queued preview of pull request #${pr.number} (${pr.action})`);
    }

    if (event.kind === 'comment') {
      const { comment } = event;
      const { commands, problems } = parseCommands(comment.body);
      const ignore = (ignored: IgnoreReason, reason: string): WebhookResponse => {
        log.ignored = ignored;
        return respond(202, 'ignored', { queued: false, deliveryId, ignored, reason }, reason);
      };
      if (comment.bot || (commands.length === 0 && problems.length === 0)) return ignore('not-a-command', 'the comment holds no /cairn command; nothing to do');
      if (!deps.commentCommands) return ignore('commands-off', 'comment commands are not enabled where this webhook is served');
      let result;
      try {
        const wiring = await deps.commentCommands(source);
        if ('unavailable' in wiring) return ignore('commands-off', `comment commands are not available for source ${source.name}: ${wiring.unavailable}`);
        result = await runCommentCommands(source, comment, commands, problems, wiring);
      } catch (error) {
        return respond(503, 'failed', { queued: false, deliveryId, error: 'the comment command could not be checked with the provider or recorded; comment again later' }, 'comment command failed', {
          error: messageOf(error),
        });
      }
      if (result.replyError) log.warnings = [`the reply was not posted: ${result.replyError}`];
      const reason = clip(result.lines.join('; '), 1000);
      if (result.recorded.length === 0) return ignore('command-refused', reason);
      const commit = result.recorded[0]!.commit;
      log.commit = commit;
      return await queue({ source: source.name, kind: 'approval', dedupId: deliveryId, receivedAt: receivedAt.toISOString(), commit }, { reason }, commit, `recorded ${result.recorded.length} decision(s) by ${comment.author.login}`);
    }

    const selected = selectChange(event.changes, source);
    if ('ignored' in selected) {
      log.ignored = selected.ignored;
      return respond(202, 'ignored', { queued: false, deliveryId, ignored: selected.ignored, reason: selected.reason }, selected.reason);
    }

    const gitEvent: GitEvent = {
      source: source.name,
      provider: source.provider,
      branch: source.branch,
      commit: selected.change.commit,
      deliveryId,
      receivedAt: receivedAt.toISOString(),
      repository: event.repository,
    };
    log.branch = gitEvent.branch;
    if (gitEvent.commit) log.commit = gitEvent.commit;

    return await queue(toWorkMessage(gitEvent), {}, gitEvent.commit, `queued push to ${source.branch}${gitEvent.commit ? ` at ${gitEvent.commit}` : ''}`);
  } catch (error) {
    // A defect in Cairn, never the sender's doing: no detail in the response, all of it in the log.
    return respond(500, 'failed', { queued: false, error: 'internal error while handling the delivery' }, 'unexpected error', {
      error: messageOf(error),
    });
  }
}

/**
 * The values of the source's webhook secret and, during rotation, of its previous one. One of them
 * missing is a warning as long as the other is there; an empty value is never a secret.
 */
async function webhookSecrets(source: SourceConfig, provider: SecretProvider, warn: (message: string) => void): Promise<string[]> {
  const names = [source.webhookSecretName, source.previousWebhookSecretName].filter((n): n is string => n !== undefined);
  const results = await Promise.allSettled(names.map((name) => provider.get(name)));
  const values: string[] = [];
  const failures: string[] = [];
  results.forEach((result, index) => {
    // A trailing newline is the usual residue of storing a secret from a file; no provider sends one.
    const value = result.status === 'fulfilled' ? result.value.replace(/[\r\n]+$/, '') : '';
    if (value !== '') values.push(value);
    else failures.push(result.status === 'rejected' ? messageOf(result.reason) : `secret ${names[index]} is empty`);
  });
  if (values.length === 0) throw new Error(failures.join('; '));
  if (failures.length > 0) warn(`using ${values.length} of ${names.length} webhook secrets: ${failures.join('; ')}`);
  return values;
}

function verificationError(provider: Provider, verification: 'missing' | 'mismatch' | 'expired'): string {
  const header = SIGNATURE_HEADER_NAMES[provider];
  if (verification === 'missing') return `missing signature: expected ${header}`;
  if (verification === 'expired') return `signature timestamp is more than ${SIGNATURE_TOLERANCE_SECONDS / 60} minutes from Cairn's clock`;
  return `signature does not match (${header}): check the webhook secret configured at the provider`;
}

const SIGNATURE_HEADER_NAMES: Readonly<Record<Provider, string>> = {
  github: 'X-Hub-Signature-256',
  gitlab: 'X-Gitlab-Token or webhook-signature',
  gitea: 'X-Gitea-Signature',
  forgejo: 'X-Forgejo-Signature',
  bitbucket: 'X-Hub-Signature',
  generic: 'X-Signature: sha256=<hex>',
};

function declaredLength(headers: WebhookHeaders): number | undefined {
  const value = headers['content-length']?.trim();
  return value && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/** The body's size in bytes, computed without decoding it. */
function bodyLength(request: WebhookRequest): number {
  const body = request.body;
  if (body === undefined) return 0;
  if (typeof body !== 'string') return body.length;
  if (request.isBase64Encoded) {
    const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
    return Math.max(0, Math.floor((body.length * 3) / 4) - padding);
  }
  return Buffer.byteLength(body, 'utf8');
}

function decodeBody(request: WebhookRequest): Buffer {
  const body = request.body;
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body !== 'string') return body;
  return Buffer.from(body, request.isBase64Encoded ? 'base64' : 'utf8');
}

/** JSON, or GitHub's (and Gitea's) form encoding with the JSON in a `payload` field. */
function parsePayload(rawBody: Buffer, headers: WebhookHeaders): { payload: unknown } | { error: string } {
  const text = utf8(rawBody);
  if (text === undefined) return { error: 'body is not valid UTF-8' };
  const contentType = headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  let json = text;
  if (contentType === 'application/x-www-form-urlencoded') {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) return { error: 'form-encoded body has no payload field' };
    json = payload;
  }
  try {
    return { payload: JSON.parse(json) };
  } catch (error) {
    return { error: `body is not valid JSON: ${messageOf(error).slice(0, 120)}` };
  }
}

/** Why a pull request event gets no preview: it merges into another branch, or comes from a fork the source does not preview. */
function refusePullRequest(pr: PullRequestChange, source: SourceConfig): { ignored: IgnoreReason; reason: string } | undefined {
  if (pr.baseRef !== source.branch) {
    return { ignored: 'other-branch', reason: `pull request #${pr.number} targets ${clip(pr.baseRef)}: source ${source.name} follows branch ${source.branch}` };
  }
  // A closed fork's pull request has nothing to clean up unless forks are previewed.
  if (pr.fork && !source.previews?.forks) {
    return {
      ignored: 'fork',
      reason: `pull request #${pr.number} comes from a fork; source ${source.name} previews forks only with previews.forks: true, since their templates reach CloudFormation through its role`,
    };
  }
  return undefined;
}

function selectChange(
  changes: readonly RefChange[],
  source: SourceConfig,
): { change: RefChange } | { ignored: IgnoreReason; reason: string } {
  const wanted = `refs/heads/${source.branch}`;
  const match = changes.find((change) => change.ref === wanted);
  if (match) {
    if (!match.deleted) return { change: match };
    return { ignored: 'branch-deleted', reason: `branch ${source.branch} was deleted; nothing to deploy` };
  }
  if (changes.length === 0) return { ignored: 'no-ref', reason: 'the push moved no branch or tag' };
  const refs = changes.slice(0, 5).map((change) => clip(change.ref)).join(', ') + (changes.length > 5 ? ', ...' : '');
  const follows = `source ${source.name} follows branch ${source.branch}`;
  if (changes.every((change) => change.ref.startsWith('refs/tags/'))) {
    return { ignored: 'tag', reason: `tag push (${refs}) ignored: ${follows}` };
  }
  return { ignored: 'other-branch', reason: `push to ${refs} ignored: ${follows}` };
}

/** Sender-supplied text echoed in a response or log, cut to a readable length. */
function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
