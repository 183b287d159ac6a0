/**
 * `cairn demo`: a self-contained tour on a temporary embedded account. It serves a copy of
 * examples/platform over real git smart HTTP, runs the same runtime as `cairn serve`, and drives
 * it with real signed GitHub webhooks: create in dependency order, update, a destructive change
 * blocked, drift found and reverted, a stack pruned, a pull request previewed in a comment updated
 * in place, a change held for an approval and released by a `/cairn approve` comment from someone
 * with write access (one from a reader is refused), and the final status. Comments and
 * commit statuses go to a stand-in for GitHub's API on 127.0.0.1 (lib/local/fake-provider-api.ts).
 */
import { keptChangeSet } from '../../reconcile/preview.js';
import { exampleFiles } from '../example.js';
import { FileApprovals } from '../../adapters/file-approvals.js';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedAccount } from '../../adapters/embedded-account/index.js';
import { GitSource } from '../../adapters/git-source.js';
import { withRetries } from '../../adapters/retrying-gateway.js';
import { EnvSecrets } from '../../adapters/env-secrets.js';
import { startFakeProviderApi } from '../../local/fake-provider-api.js';
import { githubPullRequestPayload } from '../../local/github-payloads.js';
import { commentCommandsWith } from '../../adapters/provider-access.js';
import { commit, createBranch, createRepo, git, startGitServer } from '../../local/git-http-server.js';
import { postingFor, postingRepoUrl } from '../../local/provider-posting.js';
import { previewMarker } from '../../ports/pr-comments.js';
import { LocalRuntime } from '../../local/runtime.js';
import type { CairnEvent } from '../../ports/events.js';
import { parse } from '../args.js';
import { PrinterSink } from '../event-printer.js';
import { EXIT } from '../exit-codes.js';
import { pad, style } from '../style.js';

const HELP = `Usage: cairn demo [--keep]

A tour of Cairn on a temporary simulated account, in about 10 seconds, with nothing to set up:
a copy of examples/platform is served over git smart HTTP, and real signed GitHub webhooks drive
the same runtime \`cairn serve\` runs. Pull request comments and commit statuses go to a stand-in
for GitHub's API on 127.0.0.1, not to GitHub. Exit 0 when every step behaved as shown.

Options:
  --keep    keep the temporary directory (account, repository) and print where it is
`;

const QUIET: CairnEvent['type'][] = ['stack.waiting', 'plan.computed', 'reconcile.started'];
const STEPS = 8;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse('demo', argv, { keep: { type: 'boolean' } }, 0);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const started = Date.now();
  const out = process.stdout;
  const say = (text: string): boolean => out.write(`${text}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'cairn-demo-'));
  const files = exampleFiles();
  const server = await startGitServer({ root: join(dir, 'git') }).catch(async () => startGitServer());
  const repo = await createRepo(server, 'platform', files, { message: 'Declare the platform' });
  const account = new EmbeddedAccount({ home: join(dir, 'account'), operationMs: 120, autoAdvance: true, pollMs: 20 });
  const gateway = withRetries(account.gateway());
  const printer = new PrinterSink(out);
  const secret = randomBytes(16).toString('hex');
  const approvals = new FileApprovals(join(dir, 'approvals'));
  // The stand-in GitHub API: it takes the comments and statuses `cairn serve --api-url` would post.
  const apiToken = randomBytes(16).toString('hex');
  const api = await startFakeProviderApi({ token: apiToken, repositories: ['demo/platform'], permissions: { ana: 'write', rob: 'read' } });
  const sink = { emit: (e: CairnEvent) => (QUIET.includes(e.type) ? undefined : printer.emit(e)) };
  const tokenSecrets = new EnvSecrets({ env: { CAIRN_PROVIDER_TOKEN: apiToken } });
  const posting = postingFor({ provider: 'github', apiUrl: api.url, repository: 'demo/platform', tokenSecret: 'CAIRN_PROVIDER_TOKEN', secrets: tokenSecrets }, 'platform', sink);
  // `/cairn approve` comments, checked with the stand-in API as `cairn serve --api-url` checks them.
  const commentCommands = commentCommandsWith({
    approvals: async () => approvals,
    secrets: tokenSecrets,
    apiBaseUrl: api.url,
    tokenSecret: 'CAIRN_PROVIDER_TOKEN',
    repoUrl: postingRepoUrl({ apiUrl: api.url, repository: 'demo/platform' }),
  });
  const runtime = new LocalRuntime({
    sources: [{ name: 'platform', repo: new GitSource({ url: repo.url!, branch: 'main', cacheDir: join(dir, 'git-cache') }), provider: 'github', branch: 'main', location: repo.url!, watch: false, ...posting }],
    webhookSecret: secret,
    gateways: () => gateway,
    account,
    sink,
    port: 0,
    sweepEveryMs: 0,
    reconcileOnStart: false,
    maxRetryDelayMs: 300,
    approvals,
    commentCommands,
  });
  await runtime.start();

  const until = (match: (e: CairnEvent) => boolean, what: string, timeoutMs = 15_000): Promise<CairnEvent> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`the demo waited ${timeoutMs / 1000} s for ${what} in vain`));
      }, timeoutMs);
      const off = runtime.onEvent((e) => {
        if (!match(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  const finished = (sha: string, outcome: string): Promise<CairnEvent> =>
    until((e) => e.type === 'reconcile.finished' && e.commit === sha && (e.outcome === outcome || e.outcome === 'stalled' || e.outcome === 'succeeded'), `the reconcile of ${sha.slice(0, 7)}`);
  /** A delivery of GitHub event `event`, signed with the source's secret as GitHub signs it; its HTTP status. */
  const deliver = async (event: string, payload: unknown): Promise<number> => {
    const body = JSON.stringify(payload);
    const res = await fetch(`${runtime.url}/hooks/platform`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` },
      body,
    });
    if (res.status !== 202) throw new Error(`the ${event} webhook was answered ${res.status}: ${await res.text()}`);
    return res.status;
  };
  const webhook = async (sha: string): Promise<void> => {
    const status = await deliver('push', { ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, repository: { full_name: 'demo/platform', clone_url: repo.url } });
    say(style.dim(`   webhook: push ${sha.slice(0, 7)} signed with the source's secret → HTTP ${status}`));
  };
  const push = async (changes: Record<string, string | null>, message: string): Promise<string> => {
    const sha = await commit(repo, changes, message);
    say(style.dim(`   git push: ${sha.slice(0, 7)} "${message}"`));
    await webhook(sha);
    return sha;
  };
  const expect = (e: CairnEvent, outcome: string): void => {
    if (e.type !== 'reconcile.finished' || e.outcome !== outcome) throw new Error(`expected the reconcile to end ${outcome}, it ended ${e.type === 'reconcile.finished' ? `${e.outcome}: ${e.summary}` : e.type}`);
  };
  const step = (n: number, text: string): boolean => say(`\n${style.bold(`${n}/${STEPS} ${text}`)}`);
  const pullRequest = async (action: 'opened' | 'synchronize', head: string): Promise<void> => {
    const status = await deliver('pull_request', githubPullRequestPayload({ action, head, repo: 'demo/platform', headRef: 'review', htmlUrl: 'https://github.example/demo/platform/pull/1', cloneUrl: repo.url! }));
    say(style.dim(`   webhook: pull_request ${action} #1 at ${head.slice(0, 7)}, signed → HTTP ${status}`));
  };
  /** Commit on the pull request's branch, and move `refs/pull/1/head` there as GitHub does. */
  const pushToPullRequest = async (changes: Record<string, string>, message: string): Promise<string> => {
    const sha = await commit({ ...repo, branch: 'review' }, changes, message);
    await git(['update-ref', 'refs/pull/1/head', sha], repo.bareDir);
    say(style.dim(`   git push origin review: ${sha.slice(0, 7)} "${message}"`));
    return sha;
  };
  /** A signed GitHub `commit_comment` by `login` on `sha`, and Cairn's answer as the stand-in API received it. */
  const commentOn = async (sha: string, login: string, text: string): Promise<void> => {
    const answered = api.commitComments.length;
    const status = await deliver('commit_comment', {
      action: 'created',
      comment: { id: answered + 1, body: text, commit_id: sha, user: { login, type: 'User' }, html_url: `https://github.example/demo/platform/commit/${sha}#commitcomment-${answered + 1}` },
      repository: { full_name: 'demo/platform', clone_url: repo.url },
    });
    say(style.dim(`   ${login} comments "${text}" on ${sha.slice(0, 7)} → HTTP ${status}`));
    const reply = api.commitComments[answered];
    if (!reply) throw new Error('Cairn did not answer the comment on the stand-in GitHub API');
    for (const line of reply.body.split('\n').filter((l) => l.startsWith('- '))) say(`   ${style.dim('│')} ${line.slice(2).length > 110 ? `${line.slice(2, 111)}…` : line.slice(2)}`);
  };
  const previewed = (sha: string): Promise<CairnEvent> =>
    until((e) => e.type === 'log' && e.commit === sha && e.message.startsWith('pull request #1 previewed'), `the preview of ${sha.slice(0, 7)}`);
  const ourComment = (): { id: number; body: string } => {
    const ours = api.comments.filter((c) => c.number === 1 && c.body.includes(previewMarker('platform')));
    if (ours.length !== 1) throw new Error(`the stand-in GitHub API holds ${ours.length} preview comments on pull request #1, not one`);
    return ours[0]!;
  };
  const showComment = (body: string, maxLines: number): void => {
    // The markdown as posted, less the hidden marker, the footer, blank lines and table rules.
    const lines = body.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('<!--') && !l.startsWith('<sub>') && !/^\|(?:---\|)+$/.test(l));
    for (const line of lines.slice(0, maxLines)) say(`   ${style.dim('│')} ${line.length > 100 ? `${line.slice(0, 99)}…` : line}`);
    if (lines.length > maxLines) say(`   ${style.dim(`│ … ${lines.length - maxLines} more line${lines.length - maxLines === 1 ? '' : 's'}`)}`);
  };
  const headStatus = (sha: string): string => {
    const s = api.statuses.filter((x) => x.sha === sha && x.context === 'cairn/platform/preview').at(-1);
    if (!s) throw new Error(`no commit status reached the stand-in GitHub API for ${sha.slice(0, 7)}`);
    return `${s.state === 'success' ? style.green(s.state) : style.red(s.state)} "${s.description ?? ''}" (${s.context})`;
  };

  try {
    say(style.bold('Cairn demo: GitOps for CloudFormation, on a simulated account'));
    say(`   repository  ${repo.url}  (a copy of examples/platform)`);
    say(`   webhook     POST ${runtime.url}/hooks/platform  (GitHub signature)`);
    say(`   account     embedded, in ${dir}`);

    step(1, 'First push: four stacks, created wave by wave (app waits for data and network)');
    const first = await git(['rev-parse', 'main'], repo.bareDir);
    await webhook(first);
    expect(await finished(first, 'succeeded'), 'succeeded');

    step(2, 'Change one stack: app’s queue timeout goes from 30 to 60 seconds');
    const updated = await push({ 'stacks/app.yaml': files['stacks/app.yaml']!.replace('Default: 30', 'Default: 60') }, 'Give order workers more time');
    expect(await finished(updated, 'succeeded'), 'succeeded');

    step(3, 'A destructive change: the orders table’s key changes, which would replace the table');
    const destructive = files['stacks/data.yaml']!.replace(/AttributeName: id/g, 'AttributeName: orderId');
    const blocked = await push({ 'stacks/data.yaml': destructive }, 'Key orders by orderId');
    const stall = await finished(blocked, 'stalled');
    expect(stall, 'stalled');
    const why = api.statuses.filter((s) => s.sha === blocked).at(-1)?.description ?? runtime.stalls.get('platform')?.message ?? '';
    say(`   ${style.red('blocked')}, nothing changed. The commit status says: ${why}`);
    say(style.dim('   (to allow it, cairn.yaml would list the resource under allowDestructive)'));
    const reverted = await push({ 'stacks/data.yaml': files['stacks/data.yaml']! }, 'Revert "Key orders by orderId"');
    expect(await finished(reverted, 'succeeded'), 'succeeded');

    step(4, 'Drift: someone changes the queue in the console; the sweep finds it and puts it back');
    account.injectDrift({ stackName: 'app', logicalId: 'OrdersQueue', path: 'VisibilityTimeout', value: 5 });
    say(style.dim('   cairn sim drift app OrdersQueue VisibilityTimeout=5'));
    const revertDone = until((e) => e.type === 'stack.action' && e.action === 'revert-drift', 'the drift revert');
    await runtime.sweepNow({ all: true });
    await revertDone;
    await until((e) => e.type === 'reconcile.finished' && e.outcome === 'succeeded', 'the reconcile after the revert');
    const checked = until((e) => e.type === 'reconcile.finished', 'the reconcile after the second sweep');
    await runtime.sweepNow({ all: true });
    await checked;

    step(5, 'Prune: observability is removed from cairn.yaml (prune: true), so its stack goes');
    const manifest = files['cairn.yaml']!.replace(/\n {2}observability:\n {4}deploymentFile: deploy\/observability\.yaml\n?/, '\n');
    const pruned = await push({ 'cairn.yaml': manifest }, 'Retire the observability stack');
    expect(await finished(pruned, 'succeeded'), 'succeeded');

    step(6, 'Review before merge: a pull request is previewed in a comment on it, updated on each push');
    const stacksAt = async (): Promise<string> => JSON.stringify((await gateway.listStacks()).map((s) => [s.stackName, s.status, s.updatedAt ?? s.createdAt]));
    const beforeReview = await stacksAt();
    await createBranch(repo, 'review');
    const proposed = await pushToPullRequest({ 'stacks/app.yaml': files['stacks/app.yaml']!.replace('Default: 30', 'Default: 120') }, 'Give order workers two minutes');
    let preview = previewed(proposed);
    await pullRequest('opened', proposed);
    await preview;
    const opened = ourComment();
    say(`   comment ${style.green('created')} on pull request #1 (the stand-in GitHub API received POST .../issues/1/comments):`);
    showComment(opened.body, 9);
    say(`   commit status on ${proposed.slice(0, 7)}: ${headStatus(proposed)}`);
    const riskier = await pushToPullRequest({ 'stacks/data.yaml': destructive }, 'Key orders by orderId, in review');
    preview = previewed(riskier);
    await pullRequest('synchronize', riskier);
    await preview;
    const again = ourComment();
    if (again.id !== opened.id) throw new Error('the second push made a new comment instead of updating the first');
    say(`   the same comment ${style.yellow('updated')} in place (PATCH .../issues/comments/${again.id}), now:`);
    showComment(again.body, 6);
    say(`   commit status on ${riskier.slice(0, 7)}: ${headStatus(riskier)}`);
    if ((await stacksAt()) !== beforeReview) throw new Error('a stack changed while the pull request was previewed');
    say(style.dim('   no stack changed: previews use change sets that are read and deleted, never executed'));

    step(7, 'Manual approval: app now asks for a person\u2019s yes (approval: manual); a comment from someone with write access gives it');
    const withApproval = manifest.replace(/\n {2}app:\n/, '\n  app:\n    approval: manual\n');
    const gated = await push({ 'cairn.yaml': withApproval, 'stacks/app.yaml': files['stacks/app.yaml']!.replace('Default: 30', 'Default: 90') }, 'Give order workers 90 seconds, with approval');
    const waiting = await finished(gated, 'waiting');
    expect(waiting, 'waiting');
    const kept = await keptChangeSet(gateway, 'app');
    if (!kept) throw new Error('the demo found no change set awaiting approval on app');
    const notice = api.commitComments.find((c) => c.sha === gated && c.body.includes('awaits approval'));
    if (!notice) throw new Error('no awaiting-approval notice reached the stand-in GitHub API');
    say(`   Cairn comments on ${gated.slice(0, 7)} (POST .../commits/${gated.slice(0, 7)}…/comments):`);
    showComment(notice.body, 6);
    say(style.dim(`   a comment answers it; Cairn asks GitHub (the stand-in) whether its author may write`));
    await commentOn(gated, 'rob', '/cairn approve app');
    const approved = until((e) => e.type === 'reconcile.finished' && e.commit === gated && (e.outcome === 'succeeded' || e.outcome === 'stalled'), `the approved reconcile of ${gated.slice(0, 7)}`);
    await commentOn(gated, 'ana', '/cairn approve app');
    expect(await approved, 'succeeded');

    step(8, 'Final status');
    const stacks = await gateway.listStacks();
    say(style.dim(`   ${pad('STACK', 16)}${pad('STATUS', 20)}${pad('COMMIT', 10)}DRIFT`));
    for (const s of stacks.sort((a, b) => a.stackName.localeCompare(b.stackName))) {
      say(`   ${pad(s.stackName, 16)}${pad(s.status, 20)}${pad((s.tags['cairn:commit'] ?? '').slice(0, 7), 10)}${s.driftStatus ?? 'NOT_CHECKED'}`);
    }
    say(`\n${style.green('✓')} Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s. Next: \`npm start\` makes ./playground a Git repository of this example and follows it; commit a change there and watch it deploy.`);
    return EXIT.ok;
  } finally {
    await runtime.stop();
    account.close();
    await server.stop();
    await api.close();
    if (values.keep) say(`Kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
