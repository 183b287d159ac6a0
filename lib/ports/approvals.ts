/**
 * Approvals: a person's yes or no to one change set of one stack at one commit, kept where every
 * reconcile step can read it (a file in the embedded home, an object in the deployment's bucket).
 * Bound to the change set's name, which derives from the content and the stack's last update, so
 * a newer commit (or a stack changed since) needs a new approval.
 */

export type ApprovalPolicy = 'auto' | 'manual' | 'manual-on-replace' | 'manual-on-delete';

export interface Approval {
  source: string;
  /** The stack's id in cairn.yaml. */
  stack: string;
  /** The change set approved or rejected; `delete` for a prune. */
  changeSetName: string;
  commit: string;
  decision: 'approved' | 'rejected';
  /** Who decided, and when (ISO time). */
  by: string;
  at: string;
}

export interface ApprovalStore {
  get(source: string, stack: string, changeSetName: string): Promise<Approval | undefined>;
  put(approval: Approval): Promise<void>;
  /**
   * Set when this runtime cannot take approvals at all (why): a stack whose policy asks for one
   * then stalls, saying so, rather than being applied without one.
   */
  readonly unavailable?: string;
}

/** For a runtime that keeps no approvals: every stack that asks for one stalls with `why`. */
export function approvalsUnavailable(why: string): ApprovalStore {
  return {
    unavailable: why,
    get: async () => undefined,
    put: async () => {
      throw new Error(why);
    },
  };
}
