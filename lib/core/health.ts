/**
 * Stack health: every CloudFormation stack status mapped onto a small ordered set (Healthy <
 * Progressing < Degraded < Failed), and onto what Cairn must do about it (its condition).
 */

export const HEALTH_ORDER = ['Healthy', 'Progressing', 'Degraded', 'Failed'] as const;
export type Health = (typeof HEALTH_ORDER)[number];

export function isWorse(a: Health, b: Health): boolean {
  return HEALTH_ORDER.indexOf(a) > HEALTH_ORDER.indexOf(b);
}

/**
 * What Cairn does with a stack in this status:
 * stable: can be updated; busy: wait for CloudFormation; review: a create change set was never
 * executed; recreate: a failed create left an empty shell to delete first; stuck: a person must act;
 * gone: deleted.
 */
export type StackCondition = 'stable' | 'busy' | 'review' | 'recreate' | 'stuck' | 'gone';

const STUCK = new Set(['UPDATE_ROLLBACK_FAILED', 'DELETE_FAILED', 'ROLLBACK_FAILED', 'IMPORT_ROLLBACK_FAILED']);
const RECREATE = new Set(['ROLLBACK_COMPLETE', 'CREATE_FAILED']);
const DEGRADED = new Set(['UPDATE_ROLLBACK_COMPLETE', 'IMPORT_ROLLBACK_COMPLETE', 'UPDATE_FAILED']);

export function conditionOf(status: string): StackCondition {
  if (status === 'DELETE_COMPLETE') return 'gone';
  if (status === 'REVIEW_IN_PROGRESS') return 'review';
  if (STUCK.has(status)) return 'stuck';
  if (RECREATE.has(status)) return 'recreate';
  if (status.endsWith('_IN_PROGRESS')) return 'busy';
  return 'stable';
}

export function healthOf(status: string): Health {
  switch (conditionOf(status)) {
    case 'busy':
    case 'review':
      return status.includes('ROLLBACK') ? 'Degraded' : 'Progressing';
    case 'stuck':
    case 'recreate':
      return 'Failed';
    case 'gone':
      return 'Degraded';
    case 'stable':
      return DEGRADED.has(status) ? 'Degraded' : 'Healthy';
  }
}

/** Whether a finished operation ended well (for a stack that just settled). */
export function succeeded(status: string): boolean {
  return status === 'CREATE_COMPLETE' || status === 'UPDATE_COMPLETE' || status === 'IMPORT_COMPLETE' || status === 'DELETE_COMPLETE';
}

/** What a person should do to unstick a stack in a stuck status. */
export function stuckHint(status: string, stackName: string): string {
  switch (status) {
    case 'UPDATE_ROLLBACK_FAILED':
      return `fix what blocked the rollback (see the stack's events), then run \`aws cloudformation continue-update-rollback --stack-name ${stackName}\` (add --resources-to-skip for resources that cannot roll back); Cairn resumes on the next push or \`cairn apply\``;
    case 'DELETE_FAILED':
      return `fix what blocked the deletion (see the stack's events), then run \`aws cloudformation delete-stack --stack-name ${stackName}\` (add --retain-resources to keep resources that cannot be deleted); Cairn resumes on the next push or \`cairn apply\``;
    case 'ROLLBACK_FAILED':
    case 'IMPORT_ROLLBACK_FAILED':
      return `delete the stack with \`aws cloudformation delete-stack --stack-name ${stackName}\` once the resources it could not roll back are cleaned up; Cairn then creates it again`;
    default:
      return `see the stack's events with \`aws cloudformation describe-stack-events --stack-name ${stackName}\``;
  }
}
