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
  'stack/* and changeSet/* of this account in the configured regions; every change requires the source\'s own ' +
  'cairn:source tag in IAM (on the stack, or on the request that creates it) and goes through its deployer roles.';

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
  /** Regions Cairn deploys to; this stack's own region is included unless `onlyRegions`. */
  regions: string[];
  /** Exactly `regions`, without this stack's own (a source whose destinations list its regions). */
  onlyRegions?: boolean;
  /** Cairn's own stack, which its functions must never change. */
  selfStackName: string;
}

/** Every call that changes a stack or its change sets: what the explicit denies name. */
const STACK_CHANGING_ACTIONS = [
  'cloudformation:CreateChangeSet',
  'cloudformation:ExecuteChangeSet',
  'cloudformation:DeleteChangeSet',
  'cloudformation:DeleteStack',
  'cloudformation:UpdateTerminationProtection',
] as const;

export class CloudFormationAccess {
  /** Every stack and change set of this account in the regions. */
  readonly stackArns: string[];
  private readonly changeSetArns: string[];
  private readonly transformArns: string[];
  private readonly selfArn: string;

  private readonly props: CloudFormationAccessProps;

  constructor(props: CloudFormationAccessProps) {
    this.props = props;
    const regions = props.onlyRegions ? props.regions : [Aws.REGION, ...props.regions];
    const arn = (region: string, account: string, resource: string): string =>
      `arn:${Aws.PARTITION}:cloudformation:${region}:${account}:${resource}`;
    this.stackArns = regions.map((r) => arn(r, Aws.ACCOUNT_ID, 'stack/*'));
    this.changeSetArns = regions.map((r) => arn(r, Aws.ACCOUNT_ID, 'changeSet/*'));
    // Templates with a Transform (AWS::Serverless, AWS::LanguageExtensions) are expanded by
    // AWS-owned macros that the caller of CreateChangeSet must be allowed to use.
    this.transformArns = regions.map((r) => arn(r, 'aws', 'transform/*'));
    this.selfArn = arn(Aws.REGION, Aws.ACCOUNT_ID, `stack/${props.selfStackName}/*`);
  }

  /** The same access limited to `regions` (when given): a source's declared destination regions. */
  inRegions(regions: readonly string[] | undefined): CloudFormationAccess {
    return regions ? new CloudFormationAccess({ ...this.props, regions: [...regions], onlyRegions: true }) : this;
  }

  /** Actions that act on no particular stack. */
  unscoped(actions: string[]): PolicyStatement {
    return new PolicyStatement({ actions, resources: ['*'] });
  }

  /** Actions on stacks in the regions. */
  onStacks(actions: string[]): PolicyStatement {
    return new PolicyStatement({ actions, resources: this.stackArns });
  }

  /** Actions on change sets, which IAM authorises on the stack as well as the change set. */
  onChangeSets(actions: string[]): PolicyStatement {
    return new PolicyStatement({ actions, resources: [...this.stackArns, ...this.changeSetArns] });
  }

  /**
   * A source role's writes, each allowed only on that source's stacks. What IAM evaluates for these
   * actions (the Service Authorization Reference for CloudFormation): ExecuteChangeSet,
   * DeleteChangeSet, DeleteStack and UpdateTerminationProtection are authorised on the stack, whose
   * tags are `aws:ResourceTag/*`, so they require `cairn:source` equal to the source. A new stack has
   * no tags to test, so CreateChangeSet is allowed by what the request carries instead: its tags
   * (`aws:RequestTag/cairn:source`, which Cairn sets on every change set) and its service role
   * (`cloudformation:RoleArn`, one of the source's deployer roles); `sourceDenies` keeps such a
   * request off a stack another source already owns. Stack tags are set by CreateChangeSet's own
   * Tags, so no cloudformation:TagResource is involved, nor granted.
   */
  sourceWrites(source: string, roleArns: string[]): PolicyStatement[] {
    const ownTag = { StringEquals: { [`aws:ResourceTag/${OWNER_SOURCE_TAG}`]: source } };
    return [
      new PolicyStatement({
        actions: ['cloudformation:CreateChangeSet'],
        resources: [...this.stackArns, ...this.changeSetArns, ...this.transformArns],
        conditions: { StringEquals: { [`aws:RequestTag/${OWNER_SOURCE_TAG}`]: source }, ArnEquals: { 'cloudformation:RoleArn': roleArns } },
      }),
      new PolicyStatement({
        actions: ['cloudformation:ExecuteChangeSet', 'cloudformation:DeleteChangeSet', 'cloudformation:DeleteStack', 'cloudformation:UpdateTerminationProtection'],
        resources: [...this.stackArns, ...this.changeSetArns],
        conditions: ownTag,
      }),
      // Adopting a stack nobody owns (cairn.yaml's `adopt`): its change set was created with this
      // source's tag and role (above), but the stack carries the tag only once it is executed.
      // ChangeSetName cannot narrow this further: Cairn's names carry a content hash, not the source.
      new PolicyStatement({
        actions: ['cloudformation:ExecuteChangeSet', 'cloudformation:DeleteChangeSet'],
        resources: [...this.stackArns, ...this.changeSetArns],
        conditions: { Null: { [`aws:ResourceTag/${OWNER_SOURCE_TAG}`]: 'true' } },
      }),
    ];
  }

  /**
   * Whatever else allows them, a source role may not create a change set on, or otherwise change, a
   * stack tagged as another source's. (StringNotEquals alone would also match an untagged stack, so
   * the Null test requires the tag to be there.)
   */
  sourceDenies(source: string): PolicyStatement {
    return new PolicyStatement({
      effect: Effect.DENY,
      actions: [...STACK_CHANGING_ACTIONS],
      resources: [...this.stackArns, ...this.changeSetArns],
      conditions: {
        Null: { [`aws:ResourceTag/${OWNER_SOURCE_TAG}`]: 'false' },
        StringNotEquals: { [`aws:ResourceTag/${OWNER_SOURCE_TAG}`]: source },
      },
    });
  }

  /** Defence in depth: whatever a repository declares, Cairn cannot change or delete its own stack. */
  denySelf(): PolicyStatement {
    return new PolicyStatement({
      effect: Effect.DENY,
      actions: [...STACK_CHANGING_ACTIONS],
      resources: [this.selfArn],
    });
  }
}
