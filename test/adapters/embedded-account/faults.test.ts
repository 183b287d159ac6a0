/**
 * Failure modes injected through `account.faults`: failing resources and rollbacks, failing
 * deletes, throttling, 5xx-like errors, latency, and the per-operation call counter.
 */
import { describe, expect, it } from 'vitest';
import { ThrottlingError } from '../../../lib/ports/stack-gateway.js';
import { changeSet, deploy, newAccount, tempHome, template } from './helpers.js';

const APP = template({
  Parameters: { Size: { Type: 'Number', Default: 1 } },
  Resources: {
    Queue: { Type: 'AWS::SQS::Queue', Properties: { DelaySeconds: { Ref: 'Size' } } },
    Topic: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { Ref: 'Size' } } },
  },
  Outputs: { Size: { Value: { Ref: 'Size' } } },
});

describe('EmbeddedAccount: faults', () => {
  it('moves a new stack to ROLLBACK_COMPLETE when a resource fails to create', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    account.faults.failResourceType('AWS::SNS::Topic');
    const input = changeSet({ stackName: 'app', templateBody: APP });
    await deploy(account, gateway, input);
    const stack = (await gateway.describeStack('app'))!;
    expect(stack.status).toBe('ROLLBACK_COMPLETE');
    expect(stack.statusReason).toBe('The following resource(s) failed to create: [Topic]. Rollback requested by user.');
    expect(stack.outputs).toEqual({});
    const stackStatuses = (await gateway.listStackEvents('app', 100)).filter((e) => e.logicalId === 'app').map((e) => e.status);
    expect(stackStatuses).toEqual(['ROLLBACK_COMPLETE', 'ROLLBACK_IN_PROGRESS', 'CREATE_IN_PROGRESS', 'REVIEW_IN_PROGRESS']);
    const failure = (await gateway.listStackEvents('app', 100)).find((e) => e.status === 'CREATE_FAILED');
    expect(failure).toMatchObject({ logicalId: 'Topic', resourceType: 'AWS::SNS::Topic', statusReason: expect.stringContaining('Simulated create failure') });
    expect((await gateway.describeChangeSet('app', input.changeSetName))?.executionStatus).toBe('EXECUTE_FAILED');
  });

  it('rolls an update back to UPDATE_ROLLBACK_COMPLETE with the previous parameters and outputs', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app', templateBody: APP }));
    account.faults.set({ failOnUpdate: ['AWS::SNS::Topic'] });
    await deploy(account, gateway, changeSet({ stackName: 'app', changeSetType: 'UPDATE', templateBody: APP, parameters: [{ key: 'Size', value: '5' }] }));
    const stack = (await gateway.describeStack('app'))!;
    expect(stack).toMatchObject({ status: 'UPDATE_ROLLBACK_COMPLETE', parameters: { Size: '1' }, outputs: { Size: '1' } });
    const statuses = (await gateway.listStackEvents('app', 100)).filter((e) => e.logicalId === 'app').map((e) => e.status);
    expect(statuses.slice(0, 4)).toEqual([
      'UPDATE_ROLLBACK_COMPLETE',
      'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
      'UPDATE_ROLLBACK_IN_PROGRESS',
      'UPDATE_IN_PROGRESS',
    ]);
  });

  it('leaves a stack in UPDATE_ROLLBACK_FAILED when the rollback fails too', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app', templateBody: APP }));
    account.faults.set({ failOnUpdate: ['AWS::SNS::Topic'], failRollback: true });
    await deploy(account, gateway, changeSet({ stackName: 'app', changeSetType: 'UPDATE', templateBody: APP, parameters: [{ key: 'Size', value: '5' }] }));
    const stack = (await gateway.describeStack('app'))!;
    expect(stack.status).toBe('UPDATE_ROLLBACK_FAILED');
    expect(stack.statusReason).toMatch(/^The following resource\(s\) failed to update: \[Topic\]/);
    await expect(
      gateway.createChangeSet(changeSet({ stackName: 'app', changeSetType: 'UPDATE', templateBody: APP, parameters: [{ key: 'Size', value: '6' }] })),
    ).rejects.toMatchObject({ code: 'ValidationError' });
  });

  it('leaves a stack in DELETE_FAILED when a resource fails to delete, and deletes it on a retry once fixed', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await deploy(account, gateway, changeSet({ stackName: 'app', templateBody: APP }));
    account.faults.failResourceType('AWS::SQS::Queue', ['delete']);
    await gateway.deleteStack('app', { clientToken: 'd1', roleArn: undefined });
    account.settle();
    expect(await gateway.describeStack('app')).toMatchObject({
      status: 'DELETE_FAILED',
      statusReason: 'The following resource(s) failed to delete: [Queue].',
    });
    account.faults.reset();
    await gateway.deleteStack('app', { clientToken: 'd2', roleArn: undefined });
    account.settle();
    expect(await gateway.describeStack('app')).toBeUndefined();
  });

  it('throttles calls beyond the rate per second with ThrottlingError "Rate exceeded"', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    account.faults.set({ throttlePerSecond: 2 });
    await gateway.listStacks();
    await gateway.listStacks();
    const error = await gateway.listStacks().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottlingError);
    expect((error as ThrottlingError).message).toBe('Rate exceeded');
    account.advance(1000);
    await expect(gateway.listStacks()).resolves.toEqual([]);
  });

  it('fails calls at the error rate with GatewayError InternalFailure', async () => {
    const account = newAccount({ random: () => 0.3 });
    const gateway = account.gateway();
    account.faults.set({ errorRate: 0.5 });
    await expect(gateway.describeStack('x')).rejects.toMatchObject({ name: 'GatewayError', code: 'InternalFailure' });
    account.faults.set({ errorRate: 0.2 });
    await expect(gateway.describeStack('x')).resolves.toBeUndefined();
  });

  it('adds latency to every call', async () => {
    const account = newAccount();
    account.faults.set({ latencyMs: 25 });
    const started = performance.now();
    await account.gateway().listStacks();
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
  });

  it('counts calls per operation, including the ones that failed', async () => {
    const account = newAccount();
    const gateway = account.gateway();
    await gateway.listStacks();
    await gateway.describeStack('a');
    await gateway.describeStack('b');
    await gateway.getTemplate('missing').catch(() => undefined);
    expect(account.calls()).toEqual({ listStacks: 1, describeStack: 2, getTemplate: 1 });
    expect(account.callCount('describeStack')).toBe(2);
    expect(account.callCount()).toBe(4);
    account.resetCalls();
    expect(account.callCount()).toBe(0);
  });

  it('keeps fault settings with the account so another process on the same home sees them', async () => {
    const home = tempHome();
    const first = newAccount({ home });
    const second = newAccount({ home });
    first.faults.set({ failOnCreate: ['AWS::SNS::Topic'] });
    expect(second.faults.settings.failOnCreate).toEqual(['AWS::SNS::Topic']);
    expect(() => second.faults.set({ errorRate: 2 })).toThrow(RangeError);
  });
});
