/**
 * The preview step of a pull request: read the source at the pull request's head, load it as a push
 * would be loaded, plan it against the account with preview change sets (created with property
 * values, read and deleted; never executed, never kept), and say what a merge would do in one
 * comment per source, updated in place, and in a commit status on the head. It never takes the
 * source's apply slot (its messages have a FIFO group of their own) and never changes a stack.
 * Closing the pull request removes any preview change set left on the source's stacks.
 */
import { messageOf, StalledError, ValidationError } from '../core/errors.js';
import type { CommitStatusReporter } from '../ports/commit-status.js';
import type { EventSink } from '../ports/events.js';
import { previewMarker, type PullRequestComments } from '../ports/pr-comments.js';
import type { SourceRepo, SourceSnapshot } from '../ports/source-repo.js';
import type { GatewayFactory } from '../ports/stack-gateway.js';
import type { PullRequestWork } from '../ports/work-queue.js';
import { loadDesired, sourceDestinations } from './load-desired.js';
import { planSource } from './plan-source.js';
import { mergesCleanly, previewVerdict, renderPreviewComment, type PreviewCommentInput } from './preview-comment.js';
import { isPreview } from './preview.js';
import type { ReconcileContext } from './reconcile-source.js';

export interface PreviewContext {
  source: string;
  repo: SourceRepo;
  gateways: GatewayFactory;
  sink: EventSink;
  comments: PullRequestComments;
  commitStatus: CommitStatusReporter;
  /** The head commit's status context, e.g. `cairn/prod/preview`. */
  statusContext: string;
  destinations?: ReconcileContext['destinations'];
  defaultRoleArn?: string;
  /** How long to wait for CloudFormation to compute a preview, and how often to look. */
  changeSetWaitMs: number;
  pollMs: number;
  sleep?: (ms: number) => Promise<void>;
}

export type PreviewOutcome =
  | { outcome: 'previewed'; commit: string; clean: boolean; summary: string; comment: 'created' | 'updated' | 'not-posted' }
  | { outcome: 'closed'; removed: number };

export async function previewPullRequest(ctx: PreviewContext, pr: PullRequestWork): Promise<PreviewOutcome> {
  if (pr.action === 'closed') return { outcome: 'closed', removed: await removePreviews(ctx) };

  let input: PreviewCommentInput;
  const snapshot = await headSnapshot(ctx, pr).catch((error: unknown) => {
    // The head cannot be read as it is (no such ref, no cairn.yaml): said on the pull request, not retried.
    if (error instanceof StalledError) return error;
    throw error;
  });
  if (snapshot instanceof StalledError) {
    input = { source: ctx.source, commit: snapshot.commit ?? '', result: { error: snapshot.message } };
  } else {
    input = { source: ctx.source, commit: snapshot.commit, result: await planHead(ctx, snapshot) };
  }
  const comment = await ctx.comments.upsert({ number: pr.number, marker: previewMarker(ctx.source), body: renderPreviewComment(input) });
  const clean = 'plan' in input.result && mergesCleanly(input.result.plan);
  const summary = previewVerdict(input);
  if (input.commit) {
    try {
      await ctx.commitStatus.report({ commit: input.commit, state: clean ? 'success' : 'failure', description: summary, context: ctx.statusContext, ...(pr.url ? { targetUrl: pr.url } : {}) });
    } catch (error) {
      ctx.sink.emit({ source: ctx.source, commit: input.commit, type: 'log', level: 'warn', message: `preview status not reported: ${messageOf(error)}` });
    }
  }
  ctx.sink.emit({ source: ctx.source, ...(input.commit ? { commit: input.commit } : {}), type: 'log', level: 'info', message: `pull request #${pr.number} previewed (${comment === 'not-posted' ? 'comment not posted' : `comment ${comment}`}): ${summary}` });
  return { outcome: 'previewed', commit: input.commit, clean, summary, comment };
}

/**
 * The head as the provider keeps it in the base repository (`refs/pull/N/head` ...), else, for a
 * pull request from the same repository, its branch (a local repository in `cairn serve` has no
 * pull request refs).
 */
async function headSnapshot(ctx: PreviewContext, pr: PullRequestWork): Promise<SourceSnapshot> {
  const { repo } = ctx;
  if (!repo.atRef) throw new StalledError('SourceInvalid', `${repo.description} cannot be read at a pull request's head`);
  const refs = [pr.fetchRef, ...(pr.fork || pr.fetchRef === `refs/heads/${pr.headRef}` ? [] : [`refs/heads/${pr.headRef}`])];
  let first: unknown;
  for (const ref of refs) {
    try {
      return await repo.atRef(ref).snapshot();
    } catch (error) {
      if (!(error instanceof StalledError)) throw error;
      first ??= error;
    }
  }
  throw first;
}

async function planHead(ctx: PreviewContext, snapshot: SourceSnapshot): Promise<PreviewCommentInput['result']> {
  let desired;
  try {
    desired = await loadDesired(snapshot, ctx.source, {
      destinations: sourceDestinations(ctx.destinations, ctx.defaultRoleArn, ctx.gateways(undefined).region),
    });
  } catch (error) {
    if (error instanceof ValidationError) return { problems: error.problems };
    if (error instanceof StalledError) return { error: error.message };
    throw error;
  }
  const { plan } = await planSource(desired, {
    gateways: ctx.gateways,
    resourceDiff: true,
    preview: { waitMs: ctx.changeSetWaitMs, pollMs: ctx.pollMs, ...(ctx.sleep ? { sleep: ctx.sleep } : {}), ...(ctx.defaultRoleArn ? { defaultRoleArn: ctx.defaultRoleArn } : {}) },
  });
  return { plan, findings: desired.findings };
}

/**
 * Every `cairn-preview-` change set on the source's stacks in the default region: previews delete
 * their own, so these are leftovers of a step cut short (a timeout, a crash).
 */
async function removePreviews(ctx: PreviewContext): Promise<number> {
  const gateway = ctx.gateways(undefined);
  const owned = (await gateway.listStacks()).filter((s) => s.tags['cairn:source'] === ctx.source);
  let removed = 0;
  for (const stack of owned) {
    for (const cs of await gateway.listChangeSets(stack.stackName)) {
      if (!isPreview(cs.changeSetName)) continue;
      await gateway.deleteChangeSet(stack.stackName, cs.changeSetName);
      removed++;
    }
  }
  ctx.sink.emit({ source: ctx.source, type: 'log', level: 'info', message: `pull request closed: ${removed} preview change set${removed === 1 ? '' : 's'} removed` });
  return removed;
}
