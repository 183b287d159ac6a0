/**
 * Property tests of webhook intake with fast-check: thousands of random requests and of genuine
 * deliveries mutated in body, headers, signature, method, path and encoding. Whatever arrives, the
 * answer is never a 5xx, nothing is queued that an independent check of the provider's signature
 * scheme would not accept, and nothing that check accepts is refused as unauthenticated.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../lib/adapters/in-process-queue.js';
import type { Provider } from '../../lib/core/source-config.js';
import { handleWebhook, type WebhookRequest } from '../../lib/webhooks/intake.js';
import { config, deliveryHeaders, githubStylePush, NOW, testDeps } from './deliveries.js';

const SIGNING_TOKEN = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const MAX_BODY_BYTES = 16 * 1024;

interface Source {
  name: string;
  provider: Provider;
  secret: string;
  signingToken: boolean;
}

const SOURCES: Source[] = [
  { name: 'gh', provider: 'github', secret: 'gh-secret-value', signingToken: false },
  { name: 'gl', provider: 'gitlab', secret: 'gl-token-value', signingToken: false },
  { name: 'gls', provider: 'gitlab', secret: SIGNING_TOKEN, signingToken: true },
  { name: 'gt', provider: 'gitea', secret: 'gt-secret-value', signingToken: false },
  { name: 'fj', provider: 'forgejo', secret: 'fj-secret-value', signingToken: false },
  { name: 'bb', provider: 'bitbucket', secret: 'bb-secret-value', signingToken: false },
  { name: 'any', provider: 'generic', secret: 'any-secret-value', signingToken: false },
];

const CONFIG = config(
  ...SOURCES.map((s) => ({ name: s.name, repoUrl: `https://git.example.com/${s.name}.git`, provider: s.provider, webhookSecretName: `${s.name}-secret` })),
);
const SECRETS = Object.fromEntries(SOURCES.map((s) => [`${s.name}-secret`, s.secret]));

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url), 'utf8');
}

const BODIES = [
  githubStylePush('refs/heads/main'),
  githubStylePush('refs/heads/main', '0'.repeat(40), { deleted: true }),
  githubStylePush('refs/tags/v1.0.0'),
  githubStylePush('refs/heads/other'),
  JSON.stringify({ ref: 'main' }),
  fixture('gitlab-push.json').replace('refs/heads/master', 'refs/heads/main'),
  fixture('gitea-push.json').replace('refs/heads/develop', 'refs/heads/main'),
  fixture('bitbucket-cloud-push.json').replaceAll('name-of-branch', 'main'),
];

const EVENTS = ['push', 'ping', 'Push Hook', 'Tag Push Hook', 'System Hook', 'repo:push', 'repo:refs_changed', 'diagnostics:ping', 'issues'];

const HEADER_NAMES = [
  'content-type',
  'content-length',
  'x-hub-signature-256',
  'x-hub-signature',
  'x-github-event',
  'x-github-delivery',
  'x-gitlab-token',
  'x-gitlab-event',
  'idempotency-key',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-gitea-signature',
  'x-forgejo-signature',
  'x-gitea-event',
  'x-forgejo-event',
  'x-event-key',
  'x-request-uuid',
  'x-signature',
  'x-event-type',
  'x-delivery-id',
];

/** A request as bytes, so mutations and the oracle see exactly what the handler decodes. */
interface Draft {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  base64: boolean;
}

function toRequest(draft: Draft): WebhookRequest {
  return {
    method: draft.method,
    path: draft.path,
    headers: draft.headers,
    body: draft.base64 ? draft.body.toString('base64') : draft.body,
    isBase64Encoded: draft.base64,
  };
}

/** Lower-case names, first value wins: how a receiver must read headers (RFC 9110 names are case-insensitive). */
function lower(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!(name.toLowerCase() in out)) out[name.toLowerCase()] = value;
  return out;
}

function hexMatches(header: string | undefined, body: Buffer, secret: string): boolean {
  if (header === undefined) return false;
  const given = header.trim().replace(/^sha256=/i, '').toLowerCase();
  return given === createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * Each provider's documented scheme, checked independently of lib/webhooks: would a receiver that
 * follows the documentation accept this body and these headers for `source`?
 */
function genuinelySigned(source: Source, body: Buffer, rawHeaders: Record<string, string>): boolean {
  const h = lower(rawHeaders);
  const present = (name: string) => (h[name] === '' ? undefined : h[name]);
  switch (source.provider) {
    case 'github': {
      let utf8 = true;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        utf8 = false;
      }
      return utf8 && body.length > 0 && h['x-hub-signature-256'] === `sha256=${createHmac('sha256', source.secret).update(body).digest('hex')}`;
    }
    case 'gitea':
    case 'forgejo':
      return hexMatches(present('x-forgejo-signature') ?? present('x-gitea-signature') ?? present('x-hub-signature-256'), body, source.secret);
    case 'bitbucket':
      return hexMatches(present('x-hub-signature'), body, source.secret);
    case 'generic':
      return hexMatches(present('x-signature'), body, source.secret);
    case 'gitlab': {
      if (source.signingToken && present('webhook-signature')) {
        const id = h['webhook-id'];
        const ts = h['webhook-timestamp'];
        if (!id || !ts || !/^\d{1,12}$/.test(ts) || Math.abs(NOW.getTime() / 1000 - Number(ts)) > 300) return false;
        const key = Buffer.from(source.secret.slice('whsec_'.length), 'base64');
        const expected = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest('base64');
        return h['webhook-signature']!.split(' ').includes(`v1,${expected}`);
      }
      return h['x-gitlab-token'] === source.secret;
    }
  }
}

type Mutation =
  | { kind: 'flip-byte'; at: number; xor: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'replace-body'; bytes: Uint8Array }
  | { kind: 'set-header'; name: string; value: string }
  | { kind: 'delete-header'; name: string }
  | { kind: 'flip-header-char'; name: string; at: number }
  | { kind: 'tamper-signature'; how: 'random' | 'shorten' | 'extend' | 'upper' | 'unprefix' | 'other-hex'; text: string }
  | { kind: 'upper-case-names' }
  | { kind: 'base64' }
  | { kind: 'method'; value: string }
  | { kind: 'path'; value: string };

const SIGNATURE_HEADERS = new Set([
  'x-hub-signature-256',
  'x-hub-signature',
  'x-gitea-signature',
  'x-forgejo-signature',
  'x-signature',
  'x-gitlab-token',
  'webhook-signature',
]);

function tamper(value: string, how: 'random' | 'shorten' | 'extend' | 'upper' | 'unprefix' | 'other-hex', text: string): string {
  switch (how) {
    case 'random':
      return text;
    case 'shorten':
      return value.slice(0, -1);
    case 'extend':
      return `${value}${text || 'a'}`;
    case 'upper':
      return value.toUpperCase();
    case 'unprefix':
      return value.replace(/^sha256=/, '');
    case 'other-hex':
      return `sha256=${createHmac('sha256', text).update(value).digest('hex')}`;
  }
}

const headerName = fc.oneof(fc.constantFrom(...HEADER_NAMES), fc.string({ maxLength: 20 }));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip-byte' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
  fc.record({ kind: fc.constant('replace-body' as const), bytes: fc.uint8Array({ maxLength: 256 }) }),
  fc.record({ kind: fc.constant('set-header' as const), name: headerName, value: fc.string({ maxLength: 80 }) }),
  fc.record({ kind: fc.constant('delete-header' as const), name: fc.constantFrom(...HEADER_NAMES) }),
  fc.record({ kind: fc.constant('flip-header-char' as const), name: fc.constantFrom(...HEADER_NAMES), at: fc.nat() }),
  fc.record({
    kind: fc.constant('tamper-signature' as const),
    how: fc.constantFrom('random' as const, 'shorten' as const, 'extend' as const, 'upper' as const, 'unprefix' as const, 'other-hex' as const),
    text: fc.string({ maxLength: 70 }),
  }),
  fc.constant({ kind: 'upper-case-names' as const }),
  fc.constant({ kind: 'base64' as const }),
  fc.record({ kind: fc.constant('method' as const), value: fc.constantFrom('GET', 'PUT', 'post', 'DELETE', 'OPTIONS') }),
  fc.record({ kind: fc.constant('path' as const), value: fc.oneof(fc.constantFrom('/hooks/', '/hooks/gh/x', '/', '/hooks/GH'), fc.string()) }),
);

function apply(draft: Draft, m: Mutation): Draft {
  switch (m.kind) {
    case 'flip-byte': {
      if (draft.body.length === 0) return draft;
      const body = Buffer.from(draft.body);
      const at = m.at % body.length;
      body[at] = body[at]! ^ m.xor;
      return { ...draft, body };
    }
    case 'truncate':
      return { ...draft, body: draft.body.subarray(0, m.at % (draft.body.length + 1)) };
    case 'append':
      return { ...draft, body: Buffer.concat([draft.body, m.bytes]) };
    case 'replace-body':
      return { ...draft, body: Buffer.from(m.bytes) };
    case 'set-header': {
      const others = Object.entries(draft.headers).filter(([name]) => name.toLowerCase() !== m.name.toLowerCase());
      return { ...draft, headers: { ...Object.fromEntries(others), [m.name]: m.value } };
    }
    case 'delete-header': {
      const headers = Object.fromEntries(Object.entries(draft.headers).filter(([name]) => name.toLowerCase() !== m.name));
      return { ...draft, headers };
    }
    case 'flip-header-char': {
      const entry = Object.entries(draft.headers).find(([name]) => name.toLowerCase() === m.name);
      if (!entry || entry[1].length === 0) return draft;
      const chars = [...entry[1]];
      const at = m.at % chars.length;
      chars[at] = chars[at] === '0' ? '1' : '0';
      return { ...draft, headers: { ...draft.headers, [entry[0]]: chars.join('') } };
    }
    case 'tamper-signature': {
      const headers = { ...draft.headers };
      for (const [name, value] of Object.entries(headers)) {
        if (!SIGNATURE_HEADERS.has(name.toLowerCase())) continue;
        headers[name] = tamper(value, m.how, m.text);
      }
      return { ...draft, headers };
    }
    case 'upper-case-names':
      return { ...draft, headers: Object.fromEntries(Object.entries(draft.headers).map(([n, v]) => [n.toUpperCase(), v])) };
    case 'base64':
      return { ...draft, base64: true };
    case 'method':
      return { ...draft, method: m.value };
    case 'path':
      return { ...draft, path: m.value };
  }
}

const genuineDraft = fc
  .record({
    source: fc.constantFrom(...SOURCES),
    body: fc.oneof(
      { arbitrary: fc.constantFrom(...BODIES), weight: 6 },
      { arbitrary: fc.json({ maxDepth: 3 }), weight: 1 },
      { arbitrary: fc.string({ maxLength: 200 }), weight: 1 },
    ),
    // Mostly each provider's own push event, so that many cases would be queued unmutated.
    event: fc.option(fc.constantFrom(...EVENTS), { nil: undefined, freq: 2 }),
    deliveryId: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
  })
  .map(({ source, body, event, deliveryId }) => {
    const headers = deliveryHeaders(source.provider, {
      source: source.name,
      body,
      secret: source.secret,
      signingToken: source.signingToken,
      now: NOW,
      ...(event === undefined ? {} : { event }),
      ...(deliveryId === undefined ? {} : { deliveryId }),
    });
    const draft: Draft = { method: 'POST', path: `/hooks/${source.name}`, headers, body: Buffer.from(body, 'utf8'), base64: false };
    return { source, draft };
  });

const randomDraft: fc.Arbitrary<Draft> = fc.record({
  method: fc.oneof(fc.constant('POST'), fc.string({ maxLength: 8 })),
  path: fc.oneof(fc.constantFrom(...SOURCES.map((s) => `/hooks/${s.name}`)), fc.string({ maxLength: 30 })),
  headers: fc.dictionary(headerName, fc.string({ maxLength: 100 }), { maxKeys: 8 }),
  body: fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.json({ maxDepth: 4 }).map((j) => new Uint8Array(Buffer.from(j)))).map((b) => Buffer.from(b)),
  base64: fc.boolean(),
});

function sourceOf(path: string): Source | undefined {
  const name = /^\/hooks\/([^/]+)\/?$/.exec(path)?.[1];
  return SOURCES.find((s) => s.name === name);
}

async function run(draft: Draft) {
  const deps = testDeps({ config: CONFIG, secrets: SECRETS, maxBodyBytes: MAX_BODY_BYTES });
  const response = await handleWebhook(toRequest(draft), deps);
  return { response, sent: deps.queue.sent };
}

describe('Use case: webhook intake under fuzzing', () => {
  it('never answers 5xx and never queues a random request', async () => {
    await fc.assert(
      fc.asyncProperty(randomDraft, async (draft) => {
        const { response, sent } = await run(draft);
        expect(response.statusCode).toBeLessThan(500);
        expect(response.statusCode).toBeGreaterThanOrEqual(200);
        expect(sent).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  it('queues a mutated delivery only when its signature still holds, and never answers 5xx', async () => {
    let queued = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(genuineDraft, fc.array(mutation, { maxLength: 3 }), async ({ draft: original }, mutations) => {
        const draft = mutations.reduce(apply, original);
        const { response, sent } = await run(draft);
        expect(response.statusCode).toBeLessThan(500);
        const source = sourceOf(draft.path);
        const signed = source !== undefined && genuinelySigned(source, draft.body, draft.headers);
        if (sent.length > 0) {
          expect(signed).toBe(true);
          queued += 1;
        }
        if (response.statusCode === 401) rejected += 1;
        // The reverse: what the documented scheme accepts is not refused as unauthenticated.
        const routed = draft.method.toUpperCase() === 'POST' && source !== undefined && draft.body.length <= MAX_BODY_BYTES;
        if (signed && routed) expect(response.statusCode).not.toBe(401);
      }),
      { numRuns: 4000 },
    );
    // The generators reach both sides of the property, or it would hold vacuously.
    expect(queued).toBeGreaterThan(200);
    expect(rejected).toBeGreaterThan(200);
  });

  it('queues the same genuine delivery sent twice once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SOURCES), fc.uuid(), fc.boolean(), async (source, deliveryId, base64) => {
        const queue = new InProcessQueue({ clock: () => NOW.getTime() });
        const deps = { ...testDeps({ config: CONFIG, secrets: SECRETS }), queue };
        const body = githubStylePush('refs/heads/main');
        const headers = deliveryHeaders(source.provider, { source: source.name, body, secret: source.secret, signingToken: source.signingToken, deliveryId });
        const draft: Draft = { method: 'POST', path: `/hooks/${source.name}`, headers, body: Buffer.from(body), base64 };
        // GitLab, Gitea and Bitbucket send their own shapes; the GitHub-shaped body is what each reads as a push.
        const payloadBody = source.provider === 'bitbucket' ? fixture('bitbucket-cloud-push.json').replaceAll('name-of-branch', 'main') : body;
        const signedDraft =
          payloadBody === body
            ? draft
            : { ...draft, body: Buffer.from(payloadBody), headers: deliveryHeaders(source.provider, { source: source.name, body: payloadBody, secret: source.secret, deliveryId }) };
        const first = await handleWebhook(toRequest(signedDraft), deps);
        const second = await handleWebhook(toRequest(signedDraft), deps);
        expect(first.body.queued).toBe(true);
        expect(second.body).toMatchObject({ queued: false, duplicate: true });
        expect(queue.depth().visible).toBe(1);
      }),
      { numRuns: 200 },
    );
  });
});
