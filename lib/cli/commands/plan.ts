/** `cairn plan [DIR]`: what would change in the account, in apply order. Exit 0 nothing, 2 changes, 1 error or blocked. */
import { loadDesired } from '../../reconcile/load-desired.js';
import { planSource } from '../../reconcile/plan-source.js';
import { parse, SOURCE_HELP, SOURCE_OPTIONS } from '../args.js';
import { openAccount, openRepo, sourceName } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { countActions } from '../../core/plan.js';
import { renderPlan, renderProblems, shortSha } from '../render.js';

const HELP = `Usage: cairn plan [DIR] [options]

Shows what applying the repository would do to the account, wave by wave: stacks to create,
update (with the resources and properties that change) and delete (prune), and stacks that are
blocked (with the reason). Makes no changes.

Exit codes: 0 nothing would change; 2 something would change; 1 an error, or a stack is blocked.

Options:
${SOURCE_HELP}
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('plan', argv, SOURCE_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const repo = await openRepo(values, positionals[0]);
  const source = sourceName(values, positionals[0]);
  const snapshot = await repo.snapshot();
  const desired = await loadDesired(snapshot, source);
  // Warnings do not stop a deploy, but whoever reads the plan should see them.
  const warnings = desired.findings.filter((p) => p.severity === 'warning');
  if (!values.json && warnings.length > 0) process.stderr.write(`${renderProblems(warnings)}

`);
  const account = await openAccount(values.target, values.region);
  try {
    const { plan } = await planSource(desired, { gateways: account.gateways, resourceDiff: true });
    const counts = countActions(plan);
    if (values.json) {
      const stacks = plan.stacks.map((s) => ({
        id: s.id,
        stackName: s.stackName,
        action: s.action,
        wave: s.wave,
        region: s.region ?? null,
        reason: s.reason,
        recreate: s.recreate,
        waiting: s.waiting,
        resources: s.resources,
        parameters: s.parameters,
      }));
      process.stdout.write(`${JSON.stringify({ source, commit: snapshot.commit, target: account.target, changes: plan.changes, counts, stacks }, null, 2)}\n`);
    } else {
      process.stdout.write(`${renderPlan(plan, `Plan for source "${source}" at ${shortSha(snapshot.commit)} against the ${account.description}`)}\n`);
    }
    if (counts.blocked > 0) return EXIT.error;
    return plan.changes ? EXIT.changes : EXIT.ok;
  } finally {
    await account.close();
  }
}
