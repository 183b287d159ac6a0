/**
 * handleWebhook end to end over in-memory secrets and queues: routing, every response code,
 * provider fixtures, rotation, Function URL base64 bodies, form-encoded deliveries and deduplication.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../lib/adapters/in-process-queue.js';
import type { Provider } from '../../lib/core/source-config.js';
import { handleWebhook, type WebhookRequest } from '../../lib/webhooks/intake.js';
import { config, delivery, deliveryHeaders, githubStylePush, hexHmac, NOW, testDeps } from './deliveries.js';

const SECRET = 'It5-a-secret';
const SIGNING_TOKEN = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

const CONFIG = config(
  { name: 'gh', repoUrl: 'https://github.com/org/repo.git', provider: 'github', webhookSecretName: 'gh-secret' },
  { name: 'gl', repoUrl: 'https://gitlab.example.com/mike/diaspora.git', branch: 'master', provider: 'gitlab', webhookSecretName: 'gl-secret' },
  { name: 'gl-signed', repoUrl: 'https://gitlab.example.com/mike/diaspora.git', branch: 'master', provider: 'gitlab', webhookSecretName: 'gl-signing' },
  { name: 'gt', repoUrl: 'http://localhost:3000/gitea/webhooks.git', branch: 'develop', provider: 'gitea', webhookSecretName: 'gt-secret' },
  { name: 'fj', repoUrl: 'http://localhost:3000/forgejo/webhooks.git', branch: 'develop', provider: 'forgejo', webhookSecretName: 'fj-secret' },
  { name: 'bb', repoUrl: 'https://bitbucket.org/team_name/repo_name.git', branch: 'name-of-branch', provider: 'bitbucket', webhookSecretName: 'bb-secret' },
  { name: 'bbdc', repoUrl: 'https://bitbucket.example.com/scm/proj/repository.git', branch: 'master', provider: 'bitbucket', webhookSecretName: 'bb-secret' },
  { name: 'any', repoUrl: 'https://git.example.com/org/repo.git', provider: 'generic', webhookSecretName: 'any-secret' },
  {
    name: 'rotating',
    repoUrl: 'https://github.com/org/rotating.git',
    provider: 'github',
    webhookSecretName: 'new-secret',
    previousWebhookSecretName: 'old-secret',
  },
);

const SECRETS = {
  'gh-secret': SECRET,
  'gl-secret': SECRET,
  'gl-signing': SIGNING_TOKEN,
  'gt-secret': SECRET,
  'fj-secret': SECRET,
  'bb-secret': SECRET,
  'any-secret': SECRET,
  'new-secret': 'the-new-one',
  'old-secret': 'the-old-one',
};

function deps(overrides: { maxBodyBytes?: number; secrets?: Record<string, string> } = {}) {
  return testDeps({ config: CONFIG, secrets: overrides.secrets ?? SECRETS, ...overrides });
}

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url), 'utf8');
}

describe('Use case: webhook intake', () => {
  describe('documented push payloads', () => {
    const cases: { name: string; provider: Provider; source: string; file: string; commit: string; event?: string; signingToken?: boolean }[] = [
      { name: 'GitLab', provider: 'gitlab', source: 'gl', file: 'gitlab-push.json', commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' },
      {
        name: 'GitLab with a signing token',
        provider: 'gitlab',
        source: 'gl-signed',
        file: 'gitlab-push.json',
        commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        signingToken: true,
      },
      { name: 'Gitea', provider: 'gitea', source: 'gt', file: 'gitea-push.json', commit: 'bffeb74224043ba2feb48d137756c8a9331c449a' },
      { name: 'Forgejo', provider: 'forgejo', source: 'fj', file: 'forgejo-push.json', commit: 'bffeb74224043ba2feb48d137756c8a9331c449a' },
      { name: 'Bitbucket Cloud', provider: 'bitbucket', source: 'bb', file: 'bitbucket-cloud-push.json', commit: '709d658dc5b6d6afcd46049c2f332ee3f515a67d' },
      {
        name: 'Bitbucket Data Center',
        provider: 'bitbucket',
        source: 'bbdc',
        file: 'bitbucket-server-refs-changed.json',
        commit: '178864a7d521b6f5e720b386b2c2b0ef8563e0dc',
        event: 'repo:refs_changed',
      },
    ];

    it.each(cases)('queues a $name push to the configured branch', async ({ provider, source, file, commit, event, signingToken }) => {
      const d = deps();
      const secret = signingToken ? SIGNING_TOKEN : SECRET;
      const request = delivery(provider, { source, body: fixture(file), secret, deliveryId: `${source}-1`, ...(event ? { event } : {}), ...(signingToken ? { signingToken } : {}) });
      const response = await handleWebhook(request, d);
      expect(response.statusCode).toBe(202);
      expect(response.body).toMatchObject({ queued: true, deliveryId: `${source}-1`, commit });
      expect(d.queue.sent).toEqual([{ source, kind: 'push', dedupId: `${source}-1`, commit, receivedAt: NOW.toISOString() }]);
    });

    it('acknowledges a GitLab tag push without queueing it', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('gitlab', { source: 'gl', body: fixture('gitlab-tag-push.json'), secret: SECRET, event: 'Tag Push Hook' }), d);
      expect(response.statusCode).toBe(202);
      expect(response.body).toMatchObject({ queued: false, ignored: 'tag' });
      expect(response.body.reason).toContain('refs/tags/v1.0.0');
      expect(d.queue.sent).toEqual([]);
    });

    it('acknowledges a push to another branch, naming the branch the source follows', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('gitea', { source: 'gt', body: githubStylePush('refs/heads/feature'), secret: SECRET }), d);
      expect(response.statusCode).toBe(202);
      expect(response.body).toMatchObject({ queued: false, ignored: 'other-branch' });
      expect(response.body.reason).toBe('push to refs/heads/feature ignored: source gt follows branch develop');
      expect(d.logs.at(-1)).toMatchObject({ outcome: 'ignored', ignored: 'other-branch', source: 'gt', level: 'info' });
      expect(d.queue.sent).toEqual([]);
    });

    it('acknowledges the deletion of the configured branch without queueing it', async () => {
      const d = deps();
      const body = githubStylePush('refs/heads/main', '0'.repeat(40), { deleted: true });
      const response = await handleWebhook(delivery('github', { source: 'gh', body, secret: SECRET }), d);
      expect(response.body).toMatchObject({ queued: false, ignored: 'branch-deleted' });
      expect(d.queue.sent).toEqual([]);
    });

    it('acknowledges a GitLab branch deletion, which shows as an all-zero after', async () => {
      const d = deps();
      const payload = { ...JSON.parse(fixture('gitlab-push.json')), after: '0'.repeat(40), checkout_sha: null };
      const response = await handleWebhook(delivery('gitlab', { source: 'gl', body: JSON.stringify(payload), secret: SECRET }), d);
      expect(response.body).toMatchObject({ queued: false, ignored: 'branch-deleted' });
    });

    it('picks the configured branch out of a Bitbucket push that moved several refs', async () => {
      const d = deps();
      const payload = JSON.parse(fixture('bitbucket-cloud-push.json'));
      const change = payload.push.changes[0];
      payload.push.changes = [
        { ...change, new: { ...change.new, type: 'tag', name: 'v2' } },
        { ...change, new: { ...change.new, name: 'other' } },
        change,
      ];
      const response = await handleWebhook(delivery('bitbucket', { source: 'bb', body: JSON.stringify(payload), secret: SECRET }), d);
      expect(response.body).toMatchObject({ queued: true, commit: '709d658dc5b6d6afcd46049c2f332ee3f515a67d' });
    });

    it('acknowledges a Bitbucket Cloud push that deleted the branch (new is null)', async () => {
      const d = deps();
      const payload = JSON.parse(fixture('bitbucket-cloud-push.json'));
      payload.push.changes[0].new = null;
      payload.push.changes[0].closed = true;
      const response = await handleWebhook(delivery('bitbucket', { source: 'bb', body: JSON.stringify(payload), secret: SECRET }), d);
      expect(response.body).toMatchObject({ queued: false, ignored: 'branch-deleted' });
    });

    it('queues a generic push that names the branch without refs/heads/', async () => {
      const d = deps();
      const body = JSON.stringify({ ref: 'main', after: 'c'.repeat(40) });
      const response = await handleWebhook(delivery('generic', { source: 'any', body, secret: SECRET, deliveryId: 'g-1' }), d);
      expect(response.body).toMatchObject({ queued: true, deliveryId: 'g-1', commit: 'c'.repeat(40) });
    });

    it('uses a digest of the body as the delivery id when a generic sender sends none', async () => {
      const d = deps();
      const body = JSON.stringify({ ref: 'main' });
      const request = delivery('generic', { source: 'any', body, secret: SECRET });
      delete (request.headers as Record<string, string>)['X-Delivery-Id'];
      const response = await handleWebhook(request, d);
      expect(response.body.deliveryId).toMatch(/^[0-9a-f]{64}$/);
      expect(d.queue.sent[0]?.commit).toBeUndefined();
    });
  });

  describe('pings and other events', () => {
    it('answers a GitHub ping once its signature is verified', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('github', { source: 'gh', body: '{"zen":"Keep it logically awesome."}', secret: SECRET, event: 'ping' }), d);
      expect(response.statusCode).toBe(200);
      expect(response.body).toMatchObject({ queued: false });
      expect(response.body.reason).toContain('verified');
      expect(d.queue.sent).toEqual([]);
    });

    it('rejects a ping whose signature does not match, so a wrong secret shows at setup', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('github', { source: 'gh', body: '{}', secret: 'wrong', event: 'ping' }), d);
      expect(response.statusCode).toBe(401);
    });

    it('answers a Bitbucket Data Center test connection', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('bitbucket', { source: 'bbdc', body: '{"test":true}', secret: SECRET, event: 'diagnostics:ping' }), d);
      expect(response.statusCode).toBe(200);
    });

    it('acknowledges an event that is not a push with its name in the reason', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('gitlab', { source: 'gl', body: '{"object_kind":"issue"}', secret: SECRET, event: 'Issue Hook' }), d);
      expect(response.statusCode).toBe(202);
      expect(response.body).toMatchObject({ queued: false, ignored: 'not-a-push', reason: 'event Issue Hook is not a push; nothing to do' });
    });
  });

  describe('response codes', () => {
    it('answers 404 for a source that is not configured', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('github', { source: 'nope', body: githubStylePush('refs/heads/main'), secret: SECRET }), d);
      expect(response).toEqual({ statusCode: 404, body: { queued: false, error: 'no source named nope is configured' } });
    });

    it('answers 404 for a path outside /hooks/{source}', async () => {
      const response = await handleWebhook({ method: 'POST', path: '/', headers: {}, body: '' }, deps());
      expect(response.statusCode).toBe(404);
    });

    it('answers 405 with an Allow header for a method other than POST', async () => {
      const response = await handleWebhook({ method: 'GET', path: '/hooks/gh', headers: {}, body: undefined }, deps());
      expect(response.statusCode).toBe(405);
      expect(response.headers).toEqual({ allow: 'POST' });
    });

    it('answers 401 when the signature header is missing', async () => {
      const d = deps();
      const request = delivery('github', { source: 'gh', body: githubStylePush('refs/heads/main'), secret: SECRET });
      delete (request.headers as Record<string, string>)['X-Hub-Signature-256'];
      const response = await handleWebhook(request, d);
      expect(response.statusCode).toBe(401);
      expect(response.body.error).toBe('missing signature: expected X-Hub-Signature-256');
      expect(d.queue.sent).toEqual([]);
    });

    it('rejects a body whose signature does not match', async () => {
      const d = deps();
      const request = delivery('github', { source: 'gh', body: githubStylePush('refs/heads/main'), secret: SECRET });
      const response = await handleWebhook({ ...request, body: githubStylePush('refs/heads/main', 'd'.repeat(40)) }, d);
      expect(response.statusCode).toBe(401);
      expect(response.body.error).toContain('signature does not match');
      expect(d.logs.at(-1)).toMatchObject({ level: 'warn', outcome: 'rejected', statusCode: 401 });
      expect(d.queue.sent).toEqual([]);
    });

    it('answers 413 from the Content-Length header alone, before fetching any secret', async () => {
      const d = deps({ maxBodyBytes: 1000 });
      const request: WebhookRequest = { method: 'POST', path: '/hooks/gh', headers: { 'Content-Length': '5000000' }, body: '{}' };
      const response = await handleWebhook(request, d);
      expect(response.statusCode).toBe(413);
      expect(response.body.error).toBe('body of 5000000 bytes is over the limit of 1000 bytes');
      expect((d.secrets as unknown as { calls: string[] }).calls).toEqual([]);
    });

    it('answers 413 from the body length when Content-Length understates it', async () => {
      const d = deps({ maxBodyBytes: 1000 });
      const body = githubStylePush('refs/heads/main', 'a'.repeat(40), { padding: 'x'.repeat(2000) });
      const request = delivery('github', { source: 'gh', body, secret: SECRET });
      const response = await handleWebhook({ ...request, headers: { ...request.headers, 'content-length': '10' } }, d);
      expect(response.statusCode).toBe(413);
    });

    it('applies the 1 MiB default limit', async () => {
      const body = 'x'.repeat(1024 * 1024 + 1);
      const response = await handleWebhook({ method: 'POST', path: '/hooks/gh', headers: {}, body }, deps());
      expect(response.statusCode).toBe(413);
    });

    it('answers 400 for a verified body that is not JSON', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('github', { source: 'gh', body: '{"ref": ', secret: SECRET }), d);
      expect(response.statusCode).toBe(400);
      expect(response.body.error).toMatch(/^body is not valid JSON/);
    });

    it('answers 400 for a verified push payload without a ref', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('github', { source: 'gh', body: '{"after":"x"}', secret: SECRET }), d);
      expect(response.statusCode).toBe(400);
      expect(response.body.error).toBe('GitHub push payload: ref must be a non-empty string');
    });

    it('answers 400 for a verified push payload that is not an object', async () => {
      const d = deps();
      const response = await handleWebhook(delivery('gitea', { source: 'gt', body: '[1,2]', secret: SECRET }), d);
      expect(response.statusCode).toBe(400);
      expect(response.body.error).toBe('Gitea push payload must be a JSON object, got an array');
    });

    it('answers 503 without detail when the webhook secret cannot be read, and logs why', async () => {
      const d = deps({ secrets: {} });
      const response = await handleWebhook(delivery('github', { source: 'gh', body: githubStylePush('refs/heads/main'), secret: SECRET }), d);
      expect(response.statusCode).toBe(503);
      expect(response.body).toEqual({ queued: false, error: 'the webhook secret is unavailable; retry later' });
      expect(d.logs.at(-1)).toMatchObject({ level: 'error', outcome: 'failed', error: 'Secret gh-secret does not exist' });
    });

    it('answers 503 when the queue refuses the message', async () => {
      const d = deps();
      d.queue.send = async () => {
        throw new Error('queue is down');
      };
      const response = await handleWebhook(delivery('github', { source: 'gh', body: githubStylePush('refs/heads/main'), secret: SECRET }), d);
      expect(response.statusCode).toBe(503);
      expect(d.logs.at(-1)).toMatchObject({ outcome: 'failed', error: 'queue is down' });
    });

    it('never accepts an empty secret value, whatever the signature', async () => {
      const d = deps({ secrets: { ...SECRETS, 'gh-secret': '' } });
      const body = githubStylePush('refs/heads/main');
      const request = delivery('github', { source: 'gh', body, secret: '' });
      const response = await handleWebhook(request, d);
      expect(response.statusCode).toBe(503);
      expect(d.queue.sent).toEqual([]);
    });
  });

  describe('secret rotation', () => {
    it.each([['the-new-one'], ['the-old-one']])('accepts deliveries signed with %s while both are configured', async (secret) => {
      const d = deps();
      const response = await handleWebhook(delivery('github', { source: 'rotating', body: githubStylePush('refs/heads/main'), secret }), d);
      expect(response.statusCode).toBe(202);
      expect(response.body.queued).toBe(true);
    });

    it('rejects a secret that is neither the current nor the previous one', async () => {
      const response = await handleWebhook(delivery('github', { source: 'rotating', body: githubStylePush('refs/heads/main'), secret: 'the-oldest-one' }), deps());
      expect(response.statusCode).toBe(401);
    });

    it('keeps accepting the current secret when the previous one was already deleted, with a warning', async () => {
      const d = deps({ secrets: { 'new-secret': 'the-new-one' } });
      const response = await handleWebhook(delivery('github', { source: 'rotating', body: githubStylePush('refs/heads/main'), secret: 'the-new-one' }), d);
      expect(response.statusCode).toBe(202);
      expect(d.logs.at(-1)).toMatchObject({ level: 'warn', outcome: 'queued', warnings: ['using 1 of 2 webhook secrets: Secret old-secret does not exist'] });
    });

    it('ignores the trailing newline a secret stored from a file carries', async () => {
      const d = deps({ secrets: { ...SECRETS, 'gh-secret': `${SECRET}\n` } });
      const response = await handleWebhook(delivery('github', { source: 'gh', body: githubStylePush('refs/heads/main'), secret: SECRET }), d);
      expect(response.statusCode).toBe(202);
    });
  });

  describe('body encodings', () => {
    it('verifies a base64 body from a Function URL over its decoded bytes', async () => {
      const d = deps();
      const body = githubStylePush('refs/heads/main', 'e'.repeat(40), { message: 'café ✓' });
      const request = delivery('github', { source: 'gh', body, secret: SECRET, deliveryId: 'b64' });
      const response = await handleWebhook({ ...request, body: Buffer.from(body).toString('base64'), isBase64Encoded: true }, d);
      expect(response.statusCode).toBe(202);
      expect(d.queue.sent[0]).toMatchObject({ dedupId: 'b64', commit: 'e'.repeat(40) });
    });

    it('verifies and reads a form-encoded GitHub delivery', async () => {
      const d = deps();
      const json = githubStylePush('refs/heads/main', 'f'.repeat(40), { message: 'a & b = c+d' });
      const body = new URLSearchParams({ payload: json }).toString();
      const request = delivery('github', { source: 'gh', body, secret: SECRET, contentType: 'application/x-www-form-urlencoded' });
      const response = await handleWebhook(request, d);
      expect(response.statusCode).toBe(202);
      expect(d.queue.sent[0]?.commit).toBe('f'.repeat(40));
    });

    it('answers 400 for a form-encoded delivery without a payload field', async () => {
      const body = 'other=1';
      const request = delivery('github', { source: 'gh', body, secret: SECRET, contentType: 'application/x-www-form-urlencoded; charset=utf-8' });
      const response = await handleWebhook(request, deps());
      expect(response).toMatchObject({ statusCode: 400, body: { error: 'form-encoded body has no payload field' } });
    });

    it('reads header names in any case', async () => {
      const body = githubStylePush('refs/heads/main');
      const response = await handleWebhook(
        {
          method: 'post',
          path: '/hooks/gh',
          headers: { 'x-hub-SIGNATURE-256': `sha256=${hexHmac(SECRET, body)}`, 'X-GITHUB-EVENT': 'push', 'x-github-delivery': 'case' },
          body: Buffer.from(body),
        },
        deps(),
      );
      expect(response.statusCode).toBe(202);
    });

    it('refuses a GitHub body that is not valid UTF-8 even when its bytes carry a valid HMAC', async () => {
      const d = deps();
      const body = Buffer.concat([Buffer.from('{"ref":"refs/heads/main","x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      const headers = deliveryHeaders('github', { source: 'gh', body, secret: SECRET });
      const response = await handleWebhook({ method: 'POST', path: '/hooks/gh', headers, body }, d);
      expect(response.statusCode).toBe(401);
    });
  });

  describe('deduplication', () => {
    it('queues the same delivery sent twice once', async () => {
      const queue = new InProcessQueue({ clock: () => NOW.getTime() });
      const d = { ...deps(), queue };
      const request = delivery('github', { source: 'gh', body: githubStylePush('refs/heads/main'), secret: SECRET, deliveryId: 'twice' });
      const first = await handleWebhook(request, d);
      const second = await handleWebhook(request, d);
      expect(first.body).toMatchObject({ queued: true, deliveryId: 'twice' });
      expect(second.statusCode).toBe(202);
      expect(second.body).toMatchObject({ queued: false, duplicate: true, deliveryId: 'twice' });
      expect(queue.depth().visible).toBe(1);
    });

    it('keys GitLab deliveries on Idempotency-Key, which GitLab keeps across retries', async () => {
      const queue = new InProcessQueue({ clock: () => NOW.getTime() });
      const d = { ...deps(), queue };
      const body = fixture('gitlab-push.json');
      // Each retry carries a fresh X-Gitlab-Event-UUID but the same Idempotency-Key.
      await handleWebhook(delivery('gitlab', { source: 'gl', body, secret: SECRET, deliveryId: 'idem-1' }), d);
      const retry = await handleWebhook(delivery('gitlab', { source: 'gl', body, secret: SECRET, deliveryId: 'idem-1' }), d);
      expect(retry.body.duplicate).toBe(true);
      expect(queue.depth().visible).toBe(1);
    });
  });
});
