/**
 * The resource reads drift detection needs. CloudFormation detects drift by reading each resource
 * of a stack with the credentials of whoever called DetectStackDrift, so the sweep must be able to
 * read every resource type the stacks hold, and should be able to read nothing else. A deployment
 * names the resource types its repositories may use (`driftDetectionResourceTypes`, whole services
 * as `AWS::SQS::*`); each becomes its service's configuration reads (Describe*, Get*, List*), which
 * is how the services name the calls their CloudFormation read handlers make. The data-plane reads
 * among those (DATA_PLANE_READS: object, item, secret and message reads) stay denied.
 */

/** A resource type or a whole service: AWS::SQS::Queue, AWS::SQS::*. */
export const RESOURCE_TYPE_PATTERN = /^AWS::([A-Za-z0-9]+)::([A-Za-z0-9]+|\*)$/;

/** The read verbs of a service's configuration APIs. */
export const READ_VERBS = ['Describe*', 'Get*', 'List*'] as const;

/**
 * The IAM service prefixes of the CloudFormation namespaces whose prefix is not the namespace in
 * lower case (from the Service Authorization Reference). A namespace not listed here is taken in
 * lower case (AWS::SQS → sqs, AWS::Lambda → lambda).
 */
export const SERVICE_PREFIXES: Readonly<Record<string, readonly string[]>> = {
  ApiGatewayV2: ['apigateway'],
  ApplicationAutoScaling: ['application-autoscaling'],
  CertificateManager: ['acm'],
  Cognito: ['cognito-idp', 'cognito-identity'],
  DocDB: ['rds'],
  EFS: ['elasticfilesystem'],
  ElasticLoadBalancing: ['elasticloadbalancing'],
  ElasticLoadBalancingV2: ['elasticloadbalancing'],
  Elasticsearch: ['es'],
  EventSchemas: ['schemas'],
  KinesisFirehose: ['firehose'],
  MSK: ['kafka'],
  AmazonMQ: ['mq'],
  Neptune: ['rds'],
  OpenSearchService: ['es'],
  StepFunctions: ['states'],
};

/**
 * The resource types drift detection can read when a deployment names none: the services most
 * templates use. Name your own to narrow it, or to add a service it lacks.
 */
export const DEFAULT_DRIFT_RESOURCE_TYPES: readonly string[] = [
  'AWS::ApiGateway::*',
  'AWS::CloudWatch::*',
  'AWS::DynamoDB::*',
  'AWS::EC2::*',
  'AWS::ECR::*',
  'AWS::ECS::*',
  'AWS::ElasticLoadBalancingV2::*',
  'AWS::Events::*',
  'AWS::IAM::*',
  'AWS::KMS::*',
  'AWS::Lambda::*',
  'AWS::Logs::*',
  'AWS::RDS::*',
  'AWS::Route53::*',
  'AWS::S3::*',
  'AWS::SNS::*',
  'AWS::SQS::*',
  'AWS::SSM::*',
  'AWS::SecretsManager::*',
  'AWS::StepFunctions::*',
];

/** The IAM prefixes of the services `types` belong to, sorted. */
export function servicePrefixes(types: readonly string[]): string[] {
  const prefixes = new Set<string>();
  for (const type of types) {
    const namespace = RESOURCE_TYPE_PATTERN.exec(type)?.[1];
    if (!namespace) throw new Error(`${type} is not a resource type such as AWS::SQS::Queue or AWS::SQS::*`);
    for (const prefix of SERVICE_PREFIXES[namespace] ?? [namespace.toLowerCase()]) prefixes.add(prefix);
  }
  return [...prefixes].sort();
}

/** The configuration reads of those services, e.g. sqs:Describe*, sqs:Get*, sqs:List*. */
export function driftReadActions(types: readonly string[]): string[] {
  return servicePrefixes(types).flatMap((prefix) => READ_VERBS.map((verb) => `${prefix}:${verb}`));
}
