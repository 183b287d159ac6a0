/**
 * SecretProvider: webhook secrets and Git tokens by name (Secrets Manager in Lambda, environment or
 * files locally). Values never appear in logs or errors.
 */

export interface SecretProvider {
  /** The secret's value; throws when it does not exist. */
  get(name: string): Promise<string>;
}
