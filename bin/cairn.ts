#!/usr/bin/env node
/**
 * The cairn command line. Starts fast: only the chosen command's module is loaded, so
 * `cairn --version` and `cairn --help` touch neither the AWS SDK nor git.
 */
import { readFileSync } from 'node:fs';
import { suggest } from '../lib/core/suggest.js';

// On Node 20 the AWS SDK prints a nine-line notice that its releases after January 2027 will need
// Node 22. This release of Cairn and its pinned SDK support Node 20, so the notice is left out.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const COMMANDS = ['init', 'validate', 'plan', 'apply', 'approve', 'reject', 'status', 'drift', 'serve', 'demo', 'sim'] as const;
type Command = (typeof COMMANDS)[number];

const USAGE = `cairn: GitOps for AWS CloudFormation

Usage: cairn <command> [options]

Commands:
  init DIR         start a Git repository from the example: cairn.yaml, templates, a first commit
  validate [DIR]   check cairn.yaml and every template it names; report every problem at once
  plan [DIR]       show what would change in the account, in apply order (exit 0: nothing, 2: changes)
  apply [DIR]      make the account match the repository through change sets
  approve STACK    approve the change set a stack with an approval policy awaits (reject STACK: refuse it)
  status [DIR]     every declared or owned stack: status, in sync, last commit, drift
  drift [DIR]      run drift detection now and print drifted resources
  serve            run the whole pipeline locally: webhook endpoint, queue, reconciler, sweep
  demo             a self-contained tour on the embedded account (about 10 seconds)
  sim              act on the embedded account as someone outside Cairn would (inject drift)

Run 'cairn <command> --help' (or 'cairn help <command>') for a command's options.
A directory inside a Git repository is read at a commit (HEAD unless --ref); --path DIR picks a
source's directory inside a repository. The source's name is cairn.yaml's \`source:\`.
Targets: --target embedded (default; a simulated account in $CAIRN_HOME, default the per-user
state directory such as ~/.local/state/cairn) or aws.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v') {
    process.stdout.write(`cairn ${version()}\n`);
    return 0;
  }
  if (first === 'help' && rest[0] && (COMMANDS as readonly string[]).includes(rest[0])) {
    const { runCommand } = await import('../lib/cli/run-command.js');
    return runCommand(rest[0] as Command, ['--help']);
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(USAGE);
    return first === undefined ? 1 : 0;
  }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    const hint = suggest(first, [...COMMANDS]);
    process.stderr.write(`cairn: unknown command '${first}'${hint ? `; did you mean '${hint}'?` : '.'} Commands: ${COMMANDS.join(', ')}. Run 'cairn --help'.\n`);
    return 1;
  }
  const { runCommand } = await import('../lib/cli/run-command.js');
  return runCommand(first as Command, rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`cairn: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
