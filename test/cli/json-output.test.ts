/** The --json output of plan and status keeps the shape docs/schemas/ publishes: the built CLI's real output parses with it, and the published files are current. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_OUTPUTS, PlanOutputSchema, StatusOutputSchema } from '../../lib/cli/json-output.js';
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
});
