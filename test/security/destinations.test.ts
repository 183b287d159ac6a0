/**
 * Security: a source deploys only to its declared destinations. A cairn.yaml naming a role or a
 * region outside them stalls its commit as PolicyDenied, naming the field, its line and the allowed
 * values, before any call to the account; the same check runs in `cairn validate` and `cairn plan`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommitStatus } from '../../lib/ports/commit-status.js';
import { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import { parseManifest } from '../../lib/core/manifest.js';
import { destinationProblems, type DestinationPolicy } from '../../lib/core/policy.js';
import type { ValidationError } from '../../lib/core/errors.js';
import { parseDeploymentConfig } from '../../lib/core/source-config.js';
import { parseDeployConfig } from '../../lib/infra/deploy-config.js';
import { MemorySink } from '../../lib/ports/events.js';
import { createReconciler } from '../../lib/reconcile/reconciler.js';
import { StallMemory } from '../../lib/reconcile/stall-memory.js';
import { cairn } from '../helpers/cli.js';
import { MemoryRepo } from '../helpers/memory-source.js';
import { NETWORK } from '../helpers/world.js';

const DEV = 'arn:aws:iam::111111111111:role/dev-deployer';
const DEV_EXTRA = 'arn:aws:iam::111111111111:role/dev-networking';
const PROD_ADMIN = 'arn:aws:iam::222222222222:role/prod-admin-deployer';

const policy = (over: Partial<DestinationPolicy> = {}): DestinationPolicy => ({
  source: 'dev',
  defaultRoleArn: DEV,
  defaultRegion: 'eu-west-1',
  configuredIn: 'cairn.deploy.json',
  ...over,
});

function manifest(lines: string[]): ReturnType<typeof parseManifest> & { ok: true } {
  const parsed = parseManifest(['version: 1', 'source: dev', ...lines].join('\n'));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed;
}

describe('Policy: destination checks (pure)', () => {
  it.each([
    ['no role anywhere: the default role', ['stacks:', '  a: {template: a.yaml}'], {}, []],
    ['an extra allowed role', ['stacks:', `  a: {template: a.yaml, roleArn: "${DEV_EXTRA}"}`], { roleArns: [DEV_EXTRA] }, []],
    ['another source\'s role on a stack', ['stacks:', `  a: {template: a.yaml, roleArn: "${PROD_ADMIN}"}`], {}, ['stacks.a.roleArn']],
    ['another source\'s role in defaults, once for all stacks', ['defaults:', `  roleArn: "${PROD_ADMIN}"`, 'stacks:', '  a: {template: a.yaml}', '  b: {template: b.yaml}'], {}, ['defaults.roleArn']],
    ['a region outside the list', ['stacks:', '  a: {template: a.yaml, region: us-east-1}'], { regions: ['eu-west-1'] }, ['stacks.a.region']],
    ['no region, Cairn\'s own not allowed', ['stacks:', '  a: {template: a.yaml}'], { regions: ['eu-central-1'] }, ['stacks.a']],
    ['no role and no default while roles are restricted', ['stacks:', '  a: {template: a.yaml}'], { defaultRoleArn: undefined, roleArns: [DEV_EXTRA] }, ['stacks.a']],
    ['a role in an allowed account', ['stacks:', `  a: {template: a.yaml, roleArn: "${DEV_EXTRA}"}`], { roleArns: [DEV_EXTRA], accounts: ['111111111111'] }, []],
    ['an allowed role in another account', ['stacks:', `  a: {template: a.yaml, roleArn: "${PROD_ADMIN}"}`], { roleArns: [PROD_ADMIN], accounts: ['111111111111'] }, ['stacks.a.roleArn']],
    ['a defaults role in another account, roles unrestricted', ['defaults:', `  roleArn: "${PROD_ADMIN}"`, 'stacks:', '  a: {template: a.yaml}'], { defaultRoleArn: undefined, accounts: ['111111111111'] }, ['defaults.roleArn']],
    ['the default role in another account', ['stacks:', '  a: {template: a.yaml}'], { defaultRoleArn: PROD_ADMIN, accounts: ['111111111111'] }, ['stacks.a']],
    ['no role at all: Cairn\'s own account, not checked', ['stacks:', '  a: {template: a.yaml}'], { defaultRoleArn: undefined, accounts: ['111111111111'] }, []],
    ['unrestricted: no default role, no destinations', ['stacks:', `  a: {template: a.yaml, roleArn: "${PROD_ADMIN}"}`], { defaultRoleArn: undefined }, []],
  ] as const)('%s', (_name, lines, over, paths) => {
    const problems = destinationProblems(manifest([...lines]).value, policy(over as Partial<DestinationPolicy>));
    expect(problems.map((p) => p.path)).toEqual(paths);
  });

  it('names the role asked for and every allowed one', () => {
    const [problem] = destinationProblems(manifest(['stacks:', `  a: {template: a.yaml, roleArn: "${PROD_ADMIN}"}`]).value, policy({ roleArns: [DEV_EXTRA] }));
    expect(problem!.message).toContain(PROD_ADMIN);
    expect(problem!.message).toContain(`allowed roles for source dev: ${DEV}, ${DEV_EXTRA} (cairn.deploy.json)`);
  });

  it('names the account, the field and every allowed account', () => {
    const [problem] = destinationProblems(manifest(['stacks:', `  a: {template: a.yaml, roleArn: "${PROD_ADMIN}"}`]).value, policy({ roleArns: [PROD_ADMIN], accounts: ['333333333333', '111111111111'] }));
    expect(problem).toMatchObject({ path: 'stacks.a.roleArn' });
    expect(problem!.message).toBe(
      `role ${PROD_ADMIN} is in account 222222222222, which is not a destination of source dev; allowed accounts for source dev: 111111111111, 333333333333 (cairn.deploy.json)`,
    );
  });

  it('accepts destinations in cairn.deploy.json and rejects a malformed one by path', () => {
    const base = { name: 'dev', repoUrl: 'https://git.example/dev.git', provider: 'github', webhookSecretName: 'w' };
    expect(parseDeploymentConfig({ sources: [{ ...base, destinations: { roleArns: [DEV_EXTRA], regions: ['eu-west-1'] } }] }, 'f').sources[0]!.destinations).toEqual({ roleArns: [DEV_EXTRA], regions: ['eu-west-1'] });
    expect(() => parseDeploymentConfig({ sources: [{ ...base, destinations: { regions: ['mars-1'] } }] }, 'f')).toThrow(/sources\.0\.destinations\.regions\.0: expected an AWS region/);
    expect(parseDeploymentConfig({ sources: [{ ...base, destinations: { accounts: ['111111111111'] } }] }, 'f').sources[0]!.destinations).toEqual({ accounts: ['111111111111'] });
    expect(() => parseDeploymentConfig({ sources: [{ ...base, destinations: { accounts: ['1111'] } }] }, 'f')).toThrow(/sources\.0\.destinations\.accounts\.0: expected a 12-digit AWS account id/);
  });

  it('refuses a deployment whose own roles lie outside the source\'s accounts', () => {
    const base = { name: 'dev', repoUrl: 'https://git.example/dev.git', provider: 'github', webhookSecretName: 'w' };
    const problems = (() => {
      try {
        parseDeployConfig({ sources: [{ ...base, roleArn: DEV, destinations: { roleArns: [PROD_ADMIN], accounts: ['111111111111'] } }] }, 'cairn.deploy.json');
        return [];
      } catch (error) {
        return (error as ValidationError).problems;
      }
    })();
    expect(problems).toEqual([
      { file: 'cairn.deploy.json', path: 'sources.0.destinations.roleArns.0', message: `role ${PROD_ADMIN} is in account 222222222222, which destinations.accounts (111111111111) does not list` },
    ]);
  });
});

describe('Use case: reconcile refuses a destination it was not given', () => {
  let home: string;
  let account: EmbeddedAccount;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'cairn-dest-'));
    account = new EmbeddedAccount({ home, region: 'eu-west-1' });
  });
  afterAll(() => {
    account.close();
    rmSync(home, { recursive: true, force: true });
  });

  const files = (roleLine: string) => ({
    'cairn.yaml': ['version: 1', 'source: dev', 'stacks:', '  network:', '    template: network.yaml', `    ${roleLine}`, '    parameters: {Cidr: 10.0.0.0/16}'].join('\n'),
    'network.yaml': NETWORK,
  });

  async function run(roleLine: string, accounts?: string[]) {
    const statuses: CommitStatus[] = [];
    account.resetCalls();
    const reconciler = createReconciler({
      sources: [{ name: 'dev', destinations: { roleArns: [DEV_EXTRA, PROD_ADMIN], regions: ['eu-west-1'], accounts: accounts ?? ['111111111111', '222222222222'], configuredIn: 'cairn.deploy.json, source dev' }, defaultRoleArn: DEV }],
      repos: new Map([['dev', new MemoryRepo(files(roleLine))]]),
      gateways: () => (r) => account.gateway(r),
      sink: new MemorySink(),
      stalls: new StallMemory(),
      commitStatus: () => ({ report: async (s) => void statuses.push(s) }),
    });
    const { outcome } = await reconciler.reconcile('dev', { kind: 'push' });
    return { outcome, statuses, calls: account.callCount() };
  }

  it('stalls a commit naming another source\'s role as PolicyDenied, with the line, and calls nothing', async () => {
    const { outcome, statuses, calls } = await run(`roleArn: arn:aws:iam::111111111111:role/prod-admin-deployer`);
    expect(outcome.outcome).toBe('stalled');
    if (outcome.outcome !== 'stalled') return;
    expect(outcome.error).toMatchObject({ name: 'PolicyDeniedError', reason: 'PolicyDenied' });
    expect(outcome.error.message).toMatch(/^cairn\.yaml:6: stacks\.network\.roleArn: role arn:aws:iam::111111111111:role\/prod-admin-deployer is not a destination of source dev/);
    expect(outcome.error.message).toContain(DEV_EXTRA);
    expect(calls).toBe(0);
    expect(statuses.at(-1)).toMatchObject({ state: 'failure', description: expect.stringMatching(/^PolicyDenied: 1 problem/) });
  });

  it('stalls a commit whose role is in an account that is not a destination, naming the field and the accounts', async () => {
    const { outcome, calls } = await run(`roleArn: ${PROD_ADMIN}`, ['111111111111']);
    expect(outcome.outcome).toBe('stalled');
    if (outcome.outcome !== 'stalled') return;
    expect(outcome.error).toMatchObject({ reason: 'PolicyDenied' });
    expect(outcome.error.message).toContain(
      `cairn.yaml:6: stacks.network.roleArn: role ${PROD_ADMIN} is in account 222222222222, which is not a destination of source dev; allowed accounts for source dev: 111111111111 (cairn.deploy.json, source dev)`,
    );
    expect(calls).toBe(0);
  });

  it('applies a commit whose role is one of the destinations', async () => {
    const { outcome, calls } = await run(`roleArn: ${DEV_EXTRA}`);
    expect(outcome.outcome).not.toBe('stalled');
    expect(calls).toBeGreaterThan(0);
  });
});

describe('CLI: validate and plan check destinations when given', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-dest-cli-'));
    writeFileSync(join(dir, 'cairn.yaml'), ['version: 1', 'source: dev', 'stacks:', `  network: {template: network.yaml, roleArn: "${PROD_ADMIN}", region: us-east-1, parameters: {Cidr: 10.0.0.0/16}}`].join('\n'));
    writeFileSync(join(dir, 'network.yaml'), NETWORK);
    writeFileSync(
      join(dir, 'cairn.deploy.json'),
      JSON.stringify({ sources: [{ name: 'dev', repoUrl: 'https://git.example/dev.git', provider: 'github', webhookSecretName: 'w', roleArn: DEV, destinations: { regions: ['eu-west-1'] } }] }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('validate without destinations accepts any role', () => {
    expect(cairn(['validate', dir]).status).toBe(0);
  });

  it('validate --allow-role names the denied field and the allowed roles', () => {
    const r = cairn(['validate', dir, '--allow-role', DEV]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('stacks.network.roleArn: role');
    expect(r.stderr).toContain(`allowed roles for source dev: ${DEV} (--allow-role)`);
  });

  it('validate and plan --allow-account name the role\'s account and the allowed ones', () => {
    for (const command of ['validate', 'plan']) {
      const r = cairn([command, dir, '--allow-account', '111111111111'], { env: { CAIRN_HOME: join(dir, 'home') } });
      expect(r.status, command).toBe(1);
      expect(r.stderr, command).toContain(
        `stacks.network.roleArn: role ${PROD_ADMIN} is in account 222222222222, which is not a destination of source dev; allowed accounts for source dev: 111111111111 (--allow-account)`,
      );
    }
    expect(cairn(['validate', dir, '--allow-account', '222222222222']).status).toBe(0);
    expect(cairn(['validate', dir, '--allow-account', '2222']).stderr).toContain('--allow-account: "2222" is not a 12-digit AWS account id');
  });

  it('validate --deploy-config takes the accounts from the source\'s entry, and --allow-account adds to them', () => {
    const file = join(dir, 'accounts.deploy.json');
    writeFileSync(file, JSON.stringify({ sources: [{ name: 'dev', repoUrl: 'https://git.example/dev.git', provider: 'github', webhookSecretName: 'w', destinations: { accounts: ['111111111111'] } }] }));
    const r = cairn(['validate', dir, '--deploy-config', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`allowed accounts for source dev: 111111111111 (${file}, source dev)`);
    expect(cairn(['validate', dir, '--deploy-config', file, '--allow-account', '222222222222']).status).toBe(0);
  });

  it('plan --deploy-config reads the source\'s destinations and stops before the account', () => {
    const r = cairn(['plan', dir, '--deploy-config', join(dir, 'cairn.deploy.json')], { env: { CAIRN_HOME: join(dir, 'home') } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('stacks.network.roleArn');
    expect(r.stderr).toContain('stacks.network.region: region us-east-1 is not a destination of source dev; allowed regions for source dev: eu-west-1');
  });

  it('--deploy-config naming no such source is a usage error', () => {
    const r = cairn(['validate', dir, '--source', 'other', '--deploy-config', join(dir, 'cairn.deploy.json')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/has no source named "other" \(it has dev\)/);
  });
});
