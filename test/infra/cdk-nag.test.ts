/**
 * cdk-nag's AwsSolutions pack over the Cairn stack, registered as bin/app.ts registers it: no
 * finding is left unacknowledged, and every acknowledgement carries a written reason. Both
 * configurations (every source with its own role; the default deployer and created secrets)
 * between them reach every construct that acknowledges something.
 */
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeployConfig } from '../../lib/infra/deploy-config.js';
import { driftReadActions } from '../../lib/infra/drift-reads.js';
import { FULL_CONFIG, MINIMAL_CONFIG, synth, type Synthesised } from './synth.js';

function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))),
  );
}

describe.each([
  ['every source with its own role', FULL_CONFIG],
  ['the default deployer and created secrets', MINIMAL_CONFIG],
] as [string, DeployConfig][])('Infra: cdk-nag AwsSolutions, %s', (_name, config) => {
  let s: Synthesised;
  beforeAll(() => {
    // Neither the bundles nor CloudFormation's own validation play a part in these rules.
    s = synth(config, { bundle: false, validate: false });
  });

  it('leaves no error or warning unacknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(s.stack);
    const open = report.violations.map((v) => `${v.ruleName} (${v.severity}) at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(open).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgement a reason a reviewer can check', () => {
    const all = acknowledgements(s.stack);
    expect(all.length).toBeGreaterThan(0);
    for (const a of all) {
      expect(a.id).toMatch(/AwsSolutions-(IAM4|IAM5|S1|SMG4)\b/);
      expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(60);
    }
  });

  it('acknowledges wildcards resource by resource, never a whole rule', () => {
    const all = acknowledgements(s.stack).map((a) => ({ ...a, id: a.id.replace(/^Annotation::/, '') }));
    expect(all.filter((a) => a.id === 'AwsSolutions-IAM5' || a.id === 'AwsSolutions-IAM4')).toEqual([]);
    // Action wildcards only for the sweep's drift-detection reads, one per service and verb it was given.
    const actions = all.filter((a) => a.id.startsWith('AwsSolutions-IAM5[Action::'));
    expect(actions.map((a) => a.id).sort()).toEqual(driftReadActions(config.driftDetectionResourceTypes).map((a) => `AwsSolutions-IAM5[Action::${a}]`).sort());
    expect(new Set(actions.map((a) => a.path))).toEqual(new Set([s.stack.sweep.node.path]));
  });
});

describe('Infra: cdk-nag as the CDK app runs it', () => {
  it('fails synthesis on a finding nobody acknowledged', async () => {
    const { App, Stack } = await import('aws-cdk-lib');
    const { Queue } = await import('aws-cdk-lib/aws-sqs');
    const app = new App({ builtinCloudFormationValidation: false });
    new Queue(new Stack(app, 'Unchecked'), 'Queue', { enforceSSL: false });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });
});
