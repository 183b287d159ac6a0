/**
 * The mechanism every provider's commit status reporter shares: read the token through the
 * SecretProvider, POST one JSON status with a timeout, and turn every failure into a redacted
 * CommitStatusError handed to `onError`. `report` never throws, because a status that cannot be
 * set must never fail the deployment it describes. Providers supply only their URL, body and auth.
 */
import type { CommitStatus, CommitStatusReporter } from '../../ports/commit-status.js';
import type { SecretProvider } from '../../ports/secrets.js';
import { parseRemoteUrl, redactUrl, scrubber, type BasicCredentials } from '../git-credentials.js';
import { parseRepoLocation, type RepoLocation } from './repo-location.js';

export const DEFAULT_STATUS_TIMEOUT_MS = 10_000;

/** Why a status was not set; decides the hint in the message. */
export type CommitStatusFailure =
  | 'Misconfigured'
  | 'TokenUnavailable'
  | 'Unauthorized'
  | 'NotFound'
  | 'Rejected'
  | 'RateLimited'
  | 'ServerError'
  | 'Timeout'
  | 'Unreachable';

/** A status that was not set. Its message is redacted; it carries no cause, which could hold the token. */
export class CommitStatusError extends Error {
  override name = 'CommitStatusError';

  constructor(
    readonly reason: CommitStatusFailure,
    message: string,
    /** The status that was not set, as it was given to `report`. */
    readonly status: CommitStatus,
    /** The provider's HTTP status, when it answered. */
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

export interface HttpStatusReporterOptions {
  /** The repository's clone URL; owner, repository and (for self-hosted servers) the API host come from it. */
  repoUrl: string;
  secrets: SecretProvider;
  /** The secret holding the token: a bare token, `user:password`, or JSON with `token` or `username` and `password`. */
  tokenSecret: string;
  /** The API root when it cannot be derived from the repository URL, e.g. `https://git.example.com/gitlab/api/v4`. */
  apiBaseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Told of every status that was not set; defaults to one `console.warn` line. */
  onError?: (error: CommitStatusError) => void;
}

/** A token from the secret, or a user name and password (Bitbucket app passwords, Gitea basic auth). */
export type Credential = { token: string } | BasicCredentials;

export interface StatusRequest {
  url: string;
  body: Record<string, unknown>;
}

/** What one provider's API needs; everything else is shared. */
export interface StatusApi {
  /** For messages, e.g. `GitHub`. */
  readonly label: string;
  /** The API root derived from the repository; throws a TypeError when it cannot be derived. */
  defaultApiBase(repo: RepoLocation): string;
  request(status: CommitStatus, repo: RepoLocation, apiBase: string): StatusRequest;
  headers(credential: Credential): Record<string, string>;
  /** A rejection that only says the status is already set (GitLab refuses running → running). */
  isAlreadySet?(httpStatus: number, message: string): boolean;
}

interface Target {
  repo: RepoLocation;
  apiBase: string;
}

export class HttpStatusReporter implements CommitStatusReporter {
  private readonly target: Target | { misconfigured: string };
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly onError: (error: CommitStatusError) => void;
  /** A password in the repository URL is redacted like the token, though it is never sent. */
  private readonly urlPassword: string | undefined;

  constructor(
    private readonly api: StatusApi,
    private readonly options: HttpStatusReporterOptions,
  ) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS;
    this.onError = options.onError ?? ((error) => console.warn(error.message));
    this.urlPassword = safePassword(options.repoUrl);
    // A bad URL is reported on each status rather than thrown here, so wiring never fails a reconcile.
    try {
      const repo = parseRepoLocation(options.repoUrl);
      const apiBase = options.apiBaseUrl ? redactUrl(options.apiBaseUrl) : api.defaultApiBase(repo);
      this.target = { repo, apiBase };
    } catch (error) {
      this.target = { misconfigured: error instanceof Error ? error.message : String(error) };
    }
  }

  async report(status: CommitStatus): Promise<void> {
    try {
      await this.send(status);
    } catch (error) {
      const failure =
        error instanceof CommitStatusError
          ? error
          : new CommitStatusError('Unreachable', this.scrub([], `${this.prefix(status)}: ${String(error)}`), status);
      try {
        this.onError(failure);
      } catch {
        // A failing error callback must not turn a lost status into a failed deployment either.
      }
    }
  }

  /** Set the status or throw a redacted CommitStatusError. */
  private async send(status: CommitStatus): Promise<void> {
    const prefix = this.prefix(status);
    if ('misconfigured' in this.target) {
      throw new CommitStatusError('Misconfigured', this.scrub([], `${prefix}: ${this.target.misconfigured}`), status);
    }
    const { repo, apiBase } = this.target;

    let secret: string;
    try {
      secret = await this.options.secrets.get(this.options.tokenSecret);
    } catch (error) {
      // Secret providers never put a value in their messages; scrubbing is for providers that might.
      const detail = error instanceof Error ? error.message : String(error);
      throw new CommitStatusError('TokenUnavailable', this.scrub([], `${prefix}: the token could not be read: ${detail}`), status);
    }
    const credential = credentialFrom(secret);
    const secrets = [secret, 'token' in credential ? credential.token : credential.password];
    const scrub = (text: string): string => this.scrub(secrets, text, 'token' in credential ? undefined : credential);

    try {
      await this.post(status, repo, apiBase, credential, prefix);
    } catch (error) {
      if (error instanceof CommitStatusError) throw new CommitStatusError(error.reason, scrub(error.message), status, error.httpStatus);
      throw new CommitStatusError('Unreachable', scrub(`${prefix}: ${error instanceof Error ? error.message : String(error)}`), status);
    }
  }

  /** The request itself; its errors are scrubbed by `send`, which knows the secret. */
  private async post(status: CommitStatus, repo: RepoLocation, apiBase: string, credential: Credential, prefix: string): Promise<void> {
    const { url, body } = this.api.request(status, repo, apiBase);
    let response: Response;
    try {
      response = await this.fetch(url, {
        method: 'POST',
        headers: {
          accept: 'application/json',
          'content-type': 'application/json',
          'user-agent': 'cairn',
          ...this.api.headers(credential),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      if (isTimeout(error)) throw new CommitStatusError('Timeout', `${prefix}: no answer from ${url} within ${this.timeoutMs} ms`, status);
      throw new CommitStatusError('Unreachable', `${prefix}: could not reach ${url}: ${networkDetail(error)}`, status);
    }

    let text = '';
    try {
      text = await response.text();
    } catch (error) {
      if (!response.ok && isTimeout(error)) text = 'the answer timed out';
    }
    if (response.ok) return;
    const message = providerMessage(text);
    if (this.api.isAlreadySet?.(response.status, message)) return;
    const reason = failureOf(response.status);
    throw new CommitStatusError(
      reason,
      `${prefix}: HTTP ${response.status} from ${url}${message ? `: ${message}` : ''}; ${hintFor(reason, this.options.tokenSecret)}`,
      status,
      response.status,
    );
  }

  private prefix(status: CommitStatus): string {
    return `${this.api.label} commit status ${status.state} for ${status.commit.slice(0, 12)} (${status.context}) was not set`;
  }

  private scrub(secrets: Array<string | undefined>, text: string, creds?: BasicCredentials): string {
    return scrubber([...secrets, this.urlPassword], creds)(text);
  }
}

/** Read a secret's value the way the Git fetch does, so one secret serves both. */
export function credentialFrom(value: string): Credential {
  const text = value.trim();
  if (text.startsWith('{')) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      if (typeof o.username === 'string' && typeof o.password === 'string') return { username: o.username, password: o.password };
      if (typeof o.token === 'string') return { token: o.token.trim() };
    } catch {
      // Not JSON after all: use the text as it is.
    }
    return { token: text };
  }
  const colon = text.indexOf(':');
  if (colon > 0) return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  return { token: text };
}

/** One line of at most `max` characters: providers reject or cut longer descriptions. */
export function describeForProvider(description: string, max: number): string {
  const line = description.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** The owner/repository pair for providers whose repositories sit exactly two levels deep. */
export function ownerAndRepo(repo: RepoLocation): { owner: string; name: string; prefix: string[] } {
  const n = repo.segments.length;
  return { owner: repo.segments[n - 2]!, name: repo.segments[n - 1]!, prefix: repo.segments.slice(0, n - 2) };
}

function failureOf(httpStatus: number): CommitStatusFailure {
  if (httpStatus === 401 || httpStatus === 403) return 'Unauthorized';
  if (httpStatus === 404) return 'NotFound';
  if (httpStatus === 429) return 'RateLimited';
  if (httpStatus >= 500) return 'ServerError';
  return 'Rejected';
}

function hintFor(reason: CommitStatusFailure, tokenSecret: string): string {
  switch (reason) {
    case 'Unauthorized':
      return `check that the token in secret ${tokenSecret} is valid and may write commit statuses`;
    case 'NotFound':
      return `check the repository URL (or apiBaseUrl) and that the token in secret ${tokenSecret} can see the repository`;
    case 'RateLimited':
      return 'the provider is rate limiting this token; the next status goes through once the limit resets';
    case 'ServerError':
      return 'the provider failed; the next status update will try again';
    default:
      return 'the provider refused the status';
  }
}

/** The human part of an API error body: `message`, `error.message` (Bitbucket), or the text itself. */
function providerMessage(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  try {
    const o = JSON.parse(trimmed) as Record<string, unknown>;
    const error = o.error as Record<string, unknown> | string | undefined;
    const found =
      o.message ?? (typeof error === 'object' && error !== null ? error.message : error) ?? o.error_description;
    if (found !== undefined) return clip(typeof found === 'string' ? found : JSON.stringify(found));
  } catch {
    // Not JSON: an HTML error page or plain text.
  }
  return clip(trimmed.replace(/\s+/g, ' '));
}

function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

function networkDetail(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

function safePassword(repoUrl: string): string | undefined {
  try {
    return parseRemoteUrl(repoUrl).password;
  } catch {
    return undefined;
  }
}
