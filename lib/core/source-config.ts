/**
 * The deployment's configuration: which Git sources Cairn follows, on which branch, from which
 * provider, and the names of the secrets that authenticate them. One schema shared by the webhook,
 * the reconciler, the CDK app and the local runtime, so a configuration that synthesises also runs.
 */
// A namespace import, not `{ z }`: esbuild can then drop the parts of zod this file does not use,
// which keeps the webhook bundle some 360 KB smaller.
import * as z from 'zod';
import { ValidationError, type Problem } from './errors.js';

export const PROVIDERS = ['github', 'gitlab', 'gitea', 'forgejo', 'bitbucket', 'generic'] as const;

export const ProviderSchema = z.enum(PROVIDERS, {
  error: `expected one of ${PROVIDERS.join(', ')}`,
});

export type Provider = z.infer<typeof ProviderSchema>;

/** Secrets Manager accepts names and ARNs of these characters. */
const SecretNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9/_+=.@:-]{1,2048}$/, 'expected a secret name or ARN (letters, digits and /_+=.@:-)');

const RepoUrlSchema = z
  .string()
  .min(1, 'expected the repository URL, e.g. https://github.com/org/repo.git')
  .regex(/^\S+$/, 'a repository URL has no whitespace')
  .superRefine((value, ctx) => {
    if (hasCredentials(value)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must not carry credentials: store the token in Secrets Manager and name it in gitTokenSecretName',
      });
    }
  });

const BranchSchema = z.string().superRefine((value, ctx) => {
  const problem = branchNameProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A source's name: the webhook path `/hooks/{name}`, the FIFO message group, the `cairn:source` tag. */
export const SourceNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lower-case letters, digits and hyphens, e.g. platform-prod')
  .max(64, 'at most 64 characters');

/** A source's directory inside its repository: relative, `/`-separated, never climbing out. */
const SourcePathSchema = z
  .string()
  .superRefine((value, ctx) => {
    if (value.startsWith('/') || value.includes('\\') || value.split('/').includes('..')) {
      ctx.addIssue({ code: 'custom', message: 'expected a directory relative to the repository root, e.g. envs/prod, without .. or a leading /' });
    }
  })
  .transform((value) => value.split('/').filter((p) => p !== '' && p !== '.').join('/'));

/** An IAM role ARN, as a source's deployer role and cairn.yaml's `roleArn` take it. */
export const RoleArnSchema = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'expected an IAM role ARN such as arn:aws:iam::123456789012:role/cairn-deployer');

export const RegionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region such as eu-west-1');

/** A 12-digit AWS account id, as `destinations.accounts` and `--allow-account` take it. */
export const AccountIdSchema = z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id such as 123456789012');

/**
 * Where a source may deploy, as Argo CD's AppProject declares it: the CloudFormation service roles
 * its cairn.yaml may name, the regions its stacks may go to and the accounts its deployer roles may
 * belong to. A cairn.yaml naming anything else stalls its commit (PolicyDenied) before any AWS call.
 */
export const DestinationsSchema = z.strictObject({
  /** Roles cairn.yaml may name, besides the source's own `roleArn`. */
  roleArns: z.array(RoleArnSchema).max(100, 'at most 100 roles').optional(),
  /** Regions its stacks may go to; absent means any region. */
  regions: z.array(RegionSchema).min(1, 'list at least one region, or leave regions out to allow any').max(50, 'at most 50 regions').optional(),
  /** Accounts its deployer roles (the source's roleArn, cairn.yaml's roleArn) may be in; absent means any. */
  accounts: z.array(AccountIdSchema).min(1, 'list at least one account, or leave accounts out to allow any').max(100, 'at most 100 accounts').optional(),
});

export type Destinations = z.infer<typeof DestinationsSchema>;

export const SourceConfigSchema = z.strictObject({
  name: SourceNameSchema,
  repoUrl: RepoUrlSchema,
  branch: BranchSchema.default('main'),
  /**
   * The directory inside the repository that holds this source's cairn.yaml (default the root).
   * Several sources may share one repository at different paths; each reconciles on its own.
   */
  path: SourcePathSchema.optional(),
  provider: ProviderSchema,
  /** The secret holding the webhook's shared secret (or GitLab token / signing token). */
  webhookSecretName: SecretNameSchema,
  /** During rotation: the secret holding the previous value, still accepted until removed from here. */
  previousWebhookSecretName: SecretNameSchema.optional(),
  /** The secret holding a token for fetching private repositories and reporting commit status. */
  gitTokenSecretName: SecretNameSchema.optional(),
  /**
   * The CloudFormation service role stacks of this source are deployed with when cairn.yaml names
   * none; when set, it is also the only role cairn.yaml may name besides `destinations.roleArns`.
   */
  roleArn: RoleArnSchema.optional(),
  /** The roles, regions and accounts this source may deploy with; see DestinationsSchema. */
  destinations: DestinationsSchema.optional(),
  /**
   * The IAM role the reconciler assumes for this source's work, which IAM limits to this source's
   * stacks and deployer roles. Filled in by the CDK stack, which creates it; not written by hand.
   */
  sourceRoleArn: RoleArnSchema.optional(),
  /** The commit status context, e.g. `cairn/prod`; defaults to `cairn/{name}` where it is reported. */
  statusContext: z.string().min(1).max(255).optional(),
  /**
   * Pull-request previews. `forks` (default false): also preview pull requests from forks, whose
   * templates then reach CloudFormation through this source's role during the preview change set.
   */
  previews: z.strictObject({ forks: z.boolean().default(false) }).optional(),
});

export type SourceConfig = z.infer<typeof SourceConfigSchema>;
/** A source as written, before defaults (what a configuration file or a test may omit). */
export type SourceConfigInput = z.input<typeof SourceConfigSchema>;

export const DeploymentConfigSchema = z.strictObject({
  sources: z.array(SourceConfigSchema).superRefine((sources, ctx) => {
    const seen = new Set<string>();
    sources.forEach((source, index) => {
      if (seen.has(source.name)) {
        ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate source name ${source.name}` });
      }
      seen.add(source.name);
    });
  }),
});

export type DeploymentConfig = z.infer<typeof DeploymentConfigSchema>;
export type DeploymentConfigInput = z.input<typeof DeploymentConfigSchema>;

/**
 * Validate a deployment configuration, given as parsed data or as JSON text (the CAIRN_CONFIG
 * environment variable). Throws ValidationError with one Problem per bad field; `where` names the
 * file or variable it came from.
 */
export function parseDeploymentConfig(input: unknown, where: string): DeploymentConfig {
  let data = input;
  if (typeof input === 'string') {
    try {
      data = JSON.parse(input);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new ValidationError([{ file: where, path: '', message: `is not valid JSON: ${detail}` }], { cause: error });
    }
  }
  const result = DeploymentConfigSchema.safeParse(data);
  if (result.success) return result.data;
  const problems: Problem[] = result.error.issues.map((issue) => ({
    file: where,
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  throw new ValidationError(problems, { cause: result.error });
}

export function findSource(config: DeploymentConfig, name: string): SourceConfig | undefined {
  return config.sources.find((source) => source.name === name);
}

/** Userinfo in an http(s) URL is a password or token; `git@` in scp-like and ssh URLs is only a user. */
function hasCredentials(url: string): boolean {
  if (!/^https?:\/\//i.test(url)) return false;
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/** Why `name` is not a usable branch name (a subset of git check-ref-format), or undefined. */
function branchNameProblem(name: string): string | undefined {
  if (name === '') return 'expected a branch name such as main';
  if (name.startsWith('refs/')) return `expected the branch name (e.g. ${name.replace(/^refs\/heads\//, '')}), not a full ref`;
  if (/[\s~^:?*[\\]/.test(name) || [...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
    return 'a branch name has no spaces, control characters or any of ~ ^ : ? * [ \\';
  }
  if (name.includes('..') || name.includes('//') || name.includes('@{')) return 'a branch name has no "..", "//" or "@{"';
  if (/^[-/.]|[/.]$|\.lock$/.test(name)) return 'a branch name does not start with - / . nor end with / . or .lock';
  return undefined;
}
