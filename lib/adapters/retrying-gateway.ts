/**
 * Retries for any StackGateway: throttling and 5xx-like failures (InternalFailure,
 * ServiceUnavailable) are retried with exponential backoff and full jitter; every other error
 * passes through at once, since retrying a refusal only repeats it. Safe for every call of the
 * port: the writes carry client tokens, so a retried write does not happen twice.
 */
import type { StackGateway } from '../ports/stack-gateway.js';
import { GatewayError, ThrottlingError } from '../ports/stack-gateway.js';

export interface RetryOptions {
  /** Attempts in all, including the first. Default 5. */
  maxAttempts?: number;
  /** The backoff cap before jitter for the first retry; it doubles per retry. Default 100. */
  baseDelayMs?: number;
  /** The most any one wait may be. Default 5000. */
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
}

const RETRYABLE_CODES = new Set(['Throttling', 'InternalFailure', 'ServiceUnavailable']);

export function isRetryable(error: unknown): boolean {
  return error instanceof ThrottlingError || (error instanceof GatewayError && RETRYABLE_CODES.has(error.code));
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function withRetries(gateway: StackGateway, options: RetryOptions = {}): StackGateway {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;

  async function retry<T>(run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (attempt >= maxAttempts || !isRetryable(error)) throw error;
        const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        await sleep(Math.floor(random() * cap));
      }
    }
  }

  return {
    get target() {
      return gateway.target;
    },
    get region() {
      return gateway.region;
    },
    listStacks: () => retry(() => gateway.listStacks()),
    describeStack: (stackName) => retry(() => gateway.describeStack(stackName)),
    getTemplate: (stackName) => retry(() => gateway.getTemplate(stackName)),
    createChangeSet: (input) => retry(() => gateway.createChangeSet(input)),
    describeChangeSet: (stackName, changeSetName, options) => retry(() => gateway.describeChangeSet(stackName, changeSetName, options)),
    listChangeSets: (stackName) => retry(() => gateway.listChangeSets(stackName)),
    executeChangeSet: (stackName, changeSetName, clientToken) =>
      retry(() => gateway.executeChangeSet(stackName, changeSetName, clientToken)),
    deleteChangeSet: (stackName, changeSetName) => retry(() => gateway.deleteChangeSet(stackName, changeSetName)),
    deleteStack: (stackName, deleteOptions) => retry(() => gateway.deleteStack(stackName, deleteOptions)),
    updateTerminationProtection: (stackName, enabled) => retry(() => gateway.updateTerminationProtection(stackName, enabled)),
    listStackEvents: (stackName, limit) => retry(() => gateway.listStackEvents(stackName, limit)),
    detectStackDrift: (stackName) => retry(() => gateway.detectStackDrift(stackName)),
    describeDriftDetection: (detectionId) => retry(() => gateway.describeDriftDetection(detectionId)),
    listResourceDrifts: (stackName) => retry(() => gateway.listResourceDrifts(stackName)),
  };
}
