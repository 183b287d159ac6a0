/**
 * Synthesising the Cairn stack in a test, as `cdk synth` does: a fresh app with its own output
 * directory (where the bundled functions land), and the template to assert on.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CairnStack } from '../../lib/infra/cairn-stack.js';
import { parseDeployConfig, type DeployConfig } from '../../lib/infra/deploy-config.js';

export interface Synthesised {
  app: App;
  stack: CairnStack;
  template: Template;
  /** The cloud assembly directory: asset.<hash>/index.mjs is each function's bundle. */
  outdir: string;
}

export interface SynthOptions {
  /**
   * false skips esbuild through CDK's own `aws:cdk:bundling-stacks` context (what
   * `cdk deploy --exclusively` does for the stacks it leaves alone), for tests not about bundles.
   */
  bundle?: boolean;
  /** false skips CDK's built-in CloudFormation template validation, which one test file runs. */
  validate?: boolean;
}

export function synth(config: DeployConfig, options: SynthOptions = {}): Synthesised {
  const outdir = mkdtempSync(join(tmpdir(), 'cairn-cdk-'));
  const app = new App({
    outdir,
    builtinCloudFormationValidation: options.validate ?? true,
    ...(options.bundle === false ? { context: { 'aws:cdk:bundling-stacks': [] } } : {}),
  });
  const stack = new CairnStack(app, config.stackName, { config, env: { account: '123456789012', region: 'eu-west-1' } });
  const template = Template.fromStack(stack);
  return { app, stack, template, outdir };
}

/**
 * A deployment with every option set away from its default, each kind of secret reference, and
 * every source deploying through its own role (so no default deployer).
 */
export const FULL_CONFIG = parseDeployConfig(
  {
    stackName: 'CairnTest',
    sources: [
      {
        name: 'platform',
        repoUrl: 'https://github.com/acme/platform.git',
        provider: 'github',
        webhookSecretName: 'cairn/platform/webhook',
        previousWebhookSecretName: 'cairn/platform/webhook-previous',
        gitTokenSecretName: 'cairn/platform/git-token',
        roleArn: 'arn:aws:iam::123456789012:role/platform-deployer',
        destinations: { roleArns: ['arn:aws:iam::123456789012:role/network-deployer'] },
      },
      {
        name: 'data',
        repoUrl: 'https://gitlab.com/acme/data.git',
        branch: 'release',
        provider: 'gitlab',
        webhookSecretName: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cairn/data/webhook',
        roleArn: 'arn:aws:iam::123456789012:role/data-deployer',
      },
    ],
    sweepSchedule: '30 minutes',
    regions: ['eu-west-1', 'us-east-1'],
    reconcileConcurrency: 3,
    logRetentionDays: 30,
    alarms: { emails: ['ops@example.com'], topicArn: 'arn:aws:sns:eu-west-1:123456789012:pager' },
    driftDetectionPolicies: ['SecurityAudit'],
    driftDetectionResourceTypes: ['AWS::SQS::Queue', 'AWS::Cognito::*'],
  },
  'test configuration',
);

/**
 * Nothing but sources and the choice to create webhook secrets: every other default, including the
 * default deployer role (here with a customer managed policy beside an AWS managed one).
 */
export const MINIMAL_CONFIG = parseDeployConfig(
  {
    createWebhookSecrets: true,
    deployerPolicies: ['PowerUserAccess', 'arn:aws:iam::123456789012:policy/cairn-deployer-iam'],
    sources: [{ name: 'platform', repoUrl: 'https://github.com/acme/platform.git', provider: 'github', webhookSecretName: 'cairn/platform/webhook' }],
  },
  'test configuration',
);
