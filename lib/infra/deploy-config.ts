/**
 * The deployment file, cairn.deploy.json: the sources Cairn follows (validated by the same
 * parseDeploymentConfig the functions run at start-up) plus the stack-level options of the CDK app.
 * Read once at synth time; every problem names the file and the field, so `cdk synth` can print
 * them and stop instead of failing with a stack trace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import * as z from 'zod';
import { ValidationError, type Problem } from '../core/errors.js';
import { accountOf } from '../core/policy.js';
import { DEFAULT_DRIFT_RESOURCE_TYPES, RESOURCE_TYPE_PATTERN } from './drift-reads.js';
import { parseDeploymentConfig, type SourceConfig } from '../core/source-config.js';

export const DEFAULT_CONFIG_FILE = 'cairn.deploy.json';
export const EXAMPLE_CONFIG_FILE = 'cairn.deploy.example.json';
/** Where the configuration is named when it is given inline in cdk.json's context. */
export const CONTEXT_KEY = 'cairn';

/** CloudWatch Logs accepts only these retention periods, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** A sweep runs up to five minutes, and an alarm period may not exceed a day. */
export const MIN_SWEEP_MINUTES = 5;
export const MAX_SWEEP_MINUTES = 24 * 60;

/** Lambda allows 4 KB of environment variables per function; the rest of Cairn's take about 500 bytes. */
export const CONFIG_ENV_BUDGET_BYTES = 4096 - 512;

const UNIT_MINUTES = { minute: 1, hour: 60, day: 24 * 60 } as const;

const DurationSchema = z.string().transform((text, ctx) => {
  const match = /^\s*(\d+)\s*(minute|hour|day)s?\s*$/.exec(text);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as "15 minutes", "1 hour" or "1 day", got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  const minutes = Number(match[1]) * UNIT_MINUTES[match[2] as keyof typeof UNIT_MINUTES];
  if (minutes < MIN_SWEEP_MINUTES || minutes > MAX_SWEEP_MINUTES) {
    ctx.addIssue({ code: 'custom', message: `expected between ${MIN_SWEEP_MINUTES} minutes and 1 day, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return minutes;
});

const RegionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region such as eu-west-1');

const PolicySchema = z
  .string()
  .regex(
    /^(arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/\S+|[A-Za-z0-9+=,.@_/-]{1,128})$/,
    'expected a managed policy ARN, or the name of an AWS managed policy such as ReadOnlyAccess',
  );

const AlarmsSchema = z.strictObject({
  /** Addresses subscribed to a topic this stack creates for the alarms. */
  emails: z.array(z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'expected an email address')).default([]),
  /** An existing SNS topic the alarms also notify (chat, paging). */
  topicArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'expected an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ops')
    .optional(),
});

const ConcurrencySchema = z.number().int('expected a whole number').min(1, 'at least 1').max(1000, 'at most 1000');

/**
 * Reserved concurrency per function: each is held for it and caps it, so a flood of unsigned requests
 * on the public Function URL cannot take the account's concurrency, nor starve the reconciler.
 */
const ReservedConcurrencySchema = z.strictObject({
  webhook: ConcurrencySchema.default(10),
  /** Default: reconcileConcurrency, the most the queue's event source runs at once. */
  reconcile: ConcurrencySchema.optional(),
  sweep: ConcurrencySchema.default(1),
  stackEvents: ConcurrencySchema.default(5),
});

/** Everything in the file besides `sources`; `sources` is left to the shared DeploymentConfigSchema. */
const StackOptionsSchema = z.strictObject({
  sources: z.unknown(),
  stackName: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'expected a CloudFormation stack name: a letter, then letters, digits and hyphens')
    .default('Cairn'),
  sweepSchedule: DurationSchema.prefault('15 minutes'),
  regions: z.array(RegionSchema).default([]),
  reconcileConcurrency: z
    .number()
    .int('expected a whole number')
    .min(2, 'at least 2 (the lowest maximum concurrency an SQS event source accepts)')
    .max(1000, 'at most 1000')
    .default(5),
  logRetentionDays: z
    .number()
    .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), `expected one of ${LOG_RETENTION_DAYS.join(', ')}`)
    .default(90),
  createWebhookSecrets: z.boolean().default(false),
  alarms: AlarmsSchema.prefault({}),
  deployerPolicies: z.array(PolicySchema).min(1, 'name at least one policy for the default deployer role').default(['AdministratorAccess']),
  driftDetectionPolicies: z.array(PolicySchema).default([]),
  driftDetectionResourceTypes: z
    .array(z.string().regex(RESOURCE_TYPE_PATTERN, 'expected a resource type such as AWS::SQS::Queue, or a whole service such as AWS::SQS::*'))
    .min(1, 'name at least one resource type the stacks may hold')
    .default([...DEFAULT_DRIFT_RESOURCE_TYPES]),
  /** Replaced by each source's destinations.roleArns; named here only to say so. */
  deployerRoleArns: z.unknown().optional(),
  reservedConcurrency: ReservedConcurrencySchema.prefault({}),
});

/** The validated deployment: what the CDK app builds. */
export interface DeployConfig {
  /** The CloudFormation stack Cairn itself is deployed as. */
  stackName: string;
  sources: SourceConfig[];
  /** How often the sweep runs (and the period of the stalled and drift alarms). */
  sweepIntervalMinutes: number;
  /** Regions the owned stacks live in; empty means this stack's region only. */
  regions: string[];
  /** Most reconcile invocations at once (SQS event source maximum concurrency). */
  reconcileConcurrency: number;
  /** Concurrency reserved for (and capping) each function. */
  reservedConcurrency: { webhook: number; reconcile: number; sweep: number; stackEvents: number };
  logRetentionDays: number;
  /** Create each source's webhook secret with a random value, instead of referencing an existing one. */
  createWebhookSecrets: boolean;
  alarms: { emails: string[]; topicArn: string | undefined };
  /** Policies of the default deployer role, the CloudFormation service role for sources without roleArn. */
  deployerPolicies: string[];
  /** Further policies of the sweep's role, beyond the reads of driftDetectionResourceTypes. */
  driftDetectionPolicies: string[];
  /** The resource types the stacks may hold: the sweep may read their services' configuration, which drift detection does with its credentials. */
  driftDetectionResourceTypes: string[];
}

/** Validate a parsed deployment file; `where` names it in every problem. Throws ValidationError. */
export function parseDeployConfig(data: unknown, where: string): DeployConfig {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ValidationError([{ file: where, path: '', message: 'expected a JSON object with "sources" and the stack options' }]);
  }
  const problems: Problem[] = [];
  let sources: SourceConfig[] = [];
  try {
    sources = parseDeploymentConfig({ sources: (data as { sources?: unknown }).sources }, where).sources;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    problems.push(...error.problems);
  }
  const options = StackOptionsSchema.safeParse(data);
  if (!options.success) {
    for (const issue of options.error.issues) {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        const known = Object.keys(path === 'alarms' ? AlarmsSchema.shape : StackOptionsSchema.shape).join(', ');
        for (const key of issue.keys) problems.push({ file: where, path: path ? `${path}.${key}` : key, message: `is not a Cairn option (expected one of ${known})` });
      } else {
        problems.push({ file: where, path, message: issue.message });
      }
    }
  }
  if (problems.length > 0 || !options.success) throw new ValidationError(problems);

  const o = options.data;
  const reservedReconcile = o.reservedConcurrency.reconcile;
  if (reservedReconcile !== undefined && reservedReconcile < o.reconcileConcurrency) {
    problems.push({
      file: where,
      path: 'reservedConcurrency.reconcile',
      message: `is ${reservedReconcile}, below reconcileConcurrency (${o.reconcileConcurrency}): the queue would start invocations Lambda then throttles; give at least ${o.reconcileConcurrency}`,
    });
  }
  if (o.deployerRoleArns !== undefined) {
    problems.push({
      file: where,
      path: 'deployerRoleArns',
      message: 'is no longer used: each source may pass only its own roles, so list each role in the destinations.roleArns of the sources that may use it',
    });
  }
  sources.forEach((source, index) => {
    const accounts = source.destinations?.accounts;
    const roles: [string, string][] = [
      ...(source.roleArn ? [[`sources.${index}.roleArn`, source.roleArn] as [string, string]] : []),
      ...(source.destinations?.roleArns ?? []).map((r, i): [string, string] => [`sources.${index}.destinations.roleArns.${i}`, r]),
    ];
    for (const [path, role] of accounts ? roles : []) {
      const account = accountOf(role);
      if (account && !accounts!.includes(account)) {
        problems.push({ file: where, path, message: `role ${role} is in account ${account}, which destinations.accounts (${accounts!.join(', ')}) does not list` });
      }
    }
    if (source.sourceRoleArn !== undefined) {
      problems.push({ file: where, path: `sources.${index}.sourceRoleArn`, message: 'is created and filled in by the Cairn stack; remove it' });
    }
  });
  if (o.createWebhookSecrets) {
    sources.forEach((source, index) => {
      if (source.webhookSecretName.startsWith('arn:')) {
        problems.push({
          file: where,
          path: `sources.${index}.webhookSecretName`,
          message: 'with createWebhookSecrets, give the name of the secret to create, not an ARN',
        });
      }
    });
  }
  const configBytes = Buffer.byteLength(JSON.stringify({ sources: sources.map(withLongestRoleArn) }), 'utf8');
  if (configBytes > CONFIG_ENV_BUDGET_BYTES) {
    problems.push({
      file: where,
      path: 'sources',
      message:
        `${sources.length} sources make the functions' ${configBytes}-byte configuration, over the ` +
        `${CONFIG_ENV_BUDGET_BYTES} bytes Lambda's 4 KB environment leaves for it; split them across ` +
        'two Cairn stacks, each with its own stackName and configuration file',
    });
  }
  if (problems.length > 0) throw new ValidationError(problems);

  return {
    stackName: o.stackName,
    sources,
    sweepIntervalMinutes: o.sweepSchedule,
    regions: [...new Set(o.regions)],
    reconcileConcurrency: o.reconcileConcurrency,
    logRetentionDays: o.logRetentionDays,
    createWebhookSecrets: o.createWebhookSecrets,
    alarms: { emails: o.alarms.emails, topicArn: o.alarms.topicArn },
    deployerPolicies: o.deployerPolicies,
    driftDetectionPolicies: o.driftDetectionPolicies,
    driftDetectionResourceTypes: [...new Set(o.driftDetectionResourceTypes)],
    reservedConcurrency: { ...o.reservedConcurrency, reconcile: o.reservedConcurrency.reconcile ?? o.reconcileConcurrency },
  };
}

/**
 * The default deployer's ARN and each source role's are only known at deploy time; size the budget
 * for the longest they can be.
 */
function withLongestRoleArn(source: SourceConfig): SourceConfig {
  const longest = `arn:aws-us-gov:iam::123456789012:role/${'x'.repeat(64)}`;
  return { ...source, roleArn: source.roleArn ?? longest, sourceRoleArn: longest };
}

export interface LoadDeployConfigOptions {
  /** The `cairn` context value: `{ configFile }` from cdk.json, or the whole configuration inline. */
  context: unknown;
  /** `-c cairn.configFile=…` on the command line; wins over the context's configFile. */
  configFile?: unknown;
  /** Where relative file names are resolved: the directory `cdk` runs in. */
  cwd: string;
}

export interface LoadedDeployConfig {
  config: DeployConfig;
  /** The file (or context) the configuration came from, as named in problems. */
  from: string;
  /** True when no configuration exists yet and the example was used instead. */
  isExample: boolean;
}

/**
 * Find and validate the deployment configuration: inline `sources` in the `cairn` context, else the
 * file the context names (cairn.deploy.json by default). A missing default file falls back to the
 * example, so a fresh clone synthesises; any other missing file is an error.
 */
export function loadDeployConfig(options: LoadDeployConfigOptions): LoadedDeployConfig {
  const context = contextObject(options.context);
  if (context.sources !== undefined) {
    const { configFile: _configFile, ...inline } = context;
    const from = `cdk.json context "${CONTEXT_KEY}"`;
    return { config: parseDeployConfig(inline, from), from, isExample: false };
  }
  const named = options.configFile ?? context.configFile;
  if (named !== undefined && (typeof named !== 'string' || named === '')) {
    throw new ValidationError([{ file: `cdk.json context "${CONTEXT_KEY}"`, path: 'configFile', message: 'expected the path of a JSON file' }]);
  }
  const file = named ?? DEFAULT_CONFIG_FILE;
  const path = isAbsolute(file) ? file : join(options.cwd, file);
  if (!existsSync(path)) {
    if (file !== DEFAULT_CONFIG_FILE) {
      throw new ValidationError([{ file, path: '', message: `not found (looked in ${options.cwd})` }]);
    }
    return { config: readConfigFile(join(options.cwd, EXAMPLE_CONFIG_FILE), EXAMPLE_CONFIG_FILE), from: EXAMPLE_CONFIG_FILE, isExample: true };
  }
  return { config: readConfigFile(path, file), from: file, isExample: false };
}

function readConfigFile(path: string, name: string): DeployConfig {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ValidationError([{ file: name, path: '', message: `could not be read as JSON: ${detail}` }], { cause: error });
  }
  return parseDeployConfig(data, name);
}

/** `-c cairn='{"sources": …}'` arrives as a string; cdk.json gives an object. */
function contextObject(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new ValidationError([{ file: `context "${CONTEXT_KEY}"`, path: '', message: 'is not valid JSON' }], { cause: error });
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ValidationError([{ file: `context "${CONTEXT_KEY}"`, path: '', message: 'expected an object such as {"configFile": "cairn.deploy.json"}' }]);
  }
  return parsed as Record<string, unknown>;
}
