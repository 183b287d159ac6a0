/**
 * Cairn's error classes. The class decides what happens next (ARCHITECTURE "Errors decide retries"):
 * ValidationError and StalledError wait for a person, WaitingError comes back later, anything else
 * is transient and retried. Every message says what was wrong, where, and what would be right.
 */

/** One problem in the repository: which file, where inside it, and what was expected. */
export interface Problem {
  /** Repository-relative file, e.g. `cairn.yaml` or `stacks/app.yaml`. */
  file: string;
  /** Path inside the file, e.g. `stacks.app.parameters.VpcId`; empty for the file as a whole. */
  path: string;
  /** 1-based line in the file, when known. */
  line?: number;
  /** 1-based column on that line, where the reader names one (YAML syntax errors). */
  column?: number;
  message: string;
  /**
   * Absent for an error. A `warning` does not stop a deploy (a deprecated property); a `notice`
   * says what could not be checked (a custom resource, a type the schemas do not know).
   */
  severity?: 'warning' | 'notice';
}

/** Whether a problem stops validation: everything but warnings and notices. */
export function isError(p: Problem): boolean {
  return p.severity === undefined;
}

export type StallReason =
  | 'ManifestInvalid'
  | 'SourceInvalid'
  | 'DestructiveChangeBlocked'
  | 'PruneRefused'
  | 'OwnershipConflict'
  | 'StackFailed'
  | 'ChangeSetFailed'
  | 'CapabilityMissing'
  | 'TemplateTooLarge'
  | 'AccessDenied'
  /** cairn.yaml names a role or region outside the source's declared destinations. */
  | 'PolicyDenied'
  /** A person rejected this change set (`cairn reject`). */
  | 'ApprovalRejected'
  /** The stack asks for an approval this runtime cannot take. */
  | 'ApprovalUnavailable';

export type WaitReason = 'StackBusy' | 'ChangeSetPending' | 'DependencyPending' | 'Throttled' | 'ApplyInProgress';

export type TransientReason = 'SourceUnavailable' | 'ServiceUnavailable' | 'Interrupted';

export type ErrorReason = StallReason | WaitReason | TransientReason;

export class CairnError extends Error {
  override name = 'CairnError';
  readonly reason: ErrorReason;

  constructor(reason: ErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** A person must act: the same commit will fail the same way, so it is reported and not retried. */
export class StalledError extends CairnError {
  override name = 'StalledError';
  /** The stack id (from cairn.yaml) the problem belongs to, when it belongs to one. */
  readonly stackId: string | undefined;
  /** What to change to get going again. */
  readonly hint: string | undefined;
  /** The commit the problem was found at, when it was found before a snapshot could be returned. */
  readonly commit: string | undefined;

  constructor(
    reason: StallReason,
    message: string,
    options?: { cause?: unknown; stackId?: string; hint?: string; commit?: string },
  ) {
    super(reason, message, options);
    this.stackId = options?.stackId;
    this.hint = options?.hint;
    this.commit = options?.commit;
  }
}

/** The repository is not valid: every problem at once, each naming its file and path. */
export class ValidationError extends StalledError {
  override name = 'ValidationError';
  /** Errors first, then the warnings and notices found alongside them. */
  readonly problems: Problem[];

  constructor(problems: Problem[], options?: { cause?: unknown; reason?: 'ManifestInvalid' | 'PolicyDenied' }) {
    const ordered = [...problems.filter(isError), ...problems.filter((p) => !isError(p))];
    super(options?.reason ?? 'ManifestInvalid', formatProblems(ordered.filter(isError).length > 0 ? ordered.filter(isError) : ordered), options);
    this.problems = ordered;
  }

  /** The problems that stop validation. */
  get errors(): Problem[] {
    return this.problems.filter(isError);
  }
}

/**
 * cairn.yaml is valid but asks for a role or region its source may not use: every such field at
 * once, each naming the allowed values. Nothing was called; the commit stalls until it is fixed.
 */
export class PolicyDeniedError extends ValidationError {
  override name = 'PolicyDeniedError';

  constructor(problems: Problem[]) {
    super(problems, { reason: 'PolicyDenied' });
  }
}

/** Something is busy; come back after `retryAfterSeconds`. Not a failure. */
export class WaitingError extends CairnError {
  override name = 'WaitingError';
  readonly retryAfterSeconds: number;

  constructor(reason: WaitReason, message: string, retryAfterSeconds: number, options?: { cause?: unknown }) {
    super(reason, message, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A passing failure (network, throttling past its retries, a 5xx): retrying the same work may succeed. */
export class TransientError extends CairnError {
  override name = 'TransientError';

  constructor(reason: TransientReason, message: string, options?: { cause?: unknown }) {
    super(reason, message, options);
  }
}

export function formatProblem(p: Problem): string {
  const file = p.line ? `${p.file}:${p.line}${p.column ? `:${p.column}` : ''}` : p.file;
  const where = p.path ? `${file}: ${p.path}` : file;
  return `${where}: ${p.severity ? `${p.severity}: ` : ''}${p.message}`;
}

export function formatProblems(problems: Problem[]): string {
  if (problems.length === 1) return formatProblem(problems[0]!);
  return `${problems.length} problems:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`;
}

export function isStalled(error: unknown): error is StalledError {
  return error instanceof StalledError;
}

export function isWaiting(error: unknown): error is WaitingError {
  return error instanceof WaitingError;
}

/** The message of anything thrown, for places that must print it without a stack trace. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
