import { describe, expect, it } from 'vitest';
import { findCycles, waves } from '../../lib/core/graph.js';
import { OWNER_TAGS } from '../../lib/core/model.js';
import { diffTemplates, plan, stackKey } from '../../lib/core/plan.js';
import { parseTemplate } from '../../lib/core/template.js';
import { actualStack, deployed, desiredStack, desiredState } from '../helpers/stacks.js';

const run = (...args: Parameters<typeof desiredState>) => (actual: Parameters<typeof plan>[0]['actual']) =>
  plan({ desired: desiredState(...args), actual, defaultRegion: 'us-east-1' });

const byId = (p: ReturnType<typeof plan>) => Object.fromEntries(p.stacks.map((s) => [s.id, s]));

describe('Core: plan', () => {
  const network = desiredStack('network', { templateText: 'Resources:\n  Vpc: {Type: AWS::EC2::VPC}\nOutputs:\n  VpcId: {Value: !Ref Vpc}\n' });
  const app = desiredStack('app', {
    templateText: 'Parameters:\n  VpcId: {Type: String}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n',
    parameters: { VpcId: { fromStack: 'network', output: 'VpcId' } },
    dependsOn: ['network'],
  });
  const web = desiredStack('web', { dependsOn: ['app'] });

  it('creates every stack of an empty account, in waves by dependency', () => {
    const p = run([web, app, network])([]);
    expect(p.stacks.map((s) => [s.id, s.action, s.wave])).toEqual([
      ['network', 'create', 0],
      ['app', 'create', 1],
      ['web', 'create', 2],
    ]);
    expect(p.changes).toBe(true);
    expect(byId(p)['app']!.parameters).toEqual(['VpcId (from network.VpcId, known after apply)']);
    expect(byId(p)['network']!.resources).toEqual([{ logicalId: 'Vpc', type: 'AWS::EC2::VPC', change: 'add', properties: [] }]);
  });

  it('finds nothing to do when every hash matches, reading no template', () => {
    const actual = [deployed(network, { outputs: { VpcId: 'vpc-1' } }), deployed(app, {}, { VpcId: 'vpc-1' }), deployed(web)];
    const p = run([network, app, web])(actual);
    expect(p.changes).toBe(false);
    expect(p.stacks.every((s) => s.action === 'none')).toBe(true);
  });

  it('updates a dependent whose wired output changed', () => {
    const actual = [deployed(network, { outputs: { VpcId: 'vpc-2' } }), deployed(app, {}, { VpcId: 'vpc-1' })];
    const p = byId(run([network, app])(actual));
    expect(p['network']!.action).toBe('none');
    expect(p['app']!.action).toBe('update');
    expect(p['app']!.parameters).toEqual(['VpcId']);
  });

  it('keeps a dependent in sync while its dependency updates, saying it may change once the outputs are known', () => {
    const changedNetwork = desiredStack('network', { templateText: 'Resources:\n  Vpc: {Type: AWS::EC2::VPC, Properties: {EnableDnsHostnames: true}}\nOutputs:\n  VpcId: {Value: !Ref Vpc}\n' });
    const actual = [deployed(network, { outputs: { VpcId: 'vpc-1' } }), deployed(app, {}, { VpcId: 'vpc-1' })];
    const p = byId(run([changedNetwork, app])(actual));
    expect(p['network']!.action).toBe('update');
    expect(p['app']).toMatchObject({ action: 'none', reason: 'in sync; may change after network (its outputs are known once applied)' });
  });

  it('plans a revert for a stack whose drift is current and whose policy reverts it; not once an update removed the drift', () => {
    const reverting = desiredStack('svc', { drift: 'revert' });
    const alerting = desiredStack('other', { drift: 'alert' });
    const drifted = { driftStatus: 'DRIFTED', driftCheckedAt: '2026-01-02T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' };
    const p = run([reverting, alerting])([deployed(reverting, drifted), deployed(alerting, drifted)]);
    expect(byId(p)['svc']).toMatchObject({ action: 'revert', reason: expect.stringContaining('drifted outside Cairn (found 2026-01-02T00:00:00.000Z)') });
    expect(byId(p)['other']!.action).toBe('none');
    expect(p.changes).toBe(true);
    // Updated after the detection: the drift found then is gone, so there is nothing to revert.
    const later = run([reverting])([deployed(reverting, { ...drifted, updatedAt: '2026-01-03T00:00:00.000Z' })]);
    expect(byId(later)['svc']!.action).toBe('none');
    expect(later.changes).toBe(false);
  });

  it('updates a stack whose template changed and shows which resources and properties', () => {
    const before = desiredStack('svc', { templateText: 'Resources:\n  B: {Type: AWS::S3::Bucket, Properties: {BucketName: a}}\n  Old: {Type: AWS::SNS::Topic}\n' });
    const after = desiredStack('svc', { templateText: 'Resources:\n  B: {Type: AWS::S3::Bucket, Properties: {BucketName: b}}\n  New: {Type: AWS::SQS::Queue}\n' });
    const templates = new Map([[stackKey(undefined, 'svc', 'us-east-1'), before.template]]);
    const p = plan({ desired: desiredState([after]), actual: [deployed(before)], defaultRegion: 'us-east-1', templates });
    expect(p.stacks[0]).toMatchObject({ action: 'update', reason: 'content changed' });
    expect(p.stacks[0]!.resources).toEqual([
      { logicalId: 'B', type: 'AWS::S3::Bucket', change: 'modify', properties: ['BucketName'] },
      { logicalId: 'New', type: 'AWS::SQS::Queue', change: 'add', properties: [] },
      { logicalId: 'Old', type: 'AWS::SNS::Topic', change: 'remove', properties: [] },
    ]);
  });

  it.each([
    ['an unowned stack of the same name', actualStack('svc'), 'blocked', /already exists and Cairn does not own it; add `adopt: true`/],
    ['a stack owned by another source', actualStack('svc', { tags: { [OWNER_TAGS.source]: 'other' } }), 'blocked', /owned by source "other"/],
    ['UPDATE_ROLLBACK_FAILED', deployed(desiredStack('svc'), { status: 'UPDATE_ROLLBACK_FAILED' }), 'blocked', /continue-update-rollback --stack-name svc/],
    ['DELETE_FAILED', deployed(desiredStack('svc'), { status: 'DELETE_FAILED' }), 'blocked', /delete-stack --stack-name svc/],
    ['ROLLBACK_COMPLETE after a failed create of other content', deployed(desiredStack('svc', { templateText: 'Resources:\n  Old: {Type: AWS::SNS::Topic}\n' }), { status: 'ROLLBACK_COMPLETE' }), 'create', /deleted and created again/],
    ['ROLLBACK_COMPLETE after a failed create of this content', deployed(desiredStack('svc'), { status: 'ROLLBACK_COMPLETE' }), 'blocked', /creating it with this content failed .*`cairn apply --retry`/],
    ['REVIEW_IN_PROGRESS from an unexecuted create', deployed(desiredStack('svc'), { status: 'REVIEW_IN_PROGRESS' }), 'create', /never executed/],
    ['a stack with no recorded hash', actualStack('svc', { tags: { [OWNER_TAGS.source]: 'src' } }), 'update', /no content hash recorded/],
  ])('handles %s', (_name, actual, action, reason) => {
    const p = run([desiredStack('svc')])([actual]);
    expect(p.stacks[0]!.action).toBe(action);
    expect(p.stacks[0]!.reason).toMatch(reason);
    if (_name.endsWith('of other content')) expect(p.stacks[0]!.recreate).toBe(true);
  });

  it('plans the recreate of a failed create of this same content only when it may be retried', () => {
    const failed = deployed(desiredStack('svc'), { status: 'ROLLBACK_COMPLETE' });
    const retried = plan({ desired: desiredState([desiredStack('svc')]), actual: [failed], defaultRegion: 'us-east-1', retry: new Set(['svc']) });
    expect(retried.stacks[0]).toMatchObject({ action: 'create', recreate: true });
    const others = plan({ desired: desiredState([desiredStack('svc')]), actual: [failed], defaultRegion: 'us-east-1', retry: new Set(['another']) });
    expect(others.stacks[0]).toMatchObject({ action: 'blocked', blockedBy: 'StackFailed' });
  });

  it('re-applies a stack whose parameters were changed outside Cairn, even though its hash matches', () => {
    const svc = desiredStack('svc', { templateText: 'Parameters:\n  Size: {Type: String}\nResources:\n  T: {Type: AWS::SNS::Topic}\n', parameters: { Size: '3' } });
    const p = run([svc])([deployed(svc, { parameters: { Size: '9' } }, { Size: '3' })]);
    expect(p.stacks[0]).toMatchObject({ action: 'update', reason: /parameters changed outside Cairn \(Size\)/ });
    const masked = run([svc])([deployed(svc, { parameters: { Size: '****' } }, { Size: '3' })]);
    expect(masked.stacks[0]!.action).toBe('none');
  });

  it('re-applies a stack whose live template differs from the repository, when the template was read', () => {
    const svc = desiredStack('svc');
    const other = desiredStack('svc', { templateText: 'Resources:\n  Other: {Type: AWS::SQS::Queue}\n' });
    const templates = new Map([[stackKey(undefined, 'svc', 'us-east-1'), other.template]]);
    const p = plan({ desired: desiredState([svc]), actual: [deployed(svc)], defaultRegion: 'us-east-1', templates });
    expect(p.stacks[0]).toMatchObject({ action: 'update', reason: /template changed outside Cairn/ });
    const same = plan({ desired: desiredState([svc]), actual: [deployed(svc)], defaultRegion: 'us-east-1', templates: new Map([[stackKey(undefined, 'svc', 'us-east-1'), svc.template]]) });
    expect(same.stacks[0]!.action).toBe('none');
  });

  it('adopts an unowned stack when the file says adopt: true', () => {
    const p = run([desiredStack('svc', { adopt: true })])([actualStack('svc')]);
    expect(p.stacks[0]).toMatchObject({ action: 'update', reason: 'adopted: Cairn takes it over' });
  });

  it('marks a stack that CloudFormation is busy with as waiting, not failed', () => {
    const svc = desiredStack('svc');
    const busy = run([svc])([deployed(svc, { status: 'UPDATE_IN_PROGRESS' })]);
    expect(busy.stacks[0]).toMatchObject({ action: 'none', waiting: true });
    const changed = run([desiredStack('svc', { tags: { x: 'y' } })])([deployed(svc, { status: 'UPDATE_IN_PROGRESS' })]);
    expect(changed.stacks[0]).toMatchObject({ action: 'update', waiting: true });
  });

  it('blocks a dependent whose settled dependency lacks the wired output', () => {
    const p = byId(run([network, app])([deployed(network, { outputs: { Other: 'x' } })]));
    expect(p['app']!.action).toBe('blocked');
    expect(p['app']!.reason).toMatch(/has no such output \(it has: Other\)/);
  });

  describe('prune', () => {
    const owned = (name: string, createdAt: string, over = {}) =>
      actualStack(name, { createdAt, tags: { [OWNER_TAGS.source]: 'src', [OWNER_TAGS.stack]: name, [OWNER_TAGS.hash]: 'h' }, ...over });
    const keep = desiredStack('keep');
    const current = [deployed(keep), owned('old-a', '2026-01-01T00:00:00Z'), owned('old-b', '2026-02-01T00:00:00Z'), deployed(desiredStack('x'))];

    it('keeps removed stacks when prune is off', () => {
      const p = byId(run([keep, desiredStack('x')])(current));
      expect(p['old-a']).toMatchObject({ action: 'none', reason: /prune is off/ });
    });

    it('deletes removed owned stacks newest first, after every other wave', () => {
      const p = run([keep, desiredStack('x')], { prune: true })(current);
      const deletes = p.stacks.filter((s) => s.action === 'delete');
      expect(deletes.map((s) => s.id)).toEqual(['old-b', 'old-a']);
      expect(deletes[0]!.wave).toBeGreaterThan(0);
      expect(deletes[1]!.wave).toBeGreaterThan(deletes[0]!.wave);
    });

    it('never prunes stacks of another source or stacks Cairn does not own', () => {
      const p = run([keep], { prune: true })([deployed(keep), actualStack('foreign'), actualStack('theirs', { tags: { [OWNER_TAGS.source]: 'other' } })]);
      expect(p.stacks.map((s) => s.id)).toEqual(['keep']);
    });

    it('refuses to prune when the file declares no stacks at all', () => {
      const p = run([], { prune: true })([owned('a', '2026-01-01T00:00:00Z')]);
      expect(p.stacks[0]).toMatchObject({ action: 'blocked', reason: /declares no stacks at all/ });
    });

    it('refuses to prune more than pruneMaxShare of owned stacks in one run', () => {
      const p = run([keep], { prune: true, pruneMaxShare: 0.5 })([deployed(keep), owned('a', '2026-01-01T00:00:00Z'), owned('b', '2026-01-02T00:00:00Z'), owned('c', '2026-01-03T00:00:00Z')]);
      expect(p.stacks.filter((s) => s.action === 'blocked')).toHaveLength(3);
      expect(p.stacks.find((s) => s.id === 'a')!.reason).toMatch(/3 of 4 owned stacks would be deleted, more than pruneMaxShare 0\.5 allows \(2\)/);
    });

    it('reports a termination-protected stack instead of deleting it', () => {
      const p = byId(run([keep, desiredStack('x')], { prune: true })([deployed(keep), deployed(desiredStack('x')), owned('locked', '2026-01-01T00:00:00Z', { terminationProtection: true })]));
      expect(p['locked']).toMatchObject({ action: 'blocked', reason: /termination protection is on/ });
    });
  });
});

describe('Core: dependency graph', () => {
  it.each([
    [{ a: [], b: ['a'], c: ['a', 'b'], d: [] }, { a: 0, b: 1, c: 2, d: 0 }],
    [{ x: ['y'], y: ['z'], z: [] }, { x: 2, y: 1, z: 0 }],
  ])('puts each stack one wave after its deepest dependency', (graph, expected) => {
    expect(Object.fromEntries(waves(new Map(Object.entries(graph))))).toEqual(expected);
  });

  it('names each cycle once', () => {
    expect(findCycles(new Map(Object.entries({ a: ['b'], b: ['a'], c: ['c'], d: [] })))).toEqual([['a', 'b', 'a'], ['c', 'c']]);
  });
});

describe('Core: resource diff', () => {
  const t = (text: string) => {
    const r = parseTemplate(text, 't');
    if (!r.ok) throw new Error('bad');
    return r.value.template;
  };
  it('lists changed attributes such as DeletionPolicy next to properties', () => {
    const changes = diffTemplates(t('Resources:\n  A: {Type: AWS::SNS::Topic}\n'), t('Resources:\n  A: {Type: AWS::SNS::Topic, DeletionPolicy: Retain}\n'));
    expect(changes).toEqual([{ logicalId: 'A', type: 'AWS::SNS::Topic', change: 'modify', properties: ['(DeletionPolicy)'] }]);
  });
});
