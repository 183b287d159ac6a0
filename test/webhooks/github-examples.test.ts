/**
 * Every example payload in @octokit/webhooks-examples (GitHub.com and each GHES version), signed as
 * GitHub signs it: every push verifies and normalises to the branch and commit it names; every other
 * event is verified and acknowledged without being queued.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { handleWebhook } from '../../lib/webhooks/intake.js';
import { config, delivery, testDeps } from './deliveries.js';

interface Definition {
  name: string;
  examples: Record<string, unknown>[];
}

const packageDir = dirname(createRequire(import.meta.url).resolve('@octokit/webhooks-examples/package.json'));
const editions = readdirSync(packageDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const definitions = editions.map((edition) => ({
  edition,
  events: JSON.parse(readFileSync(join(packageDir, edition, 'index.json'), 'utf8')) as Definition[],
}));

const pushes = definitions.flatMap(({ edition, events }) =>
  events
    .filter((event) => event.name === 'push')
    .flatMap((event) => event.examples.map((example, index) => ({ label: `${edition} push #${index}`, example }))),
);

const others = definitions.flatMap(({ edition, events }) =>
  events
    .filter((event) => event.name !== 'push')
    .flatMap((event) => event.examples.map((example, index) => ({ label: `${edition} ${event.name} #${index}`, name: event.name, example }))),
);

const SECRET = 'octokit-examples-secret';
const CONFIG = config({ name: 'hello-world', repoUrl: 'https://github.com/Codertocat/Hello-World.git', branch: 'master', provider: 'github', webhookSecretName: 'hook' });

function deps() {
  return testDeps({ config: CONFIG, secrets: { hook: SECRET } });
}

describe('GitHub: @octokit/webhooks-examples', () => {
  it('covers GitHub.com and the GHES editions, with pushes of every kind', () => {
    expect(editions).toContain('api.github.com');
    expect(editions.length).toBeGreaterThan(1);
    const refs = new Set(pushes.map(({ example }) => String(example['ref']).split('/')[1]));
    expect(refs).toEqual(new Set(['heads', 'tags']));
    expect(others.length).toBeGreaterThan(500);
  });

  it.each(pushes)('verifies and normalises $label', async ({ example }) => {
    const d = deps();
    const body = JSON.stringify(example);
    const response = await handleWebhook(delivery('github', { source: 'hello-world', body, secret: SECRET, deliveryId: 'd-1' }), d);
    const ref = example['ref'] as string;
    const after = example['after'] as string;
    if (ref.startsWith('refs/tags/')) {
      expect(response).toMatchObject({ statusCode: 202, body: { queued: false, ignored: 'tag' } });
      expect(d.queue.sent).toEqual([]);
    } else if (example['deleted'] === true) {
      expect(response).toMatchObject({ statusCode: 202, body: { queued: false, ignored: 'branch-deleted' } });
      expect(d.queue.sent).toEqual([]);
    } else {
      expect(ref).toBe('refs/heads/master');
      expect(response).toMatchObject({ statusCode: 202, body: { queued: true, deliveryId: 'd-1', branch: 'master', commit: after } });
      expect(d.queue.sent).toEqual([{ source: 'hello-world', kind: 'push', dedupId: 'd-1', commit: after, receivedAt: expect.any(String) }]);
    }
  });

  it.each(pushes)('rejects $label when one byte of the body changes', async ({ example }) => {
    const d = deps();
    const body = JSON.stringify(example);
    const request = delivery('github', { source: 'hello-world', body, secret: SECRET });
    const response = await handleWebhook({ ...request, body: body.replace('"ref":"', '"ref":" ') }, d);
    expect(response.statusCode).toBe(401);
    expect(d.queue.sent).toEqual([]);
  });

  it('acknowledges every other event type without queueing it', async () => {
    const d = deps();
    const outcomes = new Map<string, number>();
    for (const { name, example } of others) {
      const response = await handleWebhook(delivery('github', { source: 'hello-world', body: JSON.stringify(example), secret: SECRET, event: name }), d);
      const key = `${response.statusCode} ${response.body.ignored ?? (name === 'ping' ? 'ping' : 'queued?')}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (name === 'ping') expect(response.statusCode).toBe(200);
      else expect(response.body).toMatchObject({ queued: false, ignored: 'not-a-push', reason: `event ${name} is not a push; nothing to do` });
    }
    expect(d.queue.sent).toEqual([]);
    expect([...outcomes.keys()].sort()).toEqual(['200 ping', '202 not-a-push']);
  });
});
