/**
 * Security: IAM enforces what the code promises, so a bug in Cairn cannot widen it. A source's role
 * may delete or unprotect only stacks whose `cairn:source` is that source (asserted on the
 * synthesised policy: removing the condition fails here; test/security/source-isolation.test.ts
 * evaluates the policies); prune deletes a stack through the role it was
 * deployed with; the template bucket's policy lets only the reconcile role write; the sweep is denied the data-plane reads its read-only policies would allow; every
 * function has reserved concurrency from the deployment configuration; destination roles are
 * passable. Synthesised without bundling, and on the embedded account for the prune.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DATA_PLANE_READS } from '../../lib/infra/cloudformation-access.js';
import { DEFAULT_DRIFT_RESOURCE_TYPES, driftReadActions } from '../../lib/infra/drift-reads.js';
import { parseDeployConfig } from '../../lib/infra/deploy-config.js';
import type { GatewayFactory } from '../../lib/ports/stack-gateway.js';
import { synth } from '../infra/synth.js';
import { world } from '../helpers/world.js';

const DEPLOYER = 'arn:aws:iam::123456789012:role/platform-deployer';
const EXTRA = 'arn:aws:iam::123456789012:role/platform-networking';

const config = (extra: Record<string, unknown> = {}) =>
  parseDeployConfig(
    {
      sources: [
        {
          name: 'platform',
          repoUrl: 'https://github.com/acme/platform.git',
          provider: 'github',
          webhookSecretName: 'cairn/platform/webhook',
          roleArn: DEPLOYER,
          destinations: { roleArns: [EXTRA], regions: ['eu-west-1'] },
        },
      ],
      ...extra,
    },
    'test configuration',
  );

describe('Security: IAM enforces ownership and least privilege', () => {
  const { template } = synth(config({ reservedConcurrency: { webhook: 3 } }), { bundle: false });

  it('lets a source\'s role delete or unprotect only stacks tagged with that source', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: Match.arrayWith(['cloudformation:DeleteStack', 'cloudformation:UpdateTerminationProtection']),
            Condition: { StringEquals: { 'aws:ResourceTag/cairn:source': 'platform' } },
          }),
        ]),
      },
    });
    // And no statement grants them without that condition.
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: { Effect: string; Action: string | string[]; Condition?: unknown }[] } } }).Properties.PolicyDocument.Statement,
    );
    const unconditioned = statements.filter((s) => s.Effect === 'Allow' && [s.Action].flat().some((a) => a === 'cloudformation:DeleteStack' || a === 'cloudformation:UpdateTerminationProtection') && !s.Condition);
    expect(unconditioned).toEqual([]);
  });

  it('may pass the source\'s destination roles, to CloudFormation only', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'iam:PassRole', Resource: Match.arrayWith([DEPLOYER, EXTRA]), Condition: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } } }),
        ]),
      },
    });
  });

  it('denies the sweep the data-plane reads drift detection never needs', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: DATA_PLANE_READS, Resource: '*' })]) },
    });
    expect(DATA_PLANE_READS).toEqual(expect.arrayContaining(['s3:GetObject', 'dynamodb:Scan', 'secretsmanager:GetSecretValue', 'kms:Decrypt']));
  });

  it('gives the sweep only the reads drift detection makes, for the deployment\'s resource types, and no managed policy by default', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Action: driftReadActions(DEFAULT_DRIFT_RESOURCE_TYPES), Resource: '*' })]) },
    });
    const sweepRoles = Object.values(template.findResources('AWS::IAM::Role')).filter((r) => (r as { Properties: { Description?: string } }).Properties.Description === 'Cairn sweep function');
    expect(sweepRoles).toHaveLength(1);
    expect((sweepRoles[0] as { Properties: { ManagedPolicyArns?: unknown } }).Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('lets only the reconcile role write templates, in the bucket policy', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:PutObject', Condition: { ArnNotEquals: { 'aws:PrincipalArn': Match.anyValue() } } }),
        ]),
      },
    });
  });

  it('never lets the reconcile role write an approval, and gives approvers a policy to write one', () => {
    const approvals = Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/cairn/approvals/\\*$')])] });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Principal: { AWS: '*' }, Action: ['s3:PutObject', 's3:DeleteObject'], Resource: approvals, Condition: { ArnEquals: { 'aws:PrincipalArn': Match.anyValue() } } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Action: 's3:PutObject', Resource: approvals })]) },
    });
    template.hasOutput('ApproverPolicyArn', Match.anyValue());
  });

  it('reserves concurrency for every function, the webhook\'s small, from the configuration', () => {
    const reserved = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (f) => (f as { Properties: { Description: string; ReservedConcurrentExecutions?: number } }).Properties,
    );
    const of = (word: RegExp) => reserved.find((p) => word.test(p.Description))?.ReservedConcurrentExecutions;
    expect(of(/verifies Git provider webhooks/)).toBe(3);
    expect(of(/reconciles a source/)).toBe(5);
    expect(of(/detects drift/)).toBe(1);
    expect(of(/queues the owning source/)).toBe(5);
  });

  it('refuses a reconcile reservation below the queue\'s concurrency', () => {
    expect(() => config({ reconcileConcurrency: 8, reservedConcurrency: { reconcile: 4 } })).toThrow(/reservedConcurrency\.reconcile: is 4, below reconcileConcurrency \(8\)/);
  });
});

describe('Security: prune deletes through the stack\'s own role', () => {
  it('passes the role the stack was deployed with to DeleteStack', async () => {
    const deletes: { stackName: string; roleArn: string | undefined }[] = [];
    const spy = (base: GatewayFactory): GatewayFactory => (region) => {
      const g = base(region);
      return new Proxy(g, {
        get(target, prop, receiver) {
          if (prop === 'deleteStack') {
            return (stackName: string, options: { clientToken: string; roleArn: string | undefined }) => {
              deletes.push({ stackName, roleArn: options.roleArn });
              return target.deleteStack(stackName, options);
            };
          }
          const value = Reflect.get(target, prop, receiver) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    };
    const w = world({ gateways: spy });
    const topic = 'Resources:\n  T: {Type: AWS::SNS::Topic}\n';
    const files = (stacks: string[]) => ({
      'cairn.yaml': ['version: 1', 'defaults: {prune: true}', 'stacks:', ...stacks.map((s) => `  ${s}: {template: t.yaml, roleArn: "${DEPLOYER}"}`)].join('\n'),
      't.yaml': topic,
    });
    expect((await w.converge(await w.desired(files(['a', 'b', 'c'])))).outcome).toBe('succeeded');
    expect((await w.converge(await w.desired(files(['a', 'b'])))).outcome).toBe('succeeded');
    expect(deletes).toEqual([{ stackName: 'c', roleArn: DEPLOYER }]);
  });
});
