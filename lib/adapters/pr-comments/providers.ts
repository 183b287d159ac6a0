/**
 * Each provider's comment API, as the HTTP mechanism in index.ts needs it: where a pull request's
 * comments are listed, created and edited, and how a page and a body look. The API root and the
 * authentication headers are the commit status reporters' own, so one token secret serves both.
 */
import { bitbucketStatusApi } from '../commit-status/bitbucket.js';
import { giteaStatusApi } from '../commit-status/gitea.js';
import { githubStatusApi } from '../commit-status/github.js';
import { gitlabStatusApi, projectPath } from '../commit-status/gitlab.js';
import { ownerAndRepo, type StatusApi } from '../commit-status/http-status-reporter.js';
import type { RepoLocation } from '../commit-status/repo-location.js';

export interface ListedComment {
  id: string;
  body: string;
}

export interface CommentApi {
  /** The status API whose API root and headers are shared. */
  readonly status: StatusApi;
  /** The first page of the pull request's comments. */
  listUrl(repo: RepoLocation, apiBase: string, number: number): string;
  createUrl(repo: RepoLocation, apiBase: string, number: number): string;
  updateUrl(repo: RepoLocation, apiBase: string, number: number, id: string): string;
  readonly updateMethod: 'PATCH' | 'PUT';
  /** The request body for a comment's markdown. */
  payload(body: string): Record<string, unknown>;
  /** A page of comments, and the next page's URL when the answer names one in its body (Bitbucket). */
  page(json: unknown): { comments: ListedComment[]; next?: string };
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** An array of `{ id, body }` (GitHub, GitLab notes, Gitea). */
function plainPage(json: unknown): { comments: ListedComment[] } {
  const items = Array.isArray(json) ? json : [];
  return {
    comments: items.map(record).flatMap((c) => (typeof c['body'] === 'string' && (typeof c['id'] === 'number' || typeof c['id'] === 'string') ? [{ id: String(c['id']), body: c['body'] }] : [])),
  };
}

function repoPath(repo: RepoLocation): string {
  const { owner, name } = ownerAndRepo(repo);
  return `${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}

/** GitHub: a pull request's conversation is its issue's comments. */
export const githubComments: CommentApi = {
  status: githubStatusApi,
  listUrl: (repo, api, n) => `${api}/repos/${repoPath(repo)}/issues/${n}/comments?per_page=100`,
  createUrl: (repo, api, n) => `${api}/repos/${repoPath(repo)}/issues/${n}/comments`,
  updateUrl: (repo, api, _n, id) => `${api}/repos/${repoPath(repo)}/issues/comments/${encodeURIComponent(id)}`,
  updateMethod: 'PATCH',
  payload: (body) => ({ body }),
  page: plainPage,
};

/** GitLab: merge request notes. */
export const gitlabComments: CommentApi = {
  status: gitlabStatusApi,
  listUrl: (repo, api, n) => `${api}/projects/${encodeURIComponent(projectPath(repo, api))}/merge_requests/${n}/notes?per_page=100&sort=asc`,
  createUrl: (repo, api, n) => `${api}/projects/${encodeURIComponent(projectPath(repo, api))}/merge_requests/${n}/notes`,
  updateUrl: (repo, api, n, id) => `${api}/projects/${encodeURIComponent(projectPath(repo, api))}/merge_requests/${n}/notes/${encodeURIComponent(id)}`,
  updateMethod: 'PUT',
  payload: (body) => ({ body }),
  page: plainPage,
};

/** Gitea and Forgejo: like GitHub, a pull request's comments are its issue's. */
export function giteaComments(label: 'Gitea' | 'Forgejo'): CommentApi {
  return {
    status: giteaStatusApi(label),
    listUrl: (repo, api, n) => `${api}/repos/${repoPath(repo)}/issues/${n}/comments`,
    createUrl: (repo, api, n) => `${api}/repos/${repoPath(repo)}/issues/${n}/comments`,
    updateUrl: (repo, api, _n, id) => `${api}/repos/${repoPath(repo)}/issues/comments/${encodeURIComponent(id)}`,
    updateMethod: 'PATCH',
    payload: (body) => ({ body }),
    page: plainPage,
  };
}

/** Bitbucket Cloud: pull request comments with `content.raw`, paged by `next` in the body. */
export const bitbucketComments: CommentApi = {
  status: bitbucketStatusApi,
  listUrl: (repo, api, n) => `${api}/repositories/${repoPath(repo)}/pullrequests/${n}/comments?pagelen=100`,
  createUrl: (repo, api, n) => `${api}/repositories/${repoPath(repo)}/pullrequests/${n}/comments`,
  updateUrl: (repo, api, n, id) => `${api}/repositories/${repoPath(repo)}/pullrequests/${n}/comments/${encodeURIComponent(id)}`,
  updateMethod: 'PUT',
  payload: (body) => ({ content: { raw: body } }),
  page(json) {
    const o = record(json);
    const values = Array.isArray(o['values']) ? o['values'] : [];
    const comments = values.map(record).flatMap((c) => {
      const raw = record(c['content'])['raw'];
      return typeof raw === 'string' && typeof c['id'] === 'number' && c['deleted'] !== true ? [{ id: String(c['id']), body: raw }] : [];
    });
    return typeof o['next'] === 'string' ? { comments, next: o['next'] } : { comments };
  },
};
