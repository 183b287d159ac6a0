/**
 * Each source's work under that source's own IAM role. The CDK stack creates one role per source,
 * which only the reconcile function may assume; every CloudFormation call made for a source is
 * signed with credentials from assuming it, so IAM itself (not only Cairn's code) keeps a source to
 * its own stacks, deployer roles and regions. `sourceGateways(...)(source)` is that source's
 * GatewayFactory; a source without a role (an older stack's configuration) keeps the function's
 * own credentials.
 */
// STS is loaded on the first AssumeRole (the first call signed for a source), not at import.
import type { STSClient } from '@aws-sdk/client-sts';
import type { SourceConfig } from '../core/source-config.js';
import type { GatewayFactory, StackGateway } from '../ports/stack-gateway.js';
import { CloudFormationGateway, type CloudFormationGatewayOptions } from './cloudformation-gateway.js';

/** Credentials one assumed-role session gives, as the SDK clients take them. */
export interface AssumedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** An hour: far longer than a reconcile invocation, refreshed well before it ends. */
export const SESSION_SECONDS = 3600;
/** Refreshed this long before expiry, so no call is signed with credentials about to lapse. */
export const REFRESH_BEFORE_MS = 5 * 60_000;

type StsClient = Pick<STSClient, 'send'>;

export interface AssumeRoleOptions {
  roleArn: string;
  /** Shown in CloudTrail as the session's name: who acted for which source. */
  sessionName: string;
  /** The STS client, or how to make it when the role is first assumed. */
  sts: StsClient | (() => Promise<StsClient>);
  now?: () => number;
}

/** One STS client for the function's region (regional STS endpoints), made on first use. */
function lazyStsClient(): () => Promise<StsClient> {
  let client: StsClient | undefined;
  return async () => (client ??= new (await import('@aws-sdk/client-sts')).STSClient({}));
}

/** A credential provider that assumes `roleArn` once, and again only when the session is close to expiring. */
export function assumedRoleCredentials(options: AssumeRoleOptions): () => Promise<AssumedCredentials> {
  const now = options.now ?? Date.now;
  let current: AssumedCredentials | undefined;
  let pending: Promise<AssumedCredentials> | undefined;
  return async () => {
    if (current && current.expiration.getTime() - now() > REFRESH_BEFORE_MS) return current;
    pending ??= (async () => {
      try {
        const { AssumeRoleCommand } = await import('@aws-sdk/client-sts');
        const sts = typeof options.sts === 'function' ? await options.sts() : options.sts;
        const { Credentials: c } = await sts.send(
          new AssumeRoleCommand({ RoleArn: options.roleArn, RoleSessionName: options.sessionName, DurationSeconds: SESSION_SECONDS }),
        );
        if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
          throw new Error(`AssumeRole of ${options.roleArn} returned no credentials`);
        }
        current = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
        return current;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
}

/** The session name for a source: `cairn-<source>`, within STS's 64 characters. */
export function sessionName(source: string): string {
  return `cairn-${source}`.slice(0, 64);
}

export interface SourceGatewaysOptions {
  templateBucket?: string | undefined;
  /** By default one STS client for the function's region (regional STS endpoints), made on first use. */
  sts?: StsClient;
  /** Builds one region's gateway; the CloudFormation adapter by default. */
  gateway?: (options: CloudFormationGatewayOptions) => StackGateway;
}

/**
 * Gateways per source and region, kept for the life of the process (warm invocations reuse the
 * session and the clients).
 */
export function sourceGateways(options: SourceGatewaysOptions = {}): (source: SourceConfig) => GatewayFactory {
  const make = options.gateway ?? ((o: CloudFormationGatewayOptions) => new CloudFormationGateway(o));
  const sts = options.sts ?? lazyStsClient();
  const factories = new Map<string, GatewayFactory>();
  return (source) => {
    let factory = factories.get(source.name);
    if (factory) return factory;
    const credentials = source.sourceRoleArn
      ? assumedRoleCredentials({ roleArn: source.sourceRoleArn, sessionName: sessionName(source.name), sts })
      : undefined;
    const gateways = new Map<string, StackGateway>();
    factory = (region) => {
      const key = region ?? process.env['AWS_REGION'] ?? '';
      let g = gateways.get(key);
      if (!g) {
        g = make({ region, templateBucket: options.templateBucket, ...(credentials ? { credentials } : {}) });
        gateways.set(key, g);
      }
      return g;
    };
    factories.set(source.name, factory);
    return factory;
  };
}
