/**
 * What a command works on: the source (a directory, a repository on disk or a Git URL, at a commit),
 * its name (cairn.yaml's `source:`, or --source), and the account (the embedded simulated one under
 * the per-user state directory, or AWS). Heavy modules load here, only for the commands that need them.
 */
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { messageOf, ValidationError } from '../core/errors.js';
import type { DestinationPolicy } from '../core/policy.js';
import { AccountIdSchema, findSource, parseDeploymentConfig, RegionSchema, RoleArnSchema, SourceNameSchema, type SourceConfig } from '../core/source-config.js';
import type { DesiredState } from '../core/model.js';
import type { GatewayFactory, StackGateway } from '../ports/stack-gateway.js';
import type { SourceRepo, SourceSnapshot } from '../ports/source-repo.js';
import type { ProgressListener } from '../ports/progress.js';
import type { UncommittedFile } from '../adapters/local-source.js';
import { UsageError } from './args.js';
import { describeCommit } from './render.js';
import { style } from './style.js';

export type Target = 'embedded' | 'aws';

export interface SourceOptions {
  repo?: string;
  ref?: string;
  path?: string;
  source?: string;
  target?: string;
  region?: string;
  'allow-dirty'?: boolean;
  'allow-role'?: string[];
  'allow-region'?: string[];
  'allow-account'?: string[];
  'deploy-config'?: string;
  'token-env'?: string;
  'token-file'?: string;
}

/** A source's destinations as the CLI was given them, for the policy check (region decided later). */
export type GivenDestinations = Omit<DestinationPolicy, 'source' | 'defaultRegion'>;

/**
 * The destinations --deploy-config (the source's entry in a cairn.deploy.json) and --allow-role /
 * --allow-region / --allow-account give for `source`, or undefined when none were given. The flags
 * add to the file's.
 */
export function destinationsFor(options: SourceOptions, source: string): GivenDestinations | undefined {
  const roles = options['allow-role'] ?? [];
  const regions = options['allow-region'] ?? [];
  const accounts = options['allow-account'] ?? [];
  for (const role of roles) {
    if (!RoleArnSchema.safeParse(role).success) throw new UsageError(`--allow-role: "${role}" is not an IAM role ARN such as arn:aws:iam::123456789012:role/cairn-deployer`);
  }
  for (const region of regions) {
    if (!RegionSchema.safeParse(region).success) throw new UsageError(`--allow-region: "${region}" is not an AWS region such as eu-west-1`);
  }
  for (const account of accounts) {
    if (!AccountIdSchema.safeParse(account).success) throw new UsageError(`--allow-account: "${account}" is not a 12-digit AWS account id such as 123456789012`);
  }
  const file = options['deploy-config'];
  let configured: SourceConfig | undefined;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`--deploy-config: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--deploy-config: ${file} is not valid JSON: ${messageOf(error)}`);
    }
    const config = parseDeploymentConfig({ sources: (data as { sources?: unknown } | null)?.sources }, file);
    configured = findSource(config, source);
    if (!configured) {
      throw new UsageError(`--deploy-config: ${file} has no source named "${source}" (it has ${config.sources.map((s) => s.name).join(', ') || 'none'}); pass --source NAME or add the source to the file`);
    }
  }
  if (!configured && roles.length === 0 && regions.length === 0 && accounts.length === 0) return undefined;
  const fileRoles = configured?.destinations?.roleArns;
  const fileRegions = configured?.destinations?.regions;
  const fileAccounts = configured?.destinations?.accounts;
  const where = [
    file ? `${file}, source ${source}` : undefined,
    roles.length ? '--allow-role' : undefined,
    regions.length ? '--allow-region' : undefined,
    accounts.length ? '--allow-account' : undefined,
  ]
    .filter(Boolean)
    .join('; ');
  return {
    ...(fileRoles || roles.length ? { roleArns: [...(fileRoles ?? []), ...roles] } : {}),
    ...(fileRegions || regions.length ? { regions: [...(fileRegions ?? []), ...regions] } : {}),
    ...(fileAccounts || accounts.length ? { accounts: [...(fileAccounts ?? []), ...accounts] } : {}),
    ...(configured?.roleArn ? { defaultRoleArn: configured.roleArn } : {}),
    configuredIn: where,
  };
}

/**
 * Where the embedded account lives: $CAIRN_HOME, else the per-user state directory
 * ($XDG_STATE_HOME/cairn, ~/.local/state/cairn; the platform's equivalent on macOS and Windows),
 * never inside the repository being read.
 */
export function cairnHome(): string {
  const explicit = process.env['CAIRN_HOME'];
  if (explicit) return resolve(explicit);
  if (process.platform === 'win32') return join(process.env['LOCALAPPDATA'] || join(homedir(), 'AppData', 'Local'), 'cairn');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'cairn');
  return join(process.env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'cairn');
}

/** Analysed templates kept in memory and, across runs, under the state directory. */
async function templateStore(): Promise<import('../core/template-cache.js').TemplateStore> {
  const [{ layeredStore, sharedTemplateStore }, { TemplateCacheDir }] = await Promise.all([import('../core/template-cache.js'), import('../adapters/template-cache-dir.js')]);
  return layeredStore(sharedTemplateStore, new TemplateCacheDir({ dir: join(cairnHome(), 'template-cache') }));
}

/** Who is running this command, for what is recorded or logged in their name (an approval, an override). */
export function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? 'unknown user';
  }
}

/** Where `cairn approve` and `cairn reject` keep their decisions, and `cairn serve` reads them. */
export function approvalsDir(): string {
  return join(cairnHome(), 'approvals');
}

export function defaultRegion(explicit?: string): string {
  return explicit ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
}

export function parseTarget(value: string | undefined): Target {
  const t = value ?? process.env['CAIRN_TARGET'] ?? 'embedded';
  if (t !== 'embedded' && t !== 'aws') throw new UsageError(`--target: "${t}" is not a target; use embedded or aws`);
  return t;
}

/** The token secret for a private https repository: --token-env names a variable, --token-file a file. */
async function tokenOptions(options: SourceOptions): Promise<{ tokenSecret: string; secrets: import('../ports/secrets.js').SecretProvider } | Record<string, never>> {
  const env = options['token-env'];
  const file = options['token-file'];
  if (env && file) throw new UsageError('give either --token-env or --token-file, not both');
  if (!env && !file) return {};
  if (!options.repo || !/^https?:\/\//i.test(options.repo)) throw new UsageError(`--token-${env ? 'env' : 'file'} is for an https repository given with --repo URL; a repository on disk needs no token`);
  if (env) {
    if (!process.env[env]) throw new UsageError(`--token-env: the environment variable ${env} is not set; export it with the token`);
    const { EnvSecrets } = await import('../adapters/env-secrets.js');
    return { tokenSecret: env, secrets: new EnvSecrets() };
  }
  const { FileSecrets } = await import('../adapters/file-secrets.js');
  return { tokenSecret: resolve(file!), secrets: new FileSecrets() };
}

/** A source opened for reading, and, for a Git work tree, the adapter that knows its uncommitted edits. */
export interface OpenedRepo {
  repo: SourceRepo;
  local?: import('../adapters/local-source.js').LocalGitSource;
}

export async function openRepo(options: SourceOptions, dir: string | undefined, progress?: ProgressListener): Promise<OpenedRepo> {
  if (options.repo && dir) throw new UsageError(`give either a directory or --repo, not both`);
  if (options.source !== undefined && !SourceNameSchema.safeParse(options.source).success) {
    throw new UsageError(`--source: "${options.source}" is not a valid source name; use lower-case letters, digits and hyphens, starting with a letter or digit`);
  }
  const path = resolve(dir ?? '.');
  if (!options.repo) {
    if (!existsSync(path)) throw new UsageError(`${path} does not exist; give the directory that holds cairn.yaml`);
    const { locateRepository } = await import('../adapters/repository-location.js');
    if (!locateRepository(path)) {
      if (options.ref) throw new UsageError(`--ref: ${path} is not in a Git repository, so it has no refs; leave --ref out to read the directory as it is`);
      // A directory outside Git is read as it is, without loading a Git library.
      const { WorkingTreeSource } = await import('../adapters/working-tree-source.js');
      const { normaliseSourcePath } = await import('../adapters/source-errors.js');
      return { repo: new WorkingTreeSource({ dir: join(path, normaliseSourcePath(options.path, { source: path })) }) };
    }
  }
  const { openSource, LocalGitSource } = await import('../adapters/local-source.js');
  const repo = openSource({
    ...(options.repo ? { repo: options.repo } : { dir: path }),
    ...(options.ref ? { ref: options.ref } : {}),
    ...(options.path ? { path: options.path } : {}),
    ...(await tokenOptions(options)),
    progress,
  });
  return repo instanceof LocalGitSource ? { repo, local: repo } : { repo };
}

/** What a command reads: the snapshot, its desired state (or the problems that prevent one), its name. */
export interface LoadedSource {
  repo: SourceRepo;
  snapshot: SourceSnapshot;
  /** cairn.yaml's `source:`, or --source; undefined only when neither names one. */
  source: string | undefined;
  desired: DesiredState | undefined;
  problems: ValidationError | undefined;
  /** Files cairn.yaml reads whose work-tree content is not what the commit holds. */
  uncommitted: UncommittedFile[];
  /** True when the work tree was read as it is (--allow-dirty with uncommitted edits). */
  dirty: boolean;
}

export interface LoadMode {
  /** `cairn apply` and `serve`: uncommitted edits to files cairn.yaml reads stop the command, unless --allow-dirty. */
  refuseUncommitted?: { command: string; allowDirty: string };
  /** The progress line's listener (lib/cli/progress.ts): told of the fetch and of the templates read and validated. */
  progress?: ProgressListener;
}

/** A source whose repository is valid at the commit read. */
export type ValidSource = LoadedSource & { desired: DesiredState; source: string };

/** inspectSource for commands that need a valid repository: its problems are thrown as a ValidationError. */
export async function loadSource(options: SourceOptions, dir: string | undefined, mode: LoadMode = {}): Promise<ValidSource> {
  const loaded = await inspectSource(options, dir, mode);
  if (!loaded.desired) throw loaded.problems!;
  return { ...loaded, desired: loaded.desired, source: loaded.desired.source };
}

/**
 * Read the source at its commit (or, with --allow-dirty, the work tree), load cairn.yaml, and
 * check for uncommitted edits. An invalid repository comes back with its problems (for `status`
 * and `drift`, which still show what the source owns).
 */
export async function inspectSource(options: SourceOptions, dir: string | undefined, mode: LoadMode = {}): Promise<LoadedSource> {
  const { loadDesired } = await import('../reconcile/load-desired.js');
  const templates = await templateStore();
  const { progress } = mode;
  const opened = await openRepo(options, dir, progress);
  let repo = opened.repo;
  let snapshot = await repo.snapshot();
  const read = async (s: SourceSnapshot): Promise<{ desired?: DesiredState; problems?: ValidationError }> => {
    try {
      const region = defaultRegion(options.region);
      return {
        desired: await loadDesired(s, options.source, {
          sourceFrom: 'flag',
          templates,
          progress,
          destinations: (name) => {
            const given = destinationsFor(options, name);
            return given && { ...given, defaultRegion: region };
          },
        }),
      };
    } catch (error) {
      if (error instanceof ValidationError) return { problems: error };
      throw error;
    } finally {
      progress?.({ phase: 'templates', finished: true });
    }
  };
  let uncommitted: UncommittedFile[] = [];
  let loaded: { desired?: DesiredState; problems?: ValidationError };
  if (opened.local) {
    const { recordReads } = await import('../adapters/local-source.js');
    const recorded = recordReads(snapshot);
    loaded = await read(recorded.snapshot);
    uncommitted = await opened.local.uncommitted(recorded.reads);
  } else loaded = await read(snapshot);
  let dirty = false;
  if (uncommitted.length > 0 && opened.local) {
    if (options['allow-dirty']) {
      repo = opened.local.workTree(snapshot.commit);
      snapshot = await repo.snapshot();
      loaded = await read(snapshot);
      dirty = true;
    } else if (mode.refuseUncommitted) {
      throw new UsageError(uncommittedRefusal(uncommitted, snapshot.commit, mode.refuseUncommitted));
    } else {
      process.stderr.write(`${uncommittedNote(uncommitted, snapshot.commit)}
`);
    }
  }
  const source = loaded.desired?.source ?? options.source ?? (await declaredSource(snapshot));
  return { repo, snapshot, source, desired: loaded.desired, problems: loaded.problems, uncommitted, dirty };
}

/** The source name, for a command that cannot go on without one. */
export function requireSourceName(loaded: LoadedSource): string {
  if (loaded.source) return loaded.source;
  throw new UsageError('cairn.yaml names no source: add `source: NAME` at its top level (lower-case letters, digits and hyphens), or pass --source NAME');
}

/** cairn.yaml's `source:` when the file parses that far, for commands that go on with an invalid repository. */
async function declaredSource(snapshot: SourceSnapshot): Promise<string | undefined> {
  const { LIMITS, flowNestsDeeperThan } = await import('../core/limits.js');
  const bytes = await snapshot.readFile('cairn.yaml', { maxBytes: LIMITS.manifestBytes }).catch(() => undefined);
  if (!bytes) return undefined;
  const text = new TextDecoder().decode(bytes);
  // The parser exhausts memory on deeply nested brackets rather than failing.
  if (flowNestsDeeperThan(text, LIMITS.manifestDepth)) return undefined;
  const { parse } = await import('yaml');
  try {
    // Without pretty errors: formatting one for pathological input costs more than the parse.
    const doc = parse(text, { prettyErrors: false }) as { source?: unknown } | null;
    return typeof doc?.source === 'string' && SourceNameSchema.safeParse(doc.source).success ? doc.source : undefined;
  } catch {
    return undefined;
  }
}

const CHANGE_MARK: Record<UncommittedFile['change'], string> = { modified: 'modified', deleted: 'deleted', untracked: 'not committed' };

function fileList(files: UncommittedFile[]): string {
  return files.map((f) => `  ${f.path} (${CHANGE_MARK[f.change]})`).join('\n');
}

function uncommittedNote(files: UncommittedFile[], commit: string): string {
  const n = files.length;
  return style.yellow(
    `Note: ${n} file${n === 1 ? '' : 's'} that cairn.yaml reads ${n === 1 ? 'differs' : 'differ'} from commit ${describeCommit(commit)} and ${n === 1 ? 'is' : 'are'} not part of what is shown:\n${fileList(files)}\n` +
      `Cairn deploys commits, not files on disk: commit ${n === 1 ? 'it' : 'them'} to deploy ${n === 1 ? 'it' : 'them'}, or pass --allow-dirty to read the work tree as it is.`,
  );
}

function uncommittedRefusal(files: UncommittedFile[], commit: string, how: { command: string; allowDirty: string }): string {
  const n = files.length;
  return (
    `cairn ${how.command}: ${n} file${n === 1 ? '' : 's'} that cairn.yaml reads ${n === 1 ? 'has' : 'have'} uncommitted changes, and Cairn deploys commits only (HEAD is ${describeCommit(commit)}):\n${fileList(files)}\n` +
    `Commit ${n === 1 ? 'it' : 'them'} (git add ${files.map((f) => f.path).join(' ')} && git commit) and run again, or pass --allow-dirty ${how.allowDirty}.`
  );
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

/**
 * Environment variable: how often (ms) `--target aws` looks at CloudFormation, for change sets,
 * operations, steps and drift detection alike. Real CloudFormation takes seconds, so the defaults
 * are seconds; an AWS-compatible endpoint on this machine (`cairn sim endpoint`) answers at once.
 */
export const POLL_ENV = 'CAIRN_POLL_MS';

function pollOverride(target: Target): number | undefined {
  const raw = process.env[POLL_ENV];
  if (target !== 'aws' || raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1) throw new UsageError(`${POLL_ENV}: "${raw}" is not a whole number of milliseconds (1 or more)`);
  return ms;
}

/** How long to let CloudFormation compute a change set (a preview or one to apply), and how often to look. */
export function changeSetTiming(target: Target): { waitMs: number; pollMs: number } {
  const override = pollOverride(target);
  if (override !== undefined) return { waitMs: 60_000, pollMs: override };
  return target === 'embedded' ? { waitMs: 10_000, pollMs: 20 } : { waitMs: 60_000, pollMs: 2_000 };
}

/** How often to look at a stack operation, how long to pause between apply steps, and how often to look at a drift detection. */
export function operationTiming(target: Target): { pollMs: number; stepIntervalMs: number; driftPollMs: number } {
  const override = pollOverride(target);
  if (override !== undefined) return { pollMs: override, stepIntervalMs: override, driftPollMs: override };
  return target === 'embedded' ? { pollMs: 50, stepIntervalMs: 50, driftPollMs: 50 } : { pollMs: 2_000, stepIntervalMs: 5_000, driftPollMs: 3_000 };
}
