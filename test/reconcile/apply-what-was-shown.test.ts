/**
 * Apply runs what it showed: with `keep`, each update's preview is the very change set the apply
 * then executes (created once, executed by name); when the account moves between the plan and the
 * apply, the confirm hook learns it before anything runs, and a "no" stops the step with nothing
 * executed and the change set removed. On the embedded account.
 */
import { describe, expect, it } from 'vitest';
import type { ConfirmRequest } from '../../lib/reconcile/advance.js';
import { DeclinedError, movedSincePlan } from '../../lib/reconcile/advance.js';
import { planSource } from '../../lib/reconcile/plan-source.js';
import { repo, world } from '../helpers/world.js';

const QUEUE = (timeout: number) => `Resources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: ${timeout}}}\n`;
const files = (timeout: number) => repo({ files: { 'app.yaml': QUEUE(timeout) }, cairn: 'version: 1\nstacks:\n  app: {template: app.yaml}\n' });

describe('Reconcile: apply executes the change set it previewed', () => {
  it('keeps the preview as the apply change set and executes exactly that one', async () => {
    const w = world();
    expect((await w.converge(await w.desired(files(30)))).outcome).toBe('succeeded');
    const changed = await w.desired(files(60), 'b'.repeat(40));
    const creates = w.account.callCount('createChangeSet');

    const { plan } = await planSource(changed, { gateways: w.gateways, preview: { waitMs: 5_000, pollMs: 500, sleep: w.sleep, keep: true } });
    const app = plan.stacks.find((s) => s.id === 'app')!;
    expect(app.preview?.changes[0]?.values).toEqual([{ path: '/Properties/VisibilityTimeout', before: '30', after: '60', requiresRecreation: 'Never' }]);
    expect(app.changeSetName).toMatch(/^cairn-[0-9a-f]{24}-/);
    expect((await w.gateway.listChangeSets('app')).filter((c) => c.executionStatus === 'AVAILABLE').map((c) => c.changeSetName)).toEqual([app.changeSetName]);

    const asked: ConfirmRequest[] = [];
    const result = await w.converge(changed, { confirm: async (r) => (asked.push(r), movedSincePlan(plan.stacks, r) === undefined) });
    expect(result.outcome).toBe('succeeded');
    expect(asked.map((r) => [r.action, r.changeSetName])).toEqual([['update', app.changeSetName]]);
    // Made once, while planning; the apply found it by name.
    expect(w.account.callCount('createChangeSet')).toBe(creates + 1);
    expect((await w.gateway.describeStack('app'))?.tags['cairn:commit']).toBe('b'.repeat(40));
  });

  it('says the account moved when the stack changed after the plan, and a no stops with nothing executed', async () => {
    const w = world();
    expect((await w.converge(await w.desired(files(30)))).outcome).toBe('succeeded');
    const changed = await w.desired(files(60), 'b'.repeat(40));
    const { plan } = await planSource(changed, { gateways: w.gateways, preview: { waitMs: 5_000, pollMs: 500, sleep: w.sleep, keep: true } });
    // Someone else applies another commit between the plan and the apply.
    expect((await w.converge(await w.desired(files(45), 'c'.repeat(40)))).outcome).toBe('succeeded');
    const executions = w.account.callCount('executeChangeSet');

    const reasons: (string | undefined)[] = [];
    const run = w.converge(changed, { confirm: async (r) => (reasons.push(movedSincePlan(plan.stacks, r)), false) });
    await expect(run).rejects.toBeInstanceOf(DeclinedError);
    expect(reasons).toEqual(['stack app changed in CloudFormation after the plan, so its change set is a new one']);
    expect(w.account.callCount('executeChangeSet')).toBe(executions);
    // Neither the new change set nor anything else of the declined step is left to be executed.
    expect((await w.gateway.listChangeSets('app')).filter((c) => c.executionStatus === 'AVAILABLE')).toEqual([]);
    expect((await w.gateway.describeStack('app'))?.tags['cairn:commit']).toBe('c'.repeat(40));
  });

  it('expects a stack the plan said may change after its dependency, and flags one the plan did not show', () => {
    const planned = [
      { id: 'app', stackName: 'app', region: undefined, action: 'none' as const, wave: 1, reason: 'in sync; may change after network', recreate: false, waiting: false, resources: [], parameters: [], desiredHash: 'h', actualHash: 'h', mayChangeAfter: ['network'] },
      { id: 'web', stackName: 'web', region: undefined, action: 'none' as const, wave: 1, reason: 'in sync', recreate: false, waiting: false, resources: [], parameters: [], desiredHash: 'h', actualHash: 'h' },
    ];
    expect(movedSincePlan(planned, { stack: 'app', stackName: 'app', region: undefined, action: 'update', changeSetName: 'cairn-x' })).toBeUndefined();
    expect(movedSincePlan(planned, { stack: 'web', stackName: 'web', region: undefined, action: 'update', changeSetName: 'cairn-y' })).toBe('stack web was planned as no change, and would now update');
    expect(movedSincePlan(planned, { stack: 'gone', stackName: 'gone', region: undefined, action: 'delete' })).toBe('stack gone was not in the plan');
  });
});
