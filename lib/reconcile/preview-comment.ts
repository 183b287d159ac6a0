/**
 * The pull-request preview comment: markdown of the plan a merge would apply, made from the same
 * truthful preview as `cairn plan` (CloudFormation's change sets, with old → new values): per stack
 * create / update / replace / revert / delete, destructive changes shown as blocked with the line
 * that would allow them, the drift a merge would overwrite, or the validation problems with file and
 * line. It starts with the hidden marker by which the comment is found and updated in place.
 */
import { changeVerb } from '../core/change-verb.js';
import { formatProblem, type Problem } from '../core/errors.js';
import type { Plan, StackPlan } from '../core/model.js';
import { countActions } from '../core/plan.js';
import { previewMarker } from '../ports/pr-comments.js';
import type { ChangeSetChange } from '../ports/stack-gateway.js';

export interface PreviewCommentInput {
  source: string;
  /** The pull request's head commit that was planned. */
  commit: string;
  /** The plan (with the warnings its load found), or the problems that kept the head from being planned. */
  result: { plan: Plan; findings?: Problem[] } | { problems: Problem[] } | { error: string };
}

/** Whether merging would apply cleanly: something planned, nothing blocked. */
export function mergesCleanly(plan: Plan): boolean {
  return plan.stacks.every((s) => s.action !== 'blocked');
}

/** The one-line verdict: the comment's heading and the commit status's description. */
export function previewVerdict(input: PreviewCommentInput): string {
  const { result } = input;
  if ('problems' in result) {
    const errors = result.problems.filter((p) => !p.severity);
    return `cairn.yaml or a template is invalid: ${errors.length || result.problems.length} problem${(errors.length || result.problems.length) === 1 ? '' : 's'}`;
  }
  if ('error' in result) return `could not plan: ${result.error}`;
  const c = countActions(result.plan);
  if (c.blocked > 0) return `merging would be blocked: ${c.blocked} stack${c.blocked === 1 ? '' : 's'} blocked`;
  if (!result.plan.changes) return 'merging changes nothing';
  const parts = [c.create && `${c.create} to create`, c.update && `${c.update} to update`, c.revert && `${c.revert} to revert`, c.delete && `${c.delete} to delete`].filter(Boolean);
  return `merging would apply cleanly: ${parts.join(', ')}`;
}

/** Providers refuse longer comments (GitHub at 65,536 characters); what is cut is said. */
export const COMMENT_MAX_CHARS = 60_000;

const ICON: Record<string, string> = { create: '➕', update: '✏️', replace: '♻️', revert: '↩️', delete: '🗑️', blocked: '⛔', none: '✔️' };

function stackVerb(s: StackPlan): string {
  if (s.action === 'none') return 'none';
  if (s.recreate) return 'replace';
  return s.action;
}

/** Markdown-safe inline code: backticks inside become quotes, long values are cut. */
function code(value: string | undefined, absent: string): string {
  if (value === undefined) return `_${absent}_`;
  const short = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return `\`${short.replace(/`/g, "'").replace(/\n/g, ' ')}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function renderChanges(changes: ChangeSetChange[]): string[] {
  if (changes.length === 0) return [];
  const lines = ['| | Resource | Type | Change |', '|---|---|---|---|'];
  const details: string[] = [];
  for (const c of changes) {
    const verb = changeVerb(c);
    const mark = c.action === 'Add' ? '+' : c.action === 'Remove' ? '−' : verb.includes('replace') ? '±' : '~';
    lines.push(`| ${mark} | \`${cell(c.logicalId)}\` | ${cell(c.resourceType)} | ${verb.includes('replace') || c.action === 'Remove' ? `**${verb}**` : verb} |`);
    for (const v of c.values ?? []) {
      const forces = v.requiresRecreation === 'Always' ? ' (forces replacement)' : v.requiresRecreation === 'Conditionally' ? ' (may force replacement)' : '';
      details.push(`- \`${c.logicalId}\` ${v.path.replace(/^\/Properties\//, '')}: ${code(v.before, 'not set')} → ${code(v.after, 'removed')}${forces}`);
    }
    if ((c.values ?? []).length === 0 && c.properties.length > 0) details.push(`- \`${c.logicalId}\`: ${c.properties.join(', ')}`);
  }
  return [...lines, ...(details.length ? ['', ...details] : [])];
}

function renderStack(s: StackPlan): string[] {
  const verb = stackVerb(s);
  const label = s.stackName === s.id ? `\`${s.id}\`` : `\`${s.id}\` (${s.stackName})`;
  const lines = [`#### ${ICON[verb] ?? ''} ${label}: ${verb === 'none' ? 'no change' : verb}`];
  if (s.action === 'blocked') lines.push('', `> **Blocked** (${s.blockedBy ?? 'blocked'}): ${s.reason}`);
  else if (s.action === 'revert') lines.push('', `> Merging overwrites drift: ${s.reason}`);
  else if (s.reason && !(s.action === 'none' && s.reason === 'in sync')) lines.push('', s.reason);
  if (s.held) lines.push('', `> Held: ${s.held.message}`);
  if (s.waiting) lines.push('', '> The stack is busy now; this is its plan once it settles.');
  if (s.preview?.state === 'ready') lines.push('', ...renderChanges(s.preview.changes));
  else if (s.preview?.state === 'empty') lines.push('', 'CloudFormation reports no resource changes.');
  else if (s.action !== 'none' && s.resources.length > 0) {
    if (s.preview?.state === 'pending') lines.push('', "CloudFormation had not finished the preview; Cairn's own template diff:");
    lines.push('', ...s.resources.map((r) => `- ${r.change === 'add' ? '+' : r.change === 'remove' ? '−' : '~'} \`${r.logicalId}\` ${r.type}${r.properties.length ? `: ${r.properties.join(', ')}` : ''}`));
  }
  if (s.parameters.length > 0 && s.action !== 'none') lines.push('', `Parameters: ${s.parameters.map((p) => `\`${p}\``).join(', ')}`);
  return [...lines, ''];
}

export function renderPreviewComment(input: PreviewCommentInput): string {
  const { result } = input;
  const lines = [previewMarker(input.source), `### Cairn preview: \`${input.source}\` at ${input.commit.slice(0, 7)}`, '', `**${previewVerdict(input)}**`, ''];
  if ('problems' in result) {
    lines.push(...result.problems.map((p) => `- ${p.severity === 'warning' ? '⚠️' : p.severity === 'notice' ? 'ℹ️' : '❌'} ${formatProblem(p)}`), '');
  } else if ('error' in result) {
    lines.push('The preview could not be made; it is tried again on the next push to this pull request.', '');
  } else {
    const plan = result.plan;
    const changed = plan.stacks.filter((s) => s.action !== 'none');
    const unchanged = plan.stacks.length - changed.length;
    for (const s of changed) lines.push(...renderStack(s));
    if (unchanged > 0) lines.push(`${unchanged} stack${unchanged === 1 ? '' : 's'} unchanged.`, '');
    if (plan.stacks.length === 0) lines.push('cairn.yaml declares no stacks.', '');
    const warnings = (result.findings ?? []).filter((p) => p.severity === 'warning');
    if (warnings.length > 0) lines.push('Warnings (they do not stop the merge from applying):', '', ...warnings.map((p) => `- ⚠️ ${formatProblem(p)}`), '');
  }
  const footer = '<sub>Planned against the account with preview change sets (read and deleted, never executed). Updated on every push to this pull request.</sub>';
  let body = lines.join('\n');
  if (body.length + footer.length > COMMENT_MAX_CHARS) {
    body = `${body.slice(0, COMMENT_MAX_CHARS - footer.length - 200)}\n\n… (cut: the whole plan is longer than a comment may be; \`cairn plan\` at this commit shows all of it)\n\n`;
  }
  return body + footer;
}
