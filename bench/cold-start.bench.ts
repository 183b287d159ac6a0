/**
 * Cold starts of the four Lambda functions, as deployed: the bundles `cdk synth` produces (the
 * project's own CDK CLI and app, with the example configuration when there is no
 * cairn.deploy.json), each imported in a fresh Node process with the environment the synthesised
 * template gives its function, as a new Lambda environment imports its handler. The externals
 * resolve from node_modules, as in Lambda they resolve from the runtime's own SDK.
 *
 * Beside each, in the same run and interleaved with it (one fresh process of each candidate per
 * round, so load on the machine reaches all alike), its floor: a minimal handler that imports the
 * same SDK clients the bundle imports at init, constructs each once and sends one command from its
 * handler, bundled with the same esbuild options (esbuildOptions in lib/infra/functions.ts) in
 * three variants: as the function is deployed, with the SDK from the runtime (every @aws-sdk and
 * @smithy package external), and with the SDK bundled. The ratio is against the floor as deployed.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { RESOURCE_SCHEMAS_FILE } from '../lib/adapters/resource-schema-file.js';
import { esbuildOptions, LOADED_AT_FIRST_USE, type HandlerName } from '../lib/infra/functions.js';
import { round, summary, type BenchContext, type BenchModule } from './harness.js';

const execFileAsync = promisify(execFile);

const HANDLERS: readonly HandlerName[] = ['webhook', 'stack-events', 'sweep', 'reconcile'];

/** Issue 19's targets for the median fresh-process import, in ms. */
const TARGET_MS: Record<HandlerName, number> = { webhook: 100, 'stack-events': 150, sweep: 150, reconcile: 250 };

/** The client class and one command the floor sends, per SDK client package. */
const CLIENTS: Record<string, { client: string; command: string; input: string }> = {
  'client-cloudformation': { client: 'CloudFormationClient', command: 'DescribeStacksCommand', input: '{ StackName: e.stack }' },
  'client-s3': { client: 'S3Client', command: 'HeadObjectCommand', input: '{ Bucket: e.bucket, Key: e.key }' },
  'client-secrets-manager': { client: 'SecretsManagerClient', command: 'GetSecretValueCommand', input: '{ SecretId: e.secret }' },
  'client-sqs': { client: 'SQSClient', command: 'SendMessageCommand', input: '{ QueueUrl: e.queue, MessageBody: e.body }' },
  'client-sts': { client: 'STSClient', command: 'AssumeRoleCommand', input: '{ RoleArn: e.role, RoleSessionName: e.session }' },
};

/** The repository root, whether this runs from bench/ or from dist/bench/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'cdk.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('could not find cdk.json above the bench module');
    dir = parent;
  }
  return dir;
}

interface Synthesised {
  handler: HandlerName;
  /** The asset directory: index.mjs, its source map, and any file copied beside it. */
  dir: string;
  file: string;
  env: Record<string, string>;
}

/** A plausible value for what a template names by Ref or Fn::GetAtt, so the handler's environment parses as in AWS. */
type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function resolveValue(value: Json, resources: Record<string, { Type: string }>): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    if ('Fn::Join' in value) {
      const [sep, parts] = value['Fn::Join'] as [string, Json[]];
      return parts.map((p) => resolveValue(p, resources)).join(sep);
    }
    if ('Ref' in value) {
      const id = value['Ref'] as string;
      const pseudo: Record<string, string> = { 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '123456789012', 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com' };
      if (pseudo[id]) return pseudo[id];
      if (resources[id]?.Type === 'AWS::SQS::Queue') return `https://sqs.eu-west-1.amazonaws.com/123456789012/${id}.fifo`;
      return id.toLowerCase();
    }
    if ('Fn::GetAtt' in value) {
      const [id] = value['Fn::GetAtt'] as [string, string];
      if (resources[id]?.Type === 'AWS::IAM::Role') return `arn:aws:iam::123456789012:role/${id}`;
      return `arn:aws:service:eu-west-1:123456789012:${id}`;
    }
  }
  throw new Error(`cannot stand in for ${JSON.stringify(value)} in a function's environment`);
}

/** Run `cdk synth` with the project's CLI and app (cdk.json) into `outdir`; the four functions it bundled. */
async function synthesise(root: string, outdir: string): Promise<Synthesised[]> {
  const cdk = join(root, 'node_modules', '.bin', 'cdk');
  await execFileAsync(cdk, ['synth', '--output', outdir, '--quiet', '--no-notices', '--no-version-reporting'], {
    cwd: root,
    // No account lookups: the stack is environment-agnostic unless CDK_DEFAULT_ACCOUNT is set.
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const templates = readdirSync(outdir).filter((f) => f.endsWith('.template.json'));
  if (templates.length !== 1) throw new Error(`cdk synth wrote ${templates.length} templates to ${outdir}, expected one`);
  const template = JSON.parse(readFileSync(join(outdir, templates[0]!), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, Json>; Metadata?: Record<string, Json> }> };
  const found: Synthesised[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const asset = resource.Metadata?.['aws:asset:path'];
    if (typeof asset !== 'string') throw new Error('a function in the synthesised template has no aws:asset:path metadata');
    const dir = join(outdir, asset);
    const file = join(dir, 'index.mjs');
    const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
    const handler = HANDLERS.find((h) => sources.some((s) => s.endsWith(`functions/${h}.ts`)));
    if (!handler) throw new Error(`the bundle in ${asset} is none of the four handlers`);
    const variables = ((resource.Properties['Environment'] as { Variables?: Record<string, Json> } | undefined)?.Variables ?? {}) as Record<string, Json>;
    const env = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, resolveValue(v, template.Resources)]));
    found.push({ handler, dir, file, env });
  }
  const missing = HANDLERS.filter((h) => !found.some((f) => f.handler === h));
  if (missing.length) throw new Error(`cdk synth produced no bundle for ${missing.join(', ')}`);
  return HANDLERS.map((h) => found.find((f) => f.handler === h)!);
}

/**
 * The SDK client packages a bundle imports at init: those bundled into it and those it imports
 * statically from the runtime, less those the code imports only at first use (LOADED_AT_FIRST_USE,
 * which a test of the stack holds to that).
 */
function clientsAtInit(file: string): string[] {
  const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
  const bundled = sources.flatMap((s) => /(?:^|\/)@aws-sdk\/(client-[a-z0-9-]+)\//.exec(s)?.[1] ?? []);
  const code = readFileSync(file, 'utf8');
  const fromRuntime = [...code.matchAll(/\b(?:from|import)\s*"@aws-sdk\/(client-[a-z0-9-]+)"/g)].map((m) => m[1]!);
  const later = new Set(LOADED_AT_FIRST_USE.map((m) => m.replace('@aws-sdk/', '')));
  return [...new Set([...bundled, ...fromRuntime])].filter((c) => !later.has(c)).sort();
}

/** A minimal handler that imports `clients`, makes each once at init and sends one command per invocation. */
function floorSource(clients: string[]): string {
  const lines = clients.map((c, i) => {
    const known = CLIENTS[c];
    if (!known) throw new Error(`the floor knows no command of @aws-sdk/${c}`);
    return { imp: `import { ${known.client}, ${known.command} } from '@aws-sdk/${c}';`, make: `const c${i} = new ${known.client}({});`, send: `c${i}.send(new ${known.command}(${known.input}))` };
  });
  return [
    ...lines.map((l) => l.imp),
    ...lines.map((l) => l.make),
    `export const handler = async (e: Record<string, string>) => Promise.all([${lines.map((l) => l.send).join(', ')}]);`,
    '',
  ].join('\n');
}

interface Candidate {
  label: string;
  file: string;
  env: Record<string, string>;
  times: number[];
}

/** Milliseconds to import `file` in a fresh process: node started, the module loaded and evaluated, as a Lambda init. */
function importMs(candidate: Candidate): number {
  const script = `const s = performance.now(); await import(${JSON.stringify(pathToFileURL(candidate.file).href)}); process.stdout.write(String(performance.now() - s));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '--no-warnings', '-e', script], {
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'] ?? '',
      // What Lambda puts in every function's environment, besides the template's variables.
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'example-secret-access-key',
      AWS_SESSION_TOKEN: 'example-session-token',
      AWS_LAMBDA_FUNCTION_NAME: 'cairn-bench',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      ...candidate.env,
    },
  });
  const ms = Number(r.stdout);
  if (r.status !== 0 || !Number.isFinite(ms)) throw new Error(`importing ${candidate.label} failed (exit ${r.status}): ${r.stderr.slice(0, 800)}`);
  return ms;
}

export const coldStartBench: BenchModule = {
  name: 'cold',
  command: 'npm run bench -- cold',
  async run(ctx: BenchContext) {
    const root = repoRoot();
    // Under node_modules, so that what a bundle leaves out resolves there, as Lambda resolves it in its runtime.
    const cache = join(root, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    const work = mkdtempSync(join(cache, 'cairn-bench-cold-'));
    try {
      const functions = await synthesise(root, join(work, 'cdk.out'));
      const candidates: Candidate[] = [];
      const floors = new Map<string, Candidate>();
      const byHandler = new Map<HandlerName, { fn: Candidate; clients: string[]; deployed: Candidate; runtime: Candidate; bundled: Candidate; bytes: number; extra: number }>();
      for (const f of functions) {
        const clients = clientsAtInit(f.file);
        const source = join(work, `floor-${f.handler}.ts`);
        writeFileSync(source, floorSource(clients));
        const options = esbuildOptions();
        const variants = {
          deployed: options.external,
          runtime: ['@aws-sdk/*', '@smithy/*', ...options.external],
          bundled: options.external.filter((m) => !/^@aws-sdk\/client-/.test(m)),
        };
        const made: Partial<Record<keyof typeof variants, Candidate>> = {};
        for (const [variant, external] of Object.entries(variants) as [keyof typeof variants, string[]][]) {
          const outfile = join(work, `floor-${f.handler}-${variant}`, 'index.mjs');
          await build({ ...options, entryPoints: [source], outfile, external, logLevel: 'error' });
          // Floors that came out the same (every client already bundled, say) are measured once.
          const key = `${clients.join(',')}|${JSON.stringify(f.env)}|${createHash('sha256').update(readFileSync(outfile)).digest('hex')}`;
          let floor = floors.get(key);
          if (!floor) {
            floor = { label: `floor of ${f.handler} (${variant})`, file: outfile, env: f.env, times: [] };
            floors.set(key, floor);
            candidates.push(floor);
          }
          made[variant] = floor;
        }
        const fn: Candidate = { label: f.handler, file: f.file, env: f.env, times: [] };
        candidates.push(fn);
        const extra = readdirSync(f.dir)
          .filter((n) => n !== 'index.mjs' && !n.endsWith('.map'))
          .reduce((sum, n) => sum + statSync(join(f.dir, n)).size, 0);
        byHandler.set(f.handler, { fn, clients, deployed: made.deployed!, runtime: made.runtime!, bundled: made.bundled!, bytes: statSync(f.file).size, extra });
      }

      // One uncounted import of each, then rounds of one fresh process per candidate.
      for (const c of candidates) importMs(c);
      const rounds = Math.max(7, Math.round(21 * ctx.scale));
      for (let i = 0; i < rounds; i++) {
        const order = i % 2 === 0 ? candidates : [...candidates].reverse();
        for (const c of order) c.times.push(importMs(c));
      }

      const ms = (c: Candidate) => summary(c.times, 1);
      for (const handler of HANDLERS) {
        const { fn, clients, deployed, runtime, bundled, bytes, extra } = byHandler.get(handler)!;
        const own = ms(fn);
        const floor = ms(deployed);
        const target = TARGET_MS[handler];
        const sdk = clients.map((c) => c.replace(/^client-/, '')).join(', ') || 'none';
        ctx.add({
          group: 'cold',
          name: `${handler}: fresh-process import of the synthesised bundle`,
          ...own,
          unit: 'ms',
          target: `<= ${target}`,
          ok: own.value <= target,
          detail: `median of ${rounds} fresh processes, interleaved with its floor (SDK clients at init: ${sdk}): as deployed ${floor.value} ms, SDK from the runtime ${ms(runtime).value} ms, SDK bundled ${ms(bundled).value} ms`,
        });
        ctx.add({
          group: 'cold',
          name: `${handler}: import / its floor as deployed`,
          value: round(own.value / floor.value, 2),
          unit: 'ratio',
          detail: `${own.value} ms against ${floor.value} ms (${floor.spread[0]}–${floor.spread[1]}) for a handler that imports only ${sdk}, bundled as ${handler} is`,
        });
        const kb = round(bytes / 1024, 1);
        if (handler === 'reconcile') {
          const total = round((bytes + extra) / 1024, 1);
          ctx.add({
            group: 'cold',
            name: 'reconcile: bundle with its resource schemas, as synthesised',
            value: total,
            unit: 'KB',
            target: '< 1024',
            ok: bytes + extra < 1024 * 1024,
            detail: `index.mjs ${kb} KB + ${RESOURCE_SCHEMAS_FILE} ${round(extra / 1024, 1)} KB (cdk synth)`,
          });
        } else {
          ctx.add({ group: 'cold', name: `${handler}: bundle, as synthesised`, value: kb, unit: 'KB', detail: 'index.mjs (cdk synth), without its source map' });
        }
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
