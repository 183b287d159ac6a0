/**
 * Runs one CLI command and turns every failure into a clear message and an exit code: problems
 * listed with file and path, stalled states with what to do, never a stack trace (CAIRN_DEBUG=1
 * prints one for bug reports).
 */
import { usePackagedResourceSchemas } from '../adapters/resource-schema-file.js';
import { CairnError, StalledError, ValidationError } from '../core/errors.js';
import { UsageError } from './args.js';
import { EXIT } from './exit-codes.js';
import { renderProblems } from './render.js';
import { style } from './style.js';

export type CommandName = 'validate' | 'plan' | 'apply' | 'status' | 'drift' | 'serve' | 'demo' | 'sim';

type CommandModule = { run(argv: string[]): Promise<number> };

const loaders: Record<CommandName, () => Promise<CommandModule>> = {
  validate: () => import('./commands/validate.js'),
  plan: () => import('./commands/plan.js'),
  apply: () => import('./commands/apply.js'),
  status: () => import('./commands/status.js'),
  serve: () => import('./commands/serve.js'),
  sim: () => import('./commands/sim.js'),
  drift: () => import('./commands/drift.js'),
  demo: () => import('./commands/demo.js'),
};

export async function runCommand(name: CommandName, argv: string[]): Promise<number> {
  const load = loaders[name];
  usePackagedResourceSchemas();
  try {
    const command = await load();
    return await command.run(argv);
  } catch (error) {
    reportError(error, argv.includes('--json'));
    return EXIT.error;
  }
}

export function reportError(error: unknown, json: boolean): void {
  if (json) {
    const body =
      error instanceof ValidationError
        ? { error: error.reason, message: 'the repository is not valid', problems: error.problems }
        : error instanceof CairnError
          ? { error: error.reason, message: error.message, ...(error instanceof StalledError && error.hint ? { hint: error.hint } : {}) }
          : { error: error instanceof UsageError ? 'Usage' : 'Unexpected', message: error instanceof Error ? error.message : String(error) };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return;
  }
  if (error instanceof ValidationError) {
    const n = error.problems.length;
    process.stderr.write(`${renderProblems(error.problems)}\n\n${n} problem${n === 1 ? '' : 's'} found. Nothing was changed.\n`);
  } else if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
  } else if (error instanceof CairnError) {
    process.stderr.write(`${style.red('error')} [${error.reason}] ${error.message}\n`);
    if (error instanceof StalledError && error.hint) process.stderr.write(`  what to do: ${error.hint}\n`);
  } else {
    process.stderr.write(`${style.red('error')} ${error instanceof Error ? error.message : String(error)}\n`);
  }
  if (process.env['CAIRN_DEBUG'] && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}
