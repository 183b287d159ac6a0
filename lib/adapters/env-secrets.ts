/**
 * EnvSecrets: the SecretProvider for local runs, reading each secret from the environment variable
 * of the same name. Also home of SecretNotFoundError, which every secret provider throws for a name
 * that has no value, so callers tell "not configured" apart from "store unreachable".
 */
import type { SecretProvider } from '../ports/secrets.js';

/** The secret has no value. Carries the name and where it was looked up, never a value. */
export class SecretNotFoundError extends Error {
  override name = 'SecretNotFoundError';
  constructor(
    readonly secretName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface EnvSecretsOptions {
  /** The environment to read; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

export class EnvSecrets implements SecretProvider {
  private readonly env: NodeJS.ProcessEnv;

  constructor(options: EnvSecretsOptions = {}) {
    this.env = options.env ?? process.env;
  }

  async get(name: string): Promise<string> {
    const value = this.env[name];
    // An empty value is treated as unset: an empty webhook secret would accept any signature.
    if (value === undefined || value === '') {
      throw new SecretNotFoundError(
        name,
        `Secret ${name} is not set: export the environment variable ${name} with its value before starting Cairn.`,
      );
    }
    return value;
  }
}
