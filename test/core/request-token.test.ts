/** The client request tokens of Cairn's stack operations, which name the source that started them. */
import { describe, expect, it } from 'vitest';
import { requestToken, sourceOfToken } from '../../lib/core/request-token.js';

describe('requestToken and sourceOfToken', () => {
  it.each([
    ['cairn-0123456789abcdef01234567-mx5c8h52', 'platform'],
    ['cairn-revert-0123456789abcdef01234567-mx5c8h52', 'platform-prod-2'],
    ['cairn-delete-0123456789abcdef01234567', 'a'],
    ['cairn-delete-0123456789abcdef01234567', 'x'.repeat(64)],
  ])('round-trips %s for source %s within 128 characters of [a-zA-Z0-9-]', (base, source) => {
    const token = requestToken(base, source);
    expect(token.startsWith(base)).toBe(true);
    expect(token.length).toBeLessThanOrEqual(128);
    expect(token).toMatch(/^[a-zA-Z][-a-zA-Z0-9]*$/);
    expect(sourceOfToken(token)).toBe(source);
  });

  it('leaves a source that cannot be encoded out of the token', () => {
    expect(requestToken('cairn-abc', 'Not_A_Source')).toBe('cairn-abc');
    expect(requestToken(`cairn-${'a'.repeat(115)}`, 'platform')).toBe(`cairn-${'a'.repeat(115)}`);
  });

  it.each([undefined, '', 'cairn-0123456789abcdef01234567-mx5c8h52', 'console-abc-Splatform', 'cairn-abc-S', 'cairn-abc-SPlat'])(
    'names no source for %s',
    (token) => expect(sourceOfToken(token)).toBeUndefined(),
  );
});
