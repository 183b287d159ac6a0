/** A run's summary counts what that run did, from its events: not the stacks' states. */
import { describe, expect, it } from 'vitest';
import type { CairnEvent } from '../../lib/ports/events.js';
import { describeRun, tallyRun } from '../../lib/reconcile/run-tally.js';

const base = { source: 'src', commit: 'a'.repeat(40) };
const action = (stack: string, a: 'create' | 'update' | 'delete' | 'revert-drift' | 'recreate'): CairnEvent => ({ ...base, type: 'stack.action', stack, stackName: stack, action: a, summary: '' });

describe('Reconcile: run tally', () => {
  it('counts creates, updates with their replaced resources, deletes, reverts, blocks, and leaves the rest unchanged', () => {
    const events: CairnEvent[] = [
      action('network', 'create'),
      { ...base, type: 'changeset.created', stack: 'app', stackName: 'app', changeSetName: 'cs', changes: [
        { action: 'Modify', logicalId: 'Queue', physicalId: 'q', resourceType: 'AWS::SQS::Queue', replacement: 'True', properties: ['QueueName'] },
        { action: 'Modify', logicalId: 'Topic', physicalId: 't', resourceType: 'AWS::SNS::Topic', replacement: 'False', properties: ['DisplayName'] },
      ] },
      action('app', 'update'),
      action('old', 'delete'),
      action('cache', 'revert-drift'),
      { ...base, type: 'stack.blocked', stack: 'data', stackName: 'data', reason: 'DestructiveChangeBlocked', message: 'm' },
      action('network', 'create'),
    ];
    const counts = tallyRun(events, ['network', 'app', 'cache', 'data', 'web']);
    expect(counts).toEqual({ created: 1, updated: 1, replaced: 1, deleted: 1, reverted: 1, blocked: 1, unchanged: 1 });
    expect(describeRun(counts)).toBe('1 stack created, 1 updated (1 resource replaced), 1 deleted, 1 reverted, 1 blocked, 1 unchanged');
  });

  it('says a run that did nothing left every stack unchanged, and counts a recreate as the create it ends in', () => {
    expect(describeRun(tallyRun([], ['a', 'b']))).toBe('2 stacks unchanged');
    expect(tallyRun([action('a', 'recreate'), action('a', 'create')], ['a', 'b'])).toMatchObject({ created: 1, unchanged: 1 });
  });

  it('counts a stack the run stalled at as blocked, not as the create or update that failed, so a stall never reads blocked: 0', () => {
    const counts = tallyRun([action('queue', 'create'), action('app', 'update')], ['queue', 'app', 'web'], ['queue', 'app', 'undeclared']);
    expect(counts).toEqual({ created: 0, updated: 0, replaced: 0, deleted: 0, reverted: 0, blocked: 2, unchanged: 1 });
    expect(tallyRun([], ['queue'], ['queue'])).toMatchObject({ blocked: 1, unchanged: 0 });
  });
});
