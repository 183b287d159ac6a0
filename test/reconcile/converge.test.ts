/**
 * Converge reports stack status changes in the order they happened: a wave's CREATE_COMPLETE comes
 * before the change set of the wave it lets start, never after it.
 */
import { describe, expect, it } from 'vitest';
import type { CairnEvent } from '../../lib/ports/events.js';
import { repo, world } from '../helpers/world.js';

const label = (e: CairnEvent): string | undefined => {
  if (e.type === 'stack.progress') return `${e.stack} ${e.status}`;
  if (e.type === 'changeset.created') return `${e.stack} change set`;
  if (e.type === 'stack.action') return `${e.stack} ${e.action}`;
  return undefined;
};

describe('Use case: converge reports progress as it happens', () => {
  it("reports a wave's CREATE_COMPLETE before the next wave's change set, and every status a stack went through", async () => {
    const w = world();
    const result = await w.converge(await w.desired(repo()));
    expect(result.outcome).toBe('succeeded');
    const lines = w.sink.events.map(label).filter((l): l is string => l !== undefined);
    const at = (line: string): number => {
      const i = lines.indexOf(line);
      expect(i, `"${line}" in ${JSON.stringify(lines)}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(at('network CREATE_COMPLETE')).toBeLessThan(at('app change set'));
    expect(at('data CREATE_COMPLETE')).toBeLessThan(at('app change set'));
    expect(at('network create')).toBeLessThan(at('network CREATE_COMPLETE'));
    expect(at('app create')).toBeLessThan(at('app CREATE_COMPLETE'));
    // One report per change: no status is repeated for a stack.
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('reports a pruned stack as DELETE_COMPLETE once listings no longer show it', async () => {
    const w = world();
    const cairn = (stacks: string): string => `version: 1\ndefaults: {prune: true}\nstacks:\n${stacks}`;
    await w.converge(await w.desired(repo({ cairn: cairn('  data: {template: data.yaml}\n  old: {template: data.yaml}\n  more: {template: data.yaml}\n') })));
    w.sink.events.length = 0;
    const result = await w.converge(await w.desired(repo({ cairn: cairn('  data: {template: data.yaml}\n  more: {template: data.yaml}\n') })));
    expect(result.outcome).toBe('succeeded');
    const lines = w.sink.events.map(label).filter((l): l is string => l !== undefined);
    expect(lines.filter((l) => l.startsWith('old '))).toEqual(['old delete', 'old DELETE_COMPLETE']);
  });
});
