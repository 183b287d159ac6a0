/** The cache's bookkeeping: what a fetch adds to an entry, and when a generation is replaced. */
import { describe, expect, it } from 'vitest';
import { needsNewGeneration, nextState, type CacheState } from '../../../lib/adapters/git-cache.js';

const base = { url: 'https://git.example.com/org/infra.git', branch: 'main' };
const sha = (n: number): string => n.toString(16).padStart(40, '0');

describe('nextState', () => {
  it('starts a generation with one tip and its pack as the base', () => {
    expect(nextState(undefined, { ...base, generation: 'g-1', head: sha(1), packBytes: 1000 })).toEqual({
      version: 1,
      ...base,
      generation: 'g-1',
      head: sha(1),
      tips: [sha(1)],
      basePackBytes: 1000,
      packBytes: 1000,
      packs: 1,
    });
  });

  it('adds an incremental pack to the same generation, newest tip first', () => {
    const one = nextState(undefined, { ...base, generation: 'g-1', head: sha(1), packBytes: 1000 });
    const two = nextState(one, { ...base, generation: 'g-1', head: sha(2), packBytes: 40 });
    expect(two).toMatchObject({ head: sha(2), tips: [sha(2), sha(1)], basePackBytes: 1000, packBytes: 1040, packs: 2 });
  });

  it('keeps every tip of a generation until it is replaced, at 128 tips', () => {
    let state = nextState(undefined, { ...base, generation: 'g-1', head: sha(0), packBytes: 1000 });
    for (let i = 1; i < 127; i++) state = nextState(state, { ...base, generation: 'g-1', head: sha(i), packBytes: 0 });
    expect(state.tips).toHaveLength(127);
    expect(state.tips[0]).toBe(sha(126));
    expect(state.tips).toContain(sha(0));
    expect(needsNewGeneration(state)).toBe(false);
    expect(needsNewGeneration(nextState(state, { ...base, generation: 'g-1', head: sha(127), packBytes: 0 }))).toBe(true);
  });

  it('resets the counts when the fetch went into a new generation', () => {
    const one = nextState(undefined, { ...base, generation: 'g-1', head: sha(1), packBytes: 1000 });
    expect(nextState(one, { ...base, generation: 'g-2', head: sha(2), packBytes: 900 })).toMatchObject({ tips: [sha(2)], packs: 1, packBytes: 900 });
  });
});

describe('needsNewGeneration', () => {
  const state = (packBytes: number, packs: number, basePackBytes = 10 * 1024 * 1024): CacheState => ({
    version: 1,
    ...base,
    generation: 'g-1',
    head: sha(1),
    tips: [sha(1)],
    basePackBytes,
    packBytes,
    packs,
  });

  it('keeps adding packs while they are small beside the base', () => {
    expect(needsNewGeneration(state(12 * 1024 * 1024, 20))).toBe(false);
  });

  it('starts over once incremental packs outweigh the base', () => {
    expect(needsNewGeneration(state(22 * 1024 * 1024, 20))).toBe(true);
  });

  it('starts over after 64 packs, however small', () => {
    expect(needsNewGeneration(state(10 * 1024 * 1024 + 64, 64))).toBe(true);
  });

  it('gives a small repository a megabyte of slack before starting over', () => {
    expect(needsNewGeneration(state(900 * 1024, 10, 30 * 1024))).toBe(false);
    expect(needsNewGeneration(state(1200 * 1024, 10, 30 * 1024))).toBe(true);
  });
});
