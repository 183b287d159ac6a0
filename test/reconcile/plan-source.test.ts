import { CloudFormationClient, CreateChangeSetCommand, DescribeStacksCommand, GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { OWNER_TAGS } from '../../lib/core/model.js';
import { desiredHash } from '../../lib/core/plan.js';
import { CloudFormationGateway } from '../../lib/adapters/cloudformation-gateway.js';
import { planSource } from '../../lib/reconcile/plan-source.js';
import { desiredStack, desiredState } from '../helpers/stacks.js';

const cfn = mockClient(CloudFormationClient);
afterEach(() => cfn.reset());

function account(n: number, changed: string[] = []) {
  const stacks = Array.from({ length: n }, (_, i) => desiredStack(`s${i}`));
  const live = stacks.map((s) => ({
    StackName: s.stackName,
    StackId: `arn:aws:cloudformation:us-east-1:123456789012:stack/${s.stackName}/x`,
    StackStatus: 'UPDATE_COMPLETE' as const,
    CreationTime: new Date('2026-01-01T00:00:00Z'),
    Tags: [
      { Key: OWNER_TAGS.source, Value: 'src' },
      { Key: OWNER_TAGS.stack, Value: s.id },
      { Key: OWNER_TAGS.hash, Value: changed.includes(s.id) ? 'stale' : desiredHash(s, {}) },
    ],
  }));
  // CloudFormation pages DescribeStacks; serve 100 per page like a real account.
  cfn.on(DescribeStacksCommand).callsFake((input: { NextToken?: string }) => {
    const start = Number(input.NextToken ?? 0);
    const page = live.slice(start, start + 100);
    return { Stacks: page, NextToken: start + 100 < live.length ? String(start + 100) : undefined };
  });
  cfn.on(GetTemplateCommand).resolves({ TemplateBody: '{"Resources":{"Topic":{"Type":"AWS::SNS::Topic","Properties":{"TopicName":"old"}}}}' });
  const gateway = new CloudFormationGateway({ region: 'us-east-1', client: new CloudFormationClient({ region: 'us-east-1' }) });
  return { desired: desiredState(stacks), gateways: () => gateway };
}

const calls = () => ({
  describe: cfn.commandCalls(DescribeStacksCommand).length,
  getTemplate: cfn.commandCalls(GetTemplateCommand).length,
  changeSets: cfn.commandCalls(CreateChangeSetCommand).length,
});

describe('Use case: plan a source against AWS', () => {
  it('makes no GetTemplate call and no change set when the account already matches', async () => {
    const { desired, gateways } = account(20);
    const { plan } = await planSource(desired, { gateways, resourceDiff: true });
    expect(plan.stacks.filter((s) => s.action !== "none").map((s) => [s.id, s.action, s.reason])).toEqual([]);
    expect(plan.changes).toBe(false);
    expect(calls()).toEqual({ describe: 1, getTemplate: 0, changeSets: 0 });
  });

  it('makes as many calls for 200 stacks as for 20, page for page', async () => {
    const small = account(20);
    await planSource(small.desired, { gateways: small.gateways, resourceDiff: true });
    const forTwenty = calls().describe;
    cfn.reset();
    const large = account(200);
    await planSource(large.desired, { gateways: large.gateways, resourceDiff: true });
    expect(calls().describe).toBe(2); // two pages of 100, not 200 calls
    expect(forTwenty).toBe(1);
    expect(calls().getTemplate).toBe(0);
  });

  it('reads the current template only for the stacks whose hash differs', async () => {
    const { desired, gateways } = account(10, ['s3', 's7']);
    const { plan } = await planSource(desired, { gateways, resourceDiff: true });
    expect(plan.stacks.filter((s) => s.action === 'update').map((s) => s.id)).toEqual(['s3', 's7']);
    expect(calls().getTemplate).toBe(2);
    expect(plan.stacks.find((s) => s.id === 's3')!.resources).toEqual([{ logicalId: 'Topic', type: 'AWS::SNS::Topic', change: 'modify', properties: ['TopicName'] }]);
  });
});
