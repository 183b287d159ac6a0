import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replacementFor } from '../../../lib/adapters/embedded-account/replacement-rules.js';
import { unknownValue } from '../../../lib/adapters/embedded-account/intrinsic-functions.js';
import { resourceSchema, resourceSchemaSource } from '../../../lib/core/resource-schemas.js';

type Props = Record<string, unknown>;

function changedKeys(next: Props, prev: Props): string[] {
  return [...new Set([...Object.keys(next), ...Object.keys(prev)])].filter((k) => JSON.stringify(next[k]) !== JSON.stringify(prev[k])).sort();
}

describe('EmbeddedAccount: replacement from the resource schemas', () => {
  it.each<[string, string, Props, Props, 'True' | 'False' | 'Conditional']>([
    ['adding a create-only property', 'AWS::RDS::DBInstance', { DBInstanceClass: 'db.t3.micro' }, { DBInstanceClass: 'db.t3.micro', DBSubnetGroupName: 'private' }, 'True'],
    ['changing an updatable property', 'AWS::RDS::DBInstance', { DBInstanceClass: 'db.t3.micro' }, { DBInstanceClass: 'db.t3.small' }, 'False'],
    ['a property replaced in some cases', 'AWS::EC2::VPC', { CidrBlock: '10.0.0.0/16', InstanceTenancy: 'dedicated' }, { CidrBlock: '10.0.0.0/16', InstanceTenancy: 'default' }, 'Conditional'],
    ['renaming a bucket', 'AWS::S3::Bucket', { BucketName: 'a' }, { BucketName: 'b' }, 'True'],
    ['a queue timeout', 'AWS::SQS::Queue', { VisibilityTimeout: 30 }, { VisibilityTimeout: 60 }, 'False'],
    ['making a queue FIFO', 'AWS::SQS::Queue', {}, { FifoQueue: true }, 'True'],
    ['a KMS key spec (updatable, not a replacement)', 'AWS::KMS::Key', { KeySpec: 'SYMMETRIC_DEFAULT' }, { KeySpec: 'RSA_2048' }, 'False'],
    ['Cognito alias attributes (updatable)', 'AWS::Cognito::UserPool', {}, { AliasAttributes: ['email'] }, 'False'],
    ['a DynamoDB key schema', 'AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }, { KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] }, 'True'],
    ['a create-only property nested in an updatable one', 'AWS::EC2::EC2Fleet', { TargetCapacitySpecification: { TotalTargetCapacity: 1, DefaultTargetCapacityType: 'spot' } }, { TargetCapacitySpecification: { TotalTargetCapacity: 1, DefaultTargetCapacityType: 'on-demand' } }, 'True'],
    ['an updatable property nested beside it', 'AWS::EC2::EC2Fleet', { TargetCapacitySpecification: { TotalTargetCapacity: 1, DefaultTargetCapacityType: 'spot' } }, { TargetCapacitySpecification: { TotalTargetCapacity: 2, DefaultTargetCapacityType: 'spot' } }, 'False'],
    ['a create-only property whose new value is not known yet', 'AWS::EC2::Subnet', { VpcId: 'vpc-1', CidrBlock: '10.0.0.0/24' }, { VpcId: unknownValue('Vpc', undefined), CidrBlock: '10.0.0.0/24' }, 'Conditional'],
    ['a custom resource', 'Custom::Seed', { ServiceToken: 'a', Size: 1 }, { ServiceToken: 'a', Size: 2 }, 'False'],
  ])('%s: %s is replaced %s', (_name, type, prev, next, expected) => {
    expect(replacementFor(type, changedKeys(next, prev), next, prev)).toBe(expected);
  });

  it('reads the schemas generated from the pinned @aws-cdk/aws-service-spec', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> };
    expect(resourceSchemaSource()).toBe(`@aws-cdk/aws-service-spec@${pkg.devDependencies['@aws-cdk/aws-service-spec']}`);
    expect(resourceSchema('AWS::EC2::NetworkInterface')!.attributes['SecondaryPrivateIpAddresses']).toEqual({ list: true });
    expect(resourceSchema('AWS::SQS::Queue')!.properties['QueueName']).toMatchObject({ replacement: 'always', required: false, shape: { kind: 'string' } });
  });
});
