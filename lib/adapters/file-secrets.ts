/**
 * FileSecrets: a SecretProvider whose secret names are file paths, for `--token-file` (a token
 * mounted by a secret store or written by a credential helper). Read on every call, so a rotated
 * file applies to the next fetch; the value is trimmed of surrounding whitespace and newlines.
 */
import { readFile } from 'node:fs/promises';
import type { SecretProvider } from '../ports/secrets.js';
import { SecretNotFoundError } from './env-secrets.js';

/** Larger than any token or JSON credential; a bigger file is the wrong file. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

export class FileSecrets implements SecretProvider {
  async get(path: string): Promise<string> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new SecretNotFoundError(path, `The token file ${path} cannot be read (${code}): write the token into it, or point --token-file at the file that holds it.`, { cause: error });
    }
    if (bytes.length > MAX_SECRET_FILE_BYTES) throw new SecretNotFoundError(path, `The token file ${path} is ${bytes.length} bytes, over ${MAX_SECRET_FILE_BYTES}: it does not look like a token.`);
    const value = bytes.toString('utf8').trim();
    if (value === '') throw new SecretNotFoundError(path, `The token file ${path} is empty: write the token into it.`);
    return value;
  }
}
