/**
 * Infra: the sweep's reads for drift detection, derived from the resource types a deployment names:
 * each type's service, by its IAM prefix, gets its configuration reads and nothing else.
 */
import { describe, expect, it } from 'vitest';
import { parseDeployConfig } from '../../lib/infra/deploy-config.js';
import { DEFAULT_DRIFT_RESOURCE_TYPES, driftReadActions, servicePrefixes } from '../../lib/infra/drift-reads.js';

describe('Infra: drift detection reads', () => {
  it.each([
    [['AWS::SQS::Queue'], ['sqs']],
    [['AWS::SQS::Queue', 'AWS::SQS::QueuePolicy', 'AWS::SQS::*'], ['sqs']],
    [['AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::ElasticLoadBalancing::LoadBalancer'], ['elasticloadbalancing']],
    [['AWS::StepFunctions::StateMachine', 'AWS::CertificateManager::Certificate'], ['acm', 'states']],
    [['AWS::Cognito::UserPool'], ['cognito-identity', 'cognito-idp']],
  ])('%j reads the services %j', (types, prefixes) => {
    expect(servicePrefixes(types)).toEqual(prefixes);
  });

  it('gives each service its Describe, Get and List calls', () => {
    expect(driftReadActions(['AWS::SNS::Topic', 'AWS::Lambda::Function'])).toEqual([
      'lambda:Describe*',
      'lambda:Get*',
      'lambda:List*',
      'sns:Describe*',
      'sns:Get*',
      'sns:List*',
    ]);
  });

  it('covers the common services by default, and takes a deployment\'s own list instead', () => {
    const base = { sources: [{ name: 'a', repoUrl: 'https://git.example/a.git', provider: 'github', webhookSecretName: 'w' }] };
    expect(parseDeployConfig(base, 'f').driftDetectionResourceTypes).toEqual(DEFAULT_DRIFT_RESOURCE_TYPES);
    expect(servicePrefixes(DEFAULT_DRIFT_RESOURCE_TYPES)).toEqual(expect.arrayContaining(['s3', 'ec2', 'iam', 'lambda', 'dynamodb', 'states']));
    expect(parseDeployConfig({ ...base, driftDetectionResourceTypes: ['AWS::SQS::Queue'] }, 'f').driftDetectionResourceTypes).toEqual(['AWS::SQS::Queue']);
    expect(() => parseDeployConfig({ ...base, driftDetectionResourceTypes: ['sqs:Get*'] }, 'f')).toThrow(/driftDetectionResourceTypes\.0: expected a resource type such as AWS::SQS::Queue/);
  });
});
