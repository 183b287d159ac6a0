/**
 * Which property changes make CloudFormation replace a resource ("Update requires: Replacement" in
 * the resource reference), for the types stacks commonly hold, and the Replacement value a change
 * set reports: True, False, or Conditional when the new value is not known until a resource it
 * refers to is created.
 */
import { isDeepStrictEqual } from 'node:util';
import { containsUnknown } from './intrinsic-functions.js';

type Props = Record<string, unknown>;
/** True when changing the property from `prev` to `next` replaces the resource. */
type Rule = true | ((next: Props, prev: Props) => boolean);

function keyAttributeTypes(props: Props, keyNames: string[]): unknown[] {
  const defs = Array.isArray(props.AttributeDefinitions) ? (props.AttributeDefinitions as Props[]) : [];
  return keyNames.map((name) => defs.find((d) => d.AttributeName === name)?.AttributeType);
}

/** Only the definitions of key attributes are immutable; index attributes may change in place. */
const dynamoKeyAttributes: Rule = (next, prev) => {
  const schema = Array.isArray(next.KeySchema) ? (next.KeySchema as Props[]) : [];
  const keyNames = schema.map((k) => String(k.AttributeName));
  return !isDeepStrictEqual(keyAttributeTypes(next, keyNames), keyAttributeTypes(prev, keyNames));
};

const IMMUTABLE: Record<string, Record<string, Rule>> = {
  'AWS::S3::Bucket': { BucketName: true },
  'AWS::DynamoDB::Table': { TableName: true, KeySchema: true, AttributeDefinitions: dynamoKeyAttributes },
  'AWS::DynamoDB::GlobalTable': { TableName: true, KeySchema: true, AttributeDefinitions: dynamoKeyAttributes },
  'AWS::RDS::DBInstance': {
    DBInstanceIdentifier: true,
    Engine: true,
    DBName: true,
    MasterUsername: true,
    StorageEncrypted: true,
    KmsKeyId: true,
    CharacterSetName: true,
  },
  'AWS::RDS::DBCluster': {
    DBClusterIdentifier: true,
    Engine: true,
    DatabaseName: true,
    MasterUsername: true,
    StorageEncrypted: true,
    KmsKeyId: true,
  },
  'AWS::EFS::FileSystem': { Encrypted: true, PerformanceMode: true, KmsKeyId: true, AvailabilityZoneName: true },
  'AWS::KMS::Key': { KeySpec: true, KeyUsage: true, MultiRegion: true },
  'AWS::Cognito::UserPool': { UsernameAttributes: true, AliasAttributes: true },
  'AWS::Logs::LogGroup': { LogGroupName: true },
  'AWS::EC2::VPC': { CidrBlock: true },
  'AWS::EC2::Subnet': { CidrBlock: true, VpcId: true, AvailabilityZone: true, AvailabilityZoneId: true },
  'AWS::EC2::SecurityGroup': { GroupName: true, GroupDescription: true, VpcId: true },
  'AWS::EC2::Instance': { ImageId: true, AvailabilityZone: true, SubnetId: true, KeyName: true },
  'AWS::SQS::Queue': { QueueName: true, FifoQueue: true },
  'AWS::SNS::Topic': { TopicName: true, FifoTopic: true },
  'AWS::IAM::Role': { RoleName: true, Path: true },
  'AWS::IAM::ManagedPolicy': { ManagedPolicyName: true, Path: true, Description: true },
  'AWS::Lambda::Function': { FunctionName: true },
  'AWS::ECR::Repository': { RepositoryName: true },
  'AWS::SSM::Parameter': { Name: true },
  'AWS::Events::Rule': { Name: true },
  'AWS::StepFunctions::StateMachine': { StateMachineName: true },
  'AWS::Kinesis::Stream': { Name: true },
  'AWS::SecretsManager::Secret': { Name: true },
};

export type Replacement = 'True' | 'False' | 'Conditional';

/** Whether changing `property` of `type` from `prev` to `next` replaces the resource. */
export function requiresReplacement(type: string, property: string, next: Props, prev: Props): boolean {
  const rule = IMMUTABLE[type]?.[property];
  if (rule === undefined) return false;
  return rule === true ? true : rule(next, prev);
}

/** The Replacement a change set reports for a Modify of `changed` properties. */
export function replacementFor(type: string, changed: string[], next: Props, prev: Props): Replacement {
  let result: Replacement = 'False';
  for (const property of changed) {
    if (!requiresReplacement(type, property, next, prev)) continue;
    if (!containsUnknown(next[property])) return 'True';
    result = 'Conditional';
  }
  return result;
}
