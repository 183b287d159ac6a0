/**
 * The capabilities a template needs acknowledged before CloudFormation will make a change set:
 * IAM resources need CAPABILITY_IAM, IAM resources with custom names CAPABILITY_NAMED_IAM, and a
 * Transform CAPABILITY_AUTO_EXPAND.
 */
import type { Capability } from '../../core/model.js';
import type { TemplateDocument } from './template-document.js';

const IAM_TYPES = new Set([
  'AWS::IAM::AccessKey',
  'AWS::IAM::Group',
  'AWS::IAM::GroupPolicy',
  'AWS::IAM::InstanceProfile',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::Policy',
  'AWS::IAM::Role',
  'AWS::IAM::RolePolicy',
  'AWS::IAM::User',
  'AWS::IAM::UserPolicy',
  'AWS::IAM::UserToGroupAddition',
]);

/** The property that gives an IAM resource a custom name. */
const IAM_NAME_PROPERTIES: Record<string, string> = {
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::IAM::User': 'UserName',
  'AWS::IAM::Group': 'GroupName',
  'AWS::IAM::InstanceProfile': 'InstanceProfileName',
};

/**
 * The first capability the template needs that was not acknowledged, or undefined. CloudFormation
 * reports one at a time: the transform first, since it is expanded before anything else is read.
 */
export function missingCapability(template: TemplateDocument, acknowledged: readonly string[]): Capability | undefined {
  const has = (capability: Capability) => acknowledged.includes(capability);
  if (template.hasTransform && !has('CAPABILITY_AUTO_EXPAND')) return 'CAPABILITY_AUTO_EXPAND';
  let iam = false;
  let named = false;
  for (const resource of Object.values(template.resources)) {
    if (!IAM_TYPES.has(resource.Type)) continue;
    iam = true;
    const nameProperty = IAM_NAME_PROPERTIES[resource.Type];
    if (nameProperty && resource.Properties?.[nameProperty] !== undefined) named = true;
  }
  if (named && !has('CAPABILITY_NAMED_IAM')) return 'CAPABILITY_NAMED_IAM';
  if (iam && !has('CAPABILITY_IAM') && !has('CAPABILITY_NAMED_IAM')) return 'CAPABILITY_IAM';
  return undefined;
}
