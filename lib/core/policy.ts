/**
 * Safety policy defaults: which resource types are stateful (their replacement or removal loses
 * data and is blocked unless allowed by logical id), and how much one run may prune.
 */

/** Replacing or removing these destroys data; cairn.yaml's `defaults.protectedTypes` adds more. */
export const DEFAULT_PROTECTED_TYPES: readonly string[] = [
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  'AWS::RDS::GlobalCluster',
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::S3::Bucket',
  'AWS::EFS::FileSystem',
  'AWS::KMS::Key',
  'AWS::Cognito::UserPool',
  'AWS::Logs::LogGroup',
  'AWS::DocDB::DBCluster',
  'AWS::Neptune::DBCluster',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::OpenSearchService::Domain',
  'AWS::Elasticsearch::Domain',
  'AWS::Backup::BackupVault',
  'AWS::SecretsManager::Secret',
  'AWS::ECR::Repository',
  'AWS::Kinesis::Stream',
];

/** By default one run prunes at most half of the source's owned stacks. */
export const DEFAULT_PRUNE_MAX_SHARE = 0.5;

export const DEFAULT_DRIFT_POLICY = 'alert' as const;
