/**
 * What a command works on: the source (a directory, a repository on disk or a Git URL), its name,
 * and the account (the embedded simulated one under $CAIRN_HOME, or AWS). Heavy modules load here,
 * only for the commands that need them.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { GatewayFactory, StackGateway } from '../ports/stack-gateway.js';
import type { SourceRepo } from '../ports/source-repo.js';
import { UsageError } from './args.js';

export type Target = 'embedded' | 'aws';

export interface SourceOptions {
  repo?: string;
  ref?: string;
  source?: string;
  target?: string;
  region?: string;
}

export function cairnHome(): string {
  return resolve(process.env['CAIRN_HOME'] ?? '.cairn');
}

export function defaultRegion(explicit?: string): string {
  return explicit ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
}

export function parseTarget(value: string | undefined): Target {
  const t = value ?? process.env['CAIRN_TARGET'] ?? 'embedded';
  if (t !== 'embedded' && t !== 'aws') throw new UsageError(`--target: "${t}" is not a target; use embedded or aws`);
  return t;
}

/** The source's name: given, or the repository's own name (directory or URL, without .git). */
export function sourceName(options: SourceOptions, dir: string | undefined): string {
  if (options.source) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.source)) {
      throw new UsageError(`--source: "${options.source}" is not a valid source name; use lowercase letters, digits and hyphens`);
    }
    return options.source;
  }
  const from = options.repo ? options.repo.replace(/[?#].*$/, '').replace(/\/+$/, '') : resolve(dir ?? '.');
  const name = basename(from).replace(/\.git$/, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return name || 'default';
}

export async function openRepo(options: SourceOptions, dir: string | undefined): Promise<SourceRepo> {
  if (options.repo && dir) throw new UsageError(`give either a directory or --repo, not both`);
  if (options.ref && !options.repo) throw new UsageError(`--ref goes with --repo`);
  const path = resolve(dir ?? '.');
  if (!options.repo && !existsSync(join(path, 'HEAD'))) {
    // A plain directory (the common case) is read as it is, without loading a Git library.
    const { WorkingTreeSource } = await import('../adapters/working-tree-source.js');
    if (!existsSync(path)) throw new UsageError(`${path} does not exist; give the directory that holds cairn.yaml`);
    return new WorkingTreeSource({ dir: path });
  }
  const { openSource } = await import('../adapters/local-source.js');
  return openSource(options.repo ? { repo: options.repo, ref: options.ref } : { dir: path });
}

export interface Account {
  target: Target;
  gateways: GatewayFactory;
  /** A readable description, e.g. "embedded account (us-east-1)". */
  description: string;
  close(): Promise<void>;
}

export async function openAccount(targetOption: string | undefined, regionOption: string | undefined): Promise<Account> {
  const target = parseTarget(targetOption);
  const region = defaultRegion(regionOption);
  const cache = new Map<string, StackGateway>();
  const memo = (make: (r: string) => StackGateway): GatewayFactory => (r) => {
    const key = r ?? region;
    let g = cache.get(key);
    if (!g) cache.set(key, (g = make(key)));
    return g;
  };
  if (target === 'aws') {
    const { CloudFormationGateway } = await import('../adapters/cloudformation-gateway.js');
    const bucket = process.env['CAIRN_TEMPLATE_BUCKET'];
    return {
      target,
      gateways: memo((r) => new CloudFormationGateway({ region: r, templateBucket: bucket })),
      description: `AWS account (${region}${process.env['AWS_ENDPOINT_URL'] ? `, endpoint ${process.env['AWS_ENDPOINT_URL']}` : ''})`,
      close: async () => undefined,
    };
  }
  const { EmbeddedAccount } = await import('../adapters/embedded-account/index.js');
  const { withRetries } = await import('../adapters/retrying-gateway.js');
  const home = cairnHome();
  const account = new EmbeddedAccount({ home, region, autoAdvance: true });
  return {
    target,
    gateways: memo((r) => withRetries(account.gateway(r))),
    description: `embedded account (${region}, ${home})`,
    close: async () => {
      account.close();
    },
  };
}
