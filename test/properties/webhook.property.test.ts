/**
 * Property tests of each webhook provider's verification, complementing the intake fuzz test
 * (test/webhooks/intake.fuzz.test.ts): for random payloads and secrets, a delivery signed as the
 * provider documents verifies; flipping any single bit of the body, of the signature (as bytes or
 * as header text) or of the signed id and timestamp makes it fail; during rotation either of two
 * secrets verifies and a third does not; and no header value at all (lists, empty, 100 KB long,
 * non-ASCII) makes verification, delivery ids or intake throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Provider } from '../../lib/core/source-config.js';
import { bitbucket } from '../../lib/webhooks/bitbucket.js';
import { generic } from '../../lib/webhooks/generic.js';
import { forgejo, gitea } from '../../lib/webhooks/gitea.js';
import { github } from '../../lib/webhooks/github.js';
import { gitlab } from '../../lib/webhooks/gitlab.js';
import { handleWebhook } from '../../lib/webhooks/intake.js';
import { normaliseHeaders, type WebhookHeaders, type WebhookProvider } from '../../lib/webhooks/provider.js';
import { config, deliveryHeaders, NOW, testDeps } from '../webhooks/deliveries.js';

/** One way a provider authenticates a delivery, with the header it checks and how it encodes a MAC. */
interface Scheme {
  name: string;
  provider: WebhookProvider;
  kind: Provider;
  signingToken: boolean;
  /** The header verification reads; for Forgejo the first of the headers it sends. */
  header: string;
  /** How the MAC is written in the header; undefined when the header is the secret itself. */
  mac: { prefix: string; encoding: 'hex' | 'base64' } | undefined;
  /** Whether the signature compares hex digits case-insensitively (all but GitHub's library). */
  caseInsensitiveHex: boolean;
  /** GitHub verifies text: only a non-empty UTF-8 body is what it signed. */
  textBody: boolean;
  secret: fc.Arbitrary<string>;
}

const anySecret = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
// A token travels in a header, which carries bytes a receiver reads as latin1: printable ASCII.
const tokenSecret = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 });
const signingToken = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((key) => `whsec_${Buffer.from(key).toString('base64')}`);

const SCHEMES: Scheme[] = [
  { name: 'GitHub', provider: github, kind: 'github', signingToken: false, header: 'x-hub-signature-256', mac: { prefix: 'sha256=', encoding: 'hex' }, caseInsensitiveHex: false, textBody: true, secret: anySecret },
  { name: 'GitLab token', provider: gitlab, kind: 'gitlab', signingToken: false, header: 'x-gitlab-token', mac: undefined, caseInsensitiveHex: false, textBody: false, secret: tokenSecret },
  { name: 'GitLab signing token', provider: gitlab, kind: 'gitlab', signingToken: true, header: 'webhook-signature', mac: { prefix: 'v1,', encoding: 'base64' }, caseInsensitiveHex: false, textBody: false, secret: signingToken },
  { name: 'Gitea', provider: gitea, kind: 'gitea', signingToken: false, header: 'x-gitea-signature', mac: { prefix: '', encoding: 'hex' }, caseInsensitiveHex: true, textBody: false, secret: anySecret },
  { name: 'Forgejo', provider: forgejo, kind: 'forgejo', signingToken: false, header: 'x-forgejo-signature', mac: { prefix: '', encoding: 'hex' }, caseInsensitiveHex: true, textBody: false, secret: anySecret },
  { name: 'Bitbucket', provider: bitbucket, kind: 'bitbucket', signingToken: false, header: 'x-hub-signature', mac: { prefix: 'sha256=', encoding: 'hex' }, caseInsensitiveHex: true, textBody: false, secret: anySecret },
  { name: 'generic HMAC', provider: generic, kind: 'generic', signingToken: false, header: 'x-signature', mac: { prefix: 'sha256=', encoding: 'hex' }, caseInsensitiveHex: true, textBody: false, secret: anySecret },
];

function bodyFor(scheme: Scheme, minLength = 0): fc.Arbitrary<Buffer> {
  if (scheme.textBody) return fc.string({ unit: 'grapheme', minLength: Math.max(1, minLength), maxLength: 300 }).map((s) => Buffer.from(s, 'utf8'));
  return fc.oneof(
    fc.uint8Array({ minLength, maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.json({ maxDepth: 3 }).filter((j) => j.length >= minLength).map((j) => Buffer.from(j, 'utf8')),
  );
}

/** A delivery of `scheme` for `body`, signed with `secret` as the provider documents (test/webhooks/deliveries.ts). */
function signed(scheme: Scheme, body: Buffer, secret: string): WebhookHeaders {
  return normaliseHeaders(deliveryHeaders(scheme.kind, { source: 's', body, secret, signingToken: scheme.signingToken, now: NOW, deliveryId: 'delivery-1' }));
}

const verify = (scheme: Scheme, body: Buffer, headers: WebhookHeaders, secrets: string[]) => scheme.provider.verify(body, headers, secrets, NOW);

/** Each scheme with its own body and secret arbitraries. */
function perScheme<T>(make: (scheme: Scheme) => fc.Arbitrary<T>): fc.Arbitrary<{ scheme: Scheme; value: T }> {
  return fc.oneof(...SCHEMES.map((scheme) => make(scheme).map((value) => ({ scheme, value }))));
}

function flipBit(bytes: Buffer, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  const at = Math.floor(bit / 8) % copy.length;
  copy[at] = copy[at]! ^ (1 << (bit % 8));
  return copy;
}

/** A header value with one bit of one character flipped, as a byte on the wire (so at most 0xff). */
function flipChar(text: string, at: number, bit: number): string {
  const i = at % text.length;
  return text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << bit)) + text.slice(i + 1);
}

describe('Property: webhook verification', () => {
  it('verifies a delivery each provider signed, for any payload and secret', async () => {
    await fc.assert(
      fc.asyncProperty(
        perScheme((s) => fc.tuple(bodyFor(s), s.secret)),
        async ({ scheme, value: [body, secret] }) => {
          expect(await verify(scheme, body, signed(scheme, body, secret), [secret]), scheme.name).toBe('valid');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses a signed body with any single bit flipped (a token authenticates the sender, not the body)', async () => {
    await fc.assert(
      fc.asyncProperty(
        perScheme((s) => fc.tuple(bodyFor(s, 1), s.secret, fc.nat())),
        async ({ scheme, value: [body, secret, bit] }) => {
          const headers = signed(scheme, body, secret);
          const result = await verify(scheme, flipBit(body, bit), headers, [secret]);
          if (scheme.mac) expect(result, scheme.name).not.toBe('valid');
          else expect(result, scheme.name).toBe('valid');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses a signature with any single bit of its MAC flipped', async () => {
    await fc.assert(
      fc.asyncProperty(
        perScheme((s) => fc.tuple(bodyFor(s), s.secret, fc.nat({ max: 255 }))).filter(({ scheme }) => scheme.mac !== undefined),
        async ({ scheme, value: [body, secret, bit] }) => {
          const { prefix, encoding } = scheme.mac!;
          const headers = signed(scheme, body, secret);
          const mac = Buffer.from(headers[scheme.header]!.slice(prefix.length), encoding);
          expect(mac.length).toBe(32);
          const tampered = { ...headers, [scheme.header]: prefix + flipBit(mac, bit).toString(encoding) };
          expect(await verify(scheme, body, tampered, [secret]), scheme.name).toBe('mismatch');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses a signature header with any single bit of any character flipped, but for the letter case of hex digits', async () => {
    let caseOnly = 0;
    await fc.assert(
      fc.asyncProperty(
        perScheme((s) => fc.tuple(bodyFor(s), s.secret, fc.nat(), fc.nat({ max: 7 }))),
        async ({ scheme, value: [body, secret, at, bit] }) => {
          const headers = signed(scheme, body, secret);
          const original = headers[scheme.header]!;
          const flipped = flipChar(original, at, bit);
          const result = await verify(scheme, body, { ...headers, [scheme.header]: flipped }, [secret]);
          // `sha256=` and hex digits read case-insensitively where the provider's receivers do.
          const sameUpToCase = /^[\x20-\x7e]*$/.test(flipped) && flipped.toLowerCase() === original.toLowerCase();
          const what = `${scheme.name}: ${JSON.stringify(original)} → ${JSON.stringify(flipped)}`;
          if (scheme.caseInsensitiveHex && sameUpToCase) {
            caseOnly++;
            expect(result, what).toBe('valid');
          } else expect(result, what).not.toBe('valid');
        },
      ),
      { numRuns: 250 },
    );
    // Both sides were reached: a case-only flip accepted, every other flip refused.
    expect(caseOnly).toBeGreaterThan(0);
  });

  it('refuses a GitLab signature whose signed id or timestamp has any single bit flipped', async () => {
    const scheme = SCHEMES.find((s) => s.signingToken)!;
    await fc.assert(
      fc.asyncProperty(bodyFor(scheme), scheme.secret, fc.constantFrom('webhook-id', 'webhook-timestamp'), fc.nat(), fc.nat({ max: 7 }), async (body, secret, header, at, bit) => {
        const headers = signed(scheme, body, secret);
        const tampered = { ...headers, [header]: flipChar(headers[header]!, at, bit) };
        expect(await verify(scheme, body, tampered, [secret])).not.toBe('valid');
      }),
      { numRuns: 100 },
    );
  });

  it('accepts either of two rotation secrets, in either order, and refuses a third', async () => {
    await fc.assert(
      fc.asyncProperty(
        perScheme((s) => fc.tuple(bodyFor(s), fc.uniqueArray(s.secret, { minLength: 3, maxLength: 3 }))),
        async ({ scheme, value: [body, [current, previous, other]] }) => {
          for (const secret of [current!, previous!]) {
            const headers = signed(scheme, body, secret);
            expect(await verify(scheme, body, headers, [current!, previous!]), scheme.name).toBe('valid');
            expect(await verify(scheme, body, headers, [previous!, current!]), scheme.name).toBe('valid');
          }
          expect(await verify(scheme, body, signed(scheme, body, other!), [current!, previous!]), scheme.name).toBe('mismatch');
        },
      ),
      { numRuns: 120 },
    );
  });

  it('never throws on arbitrary header values: lists, empty, very long or not ASCII', async () => {
    const NAMES = [...new Set(SCHEMES.map((s) => s.header)), 'x-gitea-signature', 'webhook-id', 'webhook-timestamp', 'x-github-delivery', 'x-request-uuid', 'x-request-id', 'idempotency-key', 'x-delivery-id', 'x-github-event', 'x-gitlab-event', 'x-event-key', 'x-event-type', 'content-type', 'content-length'];
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.constant(''),
      fc.constantFrom('sha256=', 'v1,', 'v1, v1,', '0'.repeat(64), `sha256=${'f'.repeat(64)}`, ' ', '\u0000', '\uffff', '\ud800', '1e3', '-1', '999999999999'),
      fc.tuple(fc.constantFrom('a', 'é', '0', ' ', 'v1,x '), fc.integer({ min: 1_000, max: 100_000 })).map(([c, n]) => c.repeat(n)),
    );
    const value = fc.oneof(text, fc.array(text, { maxLength: 3 }), fc.constant(undefined));
    const rawHeaders = fc.dictionary(fc.oneof(fc.constantFrom(...NAMES), fc.constantFrom(...NAMES).map((n) => n.toUpperCase()), fc.string({ maxLength: 12 })), value, {
      maxKeys: 8,
      noNullPrototype: true,
    });
    const SECRETS: Record<string, string> = { 'github-secret': 'gh-secret', 'gitlab-secret': `whsec_${Buffer.alloc(32, 7).toString('base64')}`, 'other-secret': 'plain-secret' };
    const CONFIG = config(
      ...SCHEMES.map((s, i) => ({
        name: `s${i}`,
        repoUrl: `https://git.example.com/org/s${i}.git`,
        provider: s.kind,
        webhookSecretName: s.signingToken ? 'gitlab-secret' : 'github-secret',
        previousWebhookSecretName: 'other-secret',
      })),
    );
    await fc.assert(
      fc.asyncProperty(rawHeaders, fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...SCHEMES.keys()), async (raw, bytes, index) => {
        const scheme = SCHEMES[index]!;
        const body = Buffer.from(bytes);
        const headers = normaliseHeaders(raw);
        const secrets = Object.values(SECRETS);
        const result = await scheme.provider.verify(body, headers, secrets, NOW);
        expect(['missing', 'mismatch', 'expired']).toContain(result);
        const id = scheme.provider.deliveryId(headers, body);
        expect(id).toMatch(/^[\x21-\x7e]{1,200}$/);
        expect(typeof scheme.provider.eventType(headers)).toBe('string');
        // And through intake, where header lists and casing arrive as Node gives them.
        const response = await handleWebhook({ method: 'POST', path: `/hooks/s${index}`, headers: raw, body }, testDeps({ config: CONFIG, secrets: SECRETS }));
        expect(response.statusCode).toBeGreaterThanOrEqual(200);
        expect(response.statusCode).toBeLessThan(500);
        expect(response.body.queued).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
