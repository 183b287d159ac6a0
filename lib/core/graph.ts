/**
 * Stack dependency graph: cycle detection (naming the cycle) and waves, where a wave holds stacks
 * that depend only on earlier waves and so may be applied in parallel.
 */

/**
 * Every cycle found, each as the list of ids around it with the first repeated at the end. An
 * explicit stack instead of recursion, so a chain of any length (12,000 stacks) cannot overflow.
 */
export function findCycles(deps: Map<string, string[]>): string[][] {
  const state = new Map<string, 'visiting' | 'done'>();
  // Ids on the current path, and where each sits in it, for naming a cycle without a scan.
  const path: string[] = [];
  const position = new Map<string, number>();
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const enter = (id: string): { id: string; deps: string[]; next: number } => {
    state.set(id, 'visiting');
    position.set(id, path.length);
    path.push(id);
    return { id, deps: deps.get(id) ?? [], next: 0 };
  };
  for (const root of [...deps.keys()].sort()) {
    if (state.has(root)) continue;
    const frames = [enter(root)];
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      if (frame.next === frame.deps.length) {
        frames.pop();
        path.pop();
        position.delete(frame.id);
        state.set(frame.id, 'done');
        continue;
      }
      const dep = frame.deps[frame.next++]!;
      if (!deps.has(dep)) continue;
      const s = state.get(dep);
      if (s === 'visiting') {
        const cycle = [...path.slice(position.get(dep)), dep];
        const key = [...cycle.slice(0, -1)].sort().join(' ');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (s === undefined) {
        frames.push(enter(dep));
      }
    }
  }
  return cycles;
}

/**
 * Wave number of each id: 0 for no dependencies, else one more than its deepest dependency.
 * Assumes no cycles. Iterative, like findCycles.
 */
export function waves(deps: Map<string, string[]>): Map<string, number> {
  const wave = new Map<string, number>();
  const depsOf = (id: string): string[] => (deps.get(id) ?? []).filter((d) => deps.has(d));
  // Ids whose dependencies are being worked out: meeting one again is a cycle, counted as no edge.
  const open = new Set<string>();
  for (const root of deps.keys()) {
    if (wave.has(root)) continue;
    const pending = [root];
    while (pending.length > 0) {
      const id = pending[pending.length - 1]!;
      if (wave.has(id)) {
        pending.pop();
        continue;
      }
      const unknown = open.has(id) ? [] : depsOf(id).filter((d) => !wave.has(d) && !open.has(d));
      open.add(id);
      if (unknown.length > 0) {
        pending.push(...unknown);
        continue;
      }
      pending.pop();
      open.delete(id);
      wave.set(id, depsOf(id).reduce((w, d) => Math.max(w, (wave.get(d) ?? -1) + 1), 0));
    }
  }
  return wave;
}
