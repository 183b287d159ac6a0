/**
 * CloudFormationAccess: the CloudFormation permissions of Cairn's functions, scoped to stacks and
 * change sets of this account in the regions Cairn deploys to. Stack names come from the Git
 * repositories at run time, so a statement can name the account and regions but not the stacks;
 * listing all stacks and polling a drift detection have no resource to scope to at all.
 */
import { Aws } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { OWNER_TAGS } from '../core/model.js';

const OWNER_SOURCE_TAG = OWNER_TAGS.source;

/** Why the stack and change set ARNs end in "*", for cdk-nag. */
export const STACK_WILDCARD_REASON =
  'Stacks are named in the Git repositories and created at run time, so their ARNs are known only as ' +
  'stack/* and changeSet/* of this account in the configured regions; deleting and unprotecting require the ' +
  'cairn:source tag in IAM, and every change goes through a deployer role.';

/**
 * Data-plane reads drift detection never needs: the sweep's read-only policies are granted for the
 * resources' configuration, and these would let it read the data itself.
 */
export const DATA_PLANE_READS = [
  's3:GetObject',
  's3:GetObjectVersion',
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:GetRecords',
  'secretsmanager:GetSecretValue',
  'kms:Decrypt',
  'sqs:ReceiveMessage',
  'kinesis:GetRecords',
  'logs:GetLogEvents',
  'logs:FilterLogEvents',
  'rds-data:ExecuteStatement',
];

/** Why some actions are granted on "*", for cdk-nag. */
export const LIST_WILDCARD_REASON =
  'cloudformation:DescribeStacks without a stack name (how Cairn finds the stacks it owns) and ' +
  'cloudformation:DescribeStackDriftDetectionStatus support no resource-level permissions.';

export interface CloudFormationAccessProps {
  /** Regions Cairn deploys to; this stack's own region is always included. */
  regions: string[];
  /** Cairn's own stack, which its functions must never change. */
  selfStackName: string;
}

export class CloudFormationAccess {
  /** Every stack and change set of this account in the regions. */
  readonly stackArns: string[];
  private readonly changeSetArns: string[];
  private readonly transformArns: string[];
  private readonly selfArn: string;

  constructor(props: CloudFormationAccessProps) {
    const regions = [Aws.REGION, ...props.regions];
    const arn = (region: string, account: string, resource: string): string =>
      `arn:${Aws.PARTITION}:cloudformation:${region}:${account}:${resource}`;
    this.stackArns = regions.map((r) => arn(r, Aws.ACCOUNT_ID, 'stack/*'));
    this.changeSetArns = regions.map((r) => arn(r, Aws.ACCOUNT_ID, 'changeSet/*'));
    // Templates with a Transform (AWS::Serverless, AWS::LanguageExtensions) are expanded by
    // AWS-owned macros that the caller of CreateChangeSet must be allowed to use.
    this.transformArns = regions.map((r) => arn(r, 'aws', 'transform/*'));
    this.selfArn = arn(Aws.REGION, Aws.ACCOUNT_ID, `stack/${props.selfStackName}/*`);
  }

  /** Actions that act on no particular stack. */
  unscoped(actions: string[]): PolicyStatement {
    return new PolicyStatement({ actions, resources: ['*'] });
  }

  /** Actions on stacks in the regions. */
  onStacks(actions: string[]): PolicyStatement {
    return new PolicyStatement({ actions, resources: this.stackArns });
  }

  /**
   * Actions that delete or unprotect a stack, only on stacks carrying Cairn's `cairn:source` tag:
   * whatever the code does, IAM refuses them on a stack Cairn does not own.
   */
  onOwnedStacks(actions: string[]): PolicyStatement {
    return new PolicyStatement({ actions, resources: this.stackArns, conditions: { Null: { [`aws:ResourceTag/${OWNER_SOURCE_TAG}`]: 'false' } } });
  }

  /** Actions on change sets, which IAM authorises on the stack as well as the change set. */
  onChangeSets(actions: string[]): PolicyStatement {
    return new PolicyStatement({ actions, resources: [...this.stackArns, ...this.changeSetArns] });
  }

  /**
   * CreateChangeSet only with one of `roleArns` as the service role: a change set that would run
   * with the reconciler's own credentials, or through any other role, is refused by IAM.
   */
  createChangeSet(roleArns: string[]): PolicyStatement {
    return new PolicyStatement({
      actions: ['cloudformation:CreateChangeSet'],
      resources: [...this.stackArns, ...this.changeSetArns, ...this.transformArns],
      conditions: { ArnEquals: { 'cloudformation:RoleArn': roleArns } },
    });
  }

  /** Defence in depth: whatever a repository declares, Cairn cannot change or delete its own stack. */
  denySelf(): PolicyStatement {
    return new PolicyStatement({
      effect: Effect.DENY,
      actions: [
        'cloudformation:CreateChangeSet',
        'cloudformation:ExecuteChangeSet',
        'cloudformation:DeleteStack',
        'cloudformation:UpdateTerminationProtection',
      ],
      resources: [this.selfArn],
    });
  }
}
