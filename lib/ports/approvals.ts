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
  /** Where the decision was made, when not on the command line: the comment's web page. */
  via?: string;
}

/**
 * A stack's approval as the reconciler last saw it, kept per stack so that anyone (a comment command,
 * `cairn status`) can learn which change set at which commit it awaits, and who approved the last
 * one: `awaiting` while held, `approved` once a decision let it run, `rejected` when one stopped it.
 */
export interface ApprovalState {
  source: string;
  stack: string;
  state: 'awaiting' | 'approved' | 'rejected';
  changeSetName: string;
  commit: string;
  /** `create`, `update`, `replace`, `delete`, `revert-drift`: what the change set does. */
  action: string;
  /** What the change set changes, in one line, as the awaiting report says it. */
  summary?: string;
  /** ISO time the state was entered. */
  since: string;
  /** The decision, once there is one. */
  decision?: Approval;
}

export interface ApprovalStore {
  get(source: string, stack: string, changeSetName: string): Promise<Approval | undefined>;
  put(approval: Approval): Promise<void>;
  /** The stack's approval state, if the reconciler ever held it for one. */
  getState(source: string, stack: string): Promise<ApprovalState | undefined>;
  /** Written by the reconciler only: the approval a stack awaits, or the decision that ended the wait. */
  putState(state: ApprovalState): Promise<void>;
  /**
   * Set when this runtime cannot take approvals at all (why): a stack whose policy asks for one
   * then stalls, saying so, rather than being applied without one.
   */
  readonly unavailable?: string;
}

/**
 * Where a stack's wait for approval is announced with the change set's content (a comment on the
 * commit, GitHub and GitLab), once per change set; a notice that cannot be posted is a warning.
 */
export interface ApprovalNotices {
  awaiting(commit: string, markdown: string): Promise<void>;
}

/** An approval state read back from storage, or undefined when it is not one for this stack. */
export function validState(value: unknown, source: string, stack: string): ApprovalState | undefined {
  const v = value as Partial<ApprovalState> | null;
  if (!v || typeof v !== 'object') return undefined;
  const ok =
    v.source === source &&
    v.stack === stack &&
    (v.state === 'awaiting' || v.state === 'approved' || v.state === 'rejected') &&
    typeof v.changeSetName === 'string' &&
    typeof v.commit === 'string' &&
    typeof v.action === 'string' &&
    typeof v.since === 'string';
  return ok ? (v as ApprovalState) : undefined;
}

/** For a runtime that keeps no approvals: every stack that asks for one stalls with `why`. */
export function approvalsUnavailable(why: string): ApprovalStore {
  return {
    unavailable: why,
    get: async () => undefined,
    put: async () => {
      throw new Error(why);
    },
    getState: async () => undefined,
    putState: async () => undefined,
  };
}
