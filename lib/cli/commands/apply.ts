/** `cairn apply [DIR]`: make the account match the repository, through change sets, wave by wave. */
import { createInterface } from 'node:readline/promises';
import { describeRun, tallyRun } from '../../reconcile/run-tally.js';
import type { CairnEvent } from '../../ports/events.js';
import { DeclinedError, movedSincePlan, type ConfirmRequest } from '../../reconcile/advance.js';
import { converge } from '../../reconcile/converge.js';
import { planSource } from '../../reconcile/plan-source.js';
import { parse, parseDuration, SOURCE_HELP, SOURCE_OPTIONS, UsageError } from '../args.js';
import { acquireApplyLock } from '../apply-lock.js';
import { cairnHome, loadSource, openAccount, changeSetTiming, operationTiming, userName } from '../context.js';
import { PrinterSink } from '../event-printer.js';
import { EXIT } from '../exit-codes.js';
import { createProgress } from '../progress.js';
import { countActions } from '../../core/plan.js';
import type { StalledError } from '../../core/errors.js';
import type { ApplyOutput } from '../json-output.js';
import { describeCommit, renderPlan, renderPreview, shortSha } from '../render.js';
import { style } from '../style.js';

const HELP = `Usage: cairn apply [DIR] [options]

Shows the plan (with CloudFormation's preview of every update, as \`cairn plan\` shows it), asks,
then applies it, executing the very change sets it showed. If the account moved between the plan
and the apply, it says so, shows CloudFormation's new preview and asks again (--yes skips only the
questions). A change set per stack, checked against destructive-change protection before it
runs; independent stacks of a wave in parallel, each wave after the one it depends on; removed
stacks pruned last (only with prune: true). Safe to stop and run again:
it picks up where it left off and never applies the same content twice.

In a Git work tree it applies the commit (HEAD unless --ref) and refuses to start while a file
cairn.yaml reads has uncommitted edits, naming them; --allow-dirty applies the work tree as it is
and records it as <sha>-dirty on the stacks.

Exit codes: 0 the account matches; 1 an error, or a stack is blocked or stalled (the message says
which stack, why, and what to change); 3 what is left is held by a change window (\`windows:\` in
cairn.yaml).

Change windows: a stack a window holds now is shown "held until …" and not applied;
--override applies it anyway (an emergency path; it is logged with your user name).

Options:
${SOURCE_HELP}
  --yes               apply without asking (required when not on a terminal)
  --timeout D         stop waiting after D (e.g. 30m; default 60m); work already started continues
  --override          apply even what a change window holds now (logged)
  --retry             try once more a create or update of this same content that failed (after
                      fixing its cause outside the repository, e.g. a quota or a name in use)
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('apply', argv, { ...SOURCE_OPTIONS, yes: { type: 'boolean', short: 'y' }, timeout: { type: 'string' }, retry: { type: 'boolean' }, override: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const timeoutMs = values.timeout ? parseDuration(values.timeout, '--timeout') : undefined;
  const progress = createProgress({ json: values.json });
  const { snapshot, desired, source } = await loadSource(values, positionals[0], {
    progress: progress.listener,
    refuseUncommitted: { command: 'apply', allowDirty: 'to apply the work tree as it is (recorded as <sha>-dirty)' },
  });
  const account = await openAccount(values.target, values.region);
  // Two applies on one embedded home would delete each other's change sets: the second is refused.
  let release: (() => void) | undefined;
  try {
    if (account.target === 'embedded') release = acquireApplyLock(cairnHome(), source);
  } catch (error) {
    await account.close();
    throw error;
  }
  const json = values.json === true;
  try {
    // One retry per stack in this run: a second failure of the same content stops as usual.
    const retry = values.retry ? new Set(desired.stacks.map((s) => s.id)) : undefined;
    // The same preview `cairn plan` shows: CloudFormation's own answer for every update.
    // Each update's preview is the change set this apply then executes (kept, not deleted).
    const { plan, gatewayFor } = await planSource(desired, { gateways: account.gateways, resourceDiff: true, preview: { ...changeSetTiming(account.target), keep: !values.override }, ...(retry ? { retry } : {}), progress: progress.listener });
    if (values.override && plan.stacks.some((s) => s.held)) {
      // An emergency path, so it says who used it; the reconciler's log gets the same warning per stack.
      process.stderr.write(`${style.yellow('!')} --override: applying despite change windows, as ${userName()}\n`);
      for (const s of plan.stacks) delete s.held;
    }
    const discardKept = async (): Promise<void> => {
      await Promise.all(plan.stacks.filter((s) => s.changeSetName).map((s) => gatewayFor(s.region).deleteChangeSet(s.stackName, s.changeSetName!).catch(() => undefined)));
    };
    if (!json) process.stdout.write(`${renderPlan(plan, `Apply source "${source}" at ${describeCommit(snapshot.commit)} to the ${account.description}`)}\n\n`);
    if (plan.changes && !values.yes) {
      if (!process.stdin.isTTY) {
        await discardKept();
        throw new UsageError('cairn apply: not on a terminal, so nothing was applied; pass --yes to apply without asking');
      }
      if (!(await ask('Apply these changes? [y/N] '))) {
        await discardKept();
        process.stdout.write('Nothing was applied.\n');
        return EXIT.ok;
      }
    }
    // Runs what was shown; anything else (the account moved since the plan) is shown and asked again.
    const moved: { stack: string; why: string }[] = [];
    const confirm = async (request: ConfirmRequest): Promise<boolean> => {
      const why = movedSincePlan(plan.stacks, request);
      if (!why) return true;
      moved.push({ stack: request.stack, why });
      // Shown and asked with the progress line out of the way.
      return progress.suspended(async () => {
        if (!json) {
          const preview = request.changes ? renderPreview(request.changes) : [];
          process.stdout.write(`\n${style.yellow('!')} The account changed since the plan: ${why}. What CloudFormation would do now:\n${preview.length ? preview.join('\n') : `      ${request.action} ${request.stack}`}\n\n`);
        }
        if (values.yes) return true;
        return ask(`Apply this change to ${request.stack}? [y/N] `);
      });
    };
    // Every event of this run, to count what it did (not what state the stacks are in).
    const events: CairnEvent[] = [];
    const printer = new PrinterSink(process.stderr, { json });
    // A stack the run stalled at counts as blocked, not as the create or update that failed.
    const tally = (stalled: string[] = []) => tallyRun(events, desired.stacks.map((s) => s.id), stalled);
    const controller = new AbortController();
    const onSignal = (): void => {
      if (!json) progress.printing(() => process.stderr.write('\nStopping: no new operations will start; those under way continue in CloudFormation.\n'));
      controller.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const { pollMs, stepIntervalMs } = operationTiming(account.target);
    try {
      const result = await converge(desired, {
        gateways: account.gateways,
        // Each event's line erases the progress line first, which comes back under it.
        sink: { emit: (e) => (events.push(e), progress.printing(() => printer.emit(e))) },
        pollMs,
        stepIntervalMs,
        changeSetWaitMs: changeSetTiming(account.target).waitMs,
        timeoutMs,
        signal: controller.signal,
        confirm,
        propertyValues: true,
        ...(values.override ? { overrideWindows: true } : {}),
        ...(retry ? { retry } : {}),
        progress: progress.listener,
      }).catch((error: unknown) => {
        if (!(error instanceof DeclinedError)) throw error;
        return error;
      });
      if (result instanceof DeclinedError) {
        if (json) {
          const output: ApplyOutput = { source, commit: snapshot.commit, target: account.target, outcome: 'declined', summary: result.message, counts: tally(), planned: countActions(plan), ...(moved.length ? { moved } : {}) };
          process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
        }
        else process.stdout.write(`Stopped: ${result.message}.\n`);
        return EXIT.error;
      }
      if (json) {
        const output: ApplyOutput = {
          source,
          commit: snapshot.commit,
          target: account.target,
          outcome: result.outcome,
          summary: result.summary,
          // What this run did, the same numbers as the text.
          counts: tally(result.outcome === 'stalled' ? stalledStacks(result.stalls) : []),
          planned: countActions(plan),
          ...(moved.length ? { moved } : {}),
          ...(result.outcome === 'progressing' ? { held: result.plan.stacks.filter((p) => p.held).map((p) => ({ stack: p.id, ...p.held! })) } : {}),
          ...(result.outcome === 'stalled' ? { error: { reason: result.error.reason, message: result.error.message, hint: result.error.hint, stack: result.error.stackId } } : {}),
        };
        process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
      }
      if (result.outcome === 'stalled') {
        if (!json) {
          for (const e of result.stalls) {
            process.stderr.write(`${style.red('✗')} [${e.reason}] ${e.message}\n`);
            if (e.hint) process.stderr.write(`  what to do: ${e.hint}\n`);
          }
          process.stderr.write(`${style.red('✗')} ${source} stalled at ${shortSha(snapshot.commit)}: ${describeRun(tally(stalledStacks(result.stalls)))}\n`);
        }
        return EXIT.error;
      }
      if (result.outcome === 'progressing') {
        // Only what change windows hold is left: nothing failed, and nothing more can run now.
        if (!json) {
          for (const s of result.plan.stacks.filter((p) => p.held)) process.stderr.write(`${style.yellow('…')} ${s.id}: ${s.action === 'delete' ? 'prune' : s.action} ${s.held!.message}\n`);
          process.stderr.write('  what to do: apply again once the window allows it (the reconciler does so by itself), or pass --override in an emergency\n');
        }
        return EXIT.attention;
      }
      if (!json && result.outcome === 'succeeded') process.stdout.write(`${style.green('✓')} ${source} is in sync at ${shortSha(snapshot.commit)}: ${describeRun(tally())}\n`);
      return EXIT.ok;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  } finally {
    release?.();
    await account.close();
  }
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(question);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

function stalledStacks(stalls: StalledError[]): string[] {
  return stalls.flatMap((e) => (e.stackId ? [e.stackId] : []));
}
