/** `cairn validate [DIR]`: check cairn.yaml and every template it names; every problem at once. */
import { isError, ValidationError } from '../../core/errors.js';
import { waves } from '../../core/graph.js';
import { loadDesired } from '../../reconcile/load-desired.js';
import { parse, SOURCE_HELP, SOURCE_OPTIONS } from '../args.js';
import { openRepo, sourceName } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { renderProblems, shortSha } from '../render.js';
import { style } from '../style.js';

const HELP = `Usage: cairn validate [DIR] [options]

Checks cairn.yaml and every template and deployment file it names, without contacting any account.
Reports every problem at once, each with its file, line and path. Exit 0 when valid, 1 when not.

Options:
${SOURCE_HELP}
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('validate', argv, SOURCE_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const repo = await openRepo(values, positionals[0]);
  const snapshot = await repo.snapshot();
  try {
    const desired = await loadDesired(snapshot, sourceName(values, positionals[0]));
    const waveOf = waves(new Map(desired.stacks.map((s) => [s.id, s.dependsOn])));
    const waveCount = Math.max(0, ...waveOf.values()) + (desired.stacks.length ? 1 : 0);
    if (values.json) {
      const stacks = desired.stacks.map((s) => ({ id: s.id, stackName: s.stackName, template: s.templateFile, wave: waveOf.get(s.id), dependsOn: s.dependsOn }));
      process.stdout.write(`${JSON.stringify({ valid: true, commit: snapshot.commit, stacks, problems: desired.findings }, null, 2)}\n`);
    } else {
      if (desired.findings.length > 0) process.stdout.write(`${renderProblems(desired.findings)}\n\n`);
      process.stdout.write(
        `${style.green('✓')} ${repo.description} at ${shortSha(snapshot.commit)} is valid: ${desired.stacks.length} stack${desired.stacks.length === 1 ? '' : 's'} in ${waveCount} wave${waveCount === 1 ? '' : 's'}` +
          `${desired.stacks.length ? ` (${desired.stacks.map((s) => s.id).join(', ')})` : ''}\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ valid: false, commit: snapshot.commit, stacks: [], problems: error.problems }, null, 2)}\n`);
    } else {
      const n = error.problems.filter(isError).length;
      process.stderr.write(`${renderProblems(error.problems)}\n\n${n} problem${n === 1 ? '' : 's'} in ${repo.description} at ${shortSha(snapshot.commit)}.\n`);
    }
    return EXIT.error;
  }
}
