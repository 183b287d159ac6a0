/** `cairn validate [DIR]`: check cairn.yaml and every template it names; every problem at once. */
import { isError } from '../../core/errors.js';
import { waves } from '../../core/graph.js';
import { parse, SOURCE_HELP, SOURCE_OPTIONS } from '../args.js';
import { inspectSource } from '../context.js';
import { createProgress } from '../progress.js';
import { EXIT } from '../exit-codes.js';
import type { ValidateOutput } from '../json-output.js';
import { describeCommit, renderProblems } from '../render.js';
import { style } from '../style.js';

const HELP = `Usage: cairn validate [DIR] [options]

Checks cairn.yaml and every template and deployment file it names, without contacting any account.
Reports every problem at once, each with its file, line and path. Exit 0 when valid, 1 when not.
In a Git work tree it checks the commit (HEAD unless --ref); --allow-dirty checks the files as
edited, before they are committed.

Options:
${SOURCE_HELP}
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('validate', argv, SOURCE_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const progress = createProgress({ json: values.json });
  const { repo, snapshot, desired, problems, uncommitted } = await inspectSource(values, positionals[0], { progress: progress.listener });
  if (desired) {
    const waveOf = waves(new Map(desired.stacks.map((s) => [s.id, s.dependsOn])));
    const waveCount = Math.max(0, ...waveOf.values()) + (desired.stacks.length ? 1 : 0);
    if (values.json) {
      // Waves numbered from 1, as the text counts them and plan numbers them.
      const stacks = desired.stacks.map((s) => ({ id: s.id, stackName: s.stackName, template: s.templateFile, wave: (waveOf.get(s.id) ?? 0) + 1, dependsOn: s.dependsOn }));
      const output: ValidateOutput = { valid: true, source: desired.source, commit: snapshot.commit, uncommitted, stacks, problems: desired.findings };
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    } else {
      if (desired.findings.length > 0) process.stdout.write(`${renderProblems(desired.findings)}\n\n`);
      process.stdout.write(
        `${style.green('✓')} source "${desired.source}" (${repo.description}) at ${describeCommit(snapshot.commit)} is valid: ${desired.stacks.length} stack${desired.stacks.length === 1 ? '' : 's'} in ${waveCount} wave${waveCount === 1 ? '' : 's'}` +
          `${desired.stacks.length ? ` (${desired.stacks.map((s) => s.id).join(', ')})` : ''}\n`,
      );
    }
    return EXIT.ok;
  }
  const found = problems!.problems;
  if (values.json) {
    const output: ValidateOutput = { valid: false, source: values.source ?? null, commit: snapshot.commit, uncommitted, stacks: [], problems: found };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } else {
    const n = found.filter(isError).length;
    process.stderr.write(`${renderProblems(found)}\n\n${n} problem${n === 1 ? '' : 's'} in ${repo.description} at ${describeCommit(snapshot.commit)}.\n`);
  }
  return EXIT.error;
}
