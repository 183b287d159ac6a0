/**
 * `cairn demo`: a self-contained tour on a temporary embedded account. It serves a copy of
 * examples/platform over real git smart HTTP, runs the same runtime as `cairn serve`, and drives
 * it with real signed GitHub webhooks: create in dependency order, update, a destructive change
 * blocked, drift found and reverted, a stack pruned, a change held for and released by an
 * approval, and the final status.
 */
import { keptChangeSet } from '../../reconcile/preview.js';
import { FileApprovals } from '../../adapters/file-approvals.js';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedAccount } from '../../adapters/embedded-account/index.js';
import { GitSource } from '../../adapters/git-source.js';
import { withRetries } from '../../adapters/retrying-gateway.js';
import { commit, createRepo, git, startGitServer } from '../../local/git-http-server.js';
import { LocalRuntime } from '../../local/runtime.js';
import type { CairnEvent } from '../../ports/events.js';
import { parse } from '../args.js';
import { PrinterSink } from '../event-printer.js';
import { EXIT } from '../exit-codes.js';
import { pad, style } from '../style.js';

const HELP = `Usage: cairn demo [--keep]

A tour of Cairn on a temporary simulated account, in about 10 seconds, with nothing to set up:
a copy of examples/platform is served over git smart HTTP, and real signed GitHub webhooks drive
the same runtime \`cairn serve\` runs. Exit 0 when every step behaved as shown.

Options:
  --keep    keep the temporary directory (account, repository) and print where it is
`;

const EXAMPLE = fileURLToPath(new URL('../../../../examples/platform/', import.meta.url));
const QUIET: CairnEvent['type'][] = ['stack.waiting', 'plan.computed', 'reconcile.started'];

function exampleFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files[relative(EXAMPLE, path).split('\\').join('/')] = readFileSync(path, 'utf8');
    }
  };
  walk(EXAMPLE);
  return files;
}

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
  const runtime = new LocalRuntime({
    sources: [{ name: 'platform', repo: new GitSource({ url: repo.url!, branch: 'main', cacheDir: join(dir, 'git-cache') }), provider: 'github', branch: 'main', location: repo.url!, watch: false }],
    webhookSecret: secret,
    gateways: () => gateway,
    account,
    sink: { emit: (e) => (QUIET.includes(e.type) ? undefined : printer.emit(e)) },
    port: 0,
    sweepEveryMs: 0,
    reconcileOnStart: false,
    maxRetryDelayMs: 300,
    approvals,
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
  const webhook = async (sha: string): Promise<void> => {
    const body = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, repository: { full_name: 'demo/platform', clone_url: repo.url } });
    const res = await fetch(`${runtime.url}/hooks/platform`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
      },
      body,
    });
    say(style.dim(`   webhook: push ${sha.slice(0, 7)} signed with the source's secret → HTTP ${res.status}`));
    if (res.status !== 202) throw new Error(`the webhook was answered ${res.status}: ${await res.text()}`);
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
  const step = (n: number, text: string): boolean => say(`\n${style.bold(`${n}/7 ${text}`)}`);

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
    const why = runtime.stalls.get('platform');
    say(`   ${style.red('blocked')}, nothing changed. The commit status says: ${why?.message ?? ''}`);
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

    step(6, 'Manual approval: app now asks for a person\u2019s yes (approval: manual), so its next change waits for one');
    const withApproval = manifest.replace(/\n {2}app:\n/, '\n  app:\n    approval: manual\n');
    const gated = await push({ 'cairn.yaml': withApproval, 'stacks/app.yaml': files['stacks/app.yaml']!.replace('Default: 30', 'Default: 90') }, 'Give order workers 90 seconds, with approval');
    const waiting = await finished(gated, 'waiting');
    expect(waiting, 'waiting');
    const kept = await keptChangeSet(gateway, 'app');
    if (!kept) throw new Error('the demo found no change set awaiting approval on app');
    say(style.dim(`   cairn approve app   (approves change set ${kept} at ${gated.slice(0, 7)}, as demo)`));
    const approved = until((e) => e.type === 'reconcile.finished' && e.commit === gated && (e.outcome === 'succeeded' || e.outcome === 'stalled'), `the approved reconcile of ${gated.slice(0, 7)}`);
    await approvals.put({ source: 'platform', stack: 'app', changeSetName: kept, commit: gated, decision: 'approved', by: 'demo', at: new Date().toISOString() });
    expect(await approved, 'succeeded');

    step(7, 'Final status');
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
    if (values.keep) say(`Kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
