/**
 * The built CLI is one bundle (dist/bin/cairn.js and its chunks under dist/bin/cli/): it runs on its
 * own, from a copy with no dist/lib beside it, and its disk cache of template analyses is keyed to
 * the bundle, so a changed build never reads an earlier build's findings.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'cairn-bundle-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const TEMPLATE = `Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: 5\n`;

/** A copy of the built bin directory, away from dist/lib and node_modules. */
function copyOfBin(): string {
  const bin = join(work, 'app', 'dist', 'bin');
  cpSync(dirname(CLI), bin, { recursive: true });
  return join(bin, 'cairn.js');
}

function validate(cli: string, dir: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'validate', dir], { env: { ...process.env, NO_COLOR: '1', CAIRN_HOME: join(work, 'home') }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cacheEntries(): string[] {
  try {
    return readdirSync(join(work, 'home', 'template-cache')).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
}

describe('CLI bundle', () => {
  it('imports none of tsc’s modules: the entry loads only its own chunks and packages', () => {
    const text = readFileSync(CLI, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(text).not.toMatch(/from ["']\.\.\/lib\//);
    expect(readdirSync(join(dirname(CLI), 'cli'))).toContain('resource-schemas.br');
  });

  it('validates from a copy with no dist/lib beside it, and keys its cache to the bundle’s files', () => {
    const cli = copyOfBin();
    const dir = join(work, 'repo');
    mkdirSync(join(dir, 'stacks'), { recursive: true });
    writeFileSync(join(dir, 'cairn.yaml'), 'version: 1\nsource: bundle\ndefaults:\n  region: eu-west-1\nstacks:\n  queue:\n    template: stacks/queue.yaml\n');
    writeFileSync(join(dir, 'stacks', 'queue.yaml'), TEMPLATE);

    const first = validate(cli, dir);
    expect(first.stderr).toBe('');
    expect(first.stdout).toContain('is valid: 1 stack');
    const written = cacheEntries();
    expect(written).toHaveLength(1);

    // The same build again: the entry is read, nothing new is written.
    expect(validate(cli, dir).status).toBe(0);
    expect(cacheEntries()).toEqual(written);

    // A chunk of the bundle changes (here its modification time, as a rebuild would): a new key.
    const chunk = readdirSync(join(dirname(cli), 'cli')).find((n) => n.endsWith('.js'))!;
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dirname(cli), 'cli', chunk), later, later);
    expect(validate(cli, dir).status).toBe(0);
    const after = cacheEntries();
    expect(after).toHaveLength(2);
    expect(after).toEqual(expect.arrayContaining(written));
  });
});
