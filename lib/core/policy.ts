/**
 * Safety policy defaults: which resource types are stateful (their replacement or removal loses
 * data and is blocked unless allowed by logical id), how much one run may prune, and which roles,
 * regions and accounts a source may deploy with (its destinations).
 */
import type { Problem } from './errors.js';
import type { Manifest } from './manifest.js';

/** Replacing or removing these destroys data; cairn.yaml's `defaults.protectedTypes` adds more. */
export const DEFAULT_PROTECTED_TYPES: readonly string[] = [
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  'AWS::RDS::GlobalCluster',
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::S3::Bucket',
  'AWS::EFS::FileSystem',
  'AWS::KMS::Key',
  'AWS::Cognito::UserPool',
  'AWS::Logs::LogGroup',
  'AWS::DocDB::DBCluster',
  'AWS::Neptune::DBCluster',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::OpenSearchService::Domain',
  'AWS::Elasticsearch::Domain',
  'AWS::Backup::BackupVault',
  'AWS::SecretsManager::Secret',
  'AWS::ECR::Repository',
  'AWS::Kinesis::Stream',
];

/** By default one run prunes at most half of the source's owned stacks. */
export const DEFAULT_PRUNE_MAX_SHARE = 0.5;

export const DEFAULT_DRIFT_POLICY = 'alert' as const;

/** What a source may deploy with, and what its stacks get when cairn.yaml names nothing. */
export interface DestinationPolicy {
  source: string;
  /** Roles cairn.yaml may name besides `defaultRoleArn`; absent with no default role: any role. */
  roleArns?: readonly string[];
  /** Regions stacks may go to; absent: any. */
  regions?: readonly string[];
  /** Accounts (12-digit ids) the deployer roles may belong to; absent: any. */
  accounts?: readonly string[];
  /** The source's deployer role, used for stacks that name none. */
  defaultRoleArn?: string | undefined;
  /** The region stacks that name none go to. */
  defaultRegion: string;
  /** Where the allowed values are configured, for the message (e.g. `cairn.deploy.json destinations`). */
  configuredIn: string;
}

/** The roles a policy allows, or undefined when any role is allowed. */
export function allowedRoles(policy: DestinationPolicy): string[] | undefined {
  if (policy.roleArns === undefined && policy.defaultRoleArn === undefined) return undefined;
  return [...new Set([...(policy.defaultRoleArn ? [policy.defaultRoleArn] : []), ...(policy.roleArns ?? [])])].sort();
}

/** The account a role ARN belongs to: arn:aws:iam::<account>:role/… */
export function accountOf(roleArn: string): string | undefined {
  return /^arn:[^:]+:iam::(\d{12}):/.exec(roleArn)?.[1];
}

/**
 * Every role, region and account cairn.yaml asks for that the source's destinations do not allow,
 * each naming the field that asks (the stack's own, else `defaults`) and the allowed values. A
 * stack that names no role while roles are restricted and the source has no default would run with
 * Cairn's own credentials, so it is denied too. A stack's account is its deployer role's (the one
 * it names, else the source's default role); a stack with no role at all stays in Cairn's account.
 */
export function destinationProblems(manifest: Manifest, policy: DestinationPolicy, file = 'cairn.yaml'): Problem[] {
  const problems: Problem[] = [];
  const reported = new Set<string>();
  const add = (path: string, message: string): void => {
    if (reported.has(path)) return;
    reported.add(path);
    problems.push({ file, path, message });
  };
  const roles = allowedRoles(policy);
  const regions = policy.regions ? [...policy.regions].sort() : undefined;
  const rolesText = (): string => `allowed roles for source ${policy.source}: ${roles!.length ? roles!.join(', ') : '(none)'} (${policy.configuredIn})`;
  const regionsText = (): string => `allowed regions for source ${policy.source}: ${regions!.join(', ')} (${policy.configuredIn})`;
  const accounts = policy.accounts ? [...policy.accounts].sort() : undefined;
  const accountsText = (): string => `allowed accounts for source ${policy.source}: ${accounts!.join(', ')} (${policy.configuredIn})`;
  const defaults = manifest.defaults ?? {};
  for (const [id, entry] of Object.entries(manifest.stacks)) {
    const [path, role] = entry.roleArn ? [`stacks.${id}.roleArn`, entry.roleArn] : defaults.roleArn ? ['defaults.roleArn', defaults.roleArn] : [`stacks.${id}`, policy.defaultRoleArn];
    if (roles) {
      if (role === undefined) {
        add(path, `names no roleArn and source ${policy.source} has no default role, so CloudFormation would act with Cairn's own credentials; set roleArn to one of the ${rolesText()}`);
      } else if (!roles.includes(role)) {
        add(path, `role ${role} is not a destination of source ${policy.source}; ${rolesText()}`);
      }
    }
    const account = role === undefined ? undefined : accountOf(role);
    if (accounts && account !== undefined && !accounts.includes(account)) {
      add(
        path,
        path === `stacks.${id}`
          ? `names no roleArn, so it would deploy through source ${policy.source}'s default role ${role}, in account ${account}, which is not a destination; ${accountsText()}`
          : `role ${role} is in account ${account}, which is not a destination of source ${policy.source}; ${accountsText()}`,
      );
    }
    if (regions) {
      const [path, region, named] = entry.region ? [`stacks.${id}.region`, entry.region, true] : defaults.region ? ['defaults.region', defaults.region, true] : [`stacks.${id}`, policy.defaultRegion, false];
      if (!regions.includes(region)) {
        add(path, named ? `region ${region} is not a destination of source ${policy.source}; ${regionsText()}` : `names no region, so it would go to Cairn's region ${region}, which source ${policy.source} may not use; set region to one of the ${regionsText()}`);
      }
    }
  }
  return problems;
}
