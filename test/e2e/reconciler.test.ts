/** End to end: real git over HTTP, signed webhooks, the in-process queue, the reconciler and the embedded account. */
import { afterEach, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../helpers/pipeline.js';
import { exampleFiles } from '../../lib/cli/example.js';



const appWithTimeout = (seconds: number) => exampleFiles()['stacks/app.yaml']!.replace('Default: 30', `Default: ${seconds}`);

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.stop();
  pipeline = undefined;
});

describe('End to end: the reconciler', () => {
  it('creates the example stacks in dependency order after a push, each wave woken by the previous wave’s stack events', async () => {
    const p = (pipeline = await startPipeline({ 'README.md': 'empty for now\n', 'cairn.yaml': 'version: 1\nstacks: {}\n' }));
    const sha = await p.push(exampleFiles());
    const done = await p.settled(sha);
    expect(done).toMatchObject({ outcome: 'succeeded', summary: '4 stacks created' });

    const order = p.sink.events.filter((e) => (e.type === 'stack.action' && e.action === 'create') || (e.type === 'stack.progress' && e.status === 'CREATE_COMPLETE'));
    const at = (type: string, stack: string) => order.findIndex((e) => e.type === type && 'stack' in e && e.stack === stack);
    expect(at('stack.action', 'app')).toBeGreaterThan(at('stack.progress', 'data'));
    const wakeUps = p.sink.ofType('reconcile.started').filter((e) => e.commit === sha).map((e) => e.trigger);
    expect(wakeUps[0]).toBe('push');
    expect(wakeUps).toContain('stack-event');
    // Push-to-apply is measured for the first wave, which the push itself starts.
    expect(p.sink.ofType('stack.action').find((e) => e.stack === 'network')!.pushToApplyMs).toBeGreaterThanOrEqual(0);

    const mine = p.statuses.filter((s) => s.commit === sha);
    expect(mine[0]).toMatchObject({ state: 'pending', context: 'cairn/platform' });
    expect(mine.at(-1)).toMatchObject({ state: 'success', description: '4 stacks created' });
  });

  it('updates only what changed on a second push', async () => {
    const p = (pipeline = await startPipeline(exampleFiles()));
    await p.settled(await p.push({ 'NOTES.md': 'first\n' }));
    const before = p.sink.ofType('stack.action').length;
    const sha = await p.push({ 'stacks/app.yaml': appWithTimeout(45) });
    expect(await p.settled(sha)).toMatchObject({ outcome: 'succeeded', summary: '1 stack updated, 3 unchanged' });
    expect(p.sink.ofType('stack.action').slice(before).map((e) => [e.stack, e.action])).toEqual([['app', 'update']]);
    expect(p.statuses.filter((s) => s.commit === sha).at(-1)).toMatchObject({ state: 'success', description: '1 stack updated, 3 unchanged' });
  });

  it('leaves every stack at the last of twenty pushes made inside a second, applying each distinct content once', async () => {
    const p = (pipeline = await startPipeline(exampleFiles()));
    await p.settled(await p.push({ 'NOTES.md': 'start\n' }));
    p.account.resetCalls();
    const seen = p.sink.events.length;
    let last = '';
    for (let i = 1; i <= 20; i++) last = await p.push({ 'stacks/app.yaml': appWithTimeout(100 + i) });
    expect(await p.settled(last, ['succeeded'], 30_000)).toMatchObject({ outcome: 'succeeded' });
    const app = (await p.account.gateway().describeStack('app'))!;
    expect(app.parameters['VisibilityTimeout']).toBe('120');
    expect(app.tags['cairn:commit']).toBe(last);
    const created = p.sink.events.slice(seen).flatMap((e) => (e.type === 'changeset.created' ? [e.changeSetName] : []));
    expect(new Set(created).size).toBe(created.length);
    expect(p.account.callCount('executeChangeSet')).toBe(created.length);
    expect(created.length).toBeLessThanOrEqual(20);
    for (const name of ['network', 'data', 'observability']) expect((await p.account.gateway().describeStack(name))!.status).toMatch(/_COMPLETE$/);
  });

  it('waits for a stack that is busy outside Cairn, then reconciles it, and wakes the source no more once it settles', async () => {
    const p = (pipeline = await startPipeline(exampleFiles()));
    await p.settled(await p.push({ 'NOTES.md': 'start\n' }));
    p.account.faults.set({ latencyMs: 0 });
    p.account.updateStackOutsideCairn({ stackName: 'network', parameters: { Cidr: '10.99.0.0/16' } });
    const sha = await p.push({ 'cairn.yaml': exampleFiles()['cairn.yaml']!.replace('10.20.0.0/16', '10.30.0.0/16') });
    expect(await p.settled(sha)).toMatchObject({ outcome: 'succeeded' });
    expect((await p.account.gateway().describeStack('network'))!.parameters['Cidr']).toBe('10.30.0.0/16');
    // A step found network busy and waited, leaving a follow-up of at most 0.2 s (maxRetryDelayMs);
    // stack events finished the commit, so the follow-up is dropped rather than reconciling again.
    expect(p.sink.ofType('reconcile.finished').some((e) => e.commit === sha && e.outcome === 'waiting')).toBe(true);
    const started = p.sink.ofType('reconcile.started').length;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(p.sink.ofType('reconcile.started').slice(started)).toEqual([]);
  });

  it('stalls on an invalid cairn.yaml with a failed commit status naming the problem, and changes nothing', async () => {
    const p = (pipeline = await startPipeline(exampleFiles()));
    await p.settled(await p.push({ 'NOTES.md': 'start\n' }));
    p.account.resetCalls();
    const sha = await p.push({ 'cairn.yaml': exampleFiles()['cairn.yaml']!.replace('    dependsOn: [data]', '    dependson: [data]') });
    expect(await p.settled(sha)).toMatchObject({ outcome: 'stalled', reason: 'ManifestInvalid' });
    expect(p.statuses.filter((s) => s.commit === sha).at(-1)).toMatchObject({ state: 'failure', description: expect.stringMatching(/cairn\.yaml:\d+: stacks\.app\.dependson: is not a known key; did you mean `dependsOn`\?/) });
    for (const write of ['createChangeSet', 'executeChangeSet', 'deleteStack', 'deleteChangeSet']) expect(p.account.callCount(write)).toBe(0);

    const fixed = await p.push({ 'cairn.yaml': exampleFiles()['cairn.yaml']! });
    expect(await p.settled(fixed)).toMatchObject({ outcome: 'succeeded' });
  });

  it('rejects a push with a wrong signature with 401 and queues nothing', async () => {
    const p = (pipeline = await startPipeline(exampleFiles()));
    const answer = await p.webhook('c'.repeat(40), 'not-the-secret');
    expect(answer.status).toBe(401);
    expect(p.runtime.queue.depth()).toMatchObject({ visible: 0, inFlight: 0 });
  });
});
