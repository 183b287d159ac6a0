/**
 * SourceRoles: one IAM role per source, which only the reconcile function's role may assume and
 * which the reconciler assumes for that source's work (AWS's guidance for multi-tenant pipelines;
 * Argo CD's AppProject, enforced by IAM). Each role may read stacks, pass only its source's
 * deployer roles to CloudFormation, and change only stacks tagged with its source's name, in its
 * destination regions; so a bug in Cairn, or a repository that talks it into something, cannot make
 * one source's work touch another source's stacks or use another source's deployer.
 */
import { ArnPrincipal, PolicyStatement, Role, type IRole } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { SourceConfig } from '../core/source-config.js';
import { LIST_WILDCARD_REASON, STACK_WILDCARD_REASON, type CloudFormationAccess } from './cloudformation-access.js';
import { acknowledgeWildcards } from './nag.js';

/** CloudFormation reads a source's work makes: planning, previews, failure reasons, drift reverts. */
export const SOURCE_STACK_READS = ['cloudformation:GetTemplate', 'cloudformation:DescribeStackEvents', 'cloudformation:DescribeStackResourceDrifts'];
export const SOURCE_CHANGE_SET_READS = ['cloudformation:ListChangeSets', 'cloudformation:DescribeChangeSet'];

export interface SourceRolesProps {
  /** The sources, each with the deployer role its stacks go through (Deployers.sources). */
  sources: SourceConfig[];
  /** The one principal that may assume the roles. */
  assumedBy: IRole;
  cloudformation: CloudFormationAccess;
  /** Template objects: CloudFormation fetches a TemplateURL with the caller's credentials. */
  templateObjectsArn: string;
}

export class SourceRoles extends Construct {
  /** Each source's role, by source name. */
  readonly roles: ReadonlyMap<string, Role>;
  /** The sources as the functions see them, each with the role assumed for its work. */
  readonly sources: SourceConfig[];

  constructor(scope: Construct, id: string, props: SourceRolesProps) {
    super(scope, id);
    const roles = new Map<string, Role>();
    for (const source of props.sources) {
      const role = new Role(this, `Source-${source.name}`, {
        assumedBy: new ArnPrincipal(props.assumedBy.roleArn),
        description: `Cairn source ${source.name}: its stacks and deployer roles only`,
      });
      const access = props.cloudformation.inRegions(source.destinations?.regions);
      const deployers = deployerRoles(source);
      const grant = (statement: PolicyStatement, reason?: string): void => {
        role.addToPolicy(statement);
        if (reason) acknowledgeWildcards(role, statement.resources, reason);
      };
      grant(access.unscoped(['cloudformation:DescribeStacks']), LIST_WILDCARD_REASON);
      grant(access.onStacks(SOURCE_STACK_READS), STACK_WILDCARD_REASON);
      grant(access.onChangeSets(SOURCE_CHANGE_SET_READS), STACK_WILDCARD_REASON);
      if (deployers.length > 0) {
        for (const statement of access.sourceWrites(source.name, deployers)) grant(statement, STACK_WILDCARD_REASON);
        grant(
          new PolicyStatement({
            actions: ['iam:PassRole'],
            resources: deployers,
            conditions: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
          }),
        );
      }
      grant(access.sourceDenies(source.name));
      grant(props.cloudformation.denySelf());
      grant(
        new PolicyStatement({ actions: ['s3:GetObject'], resources: [props.templateObjectsArn] }),
        'Template objects are keyed by stack name and content hash, known only at run time; the bucket holds nothing but these templates.',
      );
      roles.set(source.name, role);
    }
    this.roles = roles;
    this.sources = props.sources.map((s) => ({ ...s, sourceRoleArn: roles.get(s.name)!.roleArn }));
  }

  /** sts:AssumeRole on exactly these roles: the reconcile function's only way to act on stacks. */
  assumeStatement(): PolicyStatement {
    return new PolicyStatement({ actions: ['sts:AssumeRole'], resources: [...this.roles.values()].map((r) => r.roleArn) });
  }
}

/** The CloudFormation service roles a source may pass: its own and its destinations'. */
export function deployerRoles(source: SourceConfig): string[] {
  return [...new Set([...(source.roleArn ? [source.roleArn] : []), ...(source.destinations?.roleArns ?? [])])];
}
