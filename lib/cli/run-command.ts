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

export type CommandName = 'init' | 'validate' | 'plan' | 'apply' | 'approve' | 'reject' | 'status' | 'drift' | 'serve' | 'demo' | 'sim';

type CommandModule = { run(argv: string[]): Promise<number> };

const loaders: Record<CommandName, () => Promise<CommandModule>> = {
  init: () => import('./commands/init.js'),
  validate: () => import('./commands/validate.js'),
  plan: () => import('./commands/plan.js'),
  apply: () => import('./commands/apply.js'),
  approve: () => import('./commands/approve.js'),
  reject: () => import('./commands/reject.js'),
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
    const hint = (error instanceof StalledError && error.hint) || awsSetupHint(error);
    if (hint) process.stderr.write(`  what to do: ${hint}\n`);
  } else {
    process.stderr.write(`${style.red('error')} ${error instanceof Error ? error.message : String(error)}\n`);
    const hint = awsSetupHint(error);
    if (hint) process.stderr.write(`  what to do: ${hint}\n`);
  }
  if (process.env['CAIRN_DEBUG'] && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}

/** What to do about the AWS SDK's own setup failures (no credentials, no region), seen anywhere in the cause chain. */
export function awsSetupHint(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message)) {
      return 'give AWS credentials: AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; or leave out --target aws to use the embedded account';
    }
    if (/Region is missing/i.test(e.message)) return 'name a region: --region eu-west-1, or AWS_REGION';
    if (e.name === 'ExpiredTokenException' || /security token included in the request is (expired|invalid)/i.test(e.message)) {
      return 'the AWS credentials have expired or are not valid: log in again (`aws sso login`) or renew them';
    }
  }
  return undefined;
}
