/**
 * Canonical JSON and content hashes: the same data always serialises to the same text, whatever
 * the key order it came in, so a hash decides "in sync" without asking CloudFormation.
 */
import { createHash } from 'node:crypto';

/** Deep copy with every object's keys sorted; arrays keep their order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) setKey(sorted, key, sortKeys(v));
    }
    return sorted;
  }
  // JSON has no negative zero: the canonical value holds what the canonical text says.
  return Object.is(value, -0) ? 0 : value;
}

/** `target[key] = value`, except that a `__proto__` key stays data instead of setting the prototype. */
export function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
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
