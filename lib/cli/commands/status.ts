/** `cairn status [DIR]`: every declared or owned stack, its CloudFormation status, whether it is in sync, the commit it was applied from, and drift. */
import { healthOf } from '../../core/health.js';
import { OWNER_TAGS, type ActualStack, type DesiredState, type StackPlan } from '../../core/model.js';
import type { GatewayFactory } from '../../ports/stack-gateway.js';
import { stackKey } from '../../core/plan.js';
import { planSource } from '../../reconcile/plan-source.js';
import { parse, SOURCE_HELP, SOURCE_OPTIONS } from '../args.js';
import { inspectSource, openAccount, parseTarget, requireSourceName } from '../context.js';
import type { ApprovalState, ApprovalStore } from '../../ports/approvals.js';
import { approvalStore } from './approve.js';
import { EXIT } from '../exit-codes.js';
import { createProgress } from '../progress.js';
import { activeWindows } from '../../core/windows.js';
import { keptChangeSet } from '../../reconcile/preview.js';
import type { StatusOutput } from '../json-output.js';
import { describeCommit, renderProblems, shortSha } from '../render.js';
import { pad, style } from '../style.js';

const HELP = `Usage: cairn status [DIR] [options]

Lists every stack the repository declares or the source owns: CloudFormation status, health,
whether it matches the repository (and why not), the commit it was last applied from and when,
and its drift status with the time of the last check. Changes nothing.

Exit codes: 0 every stack is healthy and in sync; 2 some stack differs from the repository (an
apply would change it); 3 something needs a person: a failed, rolled-back or blocked stack, drift
found by the last check, or a repository that is not valid at this commit; 1 an error.

Options:
${SOURCE_HELP}
`;

export interface StackStatusRow {
  id: string;
  stackName: string;
  region: string | null;
  status: string;
  health: string;
  inSync: boolean | null;
  /** Why the stack is not in sync (or why that is unknown); null when it is. */
  reason: string | null;
  /** What is wrong with the stack itself (a failed or rolled-back operation, a block); null when nothing is. */
  problem: string | null;
  commit: string | null;
  appliedAt: string | null;
  drift: string | null;
  driftCheckedAt: string | null;
  /** The drift status found before the stack's last update, which that update may have removed; null when the check is newer. */
  driftBeforeUpdate: string | null;
  declared: boolean;
  /**
   * The stack's approval as the reconciler last recorded it (awaiting, approved or rejected, with
   * who, when and where); null for a stack never held for one, or when the store is not reachable.
   */
  approval: ApprovalState | null;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('status', argv, SOURCE_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const loaded = await inspectSource(values, positionals[0], { progress: createProgress({ json: values.json }).listener });
  const { snapshot, desired, problems } = loaded;
  const source = requireSourceName(loaded);
  const account = await openAccount(values.target, values.region);
  try {
    const rows: StackStatusRow[] = [];
    const emptyDesired = { source, commit: snapshot.commit, stacks: [], prune: false, pruneMaxShare: 1, protectedTypes: [], windows: [], approval: 'auto' as const, findings: [] };
    const { plan, actual, defaultRegion } = await planSource(desired ?? emptyDesired, { gateways: account.gateways });
    const byKey = new Map(actual.map((a) => [stackKey(a.region, a.stackName, defaultRegion), a]));
    // Approvals live in the state directory (embedded account) or the deployment's bucket, when named.
    const target = parseTarget(values.target);
    const approvals: ApprovalStore | undefined = target !== 'aws' || process.env['CAIRN_APPROVALS_BUCKET'] ? approvalStore(target, values.region) : undefined;
    const states = new Map<string, ApprovalState>();
    if (approvals && desired) {
      // Only stacks with an approval policy are ever held for one: no read (an S3 GET on AWS) for the rest.
      const asking = desired.stacks.filter((d) => d.approval !== 'auto');
      const found = await Promise.all(asking.map((d) => approvals.getState(source, d.id).catch(() => undefined)));
      found.forEach((state, i) => state && states.set(asking[i]!.id, state));
    }
    const row = (id: string, stackName: string, region: string | undefined, a: ActualStack | undefined, inSync: boolean | null, reason: string | null, declared: boolean, blocked?: string): StackStatusRow => {
      const health = a ? healthOf(a.status) : 'Missing';
      // A check older than the last update says nothing about the stack as it is now.
      const stale = Boolean(a?.driftCheckedAt && a.updatedAt && Date.parse(a.driftCheckedAt) < Date.parse(a.updatedAt) && a.driftStatus && a.driftStatus !== 'NOT_CHECKED');
      const failed = a && (health === 'Failed' || health === 'Degraded') ? `${a.status}${a.statusReason ? `: ${a.statusReason}` : ''}` : null;
      return {
        id,
        stackName,
        region: region ?? defaultRegion,
        status: a?.status ?? 'NOT_DEPLOYED',
        health,
        inSync,
        reason: inSync ? null : reason,
        problem: blocked ?? failed,
        commit: a?.tags[OWNER_TAGS.commit] ?? null,
        appliedAt: a ? (a.updatedAt ?? a.createdAt) : null,
        drift: stale ? 'NOT_CHECKED' : (a?.driftStatus ?? null),
        driftCheckedAt: stale ? null : (a?.driftCheckedAt ?? null),
        driftBeforeUpdate: stale ? a!.driftStatus! : null,
        declared,
        approval: states.get(id) ?? null,
      };
    };
    if (desired) {
      for (const s of plan.stacks) {
        const a = byKey.get(stackKey(s.region, s.stackName, defaultRegion));
        const declared = desired.stacks.some((d) => d.id === s.id);
        const why = !declared ? `no longer declared in cairn.yaml; ${s.action === 'delete' ? 'the next apply prunes it' : 'kept, since prune is off'}` : s.reason;
        const awaiting = declared && a ? await awaitingApproval(s, desired, account.gateways) : undefined;
        const reason = s.held ? `${why}; ${s.held.message}` : awaiting ? `awaiting approval of change set ${awaiting} (\`cairn approve ${s.id}\` or \`cairn reject ${s.id}\`)` : why;
        rows.push(row(s.id, s.stackName, s.region, a, s.action === 'none' && !s.waiting && declared, reason, declared, s.action === 'blocked' ? `blocked: ${s.reason}` : undefined));
      }
    } else {
      for (const a of actual.filter((x) => x.tags[OWNER_TAGS.source] === source)) {
        rows.push(row(a.tags[OWNER_TAGS.stack] ?? a.stackName, a.stackName, a.region, a, null, 'unknown: the repository is not valid at this commit', false));
      }
    }
    const attention = Boolean(problems) || rows.some((r) => r.problem !== null || r.drift === 'DRIFTED');
    const exit = attention ? EXIT.attention : rows.some((r) => r.inSync === false) ? EXIT.changes : EXIT.ok;
    if (values.json) {
      const output: StatusOutput = { source, commit: snapshot.commit, target: account.target, valid: !problems, uncommitted: loaded.uncommitted, stacks: rows, ...(problems ? { problems: problems.problems } : {}) };
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
      return exit;
    }
    process.stdout.write(`${style.bold(`Source "${source}" at ${describeCommit(snapshot.commit)} on the ${account.description}`)}\n\n`);
    if (problems) process.stdout.write(`${style.red('The repository is not valid at this commit; showing owned stacks only:')}\n${renderProblems(problems.problems)}\n\n`);
    const header = [pad('STACK', 18), pad('STATUS', 26), pad('HEALTH', 12), pad('IN SYNC', 9), pad('COMMIT', 9), pad('APPLIED', 21), 'DRIFT'].join('');
    process.stdout.write(`${style.dim(header)}\n`);
    for (const r of rows) {
      const sync = r.inSync === null ? '?' : r.inSync ? style.green('yes') : style.yellow('no');
      const drift =
        r.drift && r.drift !== 'NOT_CHECKED'
          ? `${r.drift}${r.driftCheckedAt ? style.dim(` (${r.driftCheckedAt.slice(0, 19).replace('T', ' ')})`) : ''}`
          : style.dim(r.driftBeforeUpdate ? `not checked since the last update (was ${r.driftBeforeUpdate})` : 'not checked');
      process.stdout.write(
        [
          pad(r.id === r.stackName ? r.id : `${r.id} (${r.stackName})`, 18),
          pad(r.status, 26),
          pad(r.health, 12),
          pad(r.inSync === null ? '?' : r.inSync ? 'yes' : 'no', 9).replace(/^(yes|no|\?)/, sync),
          pad(r.commit ? shortSha(r.commit) : '-', 9),
          pad(r.appliedAt ? r.appliedAt.slice(0, 19).replace('T', ' ') : '-', 21),
          r.declared ? drift : `${drift} ${style.dim('(no longer declared)')}`,
        ].join('') + '\n',
      );
    }
    if (rows.length === 0) process.stdout.write('  (no stacks declared or owned)\n');
    const windows = desired ? activeWindows([...desired.windows, ...desired.stacks.flatMap((d) => d.windows)], new Date()) : [];
    if (windows.length > 0) {
      process.stdout.write(`\n${style.dim('Change windows active now:')}\n`);
      for (const w of windows) process.stdout.write(`  ${w.name} (${w.kind}) until ${w.until.toISOString().slice(0, 16).replace('T', ' ')} UTC\n`);
    }
    const decided = rows.filter((r) => r.approval);
    if (decided.length > 0) {
      process.stdout.write(`\n${style.dim('Approvals:')}\n`);
      for (const r of decided) process.stdout.write(`  ${r.id}: ${describeApproval(r.approval!)}\n`);
    }
    const behind = rows.filter((r) => r.inSync === false && r.reason);
    if (behind.length > 0) {
      process.stdout.write(`\n${style.dim('Not in sync:')}\n`);
      for (const r of behind) process.stdout.write(`  ${r.id}: ${r.reason}\n`);
    }
    const wrong = rows.filter((r) => r.problem !== null || r.drift === 'DRIFTED');
    if (wrong.length > 0) {
      process.stdout.write(`\n${style.red('Needs attention:')}\n`);
      for (const r of wrong) process.stdout.write(`  ${r.id}: ${r.problem ?? `drift found on ${r.driftCheckedAt?.slice(0, 19).replace('T', ' ') ?? 'the last check'}; \`cairn drift\` shows what changed`}\n`);
    }
    return exit;
  } finally {
    await account.close();
  }
}

/** One line: what the stack awaits, or who decided its last change set, when and where. */
function describeApproval(a: ApprovalState): string {
  const what = a.changeSetName === 'delete' ? 'its deletion' : `change set ${a.changeSetName}`;
  const when = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  if (a.state === 'awaiting') return `awaiting approval of ${what} at ${shortSha(a.commit)} since ${when(a.since)}${a.summary ? ` (${a.summary})` : ''}`;
  const d = a.decision;
  return `${what} at ${shortSha(a.commit)} ${a.state}${d ? ` by ${d.by} at ${when(d.at)}${d.via ? ` (${d.via})` : ''}` : ''}`;
}

/** The change set a stack whose approval policy asks for one keeps waiting for a person, if any. */
async function awaitingApproval(s: StackPlan, desired: DesiredState, gateways: GatewayFactory): Promise<string | undefined> {
  const d = desired.stacks.find((x) => x.id === s.id);
  if (!d || d.approval === 'auto' || (s.action !== 'create' && s.action !== 'update' && s.action !== 'revert')) return undefined;
  return keptChangeSet(gateways(s.region), s.stackName);
}
