/**
 * Change windows in the reconciler: a held stack is planned and reported but not applied, the step
 * comes back when the window ends (not after a push), the rest of the source goes on, and the
 * override applies it with a logged warning. On the embedded account with a simulated clock.
 */
import { describe, expect, it } from 'vitest';
import { repo, world } from '../helpers/world.js';

// The world's clock starts at 2026-01-01T00:00Z; this window denies 23:00–02:00 UTC every day.
const WINDOWED = [
  'version: 1',
  'stacks:',
  '  app:',
  '    template: app.yaml',
  '    windows: [{name: night-freeze, kind: deny, schedule: "0 23 * * *", duration: 3h}]',
  '  other: {template: other.yaml}',
  '',
].join('\n');
const TOPIC = 'Resources:\n  T: {Type: AWS::SNS::Topic}\n';

describe('Reconcile: change windows', () => {
  it('holds a stack during a deny window, applies the others, and comes back when it ends', async () => {
    const w = world();
    const desired = await w.desired(repo({ cairn: WINDOWED, files: { 'app.yaml': TOPIC, 'other.yaml': TOPIC } }));
    const now = () => Date.UTC(2026, 0, 1, 1, 0);
    const result = await w.converge(desired, { now });
    expect(result.outcome).toBe('progressing');
    if (result.outcome !== 'progressing') return;
    expect(result.held).toEqual(['app']);
    expect(result.summary).toBe('app held until 02:00 UTC by window night-freeze');
    // An hour until the window ends, bounded by the queue's longest delay.
    expect(result.retryAfterSeconds).toBe(300);
    expect(await w.gateway.describeStack('app')).toBeUndefined();
    expect((await w.gateway.describeStack('other'))?.status).toBe('CREATE_COMPLETE');
    expect(w.sink.events).toContainEqual(expect.objectContaining({ type: 'log', level: 'info', stack: 'app', message: 'create held until 02:00 UTC by window night-freeze' }));

    // After the window: the same commit applies without another push.
    const later = await w.converge(desired, { now: () => Date.UTC(2026, 0, 1, 2, 1) });
    expect(later.outcome).toBe('succeeded');
    expect((await w.gateway.describeStack('app'))?.status).toBe('CREATE_COMPLETE');
  });

  it('applies a held stack with the override, logging it', async () => {
    const w = world();
    const desired = await w.desired(repo({ cairn: WINDOWED, files: { 'app.yaml': TOPIC, 'other.yaml': TOPIC } }));
    const result = await w.converge(desired, { now: () => Date.UTC(2026, 0, 1, 1, 0), overrideWindows: true });
    expect(result.outcome).toBe('succeeded');
    expect(w.sink.events).toContainEqual(
      expect.objectContaining({ type: 'log', level: 'warn', stack: 'app', message: 'change window overridden: held until 02:00 UTC by window night-freeze, applied anyway (--override)' }),
    );
  });

  it('holds a prune by the defaults\u2019 windows', async () => {
    const w = world();
    const both = await w.desired(repo({ cairn: 'version: 1\ndefaults: {prune: true}\nstacks:\n  a: {template: t.yaml}\n  b: {template: t.yaml}\n', files: { 't.yaml': TOPIC } }));
    expect((await w.converge(both)).outcome).toBe('succeeded');
    const frozen = await w.desired(
      repo({ cairn: 'version: 1\ndefaults:\n  prune: true\n  windows: [{kind: deny, schedule: "0 0 * * *", duration: 1d}]\nstacks:\n  a: {template: t.yaml}\n', files: { 't.yaml': TOPIC } }),
      'b'.repeat(40),
    );
    const held = await w.converge(frozen, { now: () => Date.UTC(2026, 0, 1, 12, 0) });
    expect(held.outcome === 'progressing' && held.held).toEqual(['b']);
    expect((await w.gateway.describeStack('b'))?.status).toBe('CREATE_COMPLETE');
  });
});
