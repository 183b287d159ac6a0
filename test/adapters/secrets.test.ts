/**
 * Tests of the secret providers: the Secrets Manager cache and its expiry, the environment provider,
 * and that no error ever carries a secret's value.
 */
import {
  GetSecretValueCommand,
  InternalServiceError,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EnvSecrets, SecretNotFoundError } from '../../lib/adapters/env-secrets.js';
import { DEFAULT_SECRET_TTL_MS, SecretsManagerSecrets } from '../../lib/adapters/secrets-manager.js';

const VALUE = 'whsec-super-secret-value';
const client = new SecretsManagerClient({ region: 'eu-west-1' });
const sm = mockClient(client);

beforeEach(() => {
  sm.reset();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2024-05-01T10:00:00Z'));
});

afterEach(() => {
  vi.useRealTimers();
});

describe('SecretsManagerSecrets', () => {
  it('serves a second get within the TTL from memory', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'cairn/github' }).resolves({ SecretString: VALUE });
    const secrets = new SecretsManagerSecrets({ client });

    const first = await secrets.get('cairn/github');
    vi.advanceTimersByTime(DEFAULT_SECRET_TTL_MS - 1);
    const second = await secrets.get('cairn/github');

    expect([first, second]).toEqual([VALUE, VALUE]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('shares one call between concurrent gets of the same name', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: VALUE });
    const secrets = new SecretsManagerSecrets({ client });

    await Promise.all([secrets.get('a'), secrets.get('a'), secrets.get('a')]);

    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('reads the secret again once the TTL has passed', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'old' }).resolvesOnce({ SecretString: 'rotated' });
    const secrets = new SecretsManagerSecrets({ client, ttlMs: 1_000 });

    await expect(secrets.get('a')).resolves.toBe('old');
    vi.advanceTimersByTime(1_000);

    await expect(secrets.get('a')).resolves.toBe('rotated');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('caches each name separately', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'a' }).resolves({ SecretString: 'value-a' });
    sm.on(GetSecretValueCommand, { SecretId: 'b' }).resolves({ SecretString: 'value-b' });
    const secrets = new SecretsManagerSecrets({ client });

    expect(await secrets.get('a')).toBe('value-a');
    expect(await secrets.get('b')).toBe('value-b');
    expect(await secrets.get('a')).toBe('value-a');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('decodes a binary secret as UTF-8', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode(VALUE) });

    await expect(new SecretsManagerSecrets({ client }).get('bin')).resolves.toBe(VALUE);
  });

  it('throws SecretNotFoundError naming a secret that does not exist', async () => {
    sm.on(GetSecretValueCommand).rejects(
      new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const error = await new SecretsManagerSecrets({ client }).get('cairn/missing').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect((error as SecretNotFoundError).secretName).toBe('cairn/missing');
    expect((error as Error).message).toContain('cairn/missing');
  });

  it('does not cache a failure', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(new InternalServiceError({ message: 'try again', $metadata: { httpStatusCode: 500 } }))
      .resolves({ SecretString: VALUE });
    const secrets = new SecretsManagerSecrets({ client });

    await expect(secrets.get('a')).rejects.toThrow(/Could not read secret a from Secrets Manager: InternalServiceError/);
    await expect(secrets.get('a')).resolves.toBe(VALUE);
  });

  it('never puts the value of a secret into an error, even when the SDK error holds the response', async () => {
    // A response that failed to parse is attached to the SDK error, and it can be the secret itself.
    const parseFailure = Object.assign(new Error('Deserialization error: inspect $response'), {
      $response: { statusCode: 200, body: `{"SecretString":"${VALUE}"` },
    });
    sm.on(GetSecretValueCommand).rejects(parseFailure);

    const error = await new SecretsManagerSecrets({ client }).get('a').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Error);
    expect(reaches(error, VALUE)).toBe(false);
    expect((error as Error).message).toContain('Deserialization error');
  });
});

describe('EnvSecrets', () => {
  it('reads the environment variable of the same name', async () => {
    const secrets = new EnvSecrets({ env: { GITHUB_WEBHOOK_SECRET: VALUE } });

    await expect(secrets.get('GITHUB_WEBHOOK_SECRET')).resolves.toBe(VALUE);
  });

  it('reads process.env by default', async () => {
    process.env.CAIRN_TEST_SECRET = VALUE;
    try {
      await expect(new EnvSecrets().get('CAIRN_TEST_SECRET')).resolves.toBe(VALUE);
    } finally {
      delete process.env.CAIRN_TEST_SECRET;
    }
  });

  it('names the variable to set when it is unset or empty', async () => {
    const secrets = new EnvSecrets({ env: { EMPTY: '', OTHER: VALUE } });

    for (const name of ['MISSING', 'EMPTY']) {
      const error = await secrets.get(name).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SecretNotFoundError);
      expect((error as Error).message).toContain(`environment variable ${name}`);
      expect((error as Error).message).not.toContain(VALUE);
    }
  });
});

/** Whether `needle` is in any string reachable from `value` through own properties, hidden ones included. */
function reaches(value: unknown, needle: string, seen = new Set<unknown>()): boolean {
  if (typeof value === 'string') return value.includes(needle);
  if (value === null || typeof value !== 'object' || seen.has(value)) return false;
  seen.add(value);
  return Reflect.ownKeys(value).some((key) => reaches((value as Record<PropertyKey, unknown>)[key], needle, seen));
}
