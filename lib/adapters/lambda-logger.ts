/**
 * The one Powertools logger of Cairn's functions: every line JSON, with level, timestamp, service
 * `cairn` and, once set for the invocation, a `correlationId`. Kept apart from the metrics so the
 * webhook's bundle carries the logger alone.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const SERVICE_NAME = 'cairn';

export const logger = new Logger({ serviceName: SERVICE_NAME });

/** Tie this invocation's lines together (an SQS message, an EventBridge event, a request id). */
export function setCorrelationId(id: string | undefined): void {
  // Undefined drops the previous invocation's id, which a warm container would otherwise repeat.
  logger.appendKeys({ correlationId: id });
}
