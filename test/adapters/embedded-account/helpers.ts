/**
 * Test helpers for the embedded account: a temporary home, a manual clock, and change set inputs
 * with Cairn's defaults filled in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { EmbeddedAccount, type EmbeddedAccountOptions } from '../../../lib/adapters/embedded-account/index.js';
import type { ChangeSetInput, StackGateway } from '../../../lib/ports/stack-gateway.js';

const homes: string[] = [];
const accounts: EmbeddedAccount[] = [];

afterEach(() => {
  for (const account of accounts.splice(0)) account.close();
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

export function tempHome(): string {
  const home = mkdtempSync(path.join(tmpdir(), 'cairn-sim-'));
  homes.push(home);
  return home;
}

export interface ManualClock {
  (): number;
  set(ms: number): void;
  add(ms: number): void;
}

export function manualClock(start = Date.UTC(2025, 0, 1)): ManualClock {
  let now = start;
  const clock = (() => now) as ManualClock;
  clock.set = (ms) => {
    now = ms;
  };
  clock.add = (ms) => {
    now += ms;
  };
  return clock;
}

/** An account on a fresh temporary home with a manual clock (pass `home`/`clock` to share them). */
export function newAccount(options: Partial<EmbeddedAccountOptions> = {}): EmbeddedAccount {
  const account = new EmbeddedAccount({ home: options.home ?? tempHome(), clock: options.clock ?? manualClock(), ...options });
  accounts.push(account);
  return account;
}

export function template(body: Record<string, unknown>): string {
  return JSON.stringify(body);
}

export const BUCKET_TEMPLATE = template({
  Parameters: { Env: { Type: 'String', Default: 'dev' } },
  Resources: {
    Bucket: {
      Type: 'AWS::S3::Bucket',
      Properties: { VersioningConfiguration: { Status: 'Enabled' }, Tags: [{ Key: 'env', Value: { Ref: 'Env' } }] },
    },
  },
  Outputs: { BucketName: { Value: { Ref: 'Bucket' } }, BucketArn: { Value: { 'Fn::GetAtt': ['Bucket', 'Arn'] } } },
});

let tokens = 0;

export function changeSet(overrides: Partial<ChangeSetInput> & { stackName: string }): ChangeSetInput {
  const name = overrides.changeSetName ?? `cs-${++tokens}`;
  return {
    changeSetName: name,
    changeSetType: 'CREATE',
    templateBody: BUCKET_TEMPLATE,
    parameters: [],
    tags: {},
    capabilities: [],
    roleArn: undefined,
    clientToken: name,
    ...overrides,
  };
}

/** Create a change set, let it compute, execute it and let the operation finish. */
export async function deploy(account: EmbeddedAccount, gateway: StackGateway, input: ChangeSetInput): Promise<void> {
  await gateway.createChangeSet(input);
  account.settle();
  await gateway.executeChangeSet(input.stackName, input.changeSetName, input.clientToken);
  account.settle();
}
