/** The nesting bounds checked before and after parsing: exact at the limit, whatever the shortcut. */
import { describe, expect, it } from 'vitest';
import { flowNestsDeeperThan, nestsDeeperThan } from '../../lib/core/limits.js';

/** `depth` containers, each holding the next: arrays, objects, or both in turn. */
function nested(depth: number, kind: 'array' | 'object' | 'mixed'): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) {
    const asArray = kind === 'array' || (kind === 'mixed' && i % 2 === 0);
    value = asArray ? [1, value] : { a: 1, b: value };
  }
  return value;
}

describe('nestsDeeperThan', () => {
  it.each(['array', 'object', 'mixed'] as const)('holds %s nesting at the limit and refuses one level more', (kind) => {
    expect(nestsDeeperThan(nested(10, kind), 10)).toBe(false);
    expect(nestsDeeperThan(nested(11, kind), 10)).toBe(true);
  });

  it('counts depth, not size, and takes scalars and null as depth zero', () => {
    const wide = { list: Array.from({ length: 5_000 }, (_, i) => ({ i, tags: [i] })) };
    // wide, list, an item, its tags: four levels.
    expect(nestsDeeperThan(wide, 4)).toBe(false);
    expect(nestsDeeperThan(wide, 3)).toBe(true);
    for (const scalar of [null, 'x', 1, true, undefined]) expect(nestsDeeperThan(scalar, 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
  });
});

describe('flowNestsDeeperThan', () => {
  it('holds brackets nested to the limit and refuses one level more', () => {
    expect(flowNestsDeeperThan(`a: ${'['.repeat(20)}${']'.repeat(20)}\n`, 20)).toBe(false);
    expect(flowNestsDeeperThan(`a: ${'['.repeat(21)}${']'.repeat(21)}\n`, 20)).toBe(true);
    expect(flowNestsDeeperThan(`a: ${'[{'.repeat(11)}`, 21)).toBe(true);
  });

  it('reads many brackets that do not nest as shallow', () => {
    expect(flowNestsDeeperThan(`a: [${'[], {}, '.repeat(500)}]\n`, 20)).toBe(false);
  });

  it('skips brackets in quoted scalars and comments, which open nothing', () => {
    const quoted = `a: "${'['.repeat(50)}"\nb: '${'{'.repeat(50)}'\nc: 1 # ${'['.repeat(50)}\nd: [x]\n`;
    expect(flowNestsDeeperThan(quoted, 20)).toBe(false);
    expect(flowNestsDeeperThan(`${quoted}e: ${'['.repeat(21)}\n`, 20)).toBe(true);
  });
});
