/**
 * SecretsManagerSecrets: the SecretProvider over AWS Secrets Manager for Lambda. Values are cached
 * per name for a TTL so warm invocations (every webhook delivery) do not pay a Secrets Manager call
 * each, while a rotated secret is picked up within the TTL.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretProvider } from '../ports/secrets.js';
import { hasErrorCode } from './aws-errors.js';
import { SecretNotFoundError } from './env-secrets.js';

export const DEFAULT_SECRET_TTL_MS = 5 * 60 * 1000;

export interface SecretsManagerSecretsOptions {
  /** Defaults to the SDK's region chain. */
  region?: string;
  /** A ready client; `region` is then ignored. */
  client?: SecretsManagerClient;
  /** How long a value is served from memory; 0 disables the cache. */
  ttlMs?: number;
}

interface CacheEntry {
  value: Promise<string>;
  expiresAt: number;
}

export class SecretsManagerSecrets implements SecretProvider {
  private readonly client: SecretsManagerClient;
  private readonly ttlMs: number;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(options: SecretsManagerSecretsOptions = {}) {
    this.client = options.client ?? new SecretsManagerClient(options.region ? { region: options.region } : {});
    this.ttlMs = options.ttlMs ?? DEFAULT_SECRET_TTL_MS;
  }

  async get(name: string): Promise<string> {
    const now = Date.now();
    const cached = this.cache.get(name);
    if (cached && cached.expiresAt > now) return cached.value;
    // The promise is cached, not the value, so concurrent gets of a cold name share one call.
    const value = this.fetch(name);
    this.cache.set(name, { value, expiresAt: now + this.ttlMs });
    value.catch(() => {
      if (this.cache.get(name)?.value === value) this.cache.delete(name);
    });
    return value;
  }

  private async fetch(name: string): Promise<string> {
    let output;
    try {
      output = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
    } catch (error) {
      if (hasErrorCode(error, 'ResourceNotFoundException')) {
        throw new SecretNotFoundError(
          name,
          `Secret ${name} does not exist in Secrets Manager: create it, or correct the secret name Cairn is configured with.`,
        );
      }
      // No cause: an SDK error can hold the raw HTTP response, which for a body that failed to parse
      // is the secret itself. The code and message are enough to act on.
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new Error(`Could not read secret ${name} from Secrets Manager: ${detail}`);
    }
    const value = output.SecretString ?? (output.SecretBinary && Buffer.from(output.SecretBinary).toString('utf8'));
    if (value === undefined || value === '') {
      throw new SecretNotFoundError(name, `Secret ${name} in Secrets Manager has no value: store a value in it.`);
    }
    return value;
  }
}
