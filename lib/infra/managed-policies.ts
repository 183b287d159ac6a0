/**
 * Attaching the managed policies a deployment names (AWS managed policy names such as
 * ReadOnlyAccess, or policy ARNs) to a role, each with the reason cdk-nag is told for it.
 */
import { ManagedPolicy, type IManagedPolicy, type Role } from 'aws-cdk-lib/aws-iam';
import { acknowledgeManagedPolicy } from './nag.js';

export function attachManagedPolicies(role: Role, policies: string[], reason: string): IManagedPolicy[] {
  return policies.map((nameOrArn, index) => {
    const policy = nameOrArn.startsWith('arn:')
      ? ManagedPolicy.fromManagedPolicyArn(role, `Policy${index}`, nameOrArn)
      : ManagedPolicy.fromAwsManagedPolicyName(nameOrArn);
    role.addManagedPolicy(policy);
    acknowledgeManagedPolicy(role, policy.managedPolicyArn, reason);
    return policy;
  });
}
