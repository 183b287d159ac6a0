/**
 * Each WebhookProvider on its own: which headers it trusts, how it treats signatures that are
 * missing, wrong, stale or ambiguous, which delivery id it picks, and how it reads payloads.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bitbucket } from '../../lib/webhooks/bitbucket.js';
import { generic } from '../../lib/webhooks/generic.js';
import { forgejo, gitea } from '../../lib/webhooks/gitea.js';
import { github } from '../../lib/webhooks/github.js';
import { gitlab, SIGNATURE_TOLERANCE_SECONDS } from '../../lib/webhooks/gitlab.js';
import { normaliseHeaders, PayloadError, safeEqual, verifyHexSignature } from '../../lib/webhooks/provider.js';
import { deliveryHeaders, hexHmac, NOW } from './deliveries.js';

const SECRET = 'shared-secret';
const BODY = Buffer.from('{"ref":"refs/heads/main","after":"' + 'a'.repeat(40) + '"}');

function headersFor(provider: Parameters<typeof deliveryHeaders>[0], options: Partial<Parameters<typeof deliveryHeaders>[1]> = {}) {
  return normaliseHeaders(deliveryHeaders(provider, { source: 's', body: BODY, secret: SECRET, ...options }));
}

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url), 'utf8'));
}

describe('Webhook providers', () => {
  describe('shared helpers', () => {
    it('lower-cases header names and keeps the first of repeated values', () => {
      expect(normaliseHeaders({ 'X-A': 'one', 'x-a': 'two', 'X-B': ['first', 'second'], 'X-C': undefined })).toEqual({ 'x-a': 'one', 'x-b': 'first' });
    });

    it('compares values of different lengths without throwing', () => {
      expect(safeEqual('short', 'a much longer value')).toBe(false);
      expect(safeEqual('same', 'same')).toBe(true);
    });

    it('treats anything but 64 hex digits as a mismatch', () => {
      expect(verifyHexSignature(BODY, 'sha256=zz', [SECRET])).toBe('mismatch');
      expect(verifyHexSignature(BODY, hexHmac(SECRET, BODY).slice(1), [SECRET])).toBe('mismatch');
      expect(verifyHexSignature(BODY, hexHmac(SECRET, BODY).toUpperCase(), [SECRET])).toBe('valid');
    });
  });

  describe('GitHub', () => {
    it('verifies X-Hub-Signature-256 with either of two secrets', async () => {
      expect(await github.verify(BODY, headersFor('github'), ['other', SECRET], NOW)).toBe('valid');
      expect(await github.verify(BODY, headersFor('github'), ['other'], NOW)).toBe('mismatch');
    });

    it('does not accept the SHA-1 X-Hub-Signature in place of X-Hub-Signature-256', async () => {
      const sha1 = createHmac('sha1', SECRET).update(BODY).digest('hex');
      expect(await github.verify(BODY, { 'x-hub-signature': `sha1=${sha1}` }, [SECRET], NOW)).toBe('missing');
    });

    it('refuses an empty body rather than letting the signing library throw', async () => {
      const empty = Buffer.alloc(0);
      expect(await github.verify(empty, { 'x-hub-signature-256': `sha256=${hexHmac(SECRET, empty)}` }, [SECRET], NOW)).toBe('mismatch');
    });

    it('falls back to a body digest when X-GitHub-Delivery is absent or implausible', () => {
      expect(github.deliveryId({ 'x-github-delivery': 'abc-123' }, BODY)).toBe('abc-123');
      expect(github.deliveryId({ 'x-github-delivery': 'has space' }, BODY)).toMatch(/^[0-9a-f]{64}$/);
      expect(github.deliveryId({ 'x-github-delivery': 'x'.repeat(201) }, BODY)).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('GitLab', () => {
    const signingToken = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;

    it('compares X-Gitlab-Token with each secret', async () => {
      expect(await gitlab.verify(BODY, { 'x-gitlab-token': SECRET }, ['old', SECRET], NOW)).toBe('valid');
      expect(await gitlab.verify(BODY, { 'x-gitlab-token': 'guess' }, [SECRET], NOW)).toBe('mismatch');
      expect(await gitlab.verify(BODY, {}, [SECRET], NOW)).toBe('missing');
    });

    it('verifies a signing-token signature over id, timestamp and body', async () => {
      const headers = headersFor('gitlab', { secret: signingToken, signingToken: true, now: NOW });
      expect(await gitlab.verify(BODY, headers, [signingToken], NOW)).toBe('valid');
      expect(await gitlab.verify(Buffer.concat([BODY, Buffer.from(' ')]), headers, [signingToken], NOW)).toBe('mismatch');
      expect(await gitlab.verify(BODY, { ...headers, 'webhook-id': 'other' }, [signingToken], NOW)).toBe('mismatch');
    });

    it('accepts any one of several space-separated signatures', async () => {
      const headers = headersFor('gitlab', { secret: signingToken, signingToken: true, now: NOW });
      const many = { ...headers, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${headers['webhook-signature']}` };
      expect(await gitlab.verify(BODY, many, [signingToken], NOW)).toBe('valid');
    });

    it('refuses a signed delivery whose timestamp is outside the tolerance', async () => {
      const sent = new Date(NOW.getTime() - (SIGNATURE_TOLERANCE_SECONDS + 1) * 1000);
      const headers = headersFor('gitlab', { secret: signingToken, signingToken: true, now: sent });
      expect(await gitlab.verify(BODY, headers, [signingToken], NOW)).toBe('expired');
    });

    it('does not let a valid token header rescue a bad signature', async () => {
      const headers = { ...headersFor('gitlab', { secret: signingToken, signingToken: true, now: NOW }), 'x-gitlab-token': 'plain' };
      const tampered = Buffer.from(BODY.toString().replace('main', 'evil'));
      expect(await gitlab.verify(tampered, headers, [signingToken, 'plain'], NOW)).toBe('mismatch');
    });

    it('checks the token header when Cairn holds no signing token, even if GitLab also signs', async () => {
      const headers = { ...headersFor('gitlab', { secret: signingToken, signingToken: true, now: NOW }), 'x-gitlab-token': 'plain' };
      expect(await gitlab.verify(BODY, headers, ['plain'], NOW)).toBe('valid');
    });

    it('takes Idempotency-Key as the delivery id, then webhook-id, then X-Gitlab-Event-UUID', () => {
      expect(gitlab.deliveryId({ 'idempotency-key': 'k', 'webhook-id': 'w', 'x-gitlab-event-uuid': 'e' }, BODY)).toBe('k');
      expect(gitlab.deliveryId({ 'webhook-id': 'w', 'x-gitlab-event-uuid': 'e' }, BODY)).toBe('w');
      expect(gitlab.deliveryId({ 'x-gitlab-event-uuid': 'e' }, BODY)).toBe('e');
    });

    it('reads pushes from system hooks by object_kind and ignores their other events', () => {
      expect(gitlab.normalise(fixture('gitlab-push.json'), { 'x-gitlab-event': 'System Hook' })).toMatchObject({ kind: 'push' });
      expect(gitlab.normalise({ object_kind: 'project_create' }, { 'x-gitlab-event': 'System Hook' })).toEqual({
        kind: 'other',
        eventType: 'System Hook project_create',
      });
    });

    it('names the repository by its path with namespace', () => {
      expect(gitlab.normalise(fixture('gitlab-push.json'), { 'x-gitlab-event': 'Push Hook' })).toEqual({
        kind: 'push',
        changes: [{ ref: 'refs/heads/master', commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', deleted: false }],
        repository: 'mike/diaspora',
      });
    });
  });

  describe('Gitea and Forgejo', () => {
    it('verifies the bare hex X-Gitea-Signature', async () => {
      expect(await gitea.verify(BODY, headersFor('gitea'), [SECRET], NOW)).toBe('valid');
    });

    it('verifies X-Forgejo-Signature first and is not rescued by a valid X-Gitea-Signature', async () => {
      const headers = { ...headersFor('forgejo'), 'x-forgejo-signature': 'f'.repeat(64) };
      expect(await forgejo.verify(BODY, headers, [SECRET], NOW)).toBe('mismatch');
      expect(await forgejo.verify(BODY, headersFor('forgejo'), [SECRET], NOW)).toBe('valid');
    });

    it('falls back to the GitHub-style X-Hub-Signature-256 newer versions send', async () => {
      expect(await gitea.verify(BODY, { 'x-hub-signature-256': `sha256=${hexHmac(SECRET, BODY)}` }, [SECRET], NOW)).toBe('valid');
    });

    it('reads the Forgejo delivery and event headers before the Gitea ones', () => {
      const headers = { 'x-forgejo-delivery': 'f-1', 'x-gitea-delivery': 'g-1', 'x-forgejo-event': 'push', 'x-gitea-event': 'issues' };
      expect(forgejo.deliveryId(headers, BODY)).toBe('f-1');
      expect(forgejo.eventType(headers)).toBe('push');
    });

    it('normalises the documented Gitea push', () => {
      expect(gitea.normalise(fixture('gitea-push.json'), { 'x-gitea-event': 'push' })).toEqual({
        kind: 'push',
        changes: [{ ref: 'refs/heads/develop', commit: 'bffeb74224043ba2feb48d137756c8a9331c449a', deleted: false }],
        repository: 'gitea/webhooks',
      });
    });
  });

  describe('Bitbucket', () => {
    it('verifies X-Hub-Signature with its sha256= prefix', async () => {
      expect(await bitbucket.verify(BODY, headersFor('bitbucket'), [SECRET], NOW)).toBe('valid');
      expect(await bitbucket.verify(BODY, {}, [SECRET], NOW)).toBe('missing');
    });

    it('takes X-Request-UUID (Cloud) or X-Request-Id (Data Center) as the delivery id', () => {
      expect(bitbucket.deliveryId({ 'x-request-uuid': 'cloud', 'x-hook-uuid': 'hook' }, BODY)).toBe('cloud');
      expect(bitbucket.deliveryId({ 'x-request-id': 'dc' }, BODY)).toBe('dc');
    });

    it('normalises the documented Cloud push', () => {
      expect(bitbucket.normalise(fixture('bitbucket-cloud-push.json'), { 'x-event-key': 'repo:push' })).toEqual({
        kind: 'push',
        changes: [{ ref: 'refs/heads/name-of-branch', commit: '709d658dc5b6d6afcd46049c2f332ee3f515a67d', deleted: false }],
        repository: 'team_name/repo_name',
      });
    });

    it('reads a Data Center branch deletion', () => {
      const payload = fixture('bitbucket-server-refs-changed.json') as { changes: Record<string, unknown>[] };
      payload.changes[0] = { ...payload.changes[0], type: 'DELETE', toHash: '0'.repeat(40) };
      expect(bitbucket.normalise(payload, { 'x-event-key': 'repo:refs_changed' })).toEqual({
        kind: 'push',
        changes: [{ ref: 'refs/heads/master', commit: undefined, deleted: true }],
        repository: 'PROJ/repository',
      });
    });

    it('throws PayloadError for a push without changes', () => {
      expect(() => bitbucket.normalise({ push: {} }, { 'x-event-key': 'repo:push' })).toThrow(PayloadError);
    });
  });

  describe('generic', () => {
    it('verifies X-Signature: sha256=<hex>', async () => {
      expect(await generic.verify(BODY, headersFor('generic'), [SECRET], NOW)).toBe('valid');
      expect(await generic.verify(BODY, { 'x-signature': `sha256=${hexHmac('x', BODY)}` }, [SECRET], NOW)).toBe('mismatch');
    });

    it('treats a delivery without X-Event-Type as a push and answers ping', () => {
      expect(generic.normalise({ branch: 'main', commit: 'A'.repeat(40) }, {})).toEqual({
        kind: 'push',
        changes: [{ ref: 'refs/heads/main', commit: 'a'.repeat(40), deleted: false }],
        repository: undefined,
      });
      expect(generic.normalise({}, { 'x-event-type': 'ping' })).toEqual({ kind: 'ping' });
    });

    it('throws PayloadError naming the field for a push without a ref', () => {
      expect(() => generic.normalise({ after: 'x' }, {})).toThrow(/ref \(or branch\) must be a non-empty string/);
    });
  });
});
