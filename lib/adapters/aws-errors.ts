/**
 * Translation of AWS SDK v3 service errors into the StackGateway port's error classes, so the
 * reconcile use cases decide retries from GatewayError, ThrottlingError and
 * InsufficientCapabilitiesError and never look at SDK error shapes.
 */
import { AccessDeniedError, GatewayError, InsufficientCapabilitiesError, ThrottlingError } from '../ports/stack-gateway.js';

/** The fields every SDK v3 service exception carries; `name` is the service's error code. */
export interface AwsServiceError extends Error {
  $fault: 'client' | 'server';
  $metadata: { httpStatusCode?: number; attempts?: number; requestId?: string };
  $retryable?: { throttling?: boolean };
}

/**
 * Codes AWS services use for rate limiting. LimitExceededException is deliberately absent: the SDK
 * retries it, but in CloudFormation it means an account quota, which waiting does not lift.
 */
const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'SlowDown',
]);

/** Codes IAM refusals arrive with: CloudFormation's and S3's query/XML protocols, JSON services, STS. */
const ACCESS_DENIED_CODES = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);

/**
 * The action an IAM refusal names ("User: … is not authorized to perform: cloudformation:ExecuteChangeSet
 * on resource: …"), else the call's own name from `operation` ("ExecuteChangeSet for stack app").
 */
export function deniedAction(message: string, operation: string): string {
  return /not authorized to perform:?\s+([a-z0-9-]+:[A-Za-z0-9*]+)/.exec(message)?.[1] ?? operation.split(' ')[0]!;
}

export function isAwsServiceError(error: unknown): error is AwsServiceError {
  return error instanceof Error && '$fault' in error && '$metadata' in error;
}

export function hasErrorCode(error: unknown, ...codes: string[]): boolean {
  return isAwsServiceError(error) && codes.includes(error.name);
}

export function isThrottling(error: AwsServiceError): boolean {
  return (
    THROTTLING_CODES.has(error.name) || error.$retryable?.throttling === true || error.$metadata.httpStatusCode === 429
  );
}

/**
 * CloudFormation names the missing capabilities in the message only, e.g.
 * "Requires capabilities : [CAPABILITY_IAM, CAPABILITY_AUTO_EXPAND]".
 */
export function parseCapabilities(message: string): string[] {
  const bracketed = /capabilities\s*:\s*\[([^\]]*)\]/i.exec(message)?.[1];
  const names = bracketed === undefined ? (message.match(/CAPABILITY_[A-Z_]+/g) ?? []) : bracketed.split(',');
  return [...new Set(names.map((name) => name.trim()).filter((name) => name.length > 0))];
}

/**
 * The port's error for an SDK failure of `operation` (e.g. "CreateChangeSet for stack app"), or
 * the error itself when it is not a service error (network, credentials): those stay transient.
 */
export function toGatewayError(error: unknown, operation: string): unknown {
  if (!isAwsServiceError(error)) return error;
  const attempts = error.$metadata.attempts;
  if (isThrottling(error)) {
    const after = attempts === undefined ? '' : ` after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
    return new ThrottlingError(`${operation} was throttled${after}: ${error.message}`, { cause: error });
  }
  const message = `${operation} failed: ${error.name}: ${error.message}`;
  if (ACCESS_DENIED_CODES.has(error.name)) return new AccessDeniedError(error.name, deniedAction(error.message, operation), message, { cause: error });
  if (error.name === 'InsufficientCapabilitiesException') {
    return new InsufficientCapabilitiesError(parseCapabilities(error.message), message, { cause: error });
  }
  return new GatewayError(error.name, message, { cause: error });
}
