/**
 * cdk-nag acknowledgements with their reasons, recorded next to the grant or resource they excuse.
 * cdk-nag 3 acknowledges one finding at a time (`AwsSolutions-IAM5[Resource::…]`), named by the
 * resource as its rules print it; building that name from the very value granted keeps an
 * acknowledgement from outliving, or covering more than, the permission it explains.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledge one AwsSolutions rule on `scope` and everything under it. */
export function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-${rule}`, reason });
}

/** Acknowledge the wildcard finding (IAM5) of each granted resource that has one. */
export function acknowledgeWildcards(scope: IConstruct, resources: string[], reason: string): void {
  for (const resource of resources) {
    const finding = flatten(Stack.of(scope).resolve(resource));
    if (finding.includes('*')) acknowledge(scope, `IAM5[Resource::${finding}]`, reason);
  }
}

/** Acknowledge the AWS-managed-policy finding (IAM4) of a managed policy ARN. */
export function acknowledgeManagedPolicy(scope: IConstruct, policyArn: string, reason: string): void {
  const finding = flatten(Stack.of(scope).resolve(policyArn));
  if (finding.includes(':iam::aws:')) acknowledge(scope, `IAM4[Policy::${finding}]`, reason);
}

/**
 * A resolved CloudFormation value as cdk-nag names it in findings: `Ref` becomes `<Name>`,
 * `Fn::GetAtt` `<Logical.Attribute>`, `Fn::Join` its joined parts.
 */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const node = value as Record<string, unknown>;
  if (Array.isArray(node['Fn::Join'])) {
    const [delimiter, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(delimiter);
  }
  if (node['Fn::Sub'] !== undefined) return flatten(node['Fn::Sub']);
  if (Array.isArray(node['Fn::GetAtt'])) {
    const [logicalId, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(logicalId)}.${flatten(attribute)}>`;
  }
  if (node['Ref'] !== undefined) return `<${flatten(node['Ref'])}>`;
  return JSON.stringify(value);
}
