/** Builders for DesiredStack, DesiredState and ActualStack values in core tests. */
import type { ActualStack, DesiredStack, DesiredState } from '../../lib/core/model.js';
import { OWNER_TAGS } from '../../lib/core/model.js';
import { desiredHash } from '../../lib/core/plan.js';
import { DEFAULT_PROTECTED_TYPES } from '../../lib/core/policy.js';
import { parseTemplate } from '../../lib/core/template.js';

export function desiredStack(id: string, over: Partial<DesiredStack> & { templateText?: string } = {}): DesiredStack {
  const parsed = parseTemplate(over.templateText ?? `Resources:\n  Topic: {Type: AWS::SNS::Topic}\n`, `${id}.yaml`);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const { templateText: _t, ...rest } = over;
  return {
    id,
    stackName: id,
    region: undefined,
    templateFile: `${id}.yaml`,
    template: parsed.value.template,
    templateBody: parsed.value.body,
    parameters: {},
    tags: {},
    capabilities: [],
    roleArn: undefined,
    terminationProtection: false,
    dependsOn: [],
    drift: 'alert',
    adopt: false,
    allowDestructive: [],
    windows: [],
    approval: 'auto',
    ...rest,
  };
}

export function desiredState(stacks: DesiredStack[], over: Partial<DesiredState> = {}): DesiredState {
  return { source: 'src', commit: 'c0ffee', stacks, prune: false, pruneMaxShare: 0.5, protectedTypes: [...DEFAULT_PROTECTED_TYPES], windows: [], approval: 'auto', findings: [], ...over };
}

export function actualStack(stackName: string, over: Partial<ActualStack> = {}): ActualStack {
  return {
    stackName,
    stackId: `arn:aws:cloudformation:us-east-1:123456789012:stack/${stackName}/1`,
    region: 'us-east-1',
    status: 'CREATE_COMPLETE',
    statusReason: undefined,
    tags: {},
    outputs: {},
    parameters: {},
    terminationProtection: false,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: undefined,
    driftStatus: undefined,
    driftCheckedAt: undefined,
    ...over,
  };
}

/** An actual stack that exactly matches a desired one (owned, same hash). */
export function deployed(stack: DesiredStack, over: Partial<ActualStack> = {}, parameters: Record<string, string> = {}): ActualStack {
  return actualStack(stack.stackName, {
    tags: { ...stack.tags, [OWNER_TAGS.source]: 'src', [OWNER_TAGS.stack]: stack.id, [OWNER_TAGS.hash]: desiredHash(stack, parameters), [OWNER_TAGS.commit]: 'old' },
    parameters,
    ...over,
  });
}
