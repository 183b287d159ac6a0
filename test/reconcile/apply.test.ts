import { describe, expect, it } from 'vitest';
import { OWNER_TAGS } from '../../lib/core/model.js';
import type { GatewayFactory, StackGateway } from '../../lib/ports/stack-gateway.js';
import { APP, NETWORK, TABLE, repo, world } from '../helpers/world.js';

const names = (events: { stack: string }[]) => events.map((e) => e.stack);

describe('Use case: apply plans safely', () => {
  it('creates new stacks in dependency order and wires outputs into parameters', async () => {
    const w = world();
    const result = await w.converge(await w.desired(repo()));
    expect(result).toMatchObject({ outcome: 'succeeded', counts: { created: 3, updated: 0, unchanged: 0 } });
    const actions = w.sink.ofType('stack.action');
    expect(names(actions).indexOf('app')).toBeGreaterThan(names(actions).indexOf('network'));
    const network = await w.gateway.describeStack('network');
    const app = await w.gateway.describeStack('app');
    expect(app!.parameters['VpcId']).toBe(network!.outputs['VpcId']);
    expect(app!.tags).toMatchObject({ [OWNER_TAGS.source]: 'src', [OWNER_TAGS.stack]: 'app', [OWNER_TAGS.commit]: expect.any(String) });
  });

  it('is idempotent: applying again makes no change set and no write', async () => {
    const w = world();
    const desired = await w.desired(repo());
    await w.converge(desired);
    w.account.resetCalls();
    const again = await w.converge(desired);
    expect(again.outcome).toBe('succeeded');
    const calls = w.account.calls();
    for (const write of ['createChangeSet', 'executeChangeSet', 'deleteStack', 'deleteChangeSet', 'updateTerminationProtection']) expect(calls[write] ?? 0).toBe(0);
    expect(calls['getTemplate'] ?? 0).toBe(0);
  });

  it('updates only the stack whose content changed, and records the new commit on it', async () => {
    const w = world();
    await w.converge(await w.desired(repo(), 'a'.repeat(40)));
    w.account.resetCalls();
    const changed = repo({ files: { 'app.yaml': APP.replace('Queue: {', 'Queue: {DeletionPolicy: Retain, ') } });
    const result = await w.converge(await w.desired(changed, 'b'.repeat(40)));
    expect(result).toMatchObject({ outcome: 'succeeded', counts: { updated: 1, unchanged: 2 } });
    expect(w.account.callCount('executeChangeSet')).toBe(1);
    expect((await w.gateway.describeStack('app'))!.tags[OWNER_TAGS.commit]).toBe('b'.repeat(40));
    expect((await w.gateway.describeStack('network'))!.tags[OWNER_TAGS.commit]).toBe('a'.repeat(40));
  });

  it('deletes and recreates a stack a failed create left in ROLLBACK_COMPLETE, and says so', async () => {
    const w = world();
    w.account.faults.failResourceType('AWS::SQS::Queue', ['create']);
    const first = await w.converge(await w.desired(repo()));
    expect(first.outcome).toBe('stalled');
    if (first.outcome !== 'stalled') return;
    expect(first.error.reason).toBe('StackFailed');
    expect(first.error.message).toMatch(/stack app: creating it with this content failed .*ROLLBACK_COMPLETE.*Queue \(AWS::SQS::Queue\)/);
    expect(first.error.hint).toMatch(/cairn apply --retry/);
    expect((await w.gateway.describeStack('app'))!.status).toBe('ROLLBACK_COMPLETE');

    w.account.faults.reset();
    const fixed = repo({ files: { 'app.yaml': `${APP}  Topic: {Type: AWS::SNS::Topic}\n` } });
    const second = await w.converge(await w.desired(fixed));
    expect(second.outcome).toBe('succeeded');
    expect(w.sink.ofType('stack.action').find((e) => e.action === 'recreate')).toMatchObject({ stack: 'app', summary: /failed create left in ROLLBACK_COMPLETE/ });
    expect((await w.gateway.describeStack('app'))!.status).toBe('CREATE_COMPLETE');
  });

  it('retries a failed create of the same content once when asked (apply --retry), and stalls again if it fails again', async () => {
    const w = world();
    w.account.faults.failResourceType('AWS::SQS::Queue', ['create']);
    const desired = await w.desired(repo());
    expect((await w.converge(desired)).outcome).toBe('stalled');
    // Without a retry the same content stays stalled, and nothing is deleted.
    expect((await w.converge(desired)).outcome).toBe('stalled');
    expect(w.account.callCount('deleteStack')).toBe(0);
    // Still failing: one retry, then stalled again rather than a loop.
    const again = await w.converge(desired, { retry: new Set(['app']) });
    expect(again.outcome).toBe('stalled');
    expect(w.account.callCount('deleteStack')).toBe(1);
    w.account.faults.reset();
    const fixed = await w.converge(desired, { retry: new Set(['app']) });
    expect(fixed.outcome).toBe('succeeded');
    expect((await w.gateway.describeStack('app'))!.status).toBe('CREATE_COMPLETE');
  });

  it('waits for a stack CloudFormation is busy with, then reconciles it', async () => {
    const w = world();
    const desired = await w.desired(repo());
    await w.converge(desired);
    w.account.updateStackOutsideCairn({ stackName: 'network', parameters: { Cidr: '10.9.0.0/16' } });
    const step = await w.step(desired);
    expect(step.outcome).toBe('progressing');
    if (step.outcome === 'progressing') expect(step.waitingOn).toContain('network');
    expect(w.sink.ofType('stack.waiting').map((e) => e.stack)).toContain('network');
    const done = await w.converge(desired);
    expect(done.outcome).toBe('succeeded');
    expect((await w.gateway.describeStack('network'))!.parameters['Cidr']).toBe('10.0.0.0/16');
  });

  it.each([
    ['UPDATE_ROLLBACK_FAILED', /continue-update-rollback --stack-name network/],
    ['DELETE_FAILED', /delete-stack --stack-name network/],
  ])('stops at a stack in %s and tells the user what to do', async (status, hint) => {
    const w = world();
    const desired = await w.desired(repo());
    await w.converge(desired);
    w.account.forceStackStatus({ stackName: 'network', status });
    const result = await w.converge(await w.desired(repo({ files: { 'network.yaml': NETWORK.replace('Vpc: {', 'Vpc: {DeletionPolicy: Retain, ') } })));
    expect(result.outcome).toBe('stalled');
    if (result.outcome !== 'stalled') return;
    expect(result.error).toMatchObject({ reason: 'StackFailed', stackId: 'network' });
    expect(result.error.message).toMatch(new RegExp(`stack network: stack is in ${status}`));
    expect(result.error.message).toMatch(hint);
  });

  it('cleans up a stack left in REVIEW_IN_PROGRESS by a change set that was never executed', async () => {
    const w = world();
    await w.gateway.createChangeSet({
      stackName: 'data',
      changeSetName: 'cairn-left-over',
      changeSetType: 'CREATE',
      templateBody: '{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}',
      parameters: [],
      tags: { [OWNER_TAGS.source]: 'src', [OWNER_TAGS.stack]: 'data' },
      capabilities: [],
      roleArn: undefined,
      clientToken: 'left-over',
    });
    w.account.settle();
    expect((await w.gateway.describeStack('data'))!.status).toBe('REVIEW_IN_PROGRESS');
    const result = await w.converge(await w.desired(repo()));
    expect(result.outcome).toBe('succeeded');
    expect((await w.gateway.describeStack('data'))!.status).toBe('CREATE_COMPLETE');
    expect((await w.gateway.listChangeSets('data')).filter((c) => c.executionStatus === 'AVAILABLE')).toEqual([]);
  });

  it('reports the StatusReason of a change set that failed for a real reason, and leaves nothing half-made', async () => {
    const w = world();
    // Valid to read, refused by CloudFormation: no stack exports that name.
    const broken = repo({ files: { 'data.yaml': 'Resources:\n  Topic: {Type: AWS::SNS::Topic, Properties: {DisplayName: !ImportValue no-such-export}}\n' } });
    const result = await w.converge(await w.desired(broken));
    expect(result.outcome).toBe('stalled');
    if (result.outcome !== 'stalled') return;
    const err = result.stalls.find((e) => e.stackId === 'data')!;
    expect(err.reason).toBe('ChangeSetFailed');
    expect(err.message).toMatch(/stack data: CloudFormation refused the change set: .*no-such-export/);
    expect(await w.gateway.describeStack('data')).toBeUndefined();
  });

  it('names the capability to add to cairn.yaml when the template needs one', async () => {
    const w = world();
    const iam = repo({ files: { 'data.yaml': 'Resources:\n  Role: {Type: AWS::IAM::Role, Properties: {AssumeRolePolicyDocument: {}}}\n' } });
    const result = await w.converge(await w.desired(iam));
    expect(result.outcome).toBe('stalled');
    if (result.outcome !== 'stalled') return;
    const err = result.stalls.find((e) => e.stackId === 'data')!;
    expect(err.reason).toBe('CapabilityMissing');
    expect(err.hint).toMatch(/add `capabilities: \[CAPABILITY_IAM\]` to stacks\.data/);
  });

  describe('ownership', () => {
    it('never touches an existing stack it does not own', async () => {
      const w = world();
      w.account.createStackOutsideCairn({ stackName: 'data', templateBody: '{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}' });
      w.account.settle();
      w.account.resetCalls();
      const result = await w.converge(await w.desired(repo()));
      expect(result.outcome).toBe('stalled');
      if (result.outcome !== 'stalled') return;
      expect(result.stalls.find((e) => e.stackId === 'data')).toMatchObject({ reason: 'OwnershipConflict', message: /add `adopt: true` to stacks\.data/ });
      expect((await w.gateway.describeStack('data'))!.tags[OWNER_TAGS.source]).toBeUndefined();
      expect(await w.gateway.getTemplate('data')).toContain('AWS::SNS::Topic');
    });

    it('adopts it when the entry says adopt: true', async () => {
      const w = world();
      w.account.createStackOutsideCairn({ stackName: 'data', templateBody: '{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}' });
      w.account.settle();
      const cairn = repo()['cairn.yaml']!.toString().replace('data: {template: data.yaml}', 'data: {template: data.yaml, adopt: true}');
      const result = await w.converge(await w.desired(repo({ cairn })));
      expect(result.outcome).toBe('succeeded');
      expect((await w.gateway.describeStack('data'))!.tags[OWNER_TAGS.source]).toBe('src');
      expect(w.sink.ofType('stack.action').find((e) => e.stack === 'data')!.action).toBe('adopt');
    });
  });

  describe('destructive-change protection', () => {
    it('blocks replacing a DynamoDB table, names the resource and the fix, and leaves no change set behind', async () => {
      const w = world();
      await w.converge(await w.desired(repo()));
      w.account.resetCalls();
      const result = await w.converge(await w.desired(repo({ files: { 'data.yaml': TABLE('pk') } })));
      expect(result.outcome).toBe('stalled');
      if (result.outcome !== 'stalled') return;
      expect(result.error.reason).toBe('DestructiveChangeBlocked');
      expect(result.error.message).toMatch(/stack data: destructive change blocked: Table \(AWS::DynamoDB::Table\) would be replaced because .*KeySchema.* changed, losing its data/);
      expect(result.error.hint).toMatch(/add `allowDestructive: \[Table\]` to stacks\.data in cairn\.yaml/);
      expect(w.account.callCount('executeChangeSet')).toBe(0);
      expect(await w.gateway.listChangeSets('data')).toEqual([]);
    });

    it('blocks removing a protected resource', async () => {
      const w = world();
      await w.converge(await w.desired(repo()));
      const result = await w.converge(await w.desired(repo({ files: { 'data.yaml': 'Resources:\n  Topic: {Type: AWS::SNS::Topic}\n' } })));
      expect(result.outcome).toBe('stalled');
      if (result.outcome === 'stalled') expect(result.error.message).toMatch(/Table \(AWS::DynamoDB::Table\) would be deleted/);
    });

    it('lets the change through when cairn.yaml allows that logical id', async () => {
      const w = world();
      await w.converge(await w.desired(repo()));
      const cairn = repo()['cairn.yaml']!.toString().replace('data: {template: data.yaml}', 'data: {template: data.yaml, allowDestructive: [Table]}');
      const result = await w.converge(await w.desired(repo({ cairn, files: { 'data.yaml': TABLE('pk') } })));
      expect(result.outcome).toBe('succeeded');
    });
  });

  describe('prune', () => {
    const pruneRepo = (stacks: string[], extra = '') => ({
      'cairn.yaml': ['version: 1', `defaults: {prune: true${extra}}`, 'stacks:', ...stacks.map((s) => `  ${s}: {template: t.yaml}`)].join('\n'),
      't.yaml': 'Resources:\n  T: {Type: AWS::SNS::Topic}\n',
    });

    it('deletes owned stacks removed from the file, after everything else is in sync', async () => {
      const w = world();
      await w.converge(await w.desired(pruneRepo(['a', 'b', 'c', 'd'])));
      const result = await w.converge(await w.desired(pruneRepo(['a', 'b', 'c'])));
      expect(result.outcome).toBe('succeeded');
      expect(await w.gateway.describeStack('d')).toBeUndefined();
      expect(await w.gateway.describeStack('c')).toBeDefined();
    });

    it('refuses to prune more than the allowed share in one run', async () => {
      const w = world();
      await w.converge(await w.desired(pruneRepo(['a', 'b', 'c', 'd'])));
      const result = await w.converge(await w.desired(pruneRepo(['a'])));
      expect(result.outcome).toBe('stalled');
      if (result.outcome === 'stalled') expect(result.error).toMatchObject({ reason: 'PruneRefused', message: /3 of 4 owned stacks would be deleted/ });
      expect(await w.gateway.describeStack('d')).toBeDefined();
    });

    it('reports a termination-protected stack instead of deleting it', async () => {
      const w = world();
      await w.converge(await w.desired(pruneRepo(['a', 'b', 'c'])));
      await w.gateway.updateTerminationProtection('c', true);
      const result = await w.converge(await w.desired(pruneRepo(['a', 'b'])));
      expect(result.outcome).toBe('stalled');
      if (result.outcome === 'stalled') expect(result.error.message).toMatch(/stack c: .*termination protection is on/);
      expect(await w.gateway.describeStack('c')).toBeDefined();
    });
  });

  describe('crash safety', () => {
    /** A gateway that dies (like a killed process) on the Nth write call, once. */
    function crashing(n: number): { wrap: (base: GatewayFactory) => GatewayFactory; crashed: () => boolean } {
      let writes = 0;
      let crashed = false;
      const WRITES = new Set(['createChangeSet', 'executeChangeSet', 'deleteChangeSet', 'deleteStack', 'updateTerminationProtection']);
      return {
        crashed: () => crashed,
        wrap: (base) => (region) => {
          const g = base(region);
          return new Proxy(g, {
            get(target, prop, receiver) {
              const value = Reflect.get(target, prop, receiver) as unknown;
              if (typeof value !== 'function' || !WRITES.has(String(prop))) return typeof value === 'function' ? value.bind(target) : value;
              return async (...args: unknown[]) => {
                const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
                if (++writes === n && !crashed) {
                  crashed = true;
                  throw new Error(`killed after write ${n} (${String(prop)})`);
                }
                return result;
              };
            },
          }) as StackGateway;
        },
      };
    }

    // Creating the three stacks takes six writes: a change set and its execution each.
    it.each([1, 2, 3, 4, 5, 6])('converges after being killed after write %i, with no duplicate stack or change set and no content applied twice', async (n) => {
      const crash = crashing(n);
      const w = world({ gateways: crash.wrap });
      const desired = await w.desired(repo());
      await expect(w.converge(desired)).rejects.toThrow(/killed/);
      expect(crash.crashed()).toBe(true);
      const result = await w.converge(desired);
      expect(result.outcome).toBe('succeeded');
      const stacks = await w.gateway.listStacks();
      expect(stacks.map((s) => s.stackName).sort()).toEqual(['app', 'data', 'network']);
      expect(w.account.callCount('executeChangeSet')).toBe(3);
      for (const s of stacks) expect((await w.gateway.listChangeSets(s.stackName)).filter((c) => c.executionStatus === 'AVAILABLE')).toEqual([]);
    });
  });
});
