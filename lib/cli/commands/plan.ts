/** `cairn plan [DIR]`: what would change in the account, in apply order. Exit 0 nothing, 2 changes, 1 error or blocked. */
import { planSource } from '../../reconcile/plan-source.js';
import { parse, SOURCE_HELP, SOURCE_OPTIONS } from '../args.js';
import { loadSource, openAccount, changeSetTiming } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { createProgress } from '../progress.js';
import type { PlanOutput } from '../json-output.js';
import { countActions } from '../../core/plan.js';
import { describeCommit, renderPlan, renderProblems } from '../render.js';

const HELP = `Usage: cairn plan [DIR] [options]

Shows what applying the repository would do to the account, wave by wave: stacks to create,
update and delete (prune), and stacks that are blocked (with the reason). For every update it
asks CloudFormation itself: a preview change set with property values is created, read and
deleted (never executed), so each resource shows add / modify / replace / remove with its old
and new values, and a destructive change shows as blocked, as apply would block it. Changes no
stack. In a Git work tree it shows what the commit (HEAD)
would do, and names the files cairn.yaml reads that have uncommitted edits.

Exit codes: 0 nothing would change; 2 something would change; 1 an error, or a stack is blocked.

Options:
${SOURCE_HELP}
  --offline           Cairn's own template diff only: no preview change sets, no CloudFormation
                      call beyond listing the stacks
  --retry             show what \`cairn apply --retry\` would do: a failed create or update of this
                      same content planned as tried once more instead of blocked
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('plan', argv, { ...SOURCE_OPTIONS, offline: { type: 'boolean' }, retry: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const progress = createProgress({ json: values.json });
  const { snapshot, desired, source, uncommitted } = await loadSource(values, positionals[0], { progress: progress.listener });
  // Warnings do not stop a deploy, but whoever reads the plan should see them.
  const warnings = desired.findings.filter((p) => p.severity === 'warning');
  if (!values.json && warnings.length > 0) process.stderr.write(`${renderProblems(warnings)}\n\n`);
  const account = await openAccount(values.target, values.region);
  try {
    // What `cairn apply --retry` would do: a failed create or update of this same content tried once more.
    const retry = values.retry ? new Set(desired.stacks.map((s) => s.id)) : undefined;
    const { plan, defaultRegion } = await planSource(desired, {
      gateways: account.gateways,
      resourceDiff: true,
      ...(values.offline ? {} : { preview: changeSetTiming(account.target) }),
      ...(retry ? { retry } : {}),
      progress: progress.listener,
    });
    const counts = countActions(plan);
    if (values.json) {
      const stacks = plan.stacks.map((s) => ({
        id: s.id,
        stackName: s.stackName,
        action: s.action,
        // Numbered from 1, as the text shows them.
        wave: s.wave + 1,
        region: s.region ?? defaultRegion,
        reason: s.reason,
        recreate: s.recreate,
        waiting: s.waiting,
        resources: s.resources,
        ...(s.preview ? { preview: s.preview } : {}),
        ...(s.mayChangeAfter ? { mayChangeAfter: s.mayChangeAfter } : {}),
        ...(s.held ? { held: s.held } : {}),
        parameters: s.parameters,
      }));
      const output: PlanOutput = { source, commit: snapshot.commit, target: account.target, changes: plan.changes, counts, uncommitted, stacks };
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    } else {
      process.stdout.write(`${renderPlan(plan, `Plan for source "${source}" at ${describeCommit(snapshot.commit)} against the ${account.description}`)}\n`);
    }
    if (counts.blocked > 0) return EXIT.error;
    return plan.changes ? EXIT.changes : EXIT.ok;
  } finally {
    await account.close();
  }
}
