/**
 * InProcessQueue keeps SQS FIFO's promises on a controllable clock: order within a group, one group
 * in flight at a time, the 5-minute deduplication window, visibility timeouts, receive counts and
 * dead-lettering.
 */
import { describe, expect, it } from 'vitest';
import { DEDUPLICATION_WINDOW_MS, InProcessQueue } from '../../lib/adapters/in-process-queue.js';
import type { WorkMessage } from '../../lib/ports/work-queue.js';

function clock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function message(source: string, dedupId: string): WorkMessage {
  return { source, kind: 'push', dedupId, receivedAt: '2026-03-01T12:00:00.000Z' };
}

describe('Adapter: InProcessQueue', () => {
  it('delivers the messages of one group in the order they were sent', async () => {
    const queue = new InProcessQueue();
    for (const id of ['a1', 'a2', 'a3']) await queue.send(message('a', id));
    expect(queue.receive({ max: 10 }).map((m) => m.message.dedupId)).toEqual(['a1', 'a2', 'a3']);
  });

  it('blocks a group while one of its messages is in flight, but not other groups', async () => {
    const queue = new InProcessQueue();
    await queue.send(message('a', 'a1'));
    await queue.send(message('a', 'a2'));
    await queue.send(message('b', 'b1'));
    const [first] = queue.receive({ max: 1 });
    expect(first?.message.dedupId).toBe('a1');
    expect(queue.receive({ max: 10 }).map((m) => m.message.dedupId)).toEqual(['b1']);
    expect(queue.receive({ max: 10 })).toEqual([]);
    expect(queue.delete(first!.receipt)).toBe(true);
    expect(queue.receive({ max: 10 }).map((m) => m.message.dedupId)).toEqual(['a2']);
  });

  it('drops a repeated dedupId within five minutes and reports it as a duplicate', async () => {
    const time = clock();
    const queue = new InProcessQueue({ clock: time.now });
    const first = await queue.send(message('a', 'delivery-1'));
    time.advance(DEDUPLICATION_WINDOW_MS - 1);
    const again = await queue.send(message('a', 'delivery-1'));
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ messageId: first.messageId, duplicate: true });
    expect(queue.depth()).toEqual({ visible: 1, inFlight: 0, deadLetters: 0 });
  });

  it('deduplicates per source, as the deployed queue does: one id sent for two sources is two messages', async () => {
    const queue = new InProcessQueue();
    expect((await queue.send(message('infra-dev', 'delivery-1'))).duplicate).toBe(false);
    expect((await queue.send(message('infra-prod', 'delivery-1'))).duplicate).toBe(false);
    expect((await queue.send(message('infra-prod', 'delivery-1'))).duplicate).toBe(true);
    expect(queue.receive({ max: 10 }).map((m) => m.message.source).sort()).toEqual(['infra-dev', 'infra-prod']);
  });

  it('keeps deduplicating after the first copy was consumed, as SQS does', async () => {
    const queue = new InProcessQueue();
    await queue.send(message('a', 'd'));
    const [received] = queue.receive();
    queue.delete(received!.receipt);
    expect((await queue.send(message('a', 'd'))).duplicate).toBe(true);
    expect(queue.depth().visible).toBe(0);
  });

  it('accepts the same dedupId again once the window has passed', async () => {
    const time = clock();
    const queue = new InProcessQueue({ clock: time.now });
    await queue.send(message('a', 'd'));
    time.advance(DEDUPLICATION_WINDOW_MS);
    expect((await queue.send(message('a', 'd'))).duplicate).toBe(false);
    expect(queue.depth().visible).toBe(2);
  });

  it('makes a message visible again when its visibility timeout lapses, counting receives', async () => {
    const time = clock();
    const queue = new InProcessQueue({ clock: time.now, visibilityTimeoutMs: 1000 });
    await queue.send(message('a', 'a1'));
    const [first] = queue.receive();
    expect(first?.receiveCount).toBe(1);
    time.advance(999);
    expect(queue.receive()).toEqual([]);
    expect(queue.depth()).toEqual({ visible: 0, inFlight: 1, deadLetters: 0 });
    time.advance(1);
    const [second] = queue.receive();
    expect(second).toMatchObject({ messageId: first!.messageId, receiveCount: 2 });
    expect(second!.receipt).not.toBe(first!.receipt);
  });

  it('refuses to delete with a receipt whose visibility has lapsed', async () => {
    const time = clock();
    const queue = new InProcessQueue({ clock: time.now });
    await queue.send(message('a', 'a1'));
    const [received] = queue.receive({ visibilityTimeoutMs: 100 });
    time.advance(100);
    expect(queue.delete(received!.receipt)).toBe(false);
    expect(queue.delete('no-such-receipt')).toBe(false);
    expect(queue.depth().visible).toBe(1);
  });

  it('changes the visibility of an in-flight message, down to zero for at once', async () => {
    const time = clock();
    const queue = new InProcessQueue({ clock: time.now });
    await queue.send(message('a', 'a1'));
    const [received] = queue.receive({ visibilityTimeoutMs: 60_000 });
    expect(queue.changeVisibility(received!.receipt, 5000)).toBe(true);
    time.advance(4999);
    expect(queue.receive()).toEqual([]);
    time.advance(1);
    const [again] = queue.receive();
    expect(queue.changeVisibility(again!.receipt, 0)).toBe(true);
    expect(queue.receive()[0]?.receiveCount).toBe(3);
  });

  it('dead-letters a message after maxReceives receives, which unblocks its group', async () => {
    const time = clock();
    const queue = new InProcessQueue({ clock: time.now, maxReceives: 2, visibilityTimeoutMs: 10 });
    await queue.send(message('a', 'poison'));
    await queue.send(message('a', 'next'));
    for (let i = 0; i < 2; i++) {
      expect(queue.receive({ max: 1 })[0]?.message.dedupId).toBe('poison');
      time.advance(10);
    }
    const [next] = queue.receive({ max: 1 });
    expect(next?.message.dedupId).toBe('next');
    expect(queue.deadLetters()).toEqual([{ messageId: expect.any(String), receiveCount: 2, message: message('a', 'poison'), deadAt: time.now() }]);
    expect(queue.depth()).toEqual({ visible: 0, inFlight: 1, deadLetters: 1 });
  });

  it('returns copies, so a consumer cannot change what is queued', async () => {
    const queue = new InProcessQueue();
    const sent = message('a', 'a1');
    await queue.send(sent);
    sent.source = 'changed';
    const [received] = queue.receive({ visibilityTimeoutMs: 0 });
    received!.message.commit = 'changed';
    expect(queue.receive()[0]?.message).toEqual(message('a', 'a1'));
  });

  it('wakes a waiting consumer when a message arrives, not for a duplicate', async () => {
    const queue = new InProcessQueue();
    await queue.send(message('a', 'd'));
    const duplicateWait = queue.waitForMessage(20);
    await queue.send(message('a', 'd'));
    expect(await duplicateWait).toBe(false);
    const wait = queue.waitForMessage(10_000);
    await queue.send(message('b', 'e'));
    expect(await wait).toBe(true);
  });

  it('stops waiting when the signal aborts', async () => {
    const queue = new InProcessQueue();
    const controller = new AbortController();
    const wait = queue.waitForMessage(10_000, controller.signal);
    controller.abort();
    expect(await wait).toBe(false);
  });

  it('calls onMessage listeners until they unsubscribe', async () => {
    const queue = new InProcessQueue();
    const seen: number[] = [];
    const unsubscribe = queue.onMessage(() => seen.push(queue.depth().visible));
    await queue.send(message('a', '1'));
    unsubscribe();
    await queue.send(message('a', '2'));
    expect(seen).toEqual([1]);
  });

  it('refuses a maxReceives below one', () => {
    expect(() => new InProcessQueue({ maxReceives: 0 })).toThrow('maxReceives must be at least 1, got 0');
  });
});
