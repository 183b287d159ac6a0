/**
 * A plan that tells the truth: the built CLI, run as a user runs it on Git work trees, says in
 * `plan --json` what `apply --yes --json` then does (its counts) and what `status --json` shows
 * after, a pending drift revert included. Every case runs twice: on the embedded account, and through the SDK path (`--target aws`)
 * against `cairn sim endpoint` with AWS_ENDPOINT_URL; both must give the same shapes and numbers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplyOutputSchema, DriftOutputSchema, PlanOutputSchema, StatusOutputSchema, ValidateOutputSchema, type ApplyOutput, type PlanOutput, type StatusOutput } from '../../lib/cli/json-output.js';
import { CLI, cairn, type CliResult } from '../helpers/cli.js';
import { git } from '../helpers/git-server.js';

type Target = 'embedded' | 'aws';
const TARGETS: Target[] = ['embedded', 'aws'];

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cairn-e2e-truth-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What each case saw, per target: the two targets must agree. */
const seen: Record<Target, Record<string, unknown>> = { embedded: {}, aws: {} };

const TABLE = (name: string): string => `Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: ${name}
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{ AttributeName: id, AttributeType: S }]
      KeySchema: [{ AttributeName: id, KeyType: HASH }]
Outputs:
  TableName:
    Value: !Ref Table
`;
const TOPIC = (label: string): string => `Parameters:
  Label:
    Type: String
    Default: ${label}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Ref Label
Outputs:
  TopicArn:
    Value: !Ref Topic
`;
const QUEUE = `Parameters:
  TopicArn:
    Type: String
    Default: none
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      Tags:
        - Key: topic
          Value: !Ref TopicArn
`;
const BUCKET = `Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      VersioningConfiguration:
        Status: Enabled
`;

async function workTree(dir: string, files: Record<string, string>): Promise<string> {
  write(dir, files);
  await git(['init', '--quiet', '--initial-branch=main'], dir);
  return commitAll(dir, 'Declare the stacks');
}

function write(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

async function commitAll(dir: string, message: string): Promise<string> {
  await git(['add', '--all'], dir);
  await git(['commit', '--quiet', '-m', message], dir);
  return git(['rev-parse', 'HEAD'], dir);
}

/** Starts `cairn sim endpoint` on `home` and resolves with the URL from its first line. */
function startEndpoint(home: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, 'sim', 'endpoint'], { env: { ...process.env, CAIRN_HOME: home, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /^AWS_ENDPOINT_URL=(\S+)$/m.exec(out)?.[1];
      if (url) resolve({ url, child });
    });
    child.once('exit', (code) => reject(new Error(`cairn sim endpoint exited (${code}): ${err}`)));
  });
}

describe.each(TARGETS)('E2E: the plan tells the truth (%s)', (target) => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let endpoint: ChildProcess | undefined;
  const record = (name: string, value: unknown): void => {
    seen[target][name] = value;
  };

  beforeAll(async () => {
    home = join(work, `home-${target}`);
    env = { CAIRN_HOME: home };
    if (target === 'aws') {
      const started = await startEndpoint(home);
      endpoint = started.child;
      // Static dummy credentials, no shared config: the endpoint does not check signatures.
      env = {
        ...env,
        AWS_ENDPOINT_URL: started.url,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_SESSION_TOKEN: '',
        AWS_PROFILE: '',
        AWS_CONFIG_FILE: join(work, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
        CAIRN_POLL_MS: '20',
      };
    }
  });
  afterAll(() => {
    endpoint?.kill('SIGTERM');
  });

  /** A command that talks to the account, on this target. */
  const run = (args: string[], cwd?: string): CliResult => cairn([...args, '--target', target], { env, ...(cwd ? { cwd } : {}) });
  /** `cairn sim`, on the account's home, whichever target reads it. */
  const sim = (args: string[]): CliResult => cairn(['sim', ...args], { env });
  const plan = (dir: string, ...flags: string[]): { status: number | null; json: PlanOutput } => {
    const r = run(['plan', dir, '--json', ...flags]);
    return { status: r.status, json: PlanOutputSchema.parse(JSON.parse(r.stdout)) };
  };
  const apply = (dir: string, ...flags: string[]): { status: number | null; json: ApplyOutput } => {
    const r = run(['apply', dir, '--yes', '--json', ...flags]);
    return { status: r.status, json: ApplyOutputSchema.parse(JSON.parse(r.stdout)) };
  };
  const status = (dir: string): StatusOutput => StatusOutputSchema.parse(JSON.parse(run(['status', dir, '--json']).stdout));
  const stackStates = (s: StatusOutput) => s.stacks.map((x) => ({ id: x.id, status: x.status, inSync: x.inSync })).sort((a, b) => a.id.localeCompare(b.id));

  it('renaming a table plans a replacement, blocked, with the message apply then stops with', async () => {
    const dir = join(work, `rename-${target}`);
    const first = await workTree(dir, { 'cairn.yaml': 'version: 1\nsource: rename\nstacks:\n  store:\n    template: stacks/store.yaml\n', 'stacks/store.yaml': TABLE('orders-v1') });
    const created = apply(dir);
    expect(created.status).toBe(0);
    expect(created.json.counts).toMatchObject({ created: 1, blocked: 0 });

    write(dir, { 'stacks/store.yaml': TABLE('orders-v2') });
    await commitAll(dir, 'Rename the table');
    const planned = plan(dir);
    expect(planned.status).toBe(1);
    const store = planned.json.stacks[0]!;
    expect(store).toMatchObject({ id: 'store', action: 'blocked' });
    expect(store.preview?.changes).toContainEqual(expect.objectContaining({ logicalId: 'Table', action: 'Modify', replacement: 'True', properties: ['TableName'] }));
    expect(planned.json.counts).toMatchObject({ blocked: 1, update: 0 });

    const applied = apply(dir);
    expect(applied.status).toBe(1);
    expect(applied.json).toMatchObject({ outcome: 'stalled', error: { reason: 'DestructiveChangeBlocked', stack: 'store' } });
    expect(applied.json.counts).toMatchObject({ blocked: 1, updated: 0, replaced: 0 });
    expect(applied.json.planned).toEqual(planned.json.counts);
    // The same words: the plan's reason is apply's message (without the stack prefix) and its hint.
    expect(store.reason).toBe(`${applied.json.error!.message.replace(/^stack store: /, '')}; ${applied.json.error!.hint}`);

    const after = status(dir);
    expect(after.stacks[0]).toMatchObject({ id: 'store', status: 'CREATE_COMPLETE', inSync: false, commit: first });
    record('rename', { planned: planned.json.counts, applied: applied.json.counts, reason: store.reason, states: stackStates(after) });
  });

  it('a stack wired to outputs that do not change is not planned as an update, nor updated', async () => {
    const dir = join(work, `wired-${target}`);
    await workTree(dir, {
      'cairn.yaml': 'version: 1\nsource: wired\nstacks:\n  producer:\n    template: stacks/producer.yaml\n  consumer:\n    template: stacks/consumer.yaml\n    parameters:\n      TopicArn: { fromStack: producer, output: TopicArn }\n',
      'stacks/producer.yaml': TOPIC('one'),
      'stacks/consumer.yaml': QUEUE,
    });
    expect(apply(dir).json.counts).toMatchObject({ created: 2 });
    write(dir, { 'stacks/producer.yaml': TOPIC('two') });
    const head = await commitAll(dir, 'Relabel the topic');

    const planned = plan(dir);
    expect(planned.status).toBe(2);
    expect(planned.json.stacks.map((s) => [s.id, s.action])).toEqual([
      ['producer', 'update'],
      ['consumer', 'none'],
    ]);
    expect(planned.json.counts).toMatchObject({ update: 1, none: 1 });

    const applied = apply(dir);
    expect(applied.status).toBe(0);
    expect(applied.json.counts).toMatchObject({ updated: planned.json.counts.update, unchanged: planned.json.counts.none, created: 0 });
    const after = status(dir);
    expect(after.stacks.every((s) => s.inSync)).toBe(true);
    expect(after.stacks.find((s) => s.id === 'producer')?.commit).toBe(head);
    expect(plan(dir).json.counts).toMatchObject({ update: 0, create: 0, none: 2 });
    record('wired', { planned: planned.json.counts, applied: applied.json.counts, states: stackStates(after) });
  });

  it('a failed create stalls apply, plans as blocked, and applies with --retry once the cause is fixed', async () => {
    const dir = join(work, `failing-${target}`);
    const head = await workTree(dir, { 'cairn.yaml': 'version: 1\nsource: failing\nstacks:\n  queue:\n    template: stacks/queue.yaml\n', 'stacks/queue.yaml': QUEUE });
    expect(sim(['fail', 'AWS::SQS::Queue', 'create']).status).toBe(0);
    try {
      const failed = apply(dir);
      expect(failed.status).toBe(1);
      expect(failed.json).toMatchObject({ outcome: 'stalled', error: { reason: 'StackFailed', stack: 'queue' } });
      expect(failed.json.error!.message).toContain('Simulated create failure injected for AWS::SQS::Queue');
      expect(failed.json.counts).toMatchObject({ created: 0, blocked: 1 });

      const planned = plan(dir);
      expect(planned.status).toBe(1);
      expect(planned.json.stacks[0]).toMatchObject({ id: 'queue', action: 'blocked' });
      expect(planned.json.stacks[0]!.reason).toContain('cairn apply --retry');

      const again = apply(dir);
      expect(again.status).toBe(1);
      expect(again.json.counts).toMatchObject({ blocked: 1, created: 0 });
      expect(again.json.planned).toEqual(planned.json.counts);
      record('failing', { failed: failed.json.counts, planned: planned.json.counts, again: again.json.counts });
    } finally {
      expect(sim(['reset']).status).toBe(0);
    }
    // plan --retry shows what apply --retry then does: the stack recreated.
    const retryPlan = plan(dir, '--retry');
    expect(retryPlan.status).toBe(2);
    expect(retryPlan.json.stacks[0]).toMatchObject({ id: 'queue', action: 'create', recreate: true });
    const retried = apply(dir, '--retry');
    expect(retried.status).toBe(0);
    expect(retried.json.planned).toEqual(retryPlan.json.counts);
    expect(retried.json.counts).toMatchObject({ created: 1, blocked: 0 });
    const after = status(dir);
    expect(after.stacks[0]).toMatchObject({ id: 'queue', status: 'CREATE_COMPLETE', inSync: true, commit: head });
    seen[target]['failing-retried'] = { retried: retried.json.counts, states: stackStates(after) };
  });

  it('a stack removed from cairn.yaml with prune: true is planned as a delete and deleted', async () => {
    const manifest = (stacks: string[]): string =>
      `version: 1\nsource: pruning\ndefaults:\n  prune: true\nstacks:\n${stacks.map((s) => `  ${s}:\n    template: stacks/bucket.yaml\n`).join('')}`;
    const dir = join(work, `pruning-${target}`);
    await workTree(dir, { 'cairn.yaml': manifest(['keep', 'also', 'gone']), 'stacks/bucket.yaml': BUCKET });
    expect(apply(dir).json.counts).toMatchObject({ created: 3 });
    write(dir, { 'cairn.yaml': manifest(['keep', 'also']) });
    await commitAll(dir, 'Remove a stack');

    const planned = plan(dir);
    expect(planned.status).toBe(2);
    expect(planned.json.counts).toMatchObject({ delete: 1, none: 2 });
    expect(planned.json.stacks.find((s) => s.id === 'gone')).toMatchObject({ action: 'delete' });

    const applied = apply(dir);
    expect(applied.status).toBe(0);
    expect(applied.json.counts).toMatchObject({ deleted: 1, unchanged: 2, created: 0, updated: 0 });
    const after = status(dir);
    expect(after.stacks.map((s) => s.id).sort()).toEqual(['also', 'keep']);
    expect(plan(dir).json.changes).toBe(false);
    record('pruning', { planned: planned.json.counts, applied: applied.json.counts, states: stackStates(after) });
  });

  it('validate on a work tree with an uncommitted edit names the file, in JSON and in the text', async () => {
    const dir = join(work, `dirty-${target}`);
    const head = await workTree(dir, { 'cairn.yaml': 'version: 1\nsource: dirty\nstacks:\n  web:\n    template: stacks/web.yaml\n', 'stacks/web.yaml': BUCKET });
    writeFileSync(join(dir, 'stacks/web.yaml'), `${readFileSync(join(dir, 'stacks/web.yaml'), 'utf8')}# an edit not yet committed\n`);
    const r = run(['validate', dir, '--json']);
    expect(r.status).toBe(0);
    const json = ValidateOutputSchema.parse(JSON.parse(r.stdout));
    expect(json).toMatchObject({ valid: true, commit: head, uncommitted: [{ path: 'stacks/web.yaml', change: 'modified' }] });
    const text = run(['validate', dir]);
    expect(text.stderr).toContain('stacks/web.yaml (modified)');
    expect(text.stdout).toContain(head.slice(0, 7));
    record('dirty', json.uncommitted);
  });

  it('drift found by `cairn drift` on a revert stack is planned as a revert and reverted', async () => {
    const dir = join(work, `drifty-${target}`);
    await workTree(dir, { 'cairn.yaml': 'version: 1\nsource: drifty\ndefaults:\n  drift: revert\nstacks:\n  site:\n    template: stacks/site.yaml\n', 'stacks/site.yaml': BUCKET });
    expect(apply(dir).json.counts).toMatchObject({ created: 1 });
    expect(sim(['drift', 'site', 'Bucket', 'VersioningConfiguration.Status=Suspended']).status).toBe(0);
    const detected = run(['drift', dir, '--json']);
    expect(detected.status).toBe(2);
    const drift = DriftOutputSchema.parse(JSON.parse(detected.stdout));
    expect(drift).toMatchObject({ checked: 1, inSync: [], drifted: [{ id: 'site', policy: 'revert' }] });
    expect(drift.drifted[0]!.resources[0]!.differences).toEqual([{ path: '/VersioningConfiguration/Status', expected: 'Enabled', actual: 'Suspended', kind: 'NOT_EQUAL' }]);

    const planned = plan(dir);
    expect(planned.status).toBe(2);
    expect(planned.json.counts).toMatchObject({ revert: 1, update: 0, none: 0 });
    const site = planned.json.stacks[0]!;
    expect(site).toMatchObject({ id: 'site', action: 'revert', preview: { state: 'ready' } });
    expect(site.preview!.changes).toContainEqual(expect.objectContaining({ logicalId: 'Bucket', action: 'Modify', properties: ['VersioningConfiguration'] }));

    const applied = apply(dir);
    expect(applied.status).toBe(0);
    expect(applied.json.counts).toMatchObject({ reverted: planned.json.counts.revert, updated: 0, created: 0, blocked: 0 });
    expect(applied.json.planned).toEqual(planned.json.counts);
    const after = status(dir);
    expect(after.stacks[0]).toMatchObject({ id: 'site', inSync: true });
    // Detected again, the resource is back as the template says, and nothing is left to plan.
    expect(run(['drift', dir, '--json']).status).toBe(0);
    expect(plan(dir).json.counts).toMatchObject({ revert: 0, none: 1 });
    record('drifty', { drifted: drift.drifted.map((d) => d.resources), planned: planned.json.counts, applied: applied.json.counts, states: stackStates(after) });
  });
});

describe('E2E: the SDK path through the endpoint agrees with the embedded account', () => {
  it('saw the same counts, reasons and states in every case on both targets', () => {
    expect(Object.keys(seen.aws).sort()).toEqual(Object.keys(seen.embedded).sort());
    expect(Object.keys(seen.embedded).length).toBeGreaterThanOrEqual(7);
    expect(seen.aws).toEqual(seen.embedded);
  });
});
