/**
 * Manual approval in the reconciler: a stack whose policy asks for approval keeps its change set and
 * waits, reported as awaiting approval; an approval of that change set at that commit lets it run
 * (logged with who and when); a rejection removes it and stalls the commit; a newer commit needs
 * its own. On the embedded account, with approvals in files as `cairn approve` writes them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileApprovals } from '../../lib/adapters/file-approvals.js';
import { needsApproval } from '../../lib/reconcile/advance.js';
import { approvalsUnavailable } from '../../lib/ports/approvals.js';
import type { ChangeSetChange } from '../../lib/ports/stack-gateway.js';
import { repo, world } from '../helpers/world.js';

const QUEUE = (t: number) => `Resources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: ${t}}}\n`;
const files = (t: number, policy = 'manual') => repo({ cairn: `version: 1\nstacks:\n  app: {template: app.yaml, approval: ${policy}}\n`, files: { 'app.yaml': QUEUE(t) } });

describe('Reconcile: manual approval', () => {
  it('waits with the change set kept, runs it once approved, and logs who approved it', async () => {
    const w = world();
    const approvals = new FileApprovals(mkdtempSync(join(tmpdir(), 'cairn-approvals-')));
    const desired = await w.desired(files(30));
    const waiting = await w.converge(desired, { approvals });
    expect(waiting.outcome).toBe('progressing');
    if (waiting.outcome !== 'progressing') return;
    expect(waiting.held).toEqual(['app']);
    expect(waiting.summary).toMatch(/^app awaiting approval \(manual\) of change set cairn-[0-9a-f]{24}-new: 1 to add.*`cairn approve app`/);
    const kept = (await w.gateway.listChangeSets('app')).filter((c) => c.executionStatus === 'AVAILABLE');
    expect(kept).toHaveLength(1);
    expect(w.account.callCount('executeChangeSet')).toBe(0);

    // Approved for another commit: still waiting.
    await approvals.put({ source: 'src', stack: 'app', changeSetName: kept[0]!.changeSetName, commit: 'f'.repeat(40), decision: 'approved', by: 'ana', at: '2026-01-01T00:00:00.000Z' });
    expect((await w.converge(desired, { approvals })).outcome).toBe('progressing');
    await approvals.put({ source: 'src', stack: 'app', changeSetName: kept[0]!.changeSetName, commit: desired.commit, decision: 'approved', by: 'ana', at: '2026-01-01T00:00:00.000Z' });
    expect((await w.converge(desired, { approvals })).outcome).toBe('succeeded');
    expect((await w.gateway.describeStack('app'))?.status).toBe('CREATE_COMPLETE');
    expect(w.sink.events).toContainEqual(expect.objectContaining({ type: 'log', stack: 'app', message: `create of app (change set ${kept[0]!.changeSetName}) approved by ana at 2026-01-01T00:00:00.000Z` }));
  });

  it('stalls a rejected change set and removes it', async () => {
    const w = world();
    const approvals = new FileApprovals(mkdtempSync(join(tmpdir(), 'cairn-approvals-')));
    const desired = await w.desired(files(30));
    await w.converge(desired, { approvals });
    const name = (await w.gateway.listChangeSets('app'))[0]!.changeSetName;
    await approvals.put({ source: 'src', stack: 'app', changeSetName: name, commit: desired.commit, decision: 'rejected', by: 'bo', at: '2026-01-01T00:00:00.000Z' });
    const result = await w.converge(desired, { approvals });
    expect(result.outcome).toBe('stalled');
    if (result.outcome === 'stalled') expect([result.error.reason, result.error.message]).toEqual(['ApprovalRejected', `stack app: bo rejected its create (change set ${name}) at 2026-01-01T00:00:00.000Z`]);
    expect((await w.gateway.listChangeSets('app')).filter((c) => c.executionStatus === 'AVAILABLE')).toEqual([]);
  });

  it('stalls, never applies, a stack asking for approval where no approvals can be taken', async () => {
    const w = world();
    const result = await w.converge(await w.desired(files(30)), { approvals: approvalsUnavailable('the deployed reconciler cannot take yet') });
    expect(result.outcome).toBe('stalled');
    if (result.outcome === 'stalled') expect(result.error).toMatchObject({ reason: 'ApprovalUnavailable', message: "stack app: `approval: manual` asks for a person's approval of its create, which the deployed reconciler cannot take yet" });
    expect(w.account.callCount('executeChangeSet')).toBe(0);
    expect((await w.gateway.listChangeSets('app')).filter((c) => c.executionStatus === 'AVAILABLE')).toEqual([]);
  });

  it('asks only for replacements or removals under the narrower policies', () => {
    const modify: ChangeSetChange[] = [{ action: 'Modify', logicalId: 'Q', physicalId: 'q', resourceType: 'AWS::SQS::Queue', replacement: 'False', properties: ['VisibilityTimeout'] }];
    const replace: ChangeSetChange[] = [{ ...modify[0]!, replacement: 'True' }];
    const remove: ChangeSetChange[] = [{ action: 'Remove', logicalId: 'Q', physicalId: 'q', resourceType: 'AWS::SQS::Queue', replacement: undefined, properties: [] }];
    expect([needsApproval('manual-on-replace', 'update', modify), needsApproval('manual-on-replace', 'update', replace)]).toEqual([false, true]);
    expect([needsApproval('manual-on-delete', 'update', replace), needsApproval('manual-on-delete', 'update', remove), needsApproval('manual-on-delete', 'delete', [])]).toEqual([false, true, true]);
    expect([needsApproval('auto', 'delete', remove), needsApproval('manual', 'update', [])]).toEqual([false, true]);
  });
});
