/**
 * The progress line in the built CLI: never in --json output or off a terminal, and on a terminal
 * (a pseudo-terminal made by util-linux `script`) erased before every other line. The tests set
 * CAIRN_PROGRESS_AFTER_MS=0 so a phase shows at once, rather than waiting two real seconds.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, CLI } from '../helpers/cli.js';

const EXAMPLE = new URL('../../examples/platform/', import.meta.url).pathname;
const PROGRESS_TEXT = /reading templates|validating templates|waiting on change sets|applying change sets|detecting drift|fetching /;
const ERASE = '\r\u001b[2K';
const NOW = { CAIRN_PROGRESS_AFTER_MS: '0', CI: '', TERM: 'xterm' };

let work: string;
let repo: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cairn-cli-progress-'));
  repo = join(work, 'platform');
  cpSync(EXAMPLE, repo, { recursive: true });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const hasScript = process.platform === 'linux' && /util-linux/.test(spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout ?? '');

/** The CLI on a pseudo-terminal: stdout and stderr both reach it, as a person would see them. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv): { status: number | null; output: string } {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: '1', COLUMNS: '120', ...env }, encoding: 'utf8', input: '', timeout: 60_000 });
  return { status: r.status, output: r.stdout };
}

describe('CLI: progress output', () => {
  it('prints no progress text when stderr is not a terminal, for every command that reads a source', () => {
    const env = { ...NOW, CAIRN_HOME: join(work, 'home-pipe') };
    for (const args of [['validate', repo], ['plan', repo], ['apply', repo, '--yes'], ['status', repo], ['drift', repo], ['plan', repo]]) {
      const r = cairn(args, { env });
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).not.toBe(1);
      expect(r.stderr).not.toMatch(PROGRESS_TEXT);
      expect(r.stderr + r.stdout).not.toContain('\r');
      expect(r.stdout).not.toMatch(PROGRESS_TEXT);
    }
  });

  it('prints only JSON with --json, even on a terminal', { skip: !hasScript }, () => {
    const env = { ...NOW, CAIRN_HOME: join(work, 'home-json') };
    for (const args of [['validate', repo, '--json'], ['plan', repo, '--json'], ['apply', repo, '--yes', '--json'], ['status', repo, '--json'], ['drift', repo, '--json']]) {
      const r = onTerminal(args, env);
      expect(r.output).not.toMatch(PROGRESS_TEXT);
      expect(r.output).not.toContain(ERASE);
      // apply --json also prints its events on stderr, one JSON object a line; everything is JSON.
      const text = r.output.replace(/\r\n/g, '\n');
      if (args[0] === 'apply') for (const line of text.trim().split('\n').filter((l) => l.startsWith('{"'))) expect(() => JSON.parse(line)).not.toThrow();
      else expect(() => JSON.parse(text)).not.toThrow();
    }
  });

  it('shows the line on a terminal and erases it before every other line', { skip: !hasScript }, () => {
    const env = { ...NOW, CAIRN_HOME: join(work, 'home-tty') };
    const validate = onTerminal(['validate', repo], env);
    expect(validate.status).toBe(0);
    expect(validate.output).toContain(`${ERASE}reading templates: 4 of 4 files`);
    const apply = onTerminal(['apply', repo, '--yes'], env);
    expect(apply.status).toBe(0);
    expect(apply.output).toMatch(/applying change sets/);
    for (const r of [validate, apply]) {
      // Each progress text is followed by an erase before any line ends: nothing printed after it on its line.
      expect(r.output).not.toMatch(/(reading templates|validating templates|waiting on change sets|applying change sets)[^\r]*\n/);
      expect(r.output.replace(/\r\n/g, '\n').trimEnd().split('\n').at(-1)).toMatch(/✓/);
    }
  });

  it('shows nothing on a terminal for work done within two seconds', { skip: !hasScript }, () => {
    const r = onTerminal(['validate', repo], { CI: '', TERM: 'xterm', CAIRN_HOME: join(work, 'home-quick') });
    expect(r.status).toBe(0);
    expect(r.output).toMatch(/is valid: 4 stacks/);
    expect(r.output).not.toMatch(PROGRESS_TEXT);
    expect(r.output).not.toContain(ERASE);
  });
});
