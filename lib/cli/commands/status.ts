/** `cairn status [DIR]`: every declared or owned stack, its CloudFormation status, whether it is in sync, the commit it was applied from, and drift. */
import { ValidationError } from '../../core/errors.js';
import { healthOf } from '../../core/health.js';
import { OWNER_TAGS, type ActualStack } from '../../core/model.js';
import { stackKey } from '../../core/plan.js';
import { loadDesired } from '../../reconcile/load-desired.js';
import { planSource } from '../../reconcile/plan-source.js';
import { parse, SOURCE_HELP, SOURCE_OPTIONS } from '../args.js';
import { openAccount, openRepo, sourceName } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { renderProblems, shortSha } from '../render.js';
import { pad, style } from '../style.js';

const HELP = `Usage: cairn status [DIR] [options]

Lists every stack the repository declares or the source owns: CloudFormation status, health,
whether it matches the repository, the commit it was last applied from and when, and its drift
status with the time of the last check. Changes nothing. Exit 0, or 1 on error.

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
  commit: string | null;
  appliedAt: string | null;
  drift: string | null;
  driftCheckedAt: string | null;
  declared: boolean;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('status', argv, SOURCE_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const repo = await openRepo(values, positionals[0]);
  const source = sourceName(values, positionals[0]);
  const snapshot = await repo.snapshot();
  let problems: ValidationError | undefined;
  const desired = await loadDesired(snapshot, source).catch((error: unknown) => {
    if (error instanceof ValidationError) {
      problems = error;
      return undefined;
    }
    throw error;
  });
  const account = await openAccount(values.target, values.region);
  try {
    const rows: StackStatusRow[] = [];
    const emptyDesired = { source, commit: snapshot.commit, stacks: [], prune: false, pruneMaxShare: 1, protectedTypes: [], findings: [] };
    const { plan, actual, defaultRegion } = await planSource(desired ?? emptyDesired, { gateways: account.gateways });
    const byKey = new Map(actual.map((a) => [stackKey(a.region, a.stackName, defaultRegion), a]));
    const row = (id: string, stackName: string, region: string | undefined, a: ActualStack | undefined, inSync: boolean | null, declared: boolean): StackStatusRow => ({
      id,
      stackName,
      region: region ?? defaultRegion,
      status: a?.status ?? 'NOT_DEPLOYED',
      health: a ? healthOf(a.status) : 'Missing',
      inSync,
      commit: a?.tags[OWNER_TAGS.commit] ?? null,
      appliedAt: a ? (a.updatedAt ?? a.createdAt) : null,
      drift: a?.driftStatus ?? null,
      driftCheckedAt: a?.driftCheckedAt ?? null,
      declared,
    });
    if (desired) {
      for (const s of plan.stacks) {
        const a = byKey.get(stackKey(s.region, s.stackName, defaultRegion));
        const declared = desired.stacks.some((d) => d.id === s.id);
        rows.push(row(s.id, s.stackName, s.region, a, s.action === 'none' && !s.waiting && declared, declared));
      }
    } else {
      for (const a of actual.filter((x) => x.tags[OWNER_TAGS.source] === source)) {
        rows.push(row(a.tags[OWNER_TAGS.stack] ?? a.stackName, a.stackName, a.region, a, null, false));
      }
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ source, commit: snapshot.commit, target: account.target, valid: !problems, stacks: rows, ...(problems ? { problems: problems.problems } : {}) }, null, 2)}\n`);
      return EXIT.ok;
    }
    process.stdout.write(`${style.bold(`Source "${source}" at ${shortSha(snapshot.commit)} on the ${account.description}`)}\n\n`);
    if (problems) process.stdout.write(`${style.red('The repository is not valid at this commit; showing owned stacks only:')}\n${renderProblems(problems.problems)}\n\n`);
    const header = [pad('STACK', 18), pad('STATUS', 26), pad('HEALTH', 12), pad('IN SYNC', 9), pad('COMMIT', 9), pad('APPLIED', 21), 'DRIFT'].join('');
    process.stdout.write(`${style.dim(header)}\n`);
    for (const r of rows) {
      const sync = r.inSync === null ? '?' : r.inSync ? style.green('yes') : style.yellow('no');
      const drift = r.drift && r.drift !== 'NOT_CHECKED' ? `${r.drift}${r.driftCheckedAt ? style.dim(` (${r.driftCheckedAt.slice(0, 19).replace('T', ' ')})`) : ''}` : style.dim('not checked');
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
    return EXIT.ok;
  } finally {
    await account.close();
  }
}
