/**
 * Deployers: the CloudFormation service roles Cairn deploys through. A source names its own in
 * roleArn; a source that does not gets the default deployer, one role created here and assumed
 * only by CloudFormation. Only a source's own role may pass them (lib/infra/source-roles.ts), so what
 * a repository can create is bounded by the role's policies, never by the function's own identity.
 */
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { SourceConfig } from '../core/source-config.js';
import { attachManagedPolicies } from './managed-policies.js';

export interface DeployersProps {
  sources: SourceConfig[];
  /** The default deployer's policies: AWS managed policy names or policy ARNs. */
  policies: string[];
}

export class Deployers extends Construct {
  /** Created only when some source has no roleArn of its own. */
  readonly defaultRole: Role | undefined;
  /** The sources as the functions see them: each with the role its stacks are deployed through. */
  readonly sources: SourceConfig[];

  constructor(scope: Construct, id: string, props: DeployersProps) {
    super(scope, id);
    if (props.sources.some((s) => !s.roleArn)) {
      this.defaultRole = new Role(this, 'DefaultDeployer', {
        assumedBy: new ServicePrincipal('cloudformation.amazonaws.com'),
        description: 'CloudFormation service role Cairn deploys sources without a roleArn through',
      });
      attachManagedPolicies(
        this.defaultRole,
        props.policies,
        'The default deployer creates whatever the Git repository declares, as the CDK bootstrap execution role does; only ' +
          'CloudFormation can assume it and only the roles of the sources deploying through it can pass it. Narrow it with deployerPolicies, or give ' +
          'each source its own roleArn (docs/deploy.md).',
      );
    }
    const defaultArn = this.defaultRole?.roleArn;
    this.sources = props.sources.map((s) => (s.roleArn || !defaultArn ? s : { ...s, roleArn: defaultArn }));
  }
}
