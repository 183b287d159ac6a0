/**
 * withRetries: throttling and 5xx-like gateway errors are retried with capped exponential backoff
 * and full jitter; everything else fails at once.
 */
import { describe, expect, it } from 'vitest';
import { withRetries } from '../../lib/adapters/retrying-gateway.js';
import { GatewayError, ThrottlingError, type StackGateway } from '../../lib/ports/stack-gateway.js';

/** A gateway whose listStacks fails with the given errors first, then answers; other calls record their arguments. */
function flakyGateway(failures: unknown[]) {
  const calls: string[] = [];
  const gateway = {
    target: 'fake',
    region: 'eu-west-1',
    listStacks: async () => {
      calls.push('listStacks');
      const failure = failures.shift();
      if (failure) throw failure;
      return [];
    },
    deleteStack: async (stackName: string, options: { clientToken: string }) => {
      calls.push(`deleteStack ${stackName} ${options.clientToken}`);
    },
  } as unknown as StackGateway;
  return { gateway, calls };
}

function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe('withRetries', () => {
  it('retries throttling and internal failures with exponential backoff and full jitter', async () => {
    const { gateway, calls } = flakyGateway([
      new ThrottlingError(),
      new GatewayError('InternalFailure', 'boom'),
      new GatewayError('ServiceUnavailable', 'down'),
    ]);
    const { waits, sleep } = recordingSleep();
    const retrying = withRetries(gateway, { baseDelayMs: 100, maxDelayMs: 10_000, sleep, random: () => 0.5 });
    await expect(retrying.listStacks()).resolves.toEqual([]);
    expect(calls).toHaveLength(4);
    expect(waits).toEqual([50, 100, 200]);
  });

  it('caps each wait at maxDelayMs', async () => {
    const { gateway } = flakyGateway([new ThrottlingError(), new ThrottlingError(), new ThrottlingError()]);
    const { waits, sleep } = recordingSleep();
    await withRetries(gateway, { baseDelayMs: 1_000, maxDelayMs: 1_500, sleep, random: () => 0.999 }).listStacks();
    expect(waits).toEqual([999, 1_498, 1_498]);
  });

  it('gives up after maxAttempts and throws the last error', async () => {
    const last = new ThrottlingError('Rate exceeded (3)');
    const { gateway, calls } = flakyGateway([new ThrottlingError(), new ThrottlingError(), last, new ThrottlingError()]);
    const { sleep } = recordingSleep();
    await expect(withRetries(gateway, { maxAttempts: 3, sleep }).listStacks()).rejects.toBe(last);
    expect(calls).toHaveLength(3);
  });

  it('lets other errors through at once', async () => {
    const refusal = new GatewayError('ValidationError', 'Stack [x] does not exist');
    const { gateway, calls } = flakyGateway([refusal]);
    const { waits, sleep } = recordingSleep();
    await expect(withRetries(gateway, { sleep }).listStacks()).rejects.toBe(refusal);
    expect(calls).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('passes arguments, target and region through', async () => {
    const { gateway, calls } = flakyGateway([]);
    const retrying = withRetries(gateway);
    await retrying.deleteStack('app', { clientToken: 'tok', roleArn: undefined });
    expect(calls).toEqual(['deleteStack app tok']);
    expect([retrying.target, retrying.region]).toEqual(['fake', 'eu-west-1']);
  });
});
