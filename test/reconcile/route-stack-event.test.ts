/**
 * Routing stack status changes by what EventBridge sends (stack id, name, client request token; no
 * tags), including the DELETE_COMPLETE of a pruned stack, which can no longer be described.
 */
import { describe, expect, it } from 'vitest';
import type { StackStatusEvent } from '../../lib/adapters/embedded-account/stack-event-pump.js';
import type { StackGateway } from '../../lib/ports/stack-gateway.js';
import type { WorkMessage, WorkQueue } from '../../lib/ports/work-queue.js';
import { routeStackEvent } from '../../lib/reconcile/route-stack-event.js';
import { repo, world } from '../helpers/world.js';

function recordingQueue(): WorkQueue & { sent: WorkMessage[] } {
  const sent: WorkMessage[] = [];
  return { sent, send: async (m) => (sent.push(m), { messageId: `m${sent.length}`, duplicate: false }) };
}

const ARN = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/0a1b2c3d-0000-0000-0000-000000000000';

describe('routeStackEvent', () => {
  it('wakes the source of a pruned stack on DELETE_COMPLETE, from the token alone', async () => {
    const w = world();
    await w.converge(await w.desired(repo()));
    const events: StackStatusEvent[] = [];
    w.account.onStackEvent((e) => events.push(e));
    const pruned = repo({
      cairn: ['version: 1', 'defaults: {prune: true}', 'stacks:', '  network: {template: network.yaml, parameters: {Cidr: 10.0.0.0/16}}', '  app:', '    template: app.yaml', '    parameters: {VpcId: {fromStack: network, output: VpcId}}'].join('\n'),
    });
    expect((await w.converge(await w.desired(pruned))).outcome).toBe('succeeded');
    const deleted = events.find((e) => e.stackName === 'data' && e.status === 'DELETE_COMPLETE')!;
    expect(deleted).toBeDefined();
    const queue = recordingQueue();
    // As on AWS, the gateway has nothing to say about a deleted stack: only the token can route it.
    const gone = { describeStack: async () => undefined } as unknown as StackGateway;
    const result = await routeStackEvent(
      { id: 'evt-1', stackId: deleted.stackId, status: deleted.status, time: deleted.timestamp, clientRequestToken: deleted.clientRequestToken },
      { queue, gateway: gone, knownSource: (n) => n === 'src' },
    );
    expect(result).toEqual({ routed: true, source: 'src' });
    expect(queue.sent).toEqual([expect.objectContaining({ source: 'src', kind: 'stack-event', stackName: 'data', dedupId: 'stack-evt-1' })]);
  });

  it('reads the owner from the stack tags when the token names no source', async () => {
    const queue = recordingQueue();
    const gateway = { describeStack: async () => ({ tags: { 'cairn:source': 'platform' } }) } as unknown as StackGateway;
    const result = await routeStackEvent(
      { id: 'e', stackId: ARN, status: 'UPDATE_COMPLETE', time: '2026-01-01T00:00:00Z', clientRequestToken: 'cairn-0123456789abcdef01234567-mx5c8h52' },
      { queue, gateway, knownSource: () => true },
    );
    expect(result).toEqual({ routed: true, source: 'platform' });
    expect(queue.sent[0]?.stackName).toBe('app');
  });

  it('routes nothing for a stack in progress, a stack nobody owns, or a source this deployment does not follow', async () => {
    const queue = recordingQueue();
    const unowned = { describeStack: async () => undefined } as unknown as StackGateway;
    const base = { id: 'e', stackId: ARN, time: '2026-01-01T00:00:00Z' };
    expect(await routeStackEvent({ ...base, status: 'UPDATE_IN_PROGRESS' }, { queue, gateway: unowned, knownSource: () => true })).toMatchObject({ routed: false });
    expect(await routeStackEvent({ ...base, status: 'DELETE_COMPLETE' }, { queue, gateway: unowned, knownSource: () => true })).toEqual({
      routed: false,
      reason: 'the stack is not owned by Cairn',
    });
    expect(
      await routeStackEvent({ ...base, status: 'DELETE_COMPLETE', clientRequestToken: 'cairn-delete-abc-Sother' }, { queue, gateway: unowned, knownSource: (n) => n === 'platform' }),
    ).toMatchObject({ routed: false, reason: expect.stringContaining('"other"') });
    expect(queue.sent).toEqual([]);
  });
});
