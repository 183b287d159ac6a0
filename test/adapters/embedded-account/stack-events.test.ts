/**
 * Stack status events from the embedded account, as EventBridge would deliver them: driven by
 * advance/settle in tests, and by timers in a long-running process.
 */
import { describe, expect, it, vi } from 'vitest';
import type { StackStatusEvent } from '../../../lib/adapters/embedded-account/index.js';
import { changeSet, deploy, manualClock, newAccount, tempHome } from './helpers.js';

function waitFor(events: StackStatusEvent[], status: string, timeoutMs = 2_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (events.some((e) => e.status === status)) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error(`no ${status} event within ${timeoutMs} ms: ${events.map((e) => e.status).join(', ')}`));
      else setTimeout(check, 5);
    };
    check();
  });
}

describe('EmbeddedAccount: stack status events', () => {
  it('delivers each stack status change once, in order, with its request token and the stack tags', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const events: StackStatusEvent[] = [];
    account.onStackEvent((e) => events.push(e));
    const input = changeSet({ stackName: 'app', tags: { 'cairn:source': 'main' } });
    await deploy(account, gateway, input);
    account.settle();
    expect(events.map((e) => e.status)).toEqual(['REVIEW_IN_PROGRESS', 'CREATE_IN_PROGRESS', 'CREATE_COMPLETE']);
    const stack = (await gateway.describeStack('app'))!;
    expect(events[2]).toEqual({
      region: 'us-east-1',
      stackName: 'app',
      stackId: stack.stackId,
      status: 'CREATE_COMPLETE',
      statusReason: undefined,
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      clientRequestToken: input.clientToken,
      tags: { 'cairn:source': 'main' },
    });
    expect(events[1]!.statusReason).toBe('User Initiated');
  });

  it('delivers an event when it falls due, not before', async () => {
    const account = newAccount({ operationMs: 10 });
    const gateway = account.gateway();
    const input = changeSet({ stackName: 'app' });
    await gateway.createChangeSet(input);
    account.settle();
    const events: StackStatusEvent[] = [];
    account.onStackEvent((e) => events.push(e));
    await gateway.executeChangeSet('app', input.changeSetName, input.clientToken);
    expect(events.map((e) => e.status)).toEqual(['CREATE_IN_PROGRESS']);
    account.advance(5);
    expect(events).toHaveLength(1);
    account.advance();
    expect(events.map((e) => e.status)).toEqual(['CREATE_IN_PROGRESS', 'CREATE_COMPLETE']);
  });

  it('stops delivering to a listener that unsubscribed', async () => {
    const account = newAccount();
    const seen: string[] = [];
    const unsubscribe = account.onStackEvent((e) => seen.push(e.status));
    account.createStackOutsideCairn({ stackName: 'a', templateBody: '{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}' });
    unsubscribe();
    account.settle();
    expect(seen).toEqual(['CREATE_IN_PROGRESS']);
  });

  it('delivers events for operations another process started on the same home', async () => {
    const home = tempHome();
    const clock = manualClock();
    const serving = newAccount({ home, clock });
    const cli = newAccount({ home, clock });
    const seen: string[] = [];
    serving.onStackEvent((e) => seen.push(`${e.stackName} ${e.status}`));
    cli.createStackOutsideCairn({ stackName: 'other', templateBody: '{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}' });
    serving.settle();
    expect(seen).toEqual(['other CREATE_IN_PROGRESS', 'other CREATE_COMPLETE']);
  });

  it('keeps going when a listener throws, and says so', async () => {
    const account = newAccount();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const seen: string[] = [];
    account.onStackEvent(() => {
      throw new Error('listener bug');
    });
    account.onStackEvent((e) => seen.push(e.status));
    await expect(account.gateway().createChangeSet(changeSet({ stackName: 'app' }))).resolves.toBeDefined();
    expect(seen).toEqual(['REVIEW_IN_PROGRESS']);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('listener bug'));
    warn.mockRestore();
  });

  it('progresses operations and delivers events on timers when autoAdvance is on', async () => {
    const account = newAccount({ clock: Date.now, autoAdvance: true, operationMs: 5 });
    const gateway = account.gateway();
    const events: StackStatusEvent[] = [];
    account.onStackEvent((e) => events.push(e));
    const input = changeSet({ stackName: 'live' });
    await gateway.createChangeSet(input);
    await vi.waitFor(async () => expect((await gateway.describeChangeSet('live', input.changeSetName))?.executionStatus).toBe('AVAILABLE'), { timeout: 2_000, interval: 5 });
    await gateway.executeChangeSet('live', input.changeSetName, input.clientToken);
    await waitFor(events, 'CREATE_COMPLETE');
    expect(events.map((e) => e.status)).toEqual(['REVIEW_IN_PROGRESS', 'CREATE_IN_PROGRESS', 'CREATE_COMPLETE']);
  });

  it('picks up operations started by another process when autoAdvance is on', async () => {
    const home = tempHome();
    const serving = newAccount({ home, clock: Date.now, autoAdvance: true, pollMs: 10, operationMs: 5 });
    const cli = newAccount({ home, clock: Date.now, operationMs: 5 });
    const events: StackStatusEvent[] = [];
    serving.onStackEvent((e) => events.push(e));
    cli.createStackOutsideCairn({ stackName: 'foreign', templateBody: '{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}' });
    await waitFor(events, 'CREATE_COMPLETE');
    expect(events.map((e) => `${e.stackName} ${e.status}`)).toEqual(['foreign CREATE_IN_PROGRESS', 'foreign CREATE_COMPLETE']);
  });

  it('looks only at the stacks a call changed, not every stack in the account, and still delivers every event', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    const template = JSON.stringify({ Resources: { Q: { Type: 'AWS::SQS::Queue' } } });
    for (let i = 0; i < 300; i++) account.createStackOutsideCairn({ stackName: `s${i}`, templateBody: template });
    account.settle();
    account.advance(1_000);
    const events: StackStatusEvent[] = [];
    account.onStackEvent((e) => events.push(e));
    const { AccountStore } = await import('../../../lib/adapters/embedded-account/account-store.js');
    const get = vi.spyOn(AccountStore.prototype, 'get');
    const all = vi.spyOn(AccountStore.prototype, 'all');
    await deploy(account, gateway, changeSet({ stackName: 'app' }));
    account.settle();
    const reads = get.mock.calls.length;
    const scans = all.mock.calls.length;
    get.mockRestore();
    all.mockRestore();
    expect(events.filter((e) => e.stackName === 'app').map((e) => e.status)).toEqual(['REVIEW_IN_PROGRESS', 'CREATE_IN_PROGRESS', 'CREATE_COMPLETE']);
    expect(events.every((e) => e.stackName === 'app')).toBe(true);
    expect(scans).toBe(0);
    // A handful of reads of the stack it touched; a scan would read all 300 on every call.
    expect(reads).toBeLessThan(60);
  });
});
