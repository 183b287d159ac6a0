/**
 * The four functions built as the CDK deployment builds them (esbuildOptions of lib/infra/functions.ts:
 * esbuild, an ES module for Node 24, the same main fields, banner, minification and external modules), into a
 * directory under node_modules/.cache so that, imported as Lambda imports its handler, the modules
 * left out of the bundle are found in node_modules as Lambda finds them in its runtime.
 *
 * One difference, on purpose: the AWS SDK and Smithy packages are left out too, so that the SDK
 * the bundle runs is the one aws-sdk-client-mock replaces in the test.
 */
import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { esbuildOptions, type HandlerName } from '../../lib/infra/functions.js';

const ROOT = join(import.meta.dirname, '..', '..');

export interface FunctionBundle {
  /** The bundle's index.mjs. */
  file: string;
  /** Its text, for what it must not contain. */
  code: string;
}

export async function bundleFunctions(names: readonly HandlerName[]): Promise<Record<HandlerName, FunctionBundle>> {
  const cache = join(ROOT, 'node_modules', '.cache');
  await mkdir(cache, { recursive: true });
  const outdir = await mkdtemp(join(cache, 'cairn-function-bundles-'));
  const built = await Promise.all(
    names.map(async (name) => {
      const dir = join(outdir, name);
      const file = join(dir, 'index.mjs');
      const options = esbuildOptions();
      await build({
        ...options,
        entryPoints: [join(ROOT, 'functions', `${name}.ts`)],
        outfile: file,
        external: [...options.external, '@aws-sdk/*', '@smithy/*'],
        logLevel: 'error',
      });
      // What CairnStack copies beside the reconcile function's bundle.
      if (name === 'reconcile') await copyFile(join(ROOT, 'lib', 'adapters', 'resource-schemas.br'), join(dir, 'resource-schemas.br'));
      return [name, { file, code: await readFile(file, 'utf8') }] as const;
    }),
  );
  return Object.fromEntries(built) as Record<HandlerName, FunctionBundle>;
}
