/**
 * The CLI's progress line, on a fake terminal with a fake clock: nothing in a phase's first two
 * seconds, one line rewritten in place after, erased when the phase ends or before a printed line,
 * and never drawn off a terminal, with --json, under CI or in Lambda.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProgress, describeProgress, formatSize, PROGRESS_AFTER_MS, type ProgressClock } from '../../lib/cli/progress.js';
import { waitingOn, type Progress } from '../../lib/ports/progress.js';

const ERASE = '\r\u001b[2K';

function terminal(options: { isTTY?: boolean; columns?: number } = {}) {
  const writes: string[] = [];
  return {
    isTTY: options.isTTY ?? true,
    columns: options.columns ?? 100,
    writes,
    write(text: string) {
      writes.push(text);
      return true;
    },
    /** What the terminal shows on the progress line now. */
    get line(): string {
      const all = writes.join('');
      return all.slice(all.lastIndexOf(ERASE) + ERASE.length);
    },
  };
}

function fakeClock(): ProgressClock & { advance(ms: number): void; readonly timers: number } {
  let t = 1_000_000;
  const ticks = new Set<() => void>();
  return {
    now: () => t,
    every: (_ms, tick) => {
      ticks.add(tick);
      return () => ticks.delete(tick);
    },
    advance(ms: number) {
      // The ticks of a real interval, at most every 250 ms.
      for (let left = ms; left > 0; left -= 250) {
        t += Math.min(250, left);
        for (const tick of [...ticks]) tick();
      }
    },
    get timers() {
      return ticks.size;
    },
  };
}

const CALM: NodeJS.ProcessEnv = { TERM: 'xterm-256color' };
const reading = (done: number, total: number): Progress => ({ phase: 'templates', step: 'reading', done, total });

function line(env: NodeJS.ProcessEnv = CALM, stream = terminal(), json = false) {
  const clock = fakeClock();
  const progress = createProgress({ stream, clock, env, json });
  return { progress, stream, clock };
}

describe('CLI: progress line', () => {
  it('prints nothing during the first two seconds of a phase', () => {
    const { progress, stream, clock } = line();
    progress.listener!(reading(32, 3000));
    clock.advance(PROGRESS_AFTER_MS - 1);
    progress.listener!(reading(64, 3000));
    expect(stream.writes).toEqual([]);
  });

  it('shows one line after two seconds, rewritten in place as the work goes on', () => {
    const { progress, stream, clock } = line();
    progress.listener!(reading(32, 3000));
    clock.advance(PROGRESS_AFTER_MS);
    expect(stream.writes).toEqual([`${ERASE}reading templates: 32 of 3000 files`]);
    clock.advance(500);
    progress.listener!({ phase: 'templates', step: 'validating', done: 812, total: 3000 });
    expect(stream.line).toBe('validating templates: 812 of 3000 files');
    expect(stream.writes.join('')).not.toContain('\n');
  });

  it('counts the seconds of a wait on its own, with no report coming in', () => {
    const { progress, stream, clock } = line();
    progress.listener!({ phase: 'change-sets', waiting: ['app', 'db'] });
    clock.advance(1_000);
    expect(stream.writes).toEqual([]);
    clock.advance(1_000);
    expect(stream.line).toBe('waiting on change sets: app, db (2 s)');
    clock.advance(12_000);
    expect(stream.line).toBe('waiting on change sets: app, db (14 s)');
  });

  it('erases the line when the phase ends, and stops ticking', () => {
    const { progress, stream, clock } = line();
    progress.listener!({ phase: 'change-sets', waiting: ['app'] });
    clock.advance(3_000);
    expect(stream.line).toBe('waiting on change sets: app (3 s)');
    progress.listener!({ phase: 'change-sets', finished: true });
    expect(stream.writes.at(-1)).toBe(ERASE);
    expect(clock.timers).toBe(0);
    const before = stream.writes.length;
    clock.advance(10_000);
    expect(stream.writes).toHaveLength(before);
  });

  it('ends a quick phase without writing anything at all', () => {
    const { progress, stream, clock } = line();
    progress.listener!(reading(4, 4));
    clock.advance(300);
    progress.listener!({ phase: 'templates', finished: true });
    expect(stream.writes).toEqual([]);
    expect(clock.timers).toBe(0);
  });

  it('starts the two seconds again for the next phase', () => {
    const { progress, stream, clock } = line();
    progress.listener!({ phase: 'fetch', url: 'https://git.example.com/org/repo.git', bytes: 0 });
    clock.advance(2_500);
    expect(stream.line).toBe('fetching https://git.example.com/org/repo.git');
    progress.listener!(reading(32, 64));
    expect(stream.writes.at(-1)).toBe(ERASE);
    clock.advance(1_000);
    expect(stream.writes.at(-1)).toBe(ERASE);
    clock.advance(1_000);
    expect(stream.line).toBe('reading templates: 32 of 64 files');
  });

  it('erases the line before a printed line and draws it again under it', () => {
    const { progress, stream, clock } = line();
    progress.listener!({ phase: 'apply', waiting: ['network'] });
    clock.advance(2_000);
    progress.printing(() => stream.write('  network        CREATE_COMPLETE\n'));
    const all = stream.writes.join('');
    expect(all).toBe(`${ERASE}applying change sets: network (2 s)${ERASE}  network        CREATE_COMPLETE\n${ERASE}applying change sets: network (2 s)`);
  });

  it('prints a line as it is when no progress line shows', () => {
    const { progress, stream } = line();
    progress.listener!({ phase: 'apply', waiting: [] });
    progress.printing(() => stream.write('event\n'));
    expect(stream.writes).toEqual(['event\n']);
  });

  it('draws nothing while a question waits for its answer', async () => {
    const { progress, stream, clock } = line();
    progress.listener!({ phase: 'apply', waiting: ['app'] });
    clock.advance(2_000);
    let answer!: (yes: boolean) => void;
    const asked = progress.suspended(() => new Promise<boolean>((r) => (answer = r)));
    expect(stream.writes.at(-1)).toBe(ERASE);
    const during = stream.writes.length;
    clock.advance(5_000);
    progress.listener!({ phase: 'apply', waiting: ['app', 'db'] });
    expect(stream.writes).toHaveLength(during);
    answer(true);
    expect(await asked).toBe(true);
    expect(stream.line).toBe('applying change sets: app, db (7 s)');
  });

  it('redraws at most every 100 ms when reports come faster', () => {
    const { progress, stream, clock } = line();
    progress.listener!(reading(0, 3000));
    clock.advance(2_000);
    const before = stream.writes.length;
    for (let i = 1; i <= 3000; i++) progress.listener!({ phase: 'templates', step: 'validating', done: i, total: 3000 });
    expect(stream.writes.length - before).toBeLessThanOrEqual(1);
    clock.advance(250);
    expect(stream.line).toBe('validating templates: 3000 of 3000 files');
  });

  it('cuts a line to the terminal width, so that it never wraps', () => {
    const stream = terminal({ columns: 40 });
    const { progress, clock } = line(CALM, stream);
    progress.listener!({ phase: 'drift', waiting: ['network', 'data', 'app', 'observability', 'queue', 'cache', 'search', 'auth'] });
    clock.advance(2_000);
    expect(stream.line).toHaveLength(39);
    expect(stream.line).toMatch(/^detecting drift: network, data, .*…$/);
  });

  it.each([
    ['stderr is not a terminal', CALM, false, false],
    ['--json', CALM, true, true],
    ['CI=true', { ...CALM, CI: 'true' }, true, false],
    ['CI=1', { ...CALM, CI: '1' }, true, false],
    ['TERM=dumb', { TERM: 'dumb' }, true, false],
    ['in Lambda', { ...CALM, AWS_LAMBDA_FUNCTION_NAME: 'cairn-reconcile' }, true, false],
  ])('stays silent when %s', async (_what, env, isTTY, json) => {
    const stream = terminal({ isTTY });
    const { progress, clock } = line(env, stream, json);
    expect(progress.enabled).toBe(false);
    expect(progress.listener).toBeUndefined();
    progress.report({ phase: 'change-sets', waiting: ['app'] });
    clock.advance(10_000);
    await progress.suspended(async () => progress.printing(() => undefined));
    expect(stream.writes).toEqual([]);
  });

  it('is shown under CI=false and with NO_COLOR, which is about colour only', () => {
    for (const env of [{ ...CALM, CI: 'false' }, { ...CALM, NO_COLOR: '1' }]) {
      const { progress, stream, clock } = line(env);
      progress.listener!({ phase: 'drift', waiting: ['app'] });
      clock.advance(2_000);
      expect(stream.line).toBe('detecting drift: app (2 s)');
    }
  });

  it('takes the delay from CAIRN_PROGRESS_AFTER_MS, for tests of the built CLI', () => {
    const { progress, stream } = line({ ...CALM, CAIRN_PROGRESS_AFTER_MS: '0' });
    progress.listener!(reading(1, 2));
    expect(stream.line).toBe('reading templates: 1 of 2 files');
    const ignored = line({ ...CALM, CAIRN_PROGRESS_AFTER_MS: 'soon' });
    ignored.progress.listener!(reading(1, 2));
    expect(ignored.stream.writes).toEqual([]);
  });

  it('describes a fetch with the step, how far it is and the bytes received', () => {
    const url = 'https://git.example.com/org/repo.git';
    expect(describeProgress({ phase: 'fetch', url, bytes: 1_234_567, stage: 'Receiving objects', loaded: 45, total: 100 }, 3_000)).toBe(`fetching ${url}: Receiving objects 45% (1.2 MB)`);
    expect(describeProgress({ phase: 'fetch', url, bytes: 812 }, 3_000)).toBe(`fetching ${url} (812 B)`);
    expect(describeProgress({ phase: 'change-sets', waiting: [] }, 5_900)).toBe('waiting on change sets (5 s)');
    expect(describeProgress({ phase: 'apply', waiting: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] }, 2_000)).toBe('applying change sets: a, b, c, d, e, f and 2 more (2 s)');
    expect([formatSize(999), formatSize(45_100), formatSize(1_200_000), formatSize(3_400_000_000)]).toEqual(['999 B', '45.1 kB', '1.2 MB', '3.4 GB']);
  });
});

describe('Port: waitingOn', () => {
  it('reports each stack as it starts and stops being waited on, then the end, and nothing after', async () => {
    const seen: Progress[] = [];
    const waiting = waitingOn((p) => seen.push(p), 'change-sets');
    let release!: () => void;
    const slow = waiting.track<{ id: string }>(() => new Promise<void>((r) => (release = r)));
    const running = slow({ id: 'app' });
    waiting.add('db');
    waiting.remove('db');
    release();
    await running;
    waiting.end();
    waiting.end();
    waiting.add('late');
    expect(seen).toEqual([
      { phase: 'change-sets', waiting: ['app'] },
      { phase: 'change-sets', waiting: ['app', 'db'] },
      { phase: 'change-sets', waiting: ['app'] },
      { phase: 'change-sets', waiting: [] },
      { phase: 'change-sets', finished: true },
    ]);
  });

  it('does nothing without a listener', async () => {
    const waiting = waitingOn(undefined, 'drift');
    await waiting.track(async () => undefined)({ id: 'app' });
    expect(() => waiting.end()).not.toThrow();
  });
});

describe('Functions: no progress line', () => {
  it('reach no CLI module from their handlers, so Lambda never loads the progress line', () => {
    const root = resolve(import.meta.dirname, '..', '..');
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\(\s*)'(\.{1,2}\/[^']+)\.js'/g)) visit(resolve(dirname(file), `${m[1]}.ts`));
    };
    const handlers = readdirSync(join(root, 'functions')).filter((f) => f.endsWith('.ts'));
    expect(handlers.length).toBeGreaterThan(0);
    for (const h of handlers) visit(join(root, 'functions', h));
    const reached = [...seen].map((f) => relative(root, f));
    expect(reached).toContain('lib/reconcile/plan-source.ts');
    expect(reached.filter((f) => f.startsWith('lib/cli/'))).toEqual([]);
  });
});
