/**
 * One readable line per event for people (or one JSON object per line for machines). Shared by
 * `cairn apply`, `cairn drift` and `cairn serve`.
 */
import type { CairnEvent, EventSink } from '../ports/events.js';
import { summariseChanges } from '../core/protection.js';
import { shortSha } from './render.js';
import { pad, style } from './style.js';

function time(): string {
  return style.dim(new Date().toISOString().slice(11, 19));
}

export function formatEvent(e: CairnEvent): string | undefined {
  const who = (stack: string): string => style.bold(pad(stack, 14));
  switch (e.type) {
    case 'reconcile.started':
      return `${style.cyan('▶')} ${e.source}: reconciling ${e.commit ? shortSha(e.commit) : ''} (${e.trigger})`;
    case 'plan.computed': {
      const c = e.counts;
      return `  plan: ${c.create} to create, ${c.update} to update, ${c.delete} to delete, ${c.none} unchanged${c.blocked ? `, ${c.blocked} blocked` : ''}`;
    }
    case 'changeset.created':
      return `  ${who(e.stack)} change set ${e.changeSetName}: ${summariseChanges(e.changes)}${e.changes.length ? `\n${e.changes
        .map((c) => `  ${' '.repeat(15)}${c.action === 'Add' ? style.green('+') : c.action === 'Remove' ? style.red('-') : style.yellow('~')} ${c.logicalId} ${style.dim(c.resourceType)}${c.replacement === 'True' ? style.red(' (replace)') : ''}${c.properties.length ? style.dim(` ${c.properties.join(', ')}`) : ''}`)
        .join('\n')}` : ''}`;
    case 'changeset.empty':
      return `  ${who(e.stack)} nothing to change`;
    case 'stack.action':
      return `  ${who(e.stack)} ${style.yellow(e.action)}: ${e.summary}`;
    case 'stack.progress':
      if (e.reason === 'User Initiated') return `  ${who(e.stack)} ${e.status}`;
      return `  ${who(e.stack)} ${e.status.endsWith('_COMPLETE') && !e.status.includes('ROLLBACK') ? style.green(e.status) : e.status.includes('FAILED') || e.status.includes('ROLLBACK') ? style.red(e.status) : e.status}${e.reason ? style.dim(` ${e.reason}`) : ''}`;
    case 'stack.settled':
      return `  ${who(e.stack)} ${e.healthy ? style.green(e.status) : style.red(e.status)}${e.reason ? style.dim(` ${e.reason}`) : ''}`;
    case 'stack.blocked':
      return `  ${who(e.stack)} ${style.red('blocked')} ${e.message}`;
    case 'stack.waiting':
      return `  ${who(e.stack)} ${style.dim(`waiting: ${e.status}`)}`;
    case 'drift.detected':
      return [
        `  ${who(e.stack)} ${style.yellow('drifted')} (${e.resources.length} resource${e.resources.length === 1 ? '' : 's'}, policy ${e.policy})`,
        ...e.resources.flatMap((r) =>
          r.differences.length
            ? r.differences.map((d) => `  ${' '.repeat(15)}${r.logicalId}${d.path}: expected ${JSON.stringify(d.expected)}, actual ${JSON.stringify(d.actual)}`)
            : [`  ${' '.repeat(15)}${r.logicalId}: ${r.status}`],
        ),
      ].join('\n');
    case 'drift.in-sync':
      return `  ${who(e.stack)} ${style.green('no drift')}`;
    case 'reconcile.finished': {
      const mark = e.outcome === 'succeeded' ? style.green('✓') : e.outcome === 'stalled' || e.outcome === 'failed' ? style.red('✗') : style.dim('…');
      return `${mark} ${e.source}${e.commit ? `@${shortSha(e.commit)}` : ''}: ${e.outcome}: ${e.summary}`;
    }
    case 'log':
      if (e.level === 'debug') return undefined;
      return `  ${e.level === 'error' ? style.red('error') : e.level === 'warn' ? style.yellow('warn') : 'info'} ${e.stack ? `${e.stack}: ` : ''}${e.message}`;
  }
}

export class PrinterSink implements EventSink {
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly options: { json?: boolean; timestamps?: boolean } = {},
  ) {}

  emit(event: CairnEvent): void {
    if (this.options.json) {
      this.out.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
      return;
    }
    const line = formatEvent(event);
    if (line) this.out.write(`${this.options.timestamps ? `${time()} ` : ''}${line}\n`);
  }
}
