#!/usr/bin/env node
/**
 * The CDK app: reads the deployment configuration (cairn.deploy.json, or inline in cdk.json's
 * context), instantiates the Cairn stack, and runs cdk-nag's AwsSolutions checks on it. A bad
 * configuration prints its problems, each naming the file and field, and exits 1 without a trace.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { formatProblem, ValidationError } from '../lib/core/errors.js';
import { CairnStack } from '../lib/infra/cairn-stack.js';
import { CONTEXT_KEY, DEFAULT_CONFIG_FILE, loadDeployConfig, type LoadedDeployConfig } from '../lib/infra/deploy-config.js';

const app = new App();

let loaded: LoadedDeployConfig;
try {
  loaded = loadDeployConfig({
    context: app.node.tryGetContext(CONTEXT_KEY),
    configFile: app.node.tryGetContext(`${CONTEXT_KEY}.configFile`),
    cwd: process.cwd(),
  });
} catch (error) {
  if (!(error instanceof ValidationError)) throw error;
  const lines = error.problems.map((p) => `  ${formatProblem(p)}`);
  process.stderr.write(`Cairn's deployment configuration is not valid:\n${lines.join('\n')}\n`);
  process.exit(1);
}

if (loaded.isExample) {
  process.stderr.write(
    `cairn: no ${DEFAULT_CONFIG_FILE}; synthesising the example configuration ${loaded.from} (copy it to ${DEFAULT_CONFIG_FILE} and edit it before deploying)\n`,
  );
}

new CairnStack(app, loaded.config.stackName, {
  config: loaded.config,
  description: `Cairn: GitOps for AWS CloudFormation (${loaded.config.sources.length} sources from ${loaded.from})`,
  env: { account: process.env['CDK_DEFAULT_ACCOUNT'], region: process.env['CDK_DEFAULT_REGION'] },
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
