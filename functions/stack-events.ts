/**
 * Routes CloudFormation "Stack Status Change" events (EventBridge; the rule matches only operations
 * Cairn started) to the queue of the source that owns the stack, so the next wave starts as soon
 * as the previous one settles.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { CloudFormationGateway } from '../lib/adapters/cloudformation-gateway.js';
import { deploymentConfigFromEnv, requiredEnv } from '../lib/adapters/lambda-environment.js';
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

export const handler = async (event: EventBridgeEvent<'CloudFormation Stack Status Change', StackStatusDetail>): Promise<RouteResult> => {
  const result = await routeStackEvent(
    { id: event.id, stackId: event.detail['stack-id'], status: event.detail['status-details'].status, time: event.time },
    { queue, gateway, knownSource: (name) => findSource(config, name) !== undefined },
  );
  console.log(JSON.stringify({ level: 'INFO', message: 'stack status change', stackId: event.detail['stack-id'], status: event.detail['status-details'].status, ...result }));
  return result;
};
