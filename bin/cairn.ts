#!/usr/bin/env node
/**
 * The cairn command line. Starts fast: only the chosen command's module is loaded, so
 * `cairn --version` and `cairn --help` touch neither the AWS SDK nor git.
 */
import { readFileSync } from 'node:fs';

const COMMANDS = ['init', 'validate', 'plan', 'apply', 'status', 'drift', 'serve', 'demo', 'sim'] as const;
type Command = (typeof COMMANDS)[number];

const USAGE = `cairn: GitOps for AWS CloudFormation

Usage: cairn <command> [options]

Commands:
  init DIR         start a Git repository from the example: cairn.yaml, templates, a first commit
  validate [DIR]   check cairn.yaml and every template it names; report every problem at once
  plan [DIR]       show what would change in the account, in apply order (exit 0: nothing, 2: changes)
  apply [DIR]      make the account match the repository through change sets
  status [DIR]     every declared or owned stack: status, in sync, last commit, drift
  drift [DIR]      run drift detection now and print drifted resources
  serve            run the whole pipeline locally: webhook endpoint, queue, reconciler, sweep
  demo             a self-contained tour on the embedded account (about 30 seconds)
  sim              act on the embedded account as someone outside Cairn would (inject drift)

Run 'cairn <command> --help' for a command's options.
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
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(USAGE);
    return first === undefined ? 1 : 0;
  }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    process.stderr.write(`cairn: unknown command '${first}'. Commands: ${COMMANDS.join(', ')}. Run 'cairn --help'.\n`);
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
