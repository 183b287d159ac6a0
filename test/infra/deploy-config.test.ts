/**
 * The deployment configuration as the CDK app reads it: defaults, every problem named by its file
 * and field, where the configuration is found, and the app's own exit on a bad one.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ValidationError, type Problem } from '../../lib/core/errors.js';
import { DEFAULT_DRIFT_RESOURCE_TYPES } from '../../lib/infra/drift-reads.js';
import {
  CONFIG_ENV_BUDGET_BYTES,
  DEFAULT_CONFIG_FILE,
  EXAMPLE_CONFIG_FILE,
  loadDeployConfig,
  parseDeployConfig,
} from '../../lib/infra/deploy-config.js';
import { STACK_TRACE } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APP = join(ROOT, 'dist/bin/app.js');

const source = (overrides: Record<string, unknown> = {}) => ({
  name: 'platform',
  repoUrl: 'https://github.com/acme/platform.git',
  provider: 'github',
  webhookSecretName: 'cairn/platform/webhook',
  ...overrides,
});

function problemsOf(run: () => unknown): Problem[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cairn-deploy-config-'));
}

describe('Infra: deployment configuration', () => {
  it('fills every stack option with its default', () => {
    const config = parseDeployConfig({ sources: [source()] }, 'cairn.deploy.json');
    expect(config).toEqual({
      stackName: 'Cairn',
      sources: [{ ...source(), branch: 'main' }],
      sweepIntervalMinutes: 15,
      regions: [],
      reconcileConcurrency: 5,
      logRetentionDays: 90,
      createWebhookSecrets: false,
      alarms: { emails: [], topicArn: undefined },
      deployerPolicies: ['AdministratorAccess'],
      driftDetectionPolicies: [],
      driftDetectionResourceTypes: [...DEFAULT_DRIFT_RESOURCE_TYPES],
      reservedConcurrency: { webhook: 10, reconcile: 5, sweep: 1, stackEvents: 5 },
    });
  });

  it('names the file and the field of a bad source', () => {
    expect(problemsOf(() => parseDeployConfig({ sources: [source(), source({ name: 'data', provider: 'githab' })] }, 'cairn.deploy.json'))).toEqual([
      { file: 'cairn.deploy.json', path: 'sources.1.provider', message: 'expected one of github, gitlab, gitea, forgejo, bitbucket, generic' },
    ]);
  });

  it('names the file and the field of a bad stack option, and every problem at once', () => {
    const problems = problemsOf(() =>
      parseDeployConfig(
        { sources: [source()], reconcileConcurrency: 1, logRetentionDays: 10, alarms: { emails: ['ops'] } },
        'prod.json',
      ),
    );
    expect(problems.map((p) => `${p.file}: ${p.path}`)).toEqual([
      'prod.json: reconcileConcurrency',
      'prod.json: logRetentionDays',
      'prod.json: alarms.emails.0',
    ]);
    expect(problems[0]!.message).toMatch(/at least 2/);
  });

  it('says where the roles deployerRoleArns listed go now, and refuses a source role written by hand', () => {
    const problems = problemsOf(() =>
      parseDeployConfig(
        { sources: [source({ sourceRoleArn: 'arn:aws:iam::123456789012:role/mine' })], deployerRoleArns: ['arn:aws:iam::123456789012:role/network'] },
        'cairn.deploy.json',
      ),
    );
    expect(problems).toEqual([
      expect.objectContaining({ path: 'deployerRoleArns', message: expect.stringContaining('destinations.roleArns') }),
      expect.objectContaining({ path: 'sources.0.sourceRoleArn', message: expect.stringContaining('filled in by the Cairn stack') }),
    ]);
  });

  it('names an option it does not know, and lists the ones it does', () => {
    const [problem] = problemsOf(() => parseDeployConfig({ sources: [source()], sweepScheduel: '1 hour' }, 'cairn.deploy.json'));
    expect(problem).toMatchObject({ file: 'cairn.deploy.json', path: 'sweepScheduel' });
    expect(problem!.message).toMatch(/is not a Cairn option .*sweepSchedule/);
  });

  it.each([
    ['5 minutes', 5],
    ['15 minutes', 15],
    ['1 hour', 60],
    ['6 hours', 360],
    ['1 day', 1440],
  ])('reads the sweep schedule "%s" as %i minutes', (text, minutes) => {
    expect(parseDeployConfig({ sources: [source()], sweepSchedule: text }, 'f').sweepIntervalMinutes).toBe(minutes);
  });

  it.each(['4 minutes', '2 days', 'every hour', '15'])('refuses the sweep schedule "%s"', (text) => {
    expect(problemsOf(() => parseDeployConfig({ sources: [source()], sweepSchedule: text }, 'f'))).toMatchObject([{ path: 'sweepSchedule' }]);
  });

  it('refuses an ARN as the name of a webhook secret it is asked to create', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cairn/platform/webhook';
    expect(problemsOf(() => parseDeployConfig({ createWebhookSecrets: true, sources: [source({ webhookSecretName: arn })] }, 'f'))).toMatchObject([
      { path: 'sources.0.webhookSecretName', message: expect.stringMatching(/not an ARN/) },
    ]);
    expect(parseDeployConfig({ sources: [source({ webhookSecretName: arn })] }, 'f').sources[0]!.webhookSecretName).toBe(arn);
  });

  it('refuses more sources than fit in the functions\' 4 KB environment', () => {
    const many = Array.from({ length: 20 }, (_, i) => source({ name: `source-${i}`, repoUrl: `https://github.com/acme/repository-number-${i}.git` }));
    const [problem] = problemsOf(() => parseDeployConfig({ sources: many }, 'f'));
    expect(problem).toMatchObject({ path: 'sources' });
    expect(problem!.message).toContain(String(CONFIG_ENV_BUDGET_BYTES));
  });

  it('ships an example that is valid', () => {
    const config = parseDeployConfig(JSON.parse(readFileSync(join(ROOT, EXAMPLE_CONFIG_FILE), 'utf8')), EXAMPLE_CONFIG_FILE);
    expect(config.sources.map((s) => [s.name, s.path ?? ''])).toEqual([
      ['platform-prod', 'envs/prod'],
      ['platform-staging', 'envs/staging'],
      ['data-prod', ''],
    ]);
  });

  describe('finding the configuration', () => {
    it('reads the file the context names', () => {
      const cwd = tempDir();
      writeFileSync(join(cwd, 'prod.json'), JSON.stringify({ stackName: 'CairnProd', sources: [source()] }));
      const loaded = loadDeployConfig({ context: { configFile: 'prod.json' }, cwd });
      expect(loaded).toMatchObject({ from: 'prod.json', isExample: false, config: { stackName: 'CairnProd' } });
    });

    it('lets a file named on the command line win over the context', () => {
      const cwd = tempDir();
      writeFileSync(join(cwd, 'staging.json'), JSON.stringify({ stackName: 'CairnStaging', sources: [source()] }));
      const loaded = loadDeployConfig({ context: { configFile: DEFAULT_CONFIG_FILE }, configFile: 'staging.json', cwd });
      expect(loaded.config.stackName).toBe('CairnStaging');
    });

    it('falls back to the example when cairn.deploy.json does not exist yet', () => {
      const loaded = loadDeployConfig({ context: { configFile: DEFAULT_CONFIG_FILE }, cwd: ROOT.replace(/\/$/, '') });
      expect(loaded).toMatchObject({ from: EXAMPLE_CONFIG_FILE, isExample: true });
    });

    it('fails when any other named file does not exist', () => {
      expect(problemsOf(() => loadDeployConfig({ context: { configFile: 'prod.json' }, cwd: tempDir() }))).toMatchObject([
        { file: 'prod.json', message: expect.stringMatching(/^not found/) },
      ]);
    });

    it('names the file that is not JSON', () => {
      const cwd = tempDir();
      writeFileSync(join(cwd, DEFAULT_CONFIG_FILE), '{ "sources": [ }');
      expect(problemsOf(() => loadDeployConfig({ context: {}, cwd }))).toMatchObject([
        { file: DEFAULT_CONFIG_FILE, path: '', message: expect.stringMatching(/could not be read as JSON/) },
      ]);
    });

    it('takes inline sources from the context, ignoring configFile', () => {
      const loaded = loadDeployConfig({ context: { configFile: 'absent.json', sources: [source()], sweepSchedule: '1 hour' }, cwd: tempDir() });
      expect(loaded).toMatchObject({ from: 'cdk.json context "cairn"', config: { sweepIntervalMinutes: 60 } });
    });

    it('accepts the context as JSON text, as -c passes it', () => {
      const loaded = loadDeployConfig({ context: JSON.stringify({ sources: [source()] }), cwd: tempDir() });
      expect(loaded.config.sources).toHaveLength(1);
    });
  });

  describe('bin/app (built)', () => {
    it('prints each problem with its file and field and exits 1, without a stack trace', () => {
      const dir = tempDir();
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify({ sources: [source({ provider: 'githab' })], sweepSchedule: '1 minute' }));
      const outdir = join(dir, 'cdk.out');
      mkdirSync(outdir);
      const run = spawnSync(process.execPath, [APP], {
        cwd: ROOT,
        env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ 'cairn.configFile': file }), CDK_OUTDIR: outdir },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`${file}: sources.0.provider: expected one of github`);
      expect(run.stderr).toContain(`${file}: sweepSchedule: expected between 5 minutes and 1 day`);
      expect(run.stderr).not.toMatch(STACK_TRACE);
    });
  });
});
