/**
 * Change windows, as Argo CD's sync windows: `windows:` in cairn.yaml (defaults or per stack) allow
 * or deny applies by cron schedule and duration in a time zone. A deny window that is active holds
 * every apply it covers; when allow windows are declared, applies run only while one is active; a
 * deny window wins over an allow window. Pure: the caller says what time it is.
 */
import { Cron } from 'croner';
import * as z from 'zod';

const DURATION = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function cronProblem(schedule: string): string | undefined {
  try {
    new Cron(schedule, { paused: true });
    return undefined;
  } catch (error) {
    return (error instanceof Error ? error.message : String(error)).replace(/^CronPattern: /, '');
  }
}

export const WindowSchema = z.strictObject({
  /** Shown wherever the window holds an apply; defaults to its kind and schedule. */
  name: z.string().min(1).max(64).optional(),
  kind: z.enum(['allow', 'deny']),
  schedule: z.string().superRefine((s, ctx) => {
    const problem = cronProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `is not a cron schedule (minute hour day-of-month month day-of-week): ${problem}` });
  }),
  duration: z.string().regex(DURATION, 'expected a duration such as 30m, 2h or 1d'),
  timeZone: z
    .string()
    .refine(validTimeZone, 'expected an IANA time zone such as UTC, Europe/Berlin or America/New_York')
    .optional(),
});
export type WindowEntry = z.infer<typeof WindowSchema>;

/** A window as the planner uses it. */
export interface ChangeWindow {
  name: string;
  kind: 'allow' | 'deny';
  schedule: string;
  durationMs: number;
  timeZone: string;
}

export function toWindow(entry: WindowEntry): ChangeWindow {
  const m = DURATION.exec(entry.duration)!;
  return {
    name: entry.name ?? `${entry.kind} ${entry.schedule}`,
    kind: entry.kind,
    schedule: entry.schedule,
    durationMs: Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS],
    timeZone: entry.timeZone ?? 'UTC',
  };
}

/** Whether applies may run now, and if not, which window holds them and until when (when known). */
export type WindowVerdict = { open: true } | { open: false; window: string; until: Date | undefined; why: 'deny' | 'outside-allow' };

/** When the window that is active at `now` ends, or undefined when it is not active. */
function activeUntil(w: ChangeWindow, now: Date): Date | undefined {
  // Active when a start falls within the last `duration`: the first start after now - duration is not after now.
  const cron = new Cron(w.schedule, { paused: true, timezone: w.timeZone });
  let start = cron.nextRun(new Date(now.getTime() - w.durationMs));
  let until: Date | undefined;
  // Overlapping occurrences (a window longer than its period) extend each other.
  for (let i = 0; start && start.getTime() <= now.getTime() && i < 1000; i++) {
    until = new Date(start.getTime() + w.durationMs);
    start = cron.nextRun(start);
  }
  return until;
}

/** The windows active at `now`, with when each ends: what `cairn status` shows. */
export function activeWindows(windows: readonly ChangeWindow[], now: Date): { name: string; kind: 'allow' | 'deny'; until: Date }[] {
  const seen = new Set<string>();
  const active: { name: string; kind: 'allow' | 'deny'; until: Date }[] = [];
  for (const w of windows) {
    const key = `${w.kind}\0${w.name}\0${w.schedule}\0${w.timeZone}\0${w.durationMs}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const until = activeUntil(w, now);
    if (until) active.push({ name: w.name, kind: w.kind, until });
  }
  return active;
}

export function windowVerdict(windows: readonly ChangeWindow[], now: Date): WindowVerdict {
  const denies = windows
    .filter((w) => w.kind === 'deny')
    .map((w) => ({ w, until: activeUntil(w, now) }))
    .filter((x) => x.until);
  if (denies.length > 0) {
    const last = denies.reduce((a, b) => (b.until!.getTime() > a.until!.getTime() ? b : a));
    return { open: false, window: last.w.name, until: last.until, why: 'deny' };
  }
  const allows = windows.filter((w) => w.kind === 'allow');
  if (allows.length === 0 || allows.some((w) => activeUntil(w, now))) return { open: true };
  const next = allows
    .map((w) => ({ w, at: new Cron(w.schedule, { paused: true, timezone: w.timeZone }).nextRun(now) ?? undefined }))
    .filter((x) => x.at)
    .sort((a, b) => a.at!.getTime() - b.at!.getTime())[0];
  return { open: false, window: next?.w.name ?? allows[0]!.name, until: next?.at, why: 'outside-allow' };
}

/** "held until 18:00 UTC by window business-hours" (a day and date when not today). */
export function describeHold(v: Extract<WindowVerdict, { open: false }>, now: Date): string {
  const by = v.why === 'deny' ? `by window ${v.window}` : `outside the allow windows (next: ${v.window})`;
  if (!v.until) return `held ${by}`;
  const sameDay = v.until.toISOString().slice(0, 10) === now.toISOString().slice(0, 10);
  const time = v.until.toISOString().slice(11, 16);
  return `held until ${sameDay ? '' : `${v.until.toISOString().slice(0, 10)} `}${time} UTC ${by}`;
}
