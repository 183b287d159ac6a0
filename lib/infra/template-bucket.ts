/**
 * TemplateBucket: where the reconciler puts templates over CloudFormation's 51,200-byte inline
 * limit, for CloudFormation to read by URL, and where people's approvals are kept (written by
 * approvers or, for a verified comment, the webhook; read by the reconciler), beside each stack's
 * approval state (written by the reconciler alone). Private, encrypted, TLS only; objects expire after 30 days.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';
import { DEFAULT_TEMPLATE_PREFIX } from '../adapters/cloudformation-gateway.js';
import { APPROVAL_STATE_PREFIX, APPROVALS_PREFIX } from '../adapters/s3-approvals.js';

export class TemplateBucket extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      // S3-managed keys: CloudFormation fetches TemplateURL with the caller's credentials, and a
      // KMS key would add a key policy to every deployer for no gain on copies of Git content.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: false,
      lifecycleRules: [{ expiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      // Kept when the stack is removed: deleting a bucket that still holds objects would fail the
      // removal, and emptying it on the way out needs a custom resource with its own function.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this,
      'S1',
      'Holds only copies of templates already in Git, written by the reconcile role alone (the bucket policy denies anyone else) and expired after 30 days; ' +
        'CloudTrail records the API calls, and a second bucket for access logs would guard nothing the repository does not already keep.',
    );
  }

  /**
   * Enforce "written by the reconcile role alone" in the bucket policy: any other principal of the
   * account, whatever its own policies allow, is denied writing a template CloudFormation would run.
   */
  onlyWrittenBy(role: IRole): void {
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${DEFAULT_TEMPLATE_PREFIX}*`)],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );
    // Approvals are people's: the reconcile role reads them and can never write one, so no bug in
    // Cairn can approve its own change set.
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['s3:PutObject', 's3:DeleteObject'],
        resources: [this.bucket.arnForObjects(`${APPROVALS_PREFIX}*`)],
        conditions: { ArnEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );
    // What a stack awaits is the reconciler's to say: a comment command binds its decision to it.
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${APPROVAL_STATE_PREFIX}*`)],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );
  }

  /** What a person needs to approve or reject with `cairn approve --target aws`: write an approval, and read the stacks' change sets. */
  approverStatements(): PolicyStatement[] {
    return [
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${APPROVALS_PREFIX}*`)] }),
      // `cairn approve SOURCE STACK` and `cairn status` read what each stack awaits.
      new PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(`${APPROVAL_STATE_PREFIX}*`)] }),
      new PolicyStatement({ actions: ['cloudformation:DescribeStacks', 'cloudformation:ListChangeSets'], resources: ['*'] }),
    ];
  }
}
