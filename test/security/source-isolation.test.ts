/**
 * Security: sources are isolated by IAM. Each source's role, as synthesised, is evaluated as IAM
 * would evaluate it (test/security/iam-evaluator.ts): source dev may change its own stacks and pass
 * its own deployer, and may not execute a change set on, delete or take over a stack tagged
 * `cairn:source=prod`, nor pass prod's deployer, nor create stacks in a region outside its
 * destinations. Removing the conditions flips those answers, so the tests fail if a condition is lost.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDeployConfig } from '../../lib/infra/deploy-config.js';
import { synth } from '../infra/synth.js';
import { ACCOUNT, REGION, evaluate, statementsOfRole, type IamRequest, type PolicyStatementJson } from './iam-evaluator.js';

const DEV_DEPLOYER = `arn:aws:iam::${ACCOUNT}:role/dev-deployer`;
const PROD_DEPLOYER = `arn:aws:iam::${ACCOUNT}:role/prod-deployer`;
const stackArn = (name: string, region = REGION) => `arn:aws:cloudformation:${region}:${ACCOUNT}:stack/${name}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;
const TAG = 'aws:ResourceTag/cairn:source';
const REQUEST_TAG = 'aws:RequestTag/cairn:source';

const source = (name: string, extra: Record<string, unknown>) => ({
  name,
  repoUrl: `https://github.com/acme/${name}.git`,
  provider: 'github',
  webhookSecretName: `cairn/${name}/webhook`,
  ...extra,
});

describe('Security: each source acts through its own role, which IAM keeps to its own stacks', () => {
  let dev: PolicyStatementJson[];
  let prod: PolicyStatementJson[];
  beforeAll(() => {
    const s = synth(
      parseDeployConfig(
        {
          regions: ['eu-west-1', 'us-east-1'],
          sources: [
            source('dev', { roleArn: DEV_DEPLOYER, destinations: { regions: ['eu-west-1'] } }),
            source('prod', { roleArn: PROD_DEPLOYER }),
          ],
        },
        'test configuration',
      ),
      { bundle: false, validate: false },
    );
    const template = s.template.toJSON();
    const roleId = (name: string) => s.stack.getLogicalId(s.stack.sourceRoles.roles.get(name)!.node.defaultChild as unknown as Parameters<typeof s.stack.getLogicalId>[0]);
    dev = statementsOfRole(template, roleId('dev'));
    prod = statementsOfRole(template, roleId('prod'));
  });

  const execute = (tag: string | undefined): IamRequest => ({ action: 'cloudformation:ExecuteChangeSet', resource: stackArn('app'), context: tag ? { [TAG]: tag } : {} });
  const passRole = (role: string, service = 'cloudformation.amazonaws.com'): IamRequest => ({ action: 'iam:PassRole', resource: role, context: { 'iam:PassedToService': service } });
  const create = (tag: string, role: string, existing?: string, region = REGION): IamRequest => ({
    action: 'cloudformation:CreateChangeSet',
    resource: stackArn('app', region),
    context: { [REQUEST_TAG]: tag, 'cloudformation:RoleArn': role, ...(existing ? { [TAG]: existing } : {}) },
  });

  it('lets dev execute change sets on, delete and unprotect its own stacks', () => {
    expect(evaluate(dev, execute('dev'))).toBe('Allow');
    for (const action of ['cloudformation:DeleteStack', 'cloudformation:UpdateTerminationProtection', 'cloudformation:DeleteChangeSet']) {
      expect(evaluate(dev, { action, resource: stackArn('app'), context: { [TAG]: 'dev' } }), action).toBe('Allow');
    }
  });

  it('refuses dev every change to a stack tagged cairn:source=prod', () => {
    expect(evaluate(dev, execute('prod'))).toBe('ExplicitDeny');
    for (const action of ['cloudformation:DeleteStack', 'cloudformation:UpdateTerminationProtection', 'cloudformation:DeleteChangeSet']) {
      expect(evaluate(dev, { action, resource: stackArn('app'), context: { [TAG]: 'prod' } }), action).toBe('ExplicitDeny');
    }
    // Nor may it take prod's stack over by creating a change set that retags it as dev's.
    expect(evaluate(dev, create('dev', DEV_DEPLOYER, 'prod'))).toBe('ExplicitDeny');
    // And prod's role is kept off dev's stacks the same way.
    expect(evaluate(prod, execute('dev'))).toBe('ExplicitDeny');
  });

  it('refuses dev deleting or unprotecting a stack no source owns', () => {
    for (const action of ['cloudformation:DeleteStack', 'cloudformation:UpdateTerminationProtection']) {
      expect(evaluate(dev, { action, resource: stackArn('legacy') }), action).toBe('ImplicitDeny');
    }
  });

  it('lets dev pass its own deployer, to CloudFormation only, and never prod\'s', () => {
    expect(evaluate(dev, passRole(DEV_DEPLOYER))).toBe('Allow');
    expect(evaluate(dev, passRole(DEV_DEPLOYER, 'lambda.amazonaws.com'))).toBe('ImplicitDeny');
    expect(evaluate(dev, passRole(PROD_DEPLOYER))).toBe('ImplicitDeny');
    expect(evaluate(prod, passRole(PROD_DEPLOYER))).toBe('Allow');
  });

  it('lets dev create a stack only with its own tag, its own deployer and in its destination regions', () => {
    expect(evaluate(dev, create('dev', DEV_DEPLOYER))).toBe('Allow');
    expect(evaluate(dev, create('prod', DEV_DEPLOYER))).toBe('ImplicitDeny');
    expect(evaluate(dev, create('dev', PROD_DEPLOYER))).toBe('ImplicitDeny');
    expect(evaluate(dev, { ...create('dev', DEV_DEPLOYER), context: { 'cloudformation:RoleArn': DEV_DEPLOYER } })).toBe('ImplicitDeny');
    expect(evaluate(dev, create('dev', DEV_DEPLOYER, undefined, 'us-east-1'))).toBe('ImplicitDeny');
    // prod declares no regions: it gets the deployment's.
    expect(evaluate(prod, create('prod', PROD_DEPLOYER, undefined, 'us-east-1'))).toBe('Allow');
  });

  it('keeps every source off Cairn\'s own stack, whatever its tags', () => {
    const own = { action: 'cloudformation:ExecuteChangeSet', resource: stackArn('Cairn'), context: { [TAG]: 'dev' } };
    expect(evaluate(dev, own)).toBe('ExplicitDeny');
  });

  describe('the conditions are what refuse it', () => {
    /** The statements with `edit` applied to those whose conditions name `key`. */
    const without = (statements: PolicyStatementJson[], key: string, edit: 'condition' | 'statement') =>
      statements.flatMap((s) => {
        if (!JSON.stringify(s.Condition ?? {}).includes(key)) return [s];
        if (edit === 'statement') return [];
        const { Condition: _condition, ...rest } = s;
        return [rest as PolicyStatementJson];
      });

    it('executing on prod\'s stack: either guard alone refuses it, without both it would be allowed', () => {
      const allowsOnlyOwn = dev.filter((s) => s.Effect === 'Allow' || !JSON.stringify(s.Condition ?? {}).includes(TAG));
      expect(evaluate(allowsOnlyOwn, execute('prod')), 'the Allow\'s StringEquals alone').toBe('ImplicitDeny');
      const unconditionedAllow = dev.map((s) => (s.Effect === 'Allow' && JSON.stringify(s.Condition ?? {}).includes(`"${TAG}":"dev"`) ? { ...s, Condition: undefined } : s));
      expect(evaluate(unconditionedAllow, execute('prod')), 'the Deny alone').toBe('ExplicitDeny');
      const neither = unconditionedAllow.filter((s) => s.Effect === 'Allow');
      expect(evaluate(neither, execute('prod'))).toBe('Allow');
    });

    it('creating with prod\'s tag or deployer: allowed once the request conditions are gone', () => {
      expect(evaluate(without(dev, REQUEST_TAG, 'condition'), create('prod', DEV_DEPLOYER))).toBe('Allow');
      expect(evaluate(without(dev, 'cloudformation:RoleArn', 'condition'), create('dev', PROD_DEPLOYER))).toBe('Allow');
    });

    it('passing the deployer to another service: allowed once iam:PassedToService is gone', () => {
      expect(evaluate(without(dev, 'iam:PassedToService', 'condition'), passRole(DEV_DEPLOYER, 'lambda.amazonaws.com'))).toBe('Allow');
    });
  });
});

describe('Security: the IAM evaluator the isolation tests rely on', () => {
  const allow = (Condition?: PolicyStatementJson['Condition']): PolicyStatementJson => ({ Effect: 'Allow', Action: 'cloudformation:Delete*', Resource: 'arn:aws:cloudformation:*:*:stack/*', ...(Condition ? { Condition } : {}) });
  const request = (context: Record<string, string> = {}): IamRequest => ({ action: 'cloudformation:DeleteStack', resource: stackArn('app'), context });

  it.each([
    ['no statement', [], {}, 'ImplicitDeny'],
    ['a wildcard Allow', [allow()], {}, 'Allow'],
    ['an Allow of another action', [{ ...allow(), Action: 'cloudformation:Describe*' }], {}, 'ImplicitDeny'],
    ['an Allow on another resource', [{ ...allow(), Resource: 'arn:aws:s3:::*' }], {}, 'ImplicitDeny'],
    ['a Deny beside an Allow', [allow(), { ...allow(), Effect: 'Deny' }], {}, 'ExplicitDeny'],
    ['StringEquals with the key missing', [allow({ StringEquals: { [TAG]: 'dev' } })], {}, 'ImplicitDeny'],
    ['StringEquals with one of its values', [allow({ StringEquals: { [TAG]: ['dev', 'qa'] } })], { [TAG]: 'qa' }, 'Allow'],
    ['StringNotEquals with the key missing', [allow({ StringNotEquals: { [TAG]: 'dev' } })], {}, 'Allow'],
    ['Null "false" with the key missing', [allow({ Null: { [TAG]: 'false' } })], {}, 'ImplicitDeny'],
    ['Null "true" with the key present', [allow({ Null: { [TAG]: 'true' } })], { [TAG]: 'dev' }, 'ImplicitDeny'],
    ['two operators, one failing', [allow({ Null: { [TAG]: 'false' }, StringEquals: { [TAG]: 'dev' } })], { [TAG]: 'prod' }, 'ImplicitDeny'],
  ] as const)('decides %s', (_name, statements, context, decision) => {
    expect(evaluate([...statements] as PolicyStatementJson[], request({ ...context }))).toBe(decision);
  });

  it('refuses to guess at an operator it does not model', () => {
    expect(() => evaluate([allow({ DateGreaterThan: { 'aws:CurrentTime': '2020-01-01' } })], request())).toThrow(/not modelled/);
  });
});
