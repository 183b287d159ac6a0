/**
 * A small world for use-case tests: an embedded account on a temporary home with a manual clock,
 * a gateway factory over it, and helpers to load a repository's desired state and converge it in
 * simulated time (sleeping advances the account's clock; no real waiting).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import type { DesiredState } from '../../lib/core/model.js';
import { MemorySink } from '../../lib/ports/events.js';
import type { GatewayFactory, StackGateway } from '../../lib/ports/stack-gateway.js';
import { advance, type AdvanceOptions, type StepResult } from '../../lib/reconcile/advance.js';
import { converge } from '../../lib/reconcile/converge.js';
import { loadDesired } from '../../lib/reconcile/load-desired.js';
import { memorySnapshot, type MemoryFiles } from './memory-source.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

export interface World {
  /** Advance simulated time (what every injected sleep does). */
  sleep(ms: number): Promise<void>;
  account: EmbeddedAccount;
  gateway: StackGateway;
  gateways: GatewayFactory;
  sink: MemorySink;
  home: string;
  desired(files: MemoryFiles, commit?: string): Promise<DesiredState>;
  /** Take steps until succeeded or stalled, advancing simulated time between them. */
  converge(desired: DesiredState, options?: Partial<AdvanceOptions>): Promise<StepResult>;
  step(desired: DesiredState, options?: Partial<AdvanceOptions>): Promise<StepResult>;
}

export function world(options: { gateways?: (base: GatewayFactory) => GatewayFactory } = {}): World {
  const home = mkdtempSync(join(tmpdir(), 'cairn-world-'));
  let now = Date.UTC(2026, 0, 1);
  const account = new EmbeddedAccount({ home, clock: () => now, operationMs: 1000 });
  cleanups.push(() => {
    account.close();
    rmSync(home, { recursive: true, force: true });
  });
  const base: GatewayFactory = (r) => account.gateway(r);
  const gateways = options.gateways ? options.gateways(base) : base;
  const sink = new MemorySink();
  const sleep = async (ms: number): Promise<void> => {
    now += ms;
    account.advance(0);
  };
  const stepOptions = (o: Partial<AdvanceOptions>): AdvanceOptions => ({ gateways, sink, sleep, pollMs: 500, changeSetWaitMs: 5_000, ...o });
  return {
    sleep,
    account,
    gateway: account.gateway(),
    gateways,
    sink,
    home,
    desired: (files, commit) => loadDesired(memorySnapshot(files, commit), 'src'),
    converge: (desired, o = {}) => converge(desired, { ...stepOptions(o), stepIntervalMs: 2_000, timeoutMs: 10 * 60_000 }),
    step: (desired, o = {}) => advance(desired, stepOptions(o)),
  };
}

export const NETWORK = 'Parameters:\n  Cidr: {Type: String}\nResources:\n  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: !Ref Cidr}}\nOutputs:\n  VpcId: {Value: !Ref Vpc}\n';
export const APP = 'Parameters:\n  VpcId: {Type: String}\nResources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {Tags: [{Key: vpc, Value: !Ref VpcId}]}}\n';
export const TABLE = (key = 'id') =>
  `Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n      AttributeDefinitions: [{AttributeName: ${key}, AttributeType: S}]\n      KeySchema: [{AttributeName: ${key}, KeyType: HASH}]\n`;

/** The example-shaped repository: network → app, and a table. */
export function repo(over: { cairn?: string; files?: MemoryFiles } = {}): MemoryFiles {
  return {
    'cairn.yaml':
      over.cairn ??
      [
        'version: 1',
        'stacks:',
        '  network: {template: network.yaml, parameters: {Cidr: 10.0.0.0/16}}',
        '  app:',
        '    template: app.yaml',
        '    parameters: {VpcId: {fromStack: network, output: VpcId}}',
        '  data: {template: data.yaml}',
      ].join('\n'),
    'network.yaml': NETWORK,
    'app.yaml': APP,
    'data.yaml': TABLE(),
    ...over.files,
  };
}
