/**
 * The example Cairn ships (examples/platform): where it is, from the built CLI (dist/lib/cli) or the
 * sources (lib/cli), and its files by path, for `cairn init`, `cairn demo` and the tests.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest examples/platform above this module: the package's own. */
function findExample(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'examples', 'platform');
    if (existsSync(join(candidate, 'cairn.yaml'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the example examples/platform is missing from this installation of Cairn');
    dir = parent;
  }
}

export const EXAMPLE_DIR = findExample();

/** examples/platform as files by path (forward slashes). */
export function exampleFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files[relative(EXAMPLE_DIR, path).split('\\').join('/')] = readFileSync(path, 'utf8');
    }
  };
  walk(EXAMPLE_DIR);
  return files;
}
