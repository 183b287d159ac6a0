/**
 * TemplateBucket: where the reconciler puts templates over CloudFormation's 51,200-byte inline
 * limit, for CloudFormation to read by URL. Private, encrypted, TLS only; objects are copies of
 * what is in Git and expire once no change set can still need them.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';

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
        resources: [this.bucket.arnForObjects('*')],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );
  }
}
