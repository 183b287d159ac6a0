/**
 * Adapter: source credentials. Each source's gateways sign with credentials from assuming that
 * source's role, assumed once and again only near expiry; a source without a role keeps the
 * process's own credentials.
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { assumedRoleCredentials, REFRESH_BEFORE_MS, sessionName, sourceGateways } from '../../lib/adapters/source-credentials.js';
import type { CloudFormationGatewayOptions } from '../../lib/adapters/cloudformation-gateway.js';
import type { SourceConfig } from '../../lib/core/source-config.js';
import type { StackGateway } from '../../lib/ports/stack-gateway.js';

const ROLE = 'arn:aws:iam::123456789012:role/Cairn-SourceRolesSourcedev-ABC';

function fakeSts(expiresInMs: number, now: () => number) {
  const calls: AssumeRoleCommand[] = [];
  return {
    calls,
    send: async (command: AssumeRoleCommand) => {
      calls.push(command);
      const n = calls.length;
      return { Credentials: { AccessKeyId: `AKIA${n}`, SecretAccessKey: 'secret', SessionToken: `token-${n}`, Expiration: new Date(now() + expiresInMs) } };
    },
  };
}

const source = (name: string, sourceRoleArn?: string): SourceConfig =>
  ({ name, repoUrl: `https://example.com/${name}.git`, branch: 'main', provider: 'github', webhookSecretName: 'w', ...(sourceRoleArn ? { sourceRoleArn } : {}) }) as SourceConfig;

describe('Adapter: source credentials', () => {
  it('assumes the role once and reuses the session until it is close to expiring', async () => {
    let clock = 1_000_000;
    const sts = fakeSts(3_600_000, () => clock);
    const credentials = assumedRoleCredentials({ roleArn: ROLE, sessionName: 'cairn-dev', sts: sts as never, now: () => clock });
    const [a, b] = await Promise.all([credentials(), credentials()]);
    expect(a).toBe(b);
    expect(sts.calls).toHaveLength(1);
    expect(sts.calls[0]!.input).toMatchObject({ RoleArn: ROLE, RoleSessionName: 'cairn-dev' });
    clock += 3_600_000 - REFRESH_BEFORE_MS - 1;
    expect((await credentials()).sessionToken).toBe('token-1');
    clock += 2;
    expect((await credentials()).sessionToken).toBe('token-2');
  });

  it('fails loudly when STS answers without credentials, and tries again on the next call', async () => {
    let answer: unknown = {};
    const sts = { send: async () => answer };
    const credentials = assumedRoleCredentials({ roleArn: ROLE, sessionName: 'cairn-dev', sts: sts as never });
    await expect(credentials()).rejects.toThrow(`AssumeRole of ${ROLE} returned no credentials`);
    answer = { Credentials: { AccessKeyId: 'A', SecretAccessKey: 'S', SessionToken: 'T', Expiration: new Date(Date.now() + 3_600_000) } };
    expect((await credentials()).accessKeyId).toBe('A');
  });

  it('gives each source its own gateways, signed with its own role, one per region', async () => {
    const made: CloudFormationGatewayOptions[] = [];
    const sts = fakeSts(3_600_000, Date.now);
    const forSource = sourceGateways({ templateBucket: 'templates', sts: sts as never, gateway: (o) => (made.push(o), { region: o.region ?? '' } as unknown as StackGateway) });
    const dev = forSource(source('dev', ROLE));
    expect(dev('eu-west-1')).toBe(dev('eu-west-1'));
    expect(forSource(source('dev', ROLE))).toBe(dev);
    dev('us-east-1');
    forSource(source('legacy'))('eu-west-1');
    expect(made.map((o) => [o.region, o.templateBucket, typeof o.credentials])).toEqual([
      ['eu-west-1', 'templates', 'function'],
      ['us-east-1', 'templates', 'function'],
      ['eu-west-1', 'templates', 'undefined'],
    ]);
    const signWith = made[0]!.credentials as () => Promise<{ accessKeyId: string }>;
    expect((await signWith()).accessKeyId).toBe('AKIA1');
    expect(sts.calls[0]!.input.RoleSessionName).toBe('cairn-dev');
  });

  it('names the session after the source, within STS\'s 64 characters', () => {
    expect(sessionName('platform-prod')).toBe('cairn-platform-prod');
    expect(sessionName('x'.repeat(64))).toHaveLength(64);
  });
});
