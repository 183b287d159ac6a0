/**
 * Plausible physical ids and Fn::GetAtt values for simulated resources: names from the template
 * where the type takes one, otherwise CloudFormation-style generated names (`stack-Logical-SUFFIX`)
 * or service-style ids (`vpc-0a1b...`), ARNs in the right shape for the service. Everything is
 * derived from a hash of a seed, so the same operation always yields the same ids.
 */
import { createHash } from 'node:crypto';
import { resourceSchema } from '../../core/resource-schemas.js';
import { containsUnknown } from './intrinsic-functions.js';

export interface AccountEnv {
  accountId: string;
  region: string;
}

export interface PhysicalResource {
  type: string;
  physicalId: string;
  properties: Record<string, unknown>;
}

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export function urlSuffixOf(region: string): string {
  return region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
}

function digest(seed: string): Buffer {
  return createHash('sha256').update(seed).digest();
}

function hex(seed: string, length: number): string {
  return digest(seed).toString('hex').slice(0, length);
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function alnum(seed: string, length: number): string {
  return Array.from(digest(seed).subarray(0, length), (byte) => ALNUM[byte % ALNUM.length]).join('');
}

function uuid(seed: string): string {
  const h = hex(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** CloudFormation's generated name: stack and logical id, shortened to fit, and a random suffix. */
function generatedName(stackName: string, logicalId: string, seed: string, maxLength: number): string {
  const suffix = alnum(seed, 12);
  const room = maxLength - suffix.length - 2;
  const stackPart = stackName.slice(0, Math.max(1, Math.ceil(room / 2)));
  const logicalPart = logicalId.slice(0, Math.max(1, room - stackPart.length));
  return `${stackPart}-${logicalPart}-${suffix}`;
}

/** The property that names a resource of the type, and the longest name the service accepts. */
const NAMES: Record<string, { property: string; max: number; lowercase?: boolean }> = {
  'AWS::S3::Bucket': { property: 'BucketName', max: 63, lowercase: true },
  'AWS::DynamoDB::Table': { property: 'TableName', max: 255 },
  'AWS::SQS::Queue': { property: 'QueueName', max: 80 },
  'AWS::SNS::Topic': { property: 'TopicName', max: 256 },
  'AWS::IAM::Role': { property: 'RoleName', max: 64 },
  'AWS::IAM::User': { property: 'UserName', max: 64 },
  'AWS::IAM::Group': { property: 'GroupName', max: 128 },
  'AWS::IAM::InstanceProfile': { property: 'InstanceProfileName', max: 128 },
  'AWS::IAM::ManagedPolicy': { property: 'ManagedPolicyName', max: 128 },
  'AWS::Lambda::Function': { property: 'FunctionName', max: 64 },
  'AWS::Logs::LogGroup': { property: 'LogGroupName', max: 512 },
  'AWS::RDS::DBInstance': { property: 'DBInstanceIdentifier', max: 63, lowercase: true },
  'AWS::RDS::DBCluster': { property: 'DBClusterIdentifier', max: 63, lowercase: true },
  'AWS::SSM::Parameter': { property: 'Name', max: 128 },
  'AWS::Events::Rule': { property: 'Name', max: 64 },
  'AWS::ECR::Repository': { property: 'RepositoryName', max: 256, lowercase: true },
  'AWS::Kinesis::Stream': { property: 'Name', max: 128 },
  'AWS::StepFunctions::StateMachine': { property: 'StateMachineName', max: 80 },
  'AWS::SecretsManager::Secret': { property: 'Name', max: 512 },
};

/** Types whose ids are a service prefix and hex digits. */
const PREFIXED_IDS: Record<string, string> = {
  'AWS::EC2::VPC': 'vpc',
  'AWS::EC2::Subnet': 'subnet',
  'AWS::EC2::SecurityGroup': 'sg',
  'AWS::EC2::Instance': 'i',
  'AWS::EC2::InternetGateway': 'igw',
  'AWS::EC2::RouteTable': 'rtb',
  'AWS::EC2::NatGateway': 'nat',
  'AWS::EC2::NetworkAcl': 'acl',
  'AWS::EC2::NetworkInterface': 'eni',
  'AWS::EC2::Volume': 'vol',
  'AWS::EC2::VPCEndpoint': 'vpce',
  'AWS::EC2::LaunchTemplate': 'lt',
  'AWS::EC2::TransitGateway': 'tgw',
  'AWS::EFS::FileSystem': 'fs',
  'AWS::EFS::AccessPoint': 'fsap',
};

function nameOf(type: string, properties: Record<string, unknown>, stackName: string, logicalId: string, seed: string): string {
  const naming = NAMES[type]!;
  const given = properties[naming.property];
  let name = typeof given === 'string' && !containsUnknown(given) ? given : generatedName(stackName, logicalId, seed, naming.max);
  if (naming.lowercase) name = name.toLowerCase();
  if (type === 'AWS::SQS::Queue' && given === undefined && properties.FifoQueue === true) name = `${name.slice(0, 75)}.fifo`;
  return name;
}

export interface PhysicalIdInput {
  type: string;
  logicalId: string;
  stackName: string;
  properties: Record<string, unknown>;
  /** Makes generated parts unique: the stack id and the operation that creates the resource. */
  seed: string;
}

export function physicalIdFor(input: PhysicalIdInput, env: AccountEnv): string {
  const { type, logicalId, stackName, properties } = input;
  const seed = `${input.seed}/${logicalId}`;
  const p = partitionOf(env.region);
  const prefix = PREFIXED_IDS[type];
  if (prefix) return `${prefix}-${hex(seed, prefix === 'fs' || prefix === 'fsap' ? 8 : 17)}`;
  if (NAMES[type]) {
    const name = nameOf(type, properties, stackName, logicalId, seed);
    switch (type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.${env.region}.${urlSuffixOf(env.region)}/${env.accountId}/${name}`;
      case 'AWS::SNS::Topic':
        return `arn:${p}:sns:${env.region}:${env.accountId}:${name}`;
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${p}:iam::${env.accountId}:policy${pathOf(properties)}${name}`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:${p}:states:${env.region}:${env.accountId}:stateMachine:${name}`;
      case 'AWS::SecretsManager::Secret':
        return `arn:${p}:secretsmanager:${env.region}:${env.accountId}:secret:${name}-${alnum(seed, 6)}`;
      default:
        return name;
    }
  }
  switch (type) {
    case 'AWS::KMS::Key':
      return uuid(seed);
    case 'AWS::Cognito::UserPool':
      return `${env.region}_${alnum(seed, 9)}`;
    case 'AWS::Cognito::UserPoolClient':
      return alnum(seed, 26).toLowerCase();
    case 'AWS::EC2::EIP':
      return `203.0.113.${digest(seed)[0]! % 254 + 1}`;
    default: {
      // Where the schema says Ref returns the ARN (a certificate, say), the physical id is that ARN.
      const arn = resourceSchema(type)?.refArn;
      return arn ? arnFrom(arn, { stackName, logicalId, properties, seed }, env) : generatedName(stackName, logicalId, seed, 128);
    }
  }
}

/** An ARN from the schema's template: pseudo parameters filled in, names from the properties or generated, ids made up. */
function arnFrom(template: string, r: { stackName: string; logicalId: string; properties: Record<string, unknown>; seed: string }, env: AccountEnv): string {
  const values: Record<string, string> = { Partition: partitionOf(env.region), Region: env.region, Account: env.accountId };
  return template.replace(/\$\{([^}]+)\}/g, (_whole, name: string) => {
    if (values[name] !== undefined) return values[name];
    const given = r.properties[name];
    if (typeof given === 'string' && !containsUnknown(given)) return given;
    return name.endsWith('Name') ? generatedName(r.stackName, r.logicalId, `${r.seed}/${name}`, 64) : uuid(`${r.seed}/${name}`);
  });
}

function pathOf(properties: Record<string, unknown>): string {
  return typeof properties.Path === 'string' ? properties.Path : '/';
}

function lastSegment(physicalId: string): string {
  return physicalId.split(/[/:]/).pop() ?? physicalId;
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function defaultPort(engine: unknown): string {
  const e = String(engine ?? '').toLowerCase();
  if (e.includes('postgres')) return '5432';
  if (e.includes('sqlserver')) return '1433';
  if (e.includes('oracle')) return '1521';
  return '3306';
}

type AttributeTable = (r: PhysicalResource, env: AccountEnv, p: string, suffix: string) => Record<string, unknown>;

const ATTRIBUTES: Record<string, AttributeTable> = {
  'AWS::S3::Bucket': (r, env, p, s) => ({
    Arn: `arn:${p}:s3:::${r.physicalId}`,
    DomainName: `${r.physicalId}.s3.${s}`,
    RegionalDomainName: `${r.physicalId}.s3.${env.region}.${s}`,
    DualStackDomainName: `${r.physicalId}.s3.dualstack.${env.region}.${s}`,
    WebsiteURL: `http://${r.physicalId}.s3-website-${env.region}.${s}`,
  }),
  'AWS::DynamoDB::Table': (r, env, p) => {
    const arn = `arn:${p}:dynamodb:${env.region}:${env.accountId}:table/${r.physicalId}`;
    return { Arn: arn, StreamArn: `${arn}/stream/2024-01-01T00:00:00.000` };
  },
  'AWS::SQS::Queue': (r, env, p) => ({
    Arn: `arn:${p}:sqs:${env.region}:${env.accountId}:${lastSegment(r.physicalId)}`,
    QueueName: lastSegment(r.physicalId),
    QueueUrl: r.physicalId,
  }),
  'AWS::SNS::Topic': (r) => ({ TopicArn: r.physicalId, TopicName: lastSegment(r.physicalId) }),
  'AWS::IAM::Role': (r, env, p) => ({
    Arn: `arn:${p}:iam::${env.accountId}:role${pathOf(r.properties)}${r.physicalId}`,
    RoleId: `AROA${alnum(r.physicalId, 17)}`,
  }),
  'AWS::IAM::User': (r, env, p) => ({ Arn: `arn:${p}:iam::${env.accountId}:user${pathOf(r.properties)}${r.physicalId}` }),
  'AWS::IAM::Group': (r, env, p) => ({ Arn: `arn:${p}:iam::${env.accountId}:group${pathOf(r.properties)}${r.physicalId}` }),
  'AWS::IAM::InstanceProfile': (r, env, p) => ({
    Arn: `arn:${p}:iam::${env.accountId}:instance-profile${pathOf(r.properties)}${r.physicalId}`,
  }),
  'AWS::IAM::ManagedPolicy': (r) => ({ PolicyArn: r.physicalId }),
  'AWS::Lambda::Function': (r, env, p) => ({ Arn: `arn:${p}:lambda:${env.region}:${env.accountId}:function:${r.physicalId}` }),
  'AWS::Logs::LogGroup': (r, env, p) => ({ Arn: `arn:${p}:logs:${env.region}:${env.accountId}:log-group:${r.physicalId}:*` }),
  'AWS::KMS::Key': (r, env, p) => ({ Arn: `arn:${p}:kms:${env.region}:${env.accountId}:key/${r.physicalId}`, KeyId: r.physicalId }),
  'AWS::EC2::VPC': (r) => ({
    VpcId: r.physicalId,
    CidrBlock: r.properties.CidrBlock,
    DefaultSecurityGroup: `sg-${hex(`${r.physicalId}/sg`, 17)}`,
    DefaultNetworkAcl: `acl-${hex(`${r.physicalId}/acl`, 17)}`,
  }),
  'AWS::EC2::Subnet': (r, env) => ({
    SubnetId: r.physicalId,
    VpcId: r.properties.VpcId,
    CidrBlock: r.properties.CidrBlock,
    AvailabilityZone: r.properties.AvailabilityZone ?? `${env.region}a`,
  }),
  'AWS::EC2::SecurityGroup': (r) => ({ GroupId: r.physicalId, VpcId: r.properties.VpcId }),
  'AWS::EC2::Instance': (r, env) => {
    const host = digest(r.physicalId)[0]! % 250 + 4;
    return {
      PrivateIp: `10.0.0.${host}`,
      PublicIp: `198.51.100.${host}`,
      PrivateDnsName: `ip-10-0-0-${host}.${env.region}.compute.internal`,
      AvailabilityZone: r.properties.AvailabilityZone ?? `${env.region}a`,
    };
  },
  'AWS::RDS::DBInstance': (r, env, p, s) => ({
    'Endpoint.Address': `${r.physicalId}.${alnum(r.physicalId, 12).toLowerCase()}.${env.region}.rds.${s}`,
    'Endpoint.Port': String(r.properties.Port ?? defaultPort(r.properties.Engine)),
    DBInstanceArn: `arn:${p}:rds:${env.region}:${env.accountId}:db:${r.physicalId}`,
  }),
  'AWS::RDS::DBCluster': (r, env, p, s) => {
    const id = alnum(r.physicalId, 12).toLowerCase();
    return {
      'Endpoint.Address': `${r.physicalId}.cluster-${id}.${env.region}.rds.${s}`,
      'ReadEndpoint.Address': `${r.physicalId}.cluster-ro-${id}.${env.region}.rds.${s}`,
      'Endpoint.Port': String(r.properties.Port ?? defaultPort(r.properties.Engine)),
      DBClusterArn: `arn:${p}:rds:${env.region}:${env.accountId}:cluster:${r.physicalId}`,
    };
  },
  'AWS::EFS::FileSystem': (r, env, p) => ({
    Arn: `arn:${p}:elasticfilesystem:${env.region}:${env.accountId}:file-system/${r.physicalId}`,
    FileSystemId: r.physicalId,
  }),
  'AWS::Cognito::UserPool': (r, env, p) => ({
    Arn: `arn:${p}:cognito-idp:${env.region}:${env.accountId}:userpool/${r.physicalId}`,
    ProviderName: `cognito-idp.${env.region}.amazonaws.com/${r.physicalId}`,
    ProviderURL: `https://cognito-idp.${env.region}.amazonaws.com/${r.physicalId}`,
    UserPoolId: r.physicalId,
  }),
  'AWS::SSM::Parameter': (r) => ({ Type: r.properties.Type, Value: r.properties.Value }),
  'AWS::Events::Rule': (r, env, p) => ({ Arn: `arn:${p}:events:${env.region}:${env.accountId}:rule/${r.physicalId}` }),
  'AWS::ECR::Repository': (r, env, p, s) => ({
    Arn: `arn:${p}:ecr:${env.region}:${env.accountId}:repository/${r.physicalId}`,
    RepositoryUri: `${env.accountId}.dkr.ecr.${env.region}.${s}/${r.physicalId}`,
  }),
  'AWS::Kinesis::Stream': (r, env, p) => ({ Arn: `arn:${p}:kinesis:${env.region}:${env.accountId}:stream/${r.physicalId}` }),
  'AWS::StepFunctions::StateMachine': (r) => ({ Arn: r.physicalId, Name: lastSegment(r.physicalId) }),
};

/** Two plausible items of a list attribute (addresses, CIDR blocks or ids), by the attribute's name. */
function listAttribute(resource: PhysicalResource, attribute: string): string[] {
  const seed = `${resource.physicalId}/${attribute}`;
  const byte = (i: number): number => digest(`${seed}/${i}`)[0]! % 250 + 4;
  if (/Ipv6Cidr/i.test(attribute)) return [0, 1].map((i) => `2600:1f18:${hex(`${seed}/${i}`, 4)}::/56`);
  if (/Cidr/i.test(attribute)) return [0, 1].map((i) => `10.${byte(i)}.0.0/16`);
  if (/Ip(v4)?(Address)?(es)?$|Addresses$/i.test(attribute)) return [0, 1].map((i) => `10.0.${i}.${byte(i)}`);
  return [0, 1].map((i) => `${lastSegment(resource.physicalId)}-${kebab(attribute.replace(/\./g, '-'))}-${i + 1}`);
}

/** The value of `Fn::GetAtt [resource, attribute]` for a simulated resource; a list where the schema says so. */
export function attributeOf(resource: PhysicalResource, attribute: string, env: AccountEnv): unknown {
  const p = partitionOf(env.region);
  const known = ATTRIBUTES[resource.type]?.(resource, env, p, urlSuffixOf(env.region))[attribute];
  if (known !== undefined) return known;
  if (resourceSchema(resource.type)?.attributes[attribute]?.list) return listAttribute(resource, attribute);
  if (attribute === 'Arn' || attribute.endsWith('Arn')) {
    if (resource.physicalId.startsWith('arn:')) return resource.physicalId;
    const [, service = 'unknown', kind = 'resource'] = resource.type.split('::');
    return `arn:${p}:${service.toLowerCase()}:${env.region}:${env.accountId}:${kebab(kind)}/${lastSegment(resource.physicalId)}`;
  }
  if (attribute.endsWith('Id') || attribute.endsWith('Name')) return lastSegment(resource.physicalId);
  return `${lastSegment(resource.physicalId)}.${kebab(attribute.replace(/\./g, '-'))}`;
}
