/**
 * GitHub webhooks: `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, checked with
 * @octokit/webhooks-methods), `X-GitHub-Delivery`, `X-GitHub-Event`; push, pull_request, comments
 * (issue_comment on a pull request, commit_comment), ping and everything else.
 */
import { verify } from '@octokit/webhooks-methods';
import {
  commitSha,
  deliveryIdFrom,
  isRecord,
  pullNumber,
  githubStylePullRequest,
  PayloadError,
  payloadObject,
  singleRefChange,
  stringAt,
  utf8,
  type CommentChange,
  type ProviderEvent,
  type Verification,
  type WebhookHeaders,
  type WebhookProvider,
} from './provider.js';

/** `synchronize` is a push to the pull request; `closed` covers merged ones too. */
const GITHUB_ACTIONS = { opened: 'opened', synchronize: 'updated', reopened: 'reopened', closed: 'closed' } as const;

/**
 * A new comment: `issue_comment` on a pull request's conversation (an issue with `pull_request`) or a
 * `commit_comment`. Edits and deletions are no new word from anybody, so they are not commands.
 */
function comment(payload: unknown, event: 'issue_comment' | 'commit_comment'): ProviderEvent {
  const what = `GitHub ${event}`;
  const body = payloadObject(payload, what);
  if (body['action'] !== 'created') return { kind: 'other', eventType: `${event} ${typeof body['action'] === 'string' ? body['action'] : ''}`.trim() };
  const c = body['comment'];
  if (!isRecord(c)) throw new PayloadError(`${what} payload: comment must be an object`);
  let on: CommentChange['on'];
  if (event === 'issue_comment') {
    const issue = body['issue'];
    if (!isRecord(issue)) throw new PayloadError(`${what} payload: issue must be an object`);
    if (!isRecord(issue['pull_request'])) return { kind: 'other', eventType: 'issue_comment on an issue' };
    on = { kind: 'pull-request', number: pullNumber(issue['number'], what) };
  } else {
    const sha = commitSha(c['commit_id']);
    if (!sha) throw new PayloadError(`${what} payload: comment.commit_id must be a full commit SHA`);
    on = { kind: 'commit', sha };
  }
  const login = stringAt(c, 'user', 'login');
  if (!login) throw new PayloadError(`${what} payload: comment.user.login must be a non-empty string`);
  return {
    kind: 'comment',
    comment: {
      body: typeof c['body'] === 'string' ? c['body'] : '',
      author: { login },
      bot: stringAt(c, 'user', 'type') === 'Bot' || isRecord(c['performed_via_github_app']),
      on,
      url: stringAt(c, 'html_url'),
    },
    repository: stringAt(body, 'repository', 'full_name'),
  };
}

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
    if (event === 'issue_comment' || event === 'commit_comment') return comment(payload, event);
    if (event !== 'push') return { kind: 'other', eventType: event };
    const body = payloadObject(payload, 'GitHub push');
    return {
      kind: 'push',
      changes: [singleRefChange(body, 'GitHub push')],
      repository: stringAt(body, 'repository', 'full_name'),
    };
  },
};
