/**
 * Change windows: when a deny window holds applies, when allow windows let them run, in a time
 * zone, and what a wrong schedule, duration or zone in cairn.yaml reads as.
 */
import { describe, expect, it } from 'vitest';
import { loadDesired } from '../../lib/reconcile/load-desired.js';
import { activeWindows, describeHold, toWindow, windowVerdict } from '../../lib/core/windows.js';
import { ValidationError } from '../../lib/core/errors.js';
import { memorySnapshot } from '../helpers/memory-source.js';

const at = (iso: string) => new Date(iso);
const weekdayNights = toWindow({ name: 'business-hours', kind: 'deny', schedule: '0 9 * * 1-5', duration: '9h', timeZone: 'Europe/Berlin' });

describe('Core: change windows', () => {
  it('holds during a deny window in its time zone, and says until when', () => {
    // Wednesday 2026-12-02, 10:30 in Berlin (09:30 UTC): inside 09:00–18:00 Berlin.
    const v = windowVerdict([weekdayNights], at('2026-12-02T09:30:00Z'));
    expect(v).toEqual({ open: false, window: 'business-hours', until: at('2026-12-02T17:00:00Z'), why: 'deny' });
    if (!v.open) expect(describeHold(v, at('2026-12-02T09:30:00Z'))).toBe('held until 17:00 UTC by window business-hours');
    // 08:30 Berlin (07:30 UTC) is before it; Saturday is outside its days.
    expect(windowVerdict([weekdayNights], at('2026-12-02T07:30:00Z')).open).toBe(true);
    expect(windowVerdict([weekdayNights], at('2026-12-05T10:00:00Z')).open).toBe(true);
    expect(activeWindows([weekdayNights, weekdayNights], at('2026-12-02T09:30:00Z'))).toEqual([{ name: 'business-hours', kind: 'deny', until: at('2026-12-02T17:00:00Z') }]);
  });

  it('runs only inside allow windows when any are declared, and a deny window wins over an allow one', () => {
    const nightly = toWindow({ kind: 'allow', schedule: '0 22 * * *', duration: '2h' });
    const outside = windowVerdict([nightly], at('2026-12-02T12:00:00Z'));
    expect(outside).toEqual({ open: false, window: 'allow 0 22 * * *', until: at('2026-12-02T22:00:00Z'), why: 'outside-allow' });
    if (!outside.open) expect(describeHold(outside, at('2026-12-02T12:00:00Z'))).toBe('held until 22:00 UTC outside the allow windows (next: allow 0 22 * * *)');
    expect(windowVerdict([nightly], at('2026-12-02T23:30:00Z')).open).toBe(true);
    const freeze = toWindow({ name: 'freeze', kind: 'deny', schedule: '0 0 1 12 *', duration: '31d' });
    expect(windowVerdict([nightly, freeze], at('2026-12-02T23:30:00Z'))).toMatchObject({ open: false, window: 'freeze', why: 'deny', until: at('2027-01-01T00:00:00Z') });
  });

  it('names a bad schedule, duration or time zone in cairn.yaml with its path', async () => {
    const files = {
      'cairn.yaml': [
        'version: 1',
        'defaults:',
        '  windows:',
        '    - {kind: deny, schedule: "61 9 * * *", duration: 1h}',
        '    - {kind: allow, schedule: "0 9 * * *", duration: soon, timeZone: Mars/Base}',
        'stacks:',
        '  app: {template: app.yaml}',
        '',
      ].join('\n'),
      'app.yaml': 'Resources:\n  T: {Type: AWS::SNS::Topic}\n',
    };
    const error = await loadDesired(memorySnapshot(files), 'src').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const problems = (error as ValidationError).problems.map((p) => `${p.path}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^defaults\.windows\.0\.schedule: is not a cron schedule .*minute: 61/),
        expect.stringMatching(/^defaults\.windows\.1\.duration: expected a duration such as 30m, 2h or 1d/),
        expect.stringMatching(/^defaults\.windows\.1\.timeZone: expected an IANA time zone/),
      ]),
    );
  });
});
