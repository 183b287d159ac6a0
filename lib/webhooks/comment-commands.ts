/**
 * Comment commands: `/cairn approve STACK [STACK ...]` and `/cairn reject STACK [STACK ...]` written
 * on a pull request or a commit (GitHub, GitLab). A command counts only from a person the provider's
 * API says may write to the repository, only for the change set and commit the stack awaits, and
 * only for a commit the source's branch holds: on a pull request, its merge commit. The decision is
 * written to the approval store with who, when and the comment's address, and answered on the
 * pull request or commit; the reconciler then executes (or stalls) on its next step.
 */
import { messageOf } from '../core/errors.js';
import type { SourceConfig } from '../core/source-config.js';
import type { Approval, ApprovalStore } from '../ports/approvals.js';
import type { CommentTarget, ProviderAccess } from '../ports/provider-access.js';
import type { CommentChange } from './provider.js';

export interface CommentCommand {
  verb: 'approve' | 'reject';
  stack: string;
}

/** At most this many stacks are decided by one comment. */
export const MAX_COMMANDS = 20;

const COMMAND = /^\/cairn(?:\s+(\S+))?(?:\s+(.*))?$/;
const STACK_ID = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;

/**
 * The commands in a comment, one per line (quoted lines and fenced code are someone else's words),
 * and what could not be read as one. A comment without any `/cairn` line yields neither.
 */
export function parseCommands(body: string): { commands: CommentCommand[]; problems: string[] } {
  const commands: CommentCommand[] = [];
  const problems: string[] = [];
  let fenced = false;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('```') || line.startsWith('~~~')) fenced = !fenced;
    if (fenced || line.startsWith('>')) continue;
    const match = COMMAND.exec(line);
    if (!match) continue;
    const verb = match[1];
    if (verb !== 'approve' && verb !== 'reject') {
      problems.push(`\`${clip(line)}\`: the commands are \`/cairn approve STACK\` and \`/cairn reject STACK\``);
      continue;
    }
    const stacks = (match[2] ?? '').split(/[\s,]+/).filter(Boolean);
    if (stacks.length === 0) problems.push(`\`/cairn ${verb}\` names no stack: write \`/cairn ${verb} STACK\` with the stack's id in cairn.yaml`);
    for (const stack of stacks) {
      if (!STACK_ID.test(stack)) problems.push(`\`${clip(stack)}\` is not a stack id (ids start with a letter and use letters, digits, - and _)`);
      else if (!commands.some((c) => c.stack === stack)) commands.push({ verb, stack });
    }
  }
  if (commands.length > MAX_COMMANDS) {
    problems.push(`one comment decides at most ${MAX_COMMANDS} stacks; the rest were left out`);
    commands.length = MAX_COMMANDS;
  }
  return { commands, problems };
}

export interface CommentCommandDeps {
  approvals: ApprovalStore;
  access: ProviderAccess;
  now: () => Date;
}

export interface CommentCommandResult {
  /** Decisions written: the reconciler has something to act on. */
  recorded: Approval[];
  /** One line per command, as the reply says it. */
  lines: string[];
  /** Why nothing was recorded, when nothing was. */
  refused?: string;
  /** The reply could not be posted (the decisions stand). */
  replyError?: string;
}

/** What the comment handler of a source needs to act: set up per source by the function or `serve`. */
export type CommentCommandsFor = (source: SourceConfig) => Promise<CommentCommandDeps | { unavailable: string }>;

const shortSha = (sha: string): string => sha.slice(0, 7);

/**
 * Carry out a comment's commands for `source`: check the author, find the commit the comment is
 * about, bind each decision to the change set the stack awaits at that commit, write it, and reply.
 */
export async function runCommentCommands(source: SourceConfig, comment: CommentChange, commands: readonly CommentCommand[], problems: readonly string[], deps: CommentCommandDeps): Promise<CommentCommandResult> {
  const who = `@${comment.author.login}`;
  const result = await decide(source, comment, commands, problems, deps);
  const body = [`**Cairn** (source \`${source.name}\`), for ${who}:`, '', ...result.lines.map((l) => `- ${l}`)].join('\n');
  try {
    await deps.access.reply(comment.on, body);
  } catch (error) {
    result.replyError = messageOf(error);
  }
  return result;
}

async function decide(source: SourceConfig, comment: CommentChange, commands: readonly CommentCommand[], problems: readonly string[], deps: CommentCommandDeps): Promise<CommentCommandResult> {
  const refuse = (why: string): CommentCommandResult => ({ recorded: [], lines: [`✗ ${why}`, ...problems.map((p) => `✗ ${p}`)], refused: why });
  if (commands.length === 0) return refuse('no decision was made');
  const access = await deps.access.writeAccess(comment.author);
  if (!access.allowed) {
    return refuse(`@${comment.author.login} may not approve or reject: that needs write access to the repository (the provider says: ${access.role})`);
  }
  const commit = await commitOf(comment.on, deps.access);
  if ('refused' in commit) return refuse(commit.refused);
  const lines: string[] = [];
  const recorded: Approval[] = [];
  const at = deps.now().toISOString();
  for (const { verb, stack } of commands) {
    const state = await deps.approvals.getState(source.name, stack);
    if (!state || state.state !== 'awaiting') {
      lines.push(`✗ stack \`${stack}\` is not awaiting approval${state ? ` (its last change set was ${state.state} at ${shortSha(state.commit)})` : ''}; \`cairn status\` shows what it waits on`);
      continue;
    }
    if (state.commit !== commit.sha) {
      lines.push(`✗ stack \`${stack}\` awaits approval at ${shortSha(state.commit)}, not ${shortSha(commit.sha)}: a decision counts only for the commit it names (comment on ${shortSha(state.commit)}, or on the pull request that merged it)`);
      continue;
    }
    const approval: Approval = {
      source: source.name,
      stack,
      changeSetName: state.changeSetName,
      commit: state.commit,
      decision: verb === 'approve' ? 'approved' : 'rejected',
      by: `${comment.author.login} (${source.provider})`,
      at,
      ...(comment.url ? { via: comment.url } : {}),
    };
    await deps.approvals.put(approval);
    recorded.push(approval);
    const what = state.changeSetName === 'delete' ? 'the deletion' : `change set \`${state.changeSetName}\``;
    lines.push(
      verb === 'approve'
        ? `✓ approved ${what} of stack \`${stack}\` at ${shortSha(state.commit)}${state.summary ? ` (${state.summary})` : ''}; Cairn executes it now`
        : `✗ rejected ${what} of stack \`${stack}\` at ${shortSha(state.commit)}; Cairn removes it and stalls the commit: push the change you want instead`,
    );
  }
  for (const p of problems) lines.push(`✗ ${p}`);
  return recorded.length > 0 ? { recorded, lines } : { recorded, lines, refused: 'no stack named was awaiting approval at this commit' };
}

/** The commit a comment is about: the commit itself, or the commit a pull request merged as. */
async function commitOf(on: CommentTarget, access: ProviderAccess): Promise<{ sha: string } | { refused: string }> {
  if (on.kind === 'commit') return { sha: on.sha };
  const pr = await access.mergedPullRequest(on.number);
  if (!pr.merged || !pr.commit) {
    return { refused: `pull request #${on.number} is not merged: Cairn deploys only what the source's branch holds, so approve once it is merged (here, or on the merge commit)` };
  }
  return { sha: pr.commit };
}

function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
