/**
 * Argument parsing for every command, on node:util parseArgs: unknown options and missing values
 * are usage errors that name the option and point at --help.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { suggest } from '../core/suggest.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<T extends OptionSpec> {
  values: { [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { multiple: true } ? string[] : string } & { help?: boolean };
  positionals: string[];
}

export function parse<T extends OptionSpec>(command: string, argv: string[], options: T, maxPositionals = 1): Parsed<T> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    const unknown = /Unknown option '--?([^']+)'/.exec(message)?.[1];
    const hint = unknown ? suggest(unknown, Object.keys(options).concat('help')) : undefined;
    throw new UsageError(`cairn ${command}: ${message}${hint ? `; did you mean --${hint}?` : '.'} Run 'cairn ${command} --help'.`);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`cairn ${command}: unexpected argument '${parsed.positionals[maxPositionals]}'. Run 'cairn ${command} --help'.`);
  }
  return parsed as unknown as Parsed<T>;
}

/** Shared options of the commands that read a source and talk to an account. */
/** The destinations a source may use (`--allow-*`, `--deploy-config`) and a private repository's token: shared by every command that reads a source, `serve` included. */
export const DESTINATION_OPTIONS = {
  'allow-role': { type: 'string', multiple: true },
  'allow-region': { type: 'string', multiple: true },
  'allow-account': { type: 'string', multiple: true },
  'deploy-config': { type: 'string' },
  'token-env': { type: 'string' },
  'token-file': { type: 'string' },
} as const satisfies OptionSpec;

export const SOURCE_OPTIONS = {
  repo: { type: 'string' },
  ref: { type: 'string' },
  path: { type: 'string' },
  source: { type: 'string' },
  'allow-dirty': { type: 'boolean' },
  target: { type: 'string' },
  region: { type: 'string' },
  ...DESTINATION_OPTIONS,
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

export const SOURCE_HELP = `  [DIR]               the directory holding cairn.yaml (default: the current directory). Inside a
                      Git repository it is read at a commit (HEAD unless --ref), never as edited
                      on disk; outside one it is read as it is (not versioned)
  --repo URL|PATH     read a Git repository instead: an https URL, or a repository on disk
  --ref REF           the branch, tag or commit to read (default: HEAD on disk, main for a URL)
  --path DIR          the source's directory inside the repository (or DIR), e.g. envs/prod
  --source NAME       the source's name, stamped on the stacks it owns (default: cairn.yaml's source:)
  --allow-dirty       read the work tree as it is, uncommitted edits included (recorded as <sha>-dirty)
  --target T          embedded (default: the simulated account in the per-user state directory,
                      or $CAIRN_HOME) or aws
  --region R          the region for stacks that name none (default: AWS_REGION, else us-east-1)
  --deploy-config F   check cairn.yaml against this source's destinations in the deployment file F
                      (cairn.deploy.json: its roleArn, destinations.roleArns, .regions, .accounts)
  --allow-role ARN    a role cairn.yaml may name (repeatable); any other stalls as PolicyDenied
  --allow-region R    a region stacks may go to (repeatable); any other stalls as PolicyDenied
  --allow-account ID  an account deployer roles may be in (repeatable); any other stalls as PolicyDenied
  --token-env NAME    for a private https repository: the environment variable holding its token
  --token-file PATH   the same, from a file (read on every fetch, so rotation applies)
  --json              print JSON instead of text`;

export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new UsageError(`${option}: "${text}" is not a duration; use e.g. 500ms, 10s, 15m or 1h`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return n * unit;
}
