/**
 * Text renderings for people: problems, plans and their summaries. JSON output is built from
 * the same data by the commands themselves.
 */
import { formatProblem, type Problem } from '../core/errors.js';
import type { Plan, PlanAction, StackPlan } from '../core/model.js';
import type { ChangeSetChange } from '../ports/stack-gateway.js';
import { changeVerb } from '../core/change-verb.js';
import { countActions } from '../core/plan.js';
import { pad, style } from './style.js';

export function renderProblems(problems: Problem[]): string {
  const mark = (p: Problem): string => (p.severity === 'warning' ? style.yellow('!') : p.severity === 'notice' ? style.dim('·') : style.red('✗'));
  return problems.map((p) => `  ${mark(p)} ${formatProblem(p)}`).join('\n');
}

const SYMBOL: Record<PlanAction, string> = { create: '+', update: '~', delete: '-', revert: '↺', none: '=', blocked: '!' };
const COLOUR: Record<PlanAction, (s: string) => string> = {
  create: style.green,
  update: style.yellow,
  revert: style.yellow,
  delete: style.red,
  none: style.dim,
  blocked: style.red,
};

export function summaryLine(plan: Plan): string {
  const c = countActions(plan);
  const parts = [`${c.create} to create`, `${c.update} to update`, ...(c.revert ? [`${c.revert} to revert`] : []), `${c.delete} to delete`, `${c.none} unchanged`];
  if (c.blocked) parts.push(style.red(`${c.blocked} blocked`));
  const held = plan.stacks.filter((s) => s.held).length;
  if (held) parts.push(style.yellow(`${held} held by change windows`));
  return parts.join(', ');
}

function stackLabel(s: StackPlan): string {
  return s.stackName === s.id ? s.id : `${s.id} (${s.stackName})`;
}

function shortValue(v: string | undefined, absent: string): string {
  if (v === undefined) return style.dim(absent);
  return v.length > 60 ? `${v.slice(0, 57)}...` : v;
}

/** CloudFormation's change set, a line per resource and per changed property (old → new). */
export function renderPreview(changes: ChangeSetChange[]): string[] {
  const lines: string[] = [];
  for (const c of changes) {
    const verb = changeVerb(c);
    const sym = c.action === 'Add' ? style.green('+') : c.action === 'Remove' ? style.red('-') : verb.includes('replace') ? style.red('±') : style.yellow('~');
    const tint = verb.includes('replace') || c.action === 'Remove' ? style.red : style.dim;
    lines.push(`      ${sym} ${pad(c.logicalId, 24)}${pad(c.resourceType, 30)}${tint(verb)}`);
    const values = c.values ?? [];
    for (const v of values) {
      const forces = v.requiresRecreation === 'Always' ? style.red('  (forces replacement)') : v.requiresRecreation === 'Conditionally' ? style.yellow('  (may force replacement)') : '';
      lines.push(`          ${v.path.replace(/^\/Properties\//, '')}: ${shortValue(v.before, '(not set)')} → ${shortValue(v.after, '(removed)')}${forces}`);
    }
    if (values.length === 0 && c.properties.length > 0) lines.push(`          ${style.dim(c.properties.join(', '))}`);
  }
  return lines;
}

function renderStack(s: StackPlan): string[] {
  const colour = COLOUR[s.action];
  const verb = s.action === 'none' ? 'no change' : s.recreate ? 'recreate' : s.action;
  const waiting = (s.waiting ? style.yellow(' [waiting: stack busy]') : '') + (s.held ? style.yellow(` [${s.held.message}]`) : '');
  const lines = [`  ${colour(SYMBOL[s.action])} ${pad(stackLabel(s), 28)}${colour(pad(verb, 10))}${style.dim(s.action === 'none' && s.reason === 'in sync' ? '' : s.reason)}${waiting}`];
  if (s.preview?.state === 'ready') lines.push(...renderPreview(s.preview.changes));
  else if (s.preview?.state === 'empty') lines.push(`      ${style.dim('CloudFormation reports no resource changes (only stack tags or parameters without effect differ)')}`);
  if (s.preview === undefined || s.preview.state === 'pending') {
    if (s.preview?.state === 'pending') lines.push(`      ${style.yellow('CloudFormation had not finished the preview; the changes below are Cairn\'s own template diff')}`);
    for (const r of s.resources) {
      const sym = r.change === 'add' ? style.green('+') : r.change === 'remove' ? style.red('-') : style.yellow('~');
      lines.push(`      ${sym} ${pad(r.logicalId, 24)}${pad(r.type, 30)}${style.dim(r.properties.join(', '))}`);
    }
  }
  if (s.parameters.length > 0 && s.action !== 'none') lines.push(`      ${style.dim('parameters:')} ${s.parameters.join(', ')}`);
  return lines;
}

export function renderPlan(plan: Plan, header: string): string {
  const lines = [style.bold(header), ''];
  const applyWaves = new Set(plan.stacks.filter((s) => s.action !== 'delete').map((s) => s.wave));
  let lastHeading = '';
  for (const s of plan.stacks) {
    const heading = s.action === 'delete' || (!applyWaves.has(s.wave) && s.wave > 0) ? 'prune (newest first)' : `wave ${s.wave + 1}`;
    if (heading !== lastHeading) {
      lines.push(style.cyan(heading));
      lastHeading = heading;
    }
    lines.push(...renderStack(s));
  }
  if (plan.stacks.length === 0) lines.push('  (cairn.yaml declares no stacks)');
  lines.push('', `Summary: ${summaryLine(plan)}.`);
  return lines.join('\n');
}

/** A commit as people read it: 7 hex digits; a working tree's content digest is marked with `~`. */
/** A commit as a person reads it: 7 hex digits, `~` and 7 for a directory's digest, `-dirty` kept. */
export function shortSha(commit: string): string {
  const digest = /^sha256:([0-9a-f]+)/.exec(commit);
  if (digest) return `~${digest[1]!.slice(0, 7)}`;
  const dirty = /^([0-9a-f]{7,64})-dirty$/.exec(commit);
  if (dirty) return `${dirty[1]!.slice(0, 7)}-dirty`;
  return commit.slice(0, 7);
}

/** shortSha, plus what it is when it is not a plain commit: a directory outside Git, or uncommitted edits. */
export function describeCommit(commit: string): string {
  if (commit.startsWith('sha256:')) return `${shortSha(commit)} (a directory outside Git: not versioned)`;
  if (commit.endsWith('-dirty')) return `${shortSha(commit)} (uncommitted edits on top of ${commit.slice(0, 7)})`;
  return shortSha(commit);
}
