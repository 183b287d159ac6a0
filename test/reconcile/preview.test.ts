/**
 * Previews from CloudFormation's own answer, on the embedded account: a plan of an update shows
 * each resource's replacement and old → new values from a change set that is read and deleted,
 * never executed; a destructive change is blocked in the plan as apply would block it; a preview a
 * crash left behind is removed by the next one.
 */
import { describe, expect, it } from 'vitest';
import { planSource } from '../../lib/reconcile/plan-source.js';
import { isPreview, PREVIEW_PREFIX } from '../../lib/reconcile/preview.js';
import { APP, NETWORK, repo, TABLE, world } from '../helpers/world.js';

const QUEUE = (props: string) => `Resources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {${props}}}\n`;

describe('Reconcile: previews', () => {
  it('shows replacements and old → new values from a change set it deletes, never executes', async () => {
    const w = world();
    const files = repo({ files: { 'app.yaml': QUEUE('VisibilityTimeout: 30') }, cairn: 'version: 1\nstacks:\n  app: {template: app.yaml}\n' });
    expect((await w.converge(await w.desired(files))).outcome).toBe('succeeded');
    const changed = await w.desired({ ...files, 'app.yaml': QUEUE('VisibilityTimeout: 60, QueueName: orders-v2') }, 'b'.repeat(40));
    const executions = w.account.callCount('executeChangeSet');

    const { plan } = await planSource(changed, { gateways: w.gateways, resourceDiff: true, preview: { waitMs: 10_000, pollMs: 500, sleep: w.sleep } });
    const app = plan.stacks.find((s) => s.id === 'app')!;
    expect(app.action).toBe('update');
    expect(app.preview?.state).toBe('ready');
    expect(app.preview!.changes).toEqual([
      expect.objectContaining({
        action: 'Modify',
        logicalId: 'Queue',
        replacement: 'True',
        values: [
          { path: '/Properties/QueueName', before: undefined, after: 'orders-v2', requiresRecreation: 'Always' },
          { path: '/Properties/VisibilityTimeout', before: '30', after: '60', requiresRecreation: 'Never' },
        ],
      }),
    ]);
    expect(w.account.callCount('executeChangeSet')).toBe(executions);
    expect((await w.gateway.listChangeSets('app')).filter((c) => isPreview(c.changeSetName))).toEqual([]);
    expect(w.account.callCount('deleteChangeSet')).toBeGreaterThanOrEqual(1);
  });

  it('blocks a destructive change in the plan, with the message and fix apply gives', async () => {
    const w = world();
    const desired = await w.desired(repo());
    expect((await w.converge(desired)).outcome).toBe('succeeded');
    const rekeyed = await w.desired(repo({ files: { 'data.yaml': TABLE('orderId') } }), 'c'.repeat(40));
    const { plan } = await planSource(rekeyed, { gateways: w.gateways, preview: { waitMs: 10_000, pollMs: 500, sleep: w.sleep } });
    const data = plan.stacks.find((s) => s.id === 'data')!;
    expect(data).toMatchObject({ action: 'blocked', blockedBy: 'DestructiveChangeBlocked' });
    expect(data.reason).toMatch(/Table \(AWS::DynamoDB::Table\) would be replaced because .*KeySchema.*`allowDestructive: \[Table\]`/);
    // Offline, the same plan knows only that the content changed.
    const offline = await planSource(rekeyed, { gateways: w.gateways });
    const unread = offline.plan.stacks.find((s) => s.id === 'data')!;
    expect([unread.action, unread.preview]).toEqual(['update', undefined]);
    // And apply stalls on the same stack for the same reason.
    const applied = await w.converge(rekeyed);
    expect(applied.outcome).toBe('stalled');
    if (applied.outcome === 'stalled') expect(applied.error.reason).toBe('DestructiveChangeBlocked');
  });

  it('removes a preview a crash left behind before making a new one', async () => {
    const w = world();
    const files = repo({ files: { 'network.yaml': NETWORK, 'app.yaml': APP } });
    expect((await w.converge(await w.desired(files))).outcome).toBe('succeeded');
    const leftover = `${PREVIEW_PREFIX}crashed`;
    await w.gateway.createChangeSet({
      stackName: 'network',
      changeSetName: leftover,
      changeSetType: 'UPDATE',
      templateBody: JSON.stringify({ Parameters: { Cidr: { Type: 'String' } }, Resources: { Vpc2: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: { Ref: 'Cidr' } } } } }),
      parameters: [{ key: 'Cidr', value: '10.0.0.0/16' }],
      tags: {},
      capabilities: [],
      roleArn: undefined,
      clientToken: leftover,
    });
    await w.sleep(11 * 60_000);
    const cidr = await w.desired(repo({ cairn: 'version: 1\nstacks:\n  network: {template: network.yaml, parameters: {Cidr: 10.1.0.0/16}}\n' }), 'd'.repeat(40));
    await planSource(cidr, { gateways: w.gateways, preview: { waitMs: 10_000, pollMs: 500, sleep: w.sleep } });
    expect((await w.gateway.listChangeSets('network')).map((c) => c.changeSetName).filter(isPreview)).toEqual([]);
  });
});
