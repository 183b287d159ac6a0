/**
 * The --json output of plan, status, apply, drift and validate keeps the shape docs/schemas/
 * publishes: the built CLI's real output parses with it, says what the text says, and the
 * published files are current.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplyOutputSchema, DriftOutputSchema, JSON_OUTPUTS, PlanOutputSchema, StatusOutputSchema, ValidateOutputSchema } from '../../lib/cli/json-output.js';
import { describeRun } from '../../lib/reconcile/run-tally.js';
import { cairn } from '../helpers/cli.js';

const EXAMPLE = new URL('../../examples/platform/', import.meta.url).pathname;
const DOCS = new URL('../../docs/schemas/', import.meta.url).pathname;
let work: string;
let repo: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cairn-json-'));
  repo = join(work, 'platform');
  cpSync(EXAMPLE, repo, { recursive: true });
  env = { CAIRN_HOME: join(work, 'home') };
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('CLI: --json shapes', () => {
  it('publishes in docs/schemas/ exactly the JSON Schemas the code holds (run `npm run json-schemas` after changing them)', () => {
    for (const [file, schema] of Object.entries(JSON_OUTPUTS)) {
      expect(JSON.parse(readFileSync(join(DOCS, file), 'utf8'))).toEqual(z.toJSONSchema(schema));
    }
  });

  it('prints plan and status output that parses with those schemas, before and after an apply, with a preview', () => {
    const first = PlanOutputSchema.parse(JSON.parse(cairn(['plan', repo, '--json'], { env }).stdout));
    expect(first.stacks.map((s) => s.action)).toEqual(['create', 'create', 'create', 'create']);
    StatusOutputSchema.parse(JSON.parse(cairn(['status', repo, '--json'], { env }).stdout));
    expect(cairn(['apply', repo, '--yes'], { env }).status).toBe(0);
    const app = join(repo, 'stacks/app.yaml');
    writeFileSync(app, readFileSync(app, 'utf8').replace('Default: 30', 'Default: 45'));
    const changed = PlanOutputSchema.parse(JSON.parse(cairn(['plan', repo, '--json'], { env }).stdout));
    expect(changed.stacks.find((s) => s.id === 'app')?.preview?.state).toBe('ready');
    const status = StatusOutputSchema.parse(JSON.parse(cairn(['status', repo, '--json'], { env }).stdout));
    expect(status.stacks.find((s) => s.id === 'app')).toMatchObject({ inSync: false, reason: 'content changed' });
  });

  it('prints validate output that parses, with waves numbered from 1 as the text counts them', () => {
    const json = ValidateOutputSchema.parse(JSON.parse(cairn(['validate', repo, '--json'], { env }).stdout));
    const text = cairn(['validate', repo], { env }).stdout;
    const waves = Number(/in (\d+) waves?/.exec(text)?.[1]);
    expect(json).toMatchObject({ valid: true, source: 'platform' });
    expect(Math.max(...json.stacks.map((s) => s.wave))).toBe(waves);
    expect(Math.min(...json.stacks.map((s) => s.wave))).toBe(1);
    writeFileSync(join(repo, 'cairn.yaml'), `${readFileSync(join(repo, 'cairn.yaml'), 'utf8')}\n  broken: {}\n`);
    try {
      const invalid = cairn(['validate', repo, '--json'], { env });
      expect(invalid.status).toBe(1);
      expect(ValidateOutputSchema.parse(JSON.parse(invalid.stdout))).toMatchObject({ valid: false, stacks: [] });
    } finally {
      writeFileSync(join(repo, 'cairn.yaml'), readFileSync(join(EXAMPLE, 'cairn.yaml'), 'utf8'));
    }
  });

  it('prints apply output that parses and counts what the text says, a stall included: never stalled with nothing blocked', () => {
    const fresh = (name: string): NodeJS.ProcessEnv => ({ CAIRN_HOME: join(work, name) });
    // A network that cannot be created: the same run, in JSON in one account and in text in another.
    for (const name of ['stall-json', 'stall-text']) expect(cairn(['sim', 'fail', 'AWS::EC2::VPC', 'create'], { env: fresh(name) }).status).toBe(0);
    const stalled = cairn(['apply', repo, '--yes', '--json'], { env: fresh('stall-json') });
    expect(stalled.status).toBe(1);
    const json = ApplyOutputSchema.parse(JSON.parse(stalled.stdout));
    expect(json).toMatchObject({ outcome: 'stalled', target: 'embedded', error: { reason: 'StackFailed', stack: 'network' } });
    expect(json.counts.blocked).toBeGreaterThanOrEqual(1);
    expect(json.counts.created + json.counts.blocked + json.counts.unchanged).toBe(4);
    const text = cairn(['apply', repo, '--yes'], { env: fresh('stall-text') });
    expect(text.status).toBe(1);
    expect(text.stderr).toContain(`: ${describeRun(json.counts)}\n`);

    const done = ApplyOutputSchema.parse(JSON.parse(cairn(['apply', repo, '--yes', '--json'], { env: fresh('ok-json') }).stdout));
    expect(done).toMatchObject({ outcome: 'succeeded', counts: { created: 4, blocked: 0 }, planned: { create: 4 } });
    expect(done.error).toBeUndefined();
    expect(cairn(['apply', repo, '--yes'], { env: fresh('ok-text') }).stdout).toContain(`: ${describeRun(done.counts)}\n`);
  });

  it('prints drift output that parses and counts what the text says', () => {
    const driftEnv = { CAIRN_HOME: join(work, 'ok-json') };
    expect(cairn(['sim', 'drift', 'data', 'Uploads', 'VersioningConfiguration.Status=Suspended'], { env: driftEnv }).status).toBe(0);
    const r = cairn(['drift', repo, '--json'], { env: driftEnv });
    expect(r.status).toBe(2);
    const json = DriftOutputSchema.parse(JSON.parse(r.stdout));
    expect(json.drifted.map((d) => d.id)).toEqual(['data']);
    expect(json.drifted[0]!.resources[0]!.differences).toContainEqual({ path: '/VersioningConfiguration/Status', expected: 'Enabled', actual: 'Suspended', kind: 'NOT_EQUAL' });
    expect(json.checked).toBe(json.drifted.length + json.inSync.length);
    const text = cairn(['drift', repo], { env: driftEnv }).stdout;
    expect(text).toContain(`${json.checked} stacks checked: ${json.drifted.length} drifted`);
  });
});
