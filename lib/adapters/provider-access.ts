/**
 * ProviderAccess over GitHub's and GitLab's REST APIs, with the source's token (the one commit
 * statuses use): a collaborator's permission (GitHub `GET /repos/{o}/{r}/collaborators/{u}/permission`,
 * GitLab `GET /projects/:id/members/all/:user_id`), a pull request's merge commit, and replies on a
 * pull request or a commit. Other providers take no comment commands.
 */
import type { ApprovalNotices, ApprovalStore } from '../ports/approvals.js';
import type { SecretProvider } from '../ports/secrets.js';
import type { CommentCommandsFor } from '../webhooks/comment-commands.js';
import type { CommentAuthor, CommentTarget, MergedPullRequest, ProviderAccess, WriteAccess } from '../ports/provider-access.js';
import { githubStatusApi } from './commit-status/github.js';
import { gitlabStatusApi, projectPath } from './commit-status/gitlab.js';
import { ownerAndRepo } from './commit-status/http-status-reporter.js';
import { openProviderApi, PullRequestCommentError, type ProviderApiSession } from './pr-comments/index.js';

export interface ProviderAccessOptions {
  provider: 'github' | 'gitlab';
  repoUrl: string;
  tokenSecret: string;
  secrets: SecretProvider;
  apiBaseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** GitHub's `permission` values that may push; `maintain` reads as `write` there, `role_name` keeps it. */
const GITHUB_WRITERS = new Set(['admin', 'maintain', 'write']);
/** GitLab's Developer role: the lowest that may push. */
const GITLAB_DEVELOPER = 30;
const GITLAB_ROLES: Record<number, string> = { 0: 'No access', 5: 'Minimal access', 10: 'Guest', 15: 'Planner', 20: 'Reporter', 30: 'Developer', 40: 'Maintainer', 50: 'Owner' };

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

const sha = (value: unknown): string | undefined => (typeof value === 'string' && /^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(value) ? value.toLowerCase() : undefined);

export function createProviderAccess(options: ProviderAccessOptions): ProviderAccess {
  return options.provider === 'github' ? new GitHubAccess(options) : new GitLabAccess(options);
}

abstract class HttpAccess implements ProviderAccess {
  constructor(protected readonly options: ProviderAccessOptions) {}
  protected abstract readonly label: string;
  abstract writeAccess(author: CommentAuthor): Promise<WriteAccess>;
  abstract mergedPullRequest(number: number): Promise<MergedPullRequest>;
  abstract reply(target: CommentTarget, body: string): Promise<void>;

  protected session(what: string): Promise<ProviderApiSession> {
    const api = this.options.provider === 'github' ? githubStatusApi : gitlabStatusApi;
    return openProviderApi(api, { ...this.options, provider: this.options.provider }, `${this.label} ${what}`);
  }
}

class GitHubAccess extends HttpAccess {
  protected readonly label = 'GitHub';

  private repoPath(s: ProviderApiSession): string {
    const { owner, name } = ownerAndRepo(s.repo);
    return `${s.apiBase}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  }

  async writeAccess(author: CommentAuthor): Promise<WriteAccess> {
    const s = await this.session(`permission of ${author.login} could not be read`);
    try {
      const { json } = await s.call('GET', `${this.repoPath(s)}/collaborators/${encodeURIComponent(author.login)}/permission`);
      const o = record(json);
      const permission = typeof o['permission'] === 'string' ? o['permission'] : 'none';
      const role = typeof o['role_name'] === 'string' ? o['role_name'] : permission;
      return { allowed: GITHUB_WRITERS.has(permission), role };
    } catch (error) {
      // Not a collaborator at all.
      if (error instanceof PullRequestCommentError && error.httpStatus === 404) return { allowed: false, role: 'none' };
      throw error;
    }
  }

  async mergedPullRequest(number: number): Promise<MergedPullRequest> {
    const s = await this.session(`pull request #${number} could not be read`);
    const { json } = await s.call('GET', `${this.repoPath(s)}/pulls/${number}`);
    const o = record(json);
    const commit = sha(o['merge_commit_sha']);
    return o['merged'] === true && commit ? { merged: true, commit } : { merged: false };
  }

  async reply(target: CommentTarget, body: string): Promise<void> {
    const s = await this.session('reply was not posted');
    const url = target.kind === 'pull-request' ? `${this.repoPath(s)}/issues/${target.number}/comments` : `${this.repoPath(s)}/commits/${encodeURIComponent(target.sha)}/comments`;
    await s.call('POST', url, { body });
  }
}

class GitLabAccess extends HttpAccess {
  protected readonly label = 'GitLab';

  private project(s: ProviderApiSession): string {
    return `${s.apiBase}/projects/${encodeURIComponent(projectPath(s.repo, s.apiBase))}`;
  }

  async writeAccess(author: CommentAuthor): Promise<WriteAccess> {
    if (!author.id || !/^\d{1,20}$/.test(author.id)) return { allowed: false, role: 'unknown (the note names no user id)' };
    const s = await this.session(`membership of ${author.login} could not be read`);
    try {
      // `members/all` includes members inherited from the project's groups.
      const { json } = await s.call('GET', `${this.project(s)}/members/all/${author.id}`);
      const o = record(json);
      const level = typeof o['access_level'] === 'number' ? o['access_level'] : 0;
      // A blocked or otherwise inactive account keeps its membership but may not act.
      const active = o['state'] === undefined || o['state'] === 'active';
      return { allowed: active && level >= GITLAB_DEVELOPER, role: GITLAB_ROLES[level] ?? `access level ${level}` };
    } catch (error) {
      if (error instanceof PullRequestCommentError && error.httpStatus === 404) return { allowed: false, role: 'not a member' };
      throw error;
    }
  }

  async mergedPullRequest(number: number): Promise<MergedPullRequest> {
    const s = await this.session(`merge request !${number} could not be read`);
    const { json } = await s.call('GET', `${this.project(s)}/merge_requests/${number}`);
    const o = record(json);
    const commit = sha(o['merge_commit_sha']) ?? sha(o['squash_commit_sha']);
    return o['state'] === 'merged' && commit ? { merged: true, commit } : { merged: false };
  }

  async reply(target: CommentTarget, body: string): Promise<void> {
    const s = await this.session('reply was not posted');
    if (target.kind === 'pull-request') await s.call('POST', `${this.project(s)}/merge_requests/${target.number}/notes`, { body });
    else await s.call('POST', `${this.project(s)}/repository/commits/${encodeURIComponent(target.sha)}/comments`, { note: body });
  }
}

/**
 * A comment command makes up to three provider calls (permission, pull request, reply) inside a
 * webhook delivery that the provider abandons after 10 s: each gets 2.5 s.
 */
export const COMMENT_CALL_TIMEOUT_MS = 2_500;

/**
 * The comment-command wiring of a runtime: per source, its approval store and a ProviderAccess
 * with the source's token; or why that source takes no comment commands.
 */
export function commentCommandsWith(options: {
  approvals: () => Promise<ApprovalStore>;
  secrets: SecretProvider;
  /** The API root for every source, when it cannot be derived from their URLs (a local stand-in). */
  apiBaseUrl?: string;
  /** A token secret for sources that name none (a local `serve`). */
  tokenSecret?: string;
  /** The repository on the provider, for a runtime whose sources are read from elsewhere (a local `serve`). */
  repoUrl?: string;
  fetch?: typeof fetch;
  now?: () => Date;
  /** Each provider call's limit: the webhook must answer before the provider gives up (10 s). */
  timeoutMs?: number;
}): CommentCommandsFor {
  return async (source) => {
    if (source.provider !== 'github' && source.provider !== 'gitlab') return { unavailable: `comment commands are read from GitHub and GitLab only, and source ${source.name} is on ${source.provider}` };
    const tokenSecret = source.gitTokenSecretName ?? options.tokenSecret;
    if (!tokenSecret) return { unavailable: 'the source has no gitTokenSecretName, and Cairn needs a token to ask the provider who may approve' };
    return {
      approvals: await options.approvals(),
      access: createProviderAccess({
        provider: source.provider,
        repoUrl: options.repoUrl ?? source.repoUrl,
        tokenSecret,
        secrets: options.secrets,
        ...(options.apiBaseUrl ? { apiBaseUrl: options.apiBaseUrl } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
        timeoutMs: options.timeoutMs ?? COMMENT_CALL_TIMEOUT_MS,
      }),
      now: options.now ?? (() => new Date()),
    };
  };
}

/** Announce a stack's wait for approval as a comment on the commit, with the source's token. */
export function commitNotices(options: ProviderAccessOptions): ApprovalNotices {
  const access = createProviderAccess(options);
  return { awaiting: (commit, markdown) => access.reply({ kind: 'commit', sha: commit }, markdown) };
}
