/**
 * Stack dependency graph: cycle detection (naming the cycle) and waves, where a wave holds stacks
 * that depend only on earlier waves and so may be applied in parallel.
 */

/** Every cycle found, each as the list of ids around it with the first repeated at the end. */
export function findCycles(deps: Map<string, string[]>): string[][] {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (id: string): void => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of deps.get(id) ?? []) {
      if (!deps.has(dep)) continue;
      const s = state.get(dep);
      if (s === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        const key = [...cycle.slice(0, -1)].sort().join(' ');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (s === undefined) {
        visit(dep);
      }
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of [...deps.keys()].sort()) if (!state.has(id)) visit(id);
  return cycles;
}

/** Wave number of each id: 0 for no dependencies, else one more than its deepest dependency. Assumes no cycles. */
export function waves(deps: Map<string, string[]>): Map<string, number> {
  const wave = new Map<string, number>();
  const depth = (id: string): number => {
    const known = wave.get(id);
    if (known !== undefined) return known;
    const ds = (deps.get(id) ?? []).filter((d) => deps.has(d));
    const w = ds.length === 0 ? 0 : Math.max(...ds.map(depth)) + 1;
    wave.set(id, w);
    return w;
  };
  for (const id of deps.keys()) depth(id);
  return wave;
}
