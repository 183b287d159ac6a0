/** CloudFormation stack-name rules, shared by validation and the adapters' messages. */

const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;
export const MAX_STACK_NAME_LENGTH = 128;

/** Undefined when valid, else what is wrong with it. */
export function stackNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_STACK_NAME_LENGTH) return `is ${name.length} characters; CloudFormation allows ${MAX_STACK_NAME_LENGTH}`;
  if (!STACK_NAME.test(name)) return `"${name}" is not a valid stack name: it must start with a letter and contain only letters, digits and hyphens`;
  return undefined;
}
