/**
 * The sweep Lambda, on an EventBridge schedule: runs drift detection on this run's share of the
 * owned stacks and enqueues a reconcile of every source (which catches missed pushes and changes
 * made outside Git, and reverts drift where the policy says so).
 */
import type { Context } from 'aws-lambda';
import { CloudFormationGateway } from '../lib/adapters/cloudformation-gateway.js';
import { deploymentConfigFromEnv, optionalPositiveInteger, requiredEnv } from '../lib/adapters/lambda-environment.js';
import { PowertoolsSink } from '../lib/adapters/powertools-sink.js';
import { SqsWorkQueue } from '../lib/adapters/sqs-queue.js';
import { ENV } from '../lib/core/environment.js';
import type { StackGateway } from '../lib/ports/stack-gateway.js';
import { sweep, type SweepReport } from '../lib/reconcile/sweep.js';

const config = deploymentConfigFromEnv();
const queue = new SqsWorkQueue({ queueUrl: requiredEnv(ENV.queueUrl) });
const intervalMs = optionalPositiveInteger(ENV.sweepIntervalMs) ?? 15 * 60_000;
const regions = (process.env[ENV.regions] ?? '').split(',').map((r) => r.trim()).filter(Boolean);
const sink = new PowertoolsSink();
const gateways = new Map<string, StackGateway>();

export const handler = async (_event: unknown, context: Context): Promise<SweepReport> => {
  sink.setCorrelationId(context.awsRequestId);
  try {
    return await sweep({
      sources: config.sources.map((s) => s.name),
      queue,
      gateways: (region) => {
        const key = region ?? '';
        let g = gateways.get(key);
        if (!g) gateways.set(key, (g = new CloudFormationGateway({ region })));
        return g;
      },
      regions,
      sink,
      intervalMs,
      remainingMs: () => context.getRemainingTimeInMillis(),
    });
  } finally {
    sink.flush();
  }
};
