/** The built CLI, run as a user would: exit codes, messages without stack traces, and JSON shapes. */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cairn, STACK_TRACE } from '../helpers/cli.js';

const EXAMPLE = new URL('../../examples/platform/', import.meta.url).pathname;
let work: string;
let repo: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cairn-cli-'));
  repo = join(work, 'platform');
  cpSync(EXAMPLE, repo, { recursive: true });
  env = { CAIRN_HOME: join(work, 'home') };
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('CLI: cairn', () => {
  it('prints its version fast, and its usage', () => {
    expect(cairn(['--version']).stdout).toMatch(/^cairn \d+\.\d+\.\d+\n$/);
    const help = cairn(['--help']);
    expect(help.status).toBe(0);
    for (const c of ['validate', 'plan', 'apply', 'status', 'drift', 'serve', 'demo', 'sim']) expect(help.stdout).toContain(c);
  });

  it.each(['validate', 'plan', 'apply', 'status', 'drift', 'serve', 'demo', 'sim'])('explains `%s --help`', (command) => {
    const r = cairn([command, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: cairn ${command}`));
  });

  it('rejects an unknown command and an unknown option by name', () => {
    expect(cairn(['deploy'])).toMatchObject({ status: 1, stderr: expect.stringContaining("unknown command 'deploy'") });
    const r = cairn(['plan', '--frobnicate']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cairn plan: Unknown option '--frobnicate'.*cairn plan --help/);
    expect(cairn(['plan', '--jsn']).stderr).toContain("Unknown option '--jsn'; did you mean --json? Run 'cairn plan --help'.");
    expect(cairn(['pln']).stderr).toContain("unknown command 'pln'; did you mean 'plan'?");
    expect(cairn(['help', 'plan'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^Usage: cairn plan/) });
  });

  it('validates the example repository', () => {
    const r = cairn(['validate', repo]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/is valid: 4 stacks in 2 waves \(network, data, app, observability\)/);
  });

  it('reports every problem at once with file, line and path, exit 1 and no stack trace', () => {
    const bad = join(work, 'bad');
    cpSync(EXAMPLE, bad, { recursive: true });
    writeFileSync(join(bad, 'cairn.yaml'), readFileSync(join(bad, 'cairn.yaml'), 'utf8').replace('dependsOn: [data]', 'dependsOn: [dta]').replace('template: stacks/network.yaml', 'template: ../network.yaml').replace('  data:\n', '  data:\n    colour: blue\n'));
    const r = cairn(['validate', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cairn\.yaml:\d+: stacks\.data\.colour: is not a known key/);
    expect(r.stderr).toMatch(/cairn\.yaml:\d+: stacks\.network\.template: "\.\.\/network\.yaml" leaves the repository/);
    expect(r.stderr).toMatch(/3 problems in/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    const json = JSON.parse(cairn(['validate', bad, '--json']).stdout);
    expect(json.valid).toBe(false);
    expect(json.problems).toHaveLength(3);
  });

  it('reports errors inside a template with line and suggestion, and warnings and notices without failing', () => {
    const dir = join(work, 'inside');
    cpSync(EXAMPLE, dir, { recursive: true });
    const custom = 'Resources:\n  Seed:\n    Type: Custom::Seed\n    Properties: {ServiceToken: arn:aws:lambda:us-east-1:123456789012:function:seed}\n';
    writeFileSync(join(dir, 'cairn.yaml'), 'version: 1\nsource: inside\nstacks:\n  seed: {template: seed.yaml}\n');
    writeFileSync(join(dir, 'seed.yaml'), custom);
    const ok = cairn(['validate', dir]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/seed\.yaml:3: Resources\.Seed\.Type: notice: Custom::Seed is a custom resource; its properties are not checked/);
    expect(JSON.parse(cairn(['validate', dir, '--json']).stdout)).toMatchObject({ valid: true, problems: [{ file: 'seed.yaml', line: 3, severity: 'notice' }] });

    writeFileSync(join(dir, 'seed.yaml'), `${custom}  Role:\n    Type: AWS::IAM::Role\n    Properties: {AssumeRolePolicyDocument: {}}\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties: {Runtime: nodejs12.x, Handler: i.h, Role: !GetAtt Role.Arn, Code: {ZipFile: x}}\n`);
    const plan = cairn(['plan', dir], { env: { CAIRN_HOME: join(work, 'home-inside') } });
    expect(plan.status).toBe(2);
    expect(plan.stderr).toMatch(/seed\.yaml:10: Resources\.Fn\.Properties\.Runtime: warning: nodejs12\.x is a deprecated Lambda runtime/);
    expect(plan.stderr).not.toMatch(/notice/);

    writeFileSync(join(dir, 'seed.yaml'), `${custom}  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {VisibilityTimout: 30}\n`);
    const bad = cairn(['validate', dir]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/seed\.yaml:7: Resources\.Queue\.Properties\.VisibilityTimout: is not a property of AWS::SQS::Queue; did you mean VisibilityTimeout\?/);
    expect(bad.stderr).toMatch(/1 problem in/);
    const json = JSON.parse(cairn(['validate', dir, '--json']).stdout);
    expect(json.problems.map((p: { severity?: string }) => p.severity ?? 'error')).toEqual(['error', 'notice']);
  });

  it('reports problems of every kind in one run, a shared template once with the stacks that use it', () => {
    const dir = join(work, 'phases');
    cpSync(EXAMPLE, dir, { recursive: true });
    writeFileSync(
      join(dir, 'cairn.yaml'),
      'version: 2\nsource: phases\nstacks:\n  a: {template: t.yaml, terminationProtection: maybe}\n  b: {template: t.yaml}\n  c: {template: t.yaml, dependsOn: [zz]}\n',
    );
    writeFileSync(join(dir, 't.yaml'), 'Resources:\n  Q:\n    Type: AWS::SQS::Queu\n');
    const r = cairn(['validate', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cairn\.yaml:1: version: expected `version: 1`/);
    expect(r.stderr).toMatch(/cairn\.yaml:4: stacks\.a\.terminationProtection: expected true or false/);
    expect(r.stderr).toMatch(/cairn\.yaml:6: stacks\.c\.dependsOn\.0: names unknown stack "zz"/);
    const template = r.stderr.split('\n').filter((l) => l.includes('t.yaml:3'));
    expect(template).toHaveLength(1);
    expect(template[0]).toMatch(/AWS::SQS::Queu; did you mean AWS::SQS::Queue\? \(template of stacks a, b, c\)/);
  });

  it('says plainly when the directory has no cairn.yaml', () => {
    const r = cairn(['plan', work], { env });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cairn\.yaml/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });

  it('plans, applies, then plans nothing; status shows every stack in sync at the applied commit', () => {
    const plan = cairn(['plan', repo, '--json'], { env });
    expect(plan.status).toBe(2);
    const parsed = JSON.parse(plan.stdout);
    expect(parsed.stacks.map((s: { id: string; action: string; wave: number }) => [s.id, s.action, s.wave])).toEqual([
      ['data', 'create', 1],
      ['network', 'create', 1],
      ['observability', 'create', 1],
      ['app', 'create', 2],
    ]);
    expect(parsed.stacks.every((s: { region: string }) => s.region === 'us-east-1')).toBe(true);
    expect(plan.stdout.includes(String.fromCharCode(27))).toBe(false); // no colour codes in JSON

    const refused = cairn(['apply', repo], { env });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/pass --yes/);

    const apply = cairn(['apply', repo, '--yes'], { env });
    expect(apply.status).toBe(0);
    expect(apply.stdout).toMatch(/platform is in sync at ~[0-9a-f]{7}: 4 stacks created$/m);

    const again = cairn(['plan', repo], { env });
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/Summary: 0 to create, 0 to update, 0 to delete, 4 unchanged/);

    const status = JSON.parse(cairn(['status', repo, '--json'], { env }).stdout);
    expect(status.stacks).toHaveLength(4);
    for (const s of status.stacks) expect(s).toMatchObject({ status: 'CREATE_COMPLETE', inSync: true, commit: status.commit, health: 'Healthy' });
  });

  it('exits 2 from plan when a template changes, and shows the property that changes', () => {
    const app = join(repo, 'stacks/app.yaml');
    const original = readFileSync(app, 'utf8');
    writeFileSync(app, original.replace('Default: 30', 'Default: 45'));
    try {
      const r = cairn(['plan', repo], { env });
      expect(r.status).toBe(2);
      expect(r.stdout).toMatch(/~ app\s+update\s+content changed/);
      // CloudFormation's own preview: the resource, how it changes, and the value before and after.
      expect(r.stdout).toMatch(/~ OrdersQueue\s+AWS::SQS::Queue\s+modify\n\s+VisibilityTimeout: 30 → 45\n/);
      expect(r.stdout).toMatch(/parameters: VisibilityTimeout/);
      const json = JSON.parse(cairn(['plan', repo, '--json'], { env }).stdout);
      expect(json.stacks.find((s: { id: string }) => s.id === 'app').preview.changes[0]).toMatchObject({
        logicalId: 'OrdersQueue',
        replacement: 'False',
        values: [{ path: '/Properties/VisibilityTimeout', before: '30', after: '45', requiresRecreation: 'Never' }],
      });
      const offline = cairn(['plan', repo, '--offline'], { env });
      expect(offline.status).toBe(2);
      expect(offline.stdout).not.toMatch(/30 → 45/);
    } finally {
      writeFileSync(app, original);
    }
  });

  it('blocks a destructive change with the stack, resource, reason and fix, and exits 1', () => {
    const data = join(repo, 'stacks/data.yaml');
    const original = readFileSync(data, 'utf8');
    writeFileSync(data, original.replace(/AttributeName: id/g, 'AttributeName: orderId'));
    try {
      // The plan already says what apply will refuse, and exits 1 for it.
      const planned = cairn(['plan', repo], { env });
      expect(planned.status).toBe(1);
      expect(planned.stdout).toMatch(/! data\s+blocked\s+destructive change blocked: Orders \(AWS::DynamoDB::Table\) would be replaced/);
      expect(planned.stdout).toMatch(/± Orders\s+AWS::DynamoDB::Table\s+replace/);
      const r = cairn(['apply', repo, '--yes'], { env });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/\[DestructiveChangeBlocked\] stack data: destructive change blocked: Orders \(AWS::DynamoDB::Table\) would be replaced/);
      expect(r.stderr).toMatch(/what to do: .*allowDestructive: \[Orders\]/);
      expect(r.stderr).not.toMatch(STACK_TRACE);
      // Nothing changed, so the plan still shows the same block.
      expect(cairn(['plan', repo], { env }).status).toBe(1);
    } finally {
      writeFileSync(data, original);
    }
    expect(cairn(['plan', repo], { env }).status).toBe(0);
  });

  it('refuses an apply while another apply holds the embedded home, saying who holds it', () => {
    const lock = join(env['CAIRN_HOME']!, 'apply.lock');
    mkdirSync(env['CAIRN_HOME']!, { recursive: true });
    // A live process (this test's parent) holds it.
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, source: 'platform', at: '2026-01-01T00:00:00.000Z' }));
    try {
      const r = cairn(['apply', repo, '--yes'], { env });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/\[ApplyInProgress\] another cairn apply \(pid \d+, source "platform", since 2026-01-01T00:00:00.000Z\) is applying to the embedded account/);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    } finally {
      rmSync(lock, { force: true });
    }
    expect(cairn(['apply', repo, '--yes'], { env }).status).toBe(0);
  });

  it('finds drift injected with `cairn sim drift`, and `cairn apply` reverts it', () => {
    const sim = cairn(['sim', 'drift', 'app', 'OrdersQueue', 'VisibilityTimeout=5'], { env });
    expect(sim.status).toBe(0);
    const drift = cairn(['drift', repo, '--json'], { env });
    expect(drift.status).toBe(2);
    const report = JSON.parse(drift.stdout);
    expect(report.drifted).toEqual([
      expect.objectContaining({ id: 'app', policy: 'revert', resources: [expect.objectContaining({ logicalId: 'OrdersQueue', differences: [expect.objectContaining({ path: '/VisibilityTimeout', expected: '30', actual: '5' })] })] }),
    ]);
    const drifted = cairn(['status', repo], { env });
    expect(drifted.status).toBe(3);
    expect(drifted.stdout).toMatch(/Needs attention:\n\s+app: drift found on .*`cairn drift` shows what changed/);
    expect(cairn(['apply', repo, '--yes'], { env }).status).toBe(0);
    // The revert updated the stack, so the old check no longer describes it.
    const reverted = JSON.parse(cairn(['status', repo, '--json'], { env }).stdout);
    expect(reverted.stacks.find((s: { id: string }) => s.id === 'app')).toMatchObject({ drift: 'NOT_CHECKED', driftBeforeUpdate: 'DRIFTED' });
    expect(cairn(['drift', repo], { env }).status).toBe(0);
    const after = cairn(['status', repo, '--json'], { env });
    expect(after.status).toBe(0);
    const status = JSON.parse(after.stdout);
    expect(status.stacks.find((s: { id: string }) => s.id === 'app')).toMatchObject({ drift: 'IN_SYNC', driftCheckedAt: expect.any(String), driftBeforeUpdate: null });
  });

  it('explains a sim action on a stack that does not exist', () => {
    const r = cairn(['sim', 'drift', 'ghost', 'X', 'A=1'], { env });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/there is no stack "ghost" in the embedded account/);
  });

  it('refuses a sim endpoint port that is not a port number, without a stack trace', () => {
    const r = cairn(['sim', 'endpoint', '--port', '70000'], { env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cairn sim endpoint: --port "70000" is not a port number (0-65535)');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(cairn(['sim', '--help'], { env }).stdout).toContain('endpoint [--port N]');
  });
});
