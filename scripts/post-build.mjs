// After `tsc`: bundles the command line into dist/bin/cairn.js (its commands split into chunks
// under dist/bin/cli/, loaded when chosen), makes it executable so `npx cairn` works straight
// after `npm ci`, and puts the packaged resource schemas beside the modules that read them.
//
// Why a bundle: the CLI's modules are about 130 of Cairn's own files and 285 of zod's, and Node
// resolves and compiles each ES module file separately; one bundle took a small `cairn validate`
// from about 230 ms to 165 ms, whole process. The rest of dist/ stays tsc's output, file for
// file (the benchmarks and the CDK app import it). Packages the CLI loads only on some paths stay
// outside: the AWS SDK (--target aws), isomorphic-git (an abbreviated SHA), yaml (a template the
// fast parser declines) and the CDK.
import { chmodSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
// tsc has just written it; the same first line as the Lambda bundles'.
import { CREATE_REQUIRE_BANNER } from '../dist/lib/infra/esm-banner.js';

const at = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

rmSync(at('dist/bin/cli'), { recursive: true, force: true });
await build({
  entryPoints: { cairn: at('bin/cairn.ts') },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: at('dist/bin'),
  entryNames: '[name]',
  chunkNames: 'cli/[name]-[hash]',
  // Smaller to read and compile at every start (6% of a cold validate --repo); names kept for messages.
  minify: true,
  keepNames: true,
  sourcemap: true,
  sourcesContent: false,
  external: ['@aws-sdk/*', '@smithy/*', 'isomorphic-git', 'yaml', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs', 'esbuild', '@aws-cdk/*', '@aws-lambda-powertools/*'],
  banner: { js: CREATE_REQUIRE_BANNER },
  logLevel: 'warning',
});
chmodSync(at('dist/bin/cairn.js'), 0o755);

copyFileSync(at('lib/adapters/resource-schemas.br'), at('dist/lib/adapters/resource-schemas.br'));
mkdirSync(at('dist/bin/cli'), { recursive: true });
copyFileSync(at('lib/adapters/resource-schemas.br'), at('dist/bin/cli/resource-schemas.br'));
