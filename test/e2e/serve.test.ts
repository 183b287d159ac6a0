/** `cairn serve` and `cairn demo` as a user runs them: child processes, real git over HTTP, signed webhooks. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cairnAsync, startServe, until } from '../helpers/cli.js';
import { commit, createRepo, startGitServer, type GitServer } from '../helpers/git-server.js';
import { deliveryHeaders, githubStylePush } from '../webhooks/deliveries.js';
import { exampleFiles } from '../../lib/cli/example.js';


const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('End to end: cairn serve', () => {
  it('applies a signed GitHub push for a new commit, and answers a wrong signature with 401 and no change', async () => {
    const home = mkdtempSync(join(tmpdir(), 'cairn-serve-'));
    const server: GitServer = await startGitServer();
    cleanup.push(() => rmSync(home, { recursive: true, force: true }), () => server.stop());
    const repo = await createRepo(server, 'platform', exampleFiles());
    const env = { ...process.env, CAIRN_HOME: home, CAIRN_WEBHOOK_SECRET: 's3cret', NO_COLOR: '1', TMPDIR: home };
    const serving = await startServe(['--repo', repo.url!, '--port', '0', '--sweep-every', '0'], env);
    cleanup.push(serving.stop);
    const { url } = serving;
    const output = serving.output;
    await until('the first commit to be applied', async () => (/succeeded: 4 stacks created/.test(output()) ? true : undefined));
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ ok: true });

    const status = async () => JSON.parse((await cairnAsync(['status', '--repo', repo.url!, '--json'], { env })).stdout) as { commit: string; stacks: { id: string; commit: string; inSync: boolean }[] };
    const sha = await commit(repo, { 'stacks/app.yaml': exampleFiles()['stacks/app.yaml']!.replace('Default: 30', 'Default: 75') });

    const forged = githubStylePush('refs/heads/main', sha);
    const rejected = await fetch(`${url}/hooks/platform`, { method: 'POST', headers: deliveryHeaders('github', { source: 'platform', body: forged, secret: 'wrong' }), body: forged });
    expect(rejected.status).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    expect((await status()).stacks.find((s) => s.id === 'app')!.commit).not.toBe(sha);

    const body = githubStylePush('refs/heads/main', sha);
    const accepted = await fetch(`${url}/hooks/platform`, { method: 'POST', headers: deliveryHeaders('github', { source: 'platform', body, secret: 's3cret' }), body });
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toMatchObject({ queued: true });

    const done = await until('app at the new commit', async () => {
      const s = await status();
      const app = s.stacks.find((x) => x.id === 'app')!;
      return s.commit === sha && app.commit === sha && s.stacks.every((x) => x.inSync) ? s : undefined;
    });
    expect(done.stacks.map((s) => s.id).sort()).toEqual(['app', 'data', 'network', 'observability']);
    expect(output()).toMatch(/webhook push main@[0-9a-f]{7}.*: queued/);
    // The refusal is counted in /status (and summarised once a minute), not printed on its own line.
    expect(output()).not.toMatch(/rejected \(401\)/);
    const served = (await (await fetch(`${url}/status`)).json()) as { rejected: { total: number; byStatus: Record<string, number> } };
    expect(served.rejected).toEqual({ total: 1, byStatus: { 401: 1 } });
  });
});

describe('End to end: cairn demo', () => {
  it('tours every step and exits 0 by itself', async () => {
    const r = await cairnAsync(['demo']);
    expect(r.status).toBe(0);
    for (const step of ['1/8 First push', '2/8 Change one stack', '3/8 A destructive change', '4/8 Drift', '5/8 Prune', '6/8 Review before merge', '7/8 Manual approval', '8/8 Final status']) expect(r.stdout).toContain(step);
    expect(r.stdout).toMatch(/succeeded: 4 stacks created$/m);
    expect(r.stdout).toMatch(/destructive change blocked: Orders \(AWS::DynamoDB::Table\) would be replaced/);
    expect(r.stdout).toMatch(/revert-drift: reverting 1 drifted resource \(OrdersQueue\)/);
    expect(r.stdout).toMatch(/succeeded: 1 stack deleted, 3 unchanged/);
    // The pull request: its preview comment as the stand-in GitHub API received it, then the same comment updated.
    const review = r.stdout.slice(r.stdout.indexOf('6/8 Review before merge'), r.stdout.indexOf('7/8 Manual approval'));
    expect(review).toMatch(/comment created on pull request #1/);
    expect(review).toMatch(/│ \*\*merging would apply cleanly: 1 to update\*\*/);
    expect(review).toMatch(/│ - `OrdersQueue` VisibilityTimeout: `60` → `120`/);
    expect(review).toMatch(/commit status on [0-9a-f]{7}: success "merging would apply cleanly: 1 to update" \(cairn\/platform\/preview\)/);
    expect(review).toMatch(/the same comment updated in place \(PATCH \.\.\.\/issues\/comments\/\d+\)/);
    expect(review).toMatch(/│ #### ⛔ `data`: blocked/);
    expect(review).toMatch(/commit status on [0-9a-f]{7}: failure "merging would be blocked: 1 stack blocked"/);
    expect(review).toMatch(/no stack changed/);
    // The approval: a reader's comment refused after asking the stand-in API, a writer's taking effect.
    const approval = r.stdout.slice(r.stdout.indexOf('7/8 Manual approval'), r.stdout.indexOf('8/8 Final status'));
    expect(approval).toMatch(/awaiting approval \(manual\) of change set cairn-/);
    expect(approval).toMatch(/│ ✗ @rob may not approve or reject: that needs write access to the repository \(the provider says: read\)/);
    expect(approval).toMatch(/│ ✓ approved change set `cairn-[0-9a-z-]+` of stack `app`/);
    expect(approval).toMatch(/approved by ana \(github\) at /);
    expect(approval).toMatch(/succeeded: 1 stack updated/);
    expect(r.stdout).toMatch(/✓ Demo finished in \d+\.\d s/);
  });
});
