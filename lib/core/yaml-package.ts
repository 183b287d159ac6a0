/**
 * The `yaml` package, loaded the first time it is needed rather than with the process: js-yaml
 * reads valid documents (fast-yaml.ts), and `yaml` is wanted only for what it declines, for errors
 * and for the lines of problems. A process that reads only valid files never loads it.
 *
 * Loaded synchronously, because the parsers that fall back to it are synchronous: with `require`
 * where there is one (a bundle made by esbuild, which bundles `require('yaml')` and runs it on the
 * first call), and otherwise with one made for this module. `yaml` is CommonJS under Node, so this
 * is the same module instance an `import` of it gives.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let loaded: typeof Yaml | undefined;

export function yamlPackage(): typeof Yaml {
  if (!loaded) {
    /* eslint-disable @typescript-eslint/no-require-imports */
    loaded = (typeof require === 'function' ? require('yaml') : createRequire(import.meta.url)('yaml')) as typeof Yaml;
    /* eslint-enable @typescript-eslint/no-require-imports */
  }
  return loaded;
}
