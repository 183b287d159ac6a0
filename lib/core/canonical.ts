/**
 * Canonical JSON and content hashes: the same data always serialises to the same text, whatever
 * the key order it came in, so a hash decides "in sync" without asking CloudFormation.
 */
import { createHash } from 'node:crypto';

/** Deep copy with every object's keys sorted; arrays keep their order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    // fromEntries defines every key, so a `__proto__` key stays data instead of setting the prototype.
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .flatMap((key) => {
          const v = (value as Record<string, unknown>)[key];
          return v === undefined ? [] : [[key, sortKeys(v)]];
        }),
    );
  }
  // JSON has no negative zero: the canonical value holds what the canonical text says.
  return Object.is(value, -0) ? 0 : value;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The content hash of any JSON-like value: sha256 of its canonical JSON. */
export function contentHash(value: unknown): string {
  return sha256(canonicalJson(value));
}
