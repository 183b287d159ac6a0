/**
 * Pull request comments over each provider's HTTP API (GitHub, GitLab, Gitea/Forgejo, Bitbucket
 * Cloud), wired from a source's configuration like commit statuses: the same token secret, API root
 * and authentication. `upsert` lists the pull request's comments (following pages), edits the one
 * carrying the marker, or creates it. Failures throw a redacted PullRequestCommentError: unlike a
 * commit status, the comment is what a preview is for, so a lost one is retried.
 */
import type { Provider } from '../../core/source-config.js';
import type { PullRequestComment, PullRequestComments } from '../../ports/pr-comments.js';
import { redactUrl, scrubber } from '../git-credentials.js';
import { credentialFrom, DEFAULT_STATUS_TIMEOUT_MS } from '../commit-status/http-status-reporter.js';
import { parseRepoLocation, type RepoLocation } from '../commit-status/repo-location.js';
import { bitbucketComments, giteaComments, githubComments, gitlabComments, type CommentApi, type ListedComment } from './providers.js';
import type { CommitStatusOptions } from '../commit-status/index.js';
import type { StatusApi } from '../commit-status/http-status-reporter.js';

/** Pages of comments read before giving up on finding Cairn's (100 comments a page). */
const MAX_PAGES = 20;

export class PullRequestCommentError extends Error {
  override name = 'PullRequestCommentError';
  constructor(
    message: string,
    /** The provider's HTTP status, when it answered. */
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

/** The same provider, repository, token and HTTP settings as commit statuses use. */
export type PullRequestCommentsOptions = Pick<CommitStatusOptions, 'provider' | 'repoUrl' | 'tokenSecret' | 'secrets' | 'apiBaseUrl' | 'fetch' | 'timeoutMs'>;

/** Posts nothing: for sources without a token, generic Git servers, and local runs. */
export const noPullRequestComments: PullRequestComments = {
  upsert: async () => 'not-posted',
};

export function createPullRequestComments(options: PullRequestCommentsOptions): PullRequestComments {
  if (!options.tokenSecret || options.provider === 'generic') return noPullRequestComments;
  return new HttpPullRequestComments(apiFor(options.provider), { ...options, tokenSecret: options.tokenSecret });
}

function apiFor(provider: Exclude<Provider, 'generic'>): CommentApi {
  switch (provider) {
    case 'github':
      return githubComments;
    case 'gitlab':
      return gitlabComments;
    case 'gitea':
      return giteaComments('Gitea');
    case 'forgejo':
      return giteaComments('Forgejo');
    case 'bitbucket':
      return bitbucketComments;
  }
}

/** An authenticated session with one provider's API for one repository: where it is, and a JSON call. */
export interface ProviderApiSession {
  repo: RepoLocation;
  apiBase: string;
  /** One request; a non-2xx answer or a network failure throws PullRequestCommentError (redacted). */
  call(method: string, url: string, body?: unknown): Promise<{ json: unknown; link: string | null }>;
}

/**
 * Open a session with the provider's API for `options.repoUrl`, authenticated with the token in
 * `tokenSecret` exactly as commit statuses are. Errors name `what` and never carry the token.
 */
export async function openProviderApi(
  api: StatusApi,
  options: PullRequestCommentsOptions & { tokenSecret: string },
  what: string,
): Promise<ProviderApiSession & { scrub: (text: string) => string }> {
  let repo: RepoLocation;
  let apiBase: string;
  try {
    repo = parseRepoLocation(options.repoUrl);
    apiBase = options.apiBaseUrl ? redactUrl(options.apiBaseUrl) : api.defaultApiBase(repo);
  } catch (error) {
    throw new PullRequestCommentError(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let secret: string;
  try {
    secret = await options.secrets.get(options.tokenSecret);
  } catch (error) {
    throw new PullRequestCommentError(`${what}: the token in secret ${options.tokenSecret} could not be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  const credential = credentialFrom(secret);
  const scrub = scrubber([secret, 'token' in credential ? credential.token : credential.password], 'token' in credential ? undefined : credential);
  const headers = { accept: 'application/json', 'content-type': 'application/json', 'user-agent': 'cairn', ...api.headers(credential) };
  const fetchFn = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS;
  const call = async (method: string, url: string, body?: unknown): Promise<{ json: unknown; link: string | null }> => {
    let response: Response;
    try {
      response = await fetchFn(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new PullRequestCommentError(scrub(`${what}: ${method} ${url} failed: ${error instanceof Error ? error.message : String(error)}`));
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) throw new PullRequestCommentError(scrub(`${what}: HTTP ${response.status} from ${method} ${url}: ${text.replace(/\s+/g, ' ').slice(0, 300)}`), response.status);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { json, link: response.headers.get('link') };
  };
  return { repo, apiBase, call, scrub };
}

export class HttpPullRequestComments implements PullRequestComments {
  constructor(
    private readonly api: CommentApi,
    private readonly options: PullRequestCommentsOptions & { tokenSecret: string },
  ) {}

  async upsert(comment: PullRequestComment): Promise<'created' | 'updated'> {
    if (!comment.body.includes(comment.marker)) throw new TypeError('the comment body must contain its marker');
    const prefix = `${this.api.status.label} comment on pull request #${comment.number} was not posted`;
    const session = await openProviderApi(this.api.status, this.options, prefix);
    const { repo, apiBase } = session;
    const existing = await this.find(session, comment);
    if (existing) {
      await session.call(this.api.updateMethod, this.api.updateUrl(repo, apiBase, comment.number, existing.id), this.api.payload(comment.body));
      return 'updated';
    }
    await session.call('POST', this.api.createUrl(repo, apiBase, comment.number), this.api.payload(comment.body));
    return 'created';
  }

  /** Cairn's comment: the first carrying the marker, on any page. */
  private async find(session: ProviderApiSession, comment: PullRequestComment): Promise<ListedComment | undefined> {
    const { repo, apiBase } = session;
    const origin = new URL(apiBase).origin;
    let url: string | undefined = this.api.listUrl(repo, apiBase, comment.number);
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const { json, link } = await session.call('GET', url);
      const { comments, next } = this.api.page(json);
      const found = comments.find((c) => c.body.includes(comment.marker));
      if (found) return found;
      url = next ?? nextLink(link);
      // The token goes only where the API root is.
      if (url && new URL(url, apiBase).origin !== origin) url = undefined;
    }
    return undefined;
  }
}

/** The `rel="next"` URL of an RFC 8288 Link header (GitHub, GitLab, Gitea). */
function nextLink(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part.trim());
    if (match) return match[1];
  }
  return undefined;
}
