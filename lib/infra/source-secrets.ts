/**
 * SourceSecrets: the Secrets Manager secrets the sources name, as the ARNs the functions may read.
 * Webhook secrets are created with a random value when the deployment asks for it, or referenced by
 * name; previous webhook secrets (rotation) and git tokens are always the operator's own and only
 * referenced, since their values come from elsewhere (the old value, the Git provider).
 */
import { createHash } from 'node:crypto';
import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { SourceConfig } from '../core/source-config.js';
import { acknowledge } from './nag.js';

export interface SourceSecretsProps {
  sources: SourceConfig[];
  /** Create each webhook secret (by its configured name) instead of expecting it to exist. */
  createWebhookSecrets: boolean;
}

export class SourceSecrets extends Construct {
  /** What the webhook function reads: every source's webhook secret, current and previous. */
  readonly webhookSecretArns: string[];
  /** What the reconciler reads: the git tokens of private repositories and commit status. */
  readonly gitTokenSecretArns: string[];
  /** The secrets this stack created, by name. */
  readonly created = new Map<string, Secret>();

  constructor(scope: Construct, id: string, props: SourceSecretsProps) {
    super(scope, id);
    const webhook = props.sources.map((s) => s.webhookSecretName);
    if (props.createWebhookSecrets) {
      for (const name of new Set(webhook)) {
        const secret = new Secret(this, `Webhook${constructIdOf(name)}`, {
          secretName: name,
          description: `Cairn webhook secret; put the same value in the Git provider's webhook settings`,
          generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
          // The value is also configured in the Git provider: removing Cairn must not destroy it.
          removalPolicy: RemovalPolicy.RETAIN,
        });
        acknowledge(
          secret,
          'SMG4',
          'A webhook secret is shared with the Git provider, so a rotation must change both sides at once; it is rotated by hand ' +
            'with previousWebhookSecretName accepting the old value meanwhile (docs/deploy.md), which a rotation Lambda cannot do.',
        );
        this.created.set(name, secret);
      }
    }
    const arnsOf = (names: string[]): string[] =>
      [...new Set(names)].flatMap((name) => {
        const created = this.created.get(name);
        return created ? [created.secretArn] : referencedSecretArns(name);
      });
    this.webhookSecretArns = arnsOf([
      ...webhook,
      ...props.sources.flatMap((s) => (s.previousWebhookSecretName ? [s.previousWebhookSecretName] : [])),
    ]);
    this.gitTokenSecretArns = arnsOf(props.sources.flatMap((s) => (s.gitTokenSecretName ? [s.gitTokenSecretName] : [])));
  }
}

/**
 * A secret's ARN ends in a hyphen and six random characters Secrets Manager adds, unknown until it
 * exists; `?` matches exactly one character, so a name grants that secret and no longer-named one.
 * A full ARN is granted as given; a partial ARN (without the suffix) with the suffix pattern.
 */
export function referencedSecretArns(nameOrArn: string): string[] {
  if (nameOrArn.startsWith('arn:')) return [nameOrArn, `${nameOrArn}-??????`];
  return [`arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${nameOrArn}-??????`];
}

/** Stable per name, so reordering sources never replaces a secret (and its value). */
function constructIdOf(name: string): string {
  const readable = name.replace(/[^A-Za-z0-9]/g, '').slice(0, 48);
  return `${readable}${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}
