/** `cairn drift [DIR]`: run drift detection now on every stack the source owns and print what drifted. Exit 0 none, 2 drift found, 1 error. */
import { MemorySink } from '../../ports/events.js';
import { sweep } from '../../reconcile/sweep.js';
import { parse, SOURCE_HELP, SOURCE_OPTIONS } from '../args.js';
import { inspectSource, openAccount, operationTiming, requireSourceName } from '../context.js';
import { formatEvent } from '../event-printer.js';
import { EXIT } from '../exit-codes.js';
import { createProgress } from '../progress.js';
import type { DriftOutput } from '../json-output.js';
import { style } from '../style.js';

const HELP = `Usage: cairn drift [DIR] [options]

Runs CloudFormation drift detection now on every stack the source owns (stacks whose policy is
ignore are skipped) and prints each drifted resource with the property path, the expected and
the actual value. Changes nothing: drift is reverted by \`cairn apply\` (or \`cairn serve\`'s next
step) for stacks whose policy is revert.

Exit codes: 0 no drift; 2 drift found; 1 an error.

Options:
${SOURCE_HELP}
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('drift', argv, SOURCE_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  // Only the source's name is needed; --source alone names it without reading the repository.
  const progress = createProgress({ json: values.json });
  const loaded = values.source ? undefined : await inspectSource(values, positionals[0], { progress: progress.listener });
  const source = values.source ?? requireSourceName(loaded!);
  const account = await openAccount(values.target, values.region);
  try {
    const sink = new MemorySink();
    const report = await sweep({
      sources: [source],
      // Detection only: nothing is queued from the command line.
      queue: { send: async () => ({ messageId: '', duplicate: false }) },
      gateways: account.gateways,
      sink,
      intervalMs: 1,
      coverMs: 1,
      pollMs: operationTiming(account.target).driftPollMs,
      progress: progress.listener,
    });
    const drifted = sink.ofType('drift.detected');
    if (values.json) {
      const output: DriftOutput = {
        source,
        commit: loaded?.snapshot.commit ?? null,
        target: account.target,
        checked: report.checked,
        drifted: drifted.map((d) => ({ id: d.stack, stackName: d.stackName, policy: d.policy, resources: d.resources })),
        inSync: sink.ofType('drift.in-sync').map((d) => d.stack),
        notChecked: report.failed,
      };
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    } else {
      if (report.owned === 0) process.stdout.write(`Source "${source}" owns no stacks on the ${account.description}.\n`);
      for (const e of sink.events) {
        const line = formatEvent(e);
        if (line && (e.type === 'drift.detected' || e.type === 'drift.in-sync')) process.stdout.write(`${line}\n`);
      }
      for (const f of report.failed) process.stdout.write(`  ${style.red('not checked')} ${f.stackName}: ${f.reason}\n`);
      const revert = drifted.filter((d) => d.policy === 'revert').map((d) => d.stack);
      process.stdout.write(
        `\n${report.checked} stack${report.checked === 1 ? '' : 's'} checked: ${drifted.length ? style.yellow(`${drifted.length} drifted`) : style.green('no drift')}` +
          `${report.owned - report.checked > 0 ? `, ${report.owned - report.checked} not checked (busy, or policy ignore)` : ''}.` +
          `${revert.length ? ` Policy revert: \`cairn apply\` puts ${revert.join(', ')} back.` : ''}\n`,
      );
    }
    return drifted.length > 0 ? EXIT.changes : report.failed.length > 0 ? EXIT.error : EXIT.ok;
  } finally {
    await account.close();
  }
}
