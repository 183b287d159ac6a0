/**
 * Routes CloudFormation "Stack Status Change" events (EventBridge; the rule matches only operations
 * Cairn started) to the queue of the source that owns the stack, so the next wave starts as soon
 * as the previous one settles. Routed by the event's client request token, which names the source
 * (a deleted stack has no tags left to read), else by the stack's tags. Logs one JSON line per
 * event through the Powertools logger.
 */
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { CloudFormationGateway } from '../lib/adapters/cloudformation-gateway.js';
import { deploymentConfigFromEnv, requiredEnv } from '../lib/adapters/lambda-environment.js';
import { logger, setCorrelationId } from '../lib/adapters/lambda-logger.js';
import { SqsWorkQueue } from '../lib/adapters/sqs-queue.js';
import { ENV } from '../lib/core/environment.js';
import { findSource } from '../lib/core/source-config.js';
import { routeStackEvent, type RouteResult } from '../lib/reconcile/route-stack-event.js';

interface StackStatusDetail {
  'stack-id': string;
  'status-details': { status: string; 'status-reason'?: string };
  'client-request-token'?: string;
}

const config = deploymentConfigFromEnv();
const queue = new SqsWorkQueue({ queueUrl: requiredEnv(ENV.queueUrl) });
const gateway = new CloudFormationGateway({});

export const handler = async (event: EventBridgeEvent<'CloudFormation Stack Status Change', StackStatusDetail>, context?: Context): Promise<RouteResult> => {
  if (context) logger.addContext(context);
  setCorrelationId(event.id);
  const stackId = event.detail['stack-id'];
  const status = event.detail['status-details'].status;
  const token = event.detail['client-request-token'];
  const fields = { event: 'stack.status-change', stackId, status, ...(token ? { clientRequestToken: token } : {}) };
  try {
    const result = await routeStackEvent(
      { id: event.id, stackId, status, time: event.time, ...(token ? { clientRequestToken: token } : {}) },
      { queue, gateway, knownSource: (name) => findSource(config, name) !== undefined },
    );
    logger.info(result.routed ? `routed to ${result.source}` : `not routed: ${result.reason}`, { ...fields, ...result });
    return result;
  } catch (error) {
    // EventBridge retries the invocation (the rule's retry policy), so the event is not lost.
    logger.error('routing failed; EventBridge retries it', { ...fields, error: error as Error });
    throw error;
  }
};
