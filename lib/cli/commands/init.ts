/**
 * `cairn init DIR`: start a GitOps repository from the shipped example (examples/platform), with
 * its `source:` name filled in and, unless DIR is already inside a repository, `git init` and a
 * first commit, so Cairn has a commit to deploy from the first command on.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { locateRepository } from '../../adapters/repository-location.js';
import { SourceNameSchema } from '../../core/source-config.js';
import { parse, UsageError } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { style } from '../style.js';
import { EXAMPLE_DIR } from '../example.js';

const HELP = `Usage: cairn init DIR [--source NAME]

Writes a starter Cairn repository into DIR (created when missing; it must be empty): cairn.yaml
declaring four example stacks in two waves, their templates, and a deployment file. It then runs
\`git init\` and makes the first commit, since Cairn deploys commits; but when DIR is inside a Git
repository that does not ignore it, the files are only written, as a source at that path, for you
to commit. When DIR already holds a cairn.yaml, nothing is changed (exit 0).

Options:
  --source NAME       the source's name written into cairn.yaml (default: DIR's name)
`;


export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('init', argv, { source: { type: 'string' } });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (!positionals[0]) throw new UsageError("cairn init: give the directory to create, e.g. 'cairn init my-infra'. Run 'cairn init --help'.");
  const dir = resolve(positionals[0]);
  if (existsSync(join(dir, 'cairn.yaml'))) {
    process.stdout.write(`${dir} already holds cairn.yaml; nothing was changed.\n`);
    return EXIT.ok;
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UsageError(`cairn init: ${dir} is not empty; give a new or empty directory`);
  const name = values.source ?? basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  const checked = SourceNameSchema.safeParse(name);
  if (!checked.success) throw new UsageError(`cairn init: "${name}" cannot be a source name (${checked.error.issues[0]!.message}); pass --source NAME`);

  mkdirSync(dir, { recursive: true });
  const git = (args: string[], cwd = dir): string => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const enclosing = locateRepository(dir);
  cpSync(EXAMPLE_DIR, dir, { recursive: true });
  const manifest = join(dir, 'cairn.yaml');
  writeFileSync(manifest, readFileSync(manifest, 'utf8').replace(/^source: \S+/m, `source: ${name}`));
  if (enclosing && !ignoredBy(enclosing.top, dir, git)) {
    process.stdout.write(`Wrote source "${name}" into ${dir}, which is the path ${enclosing.subdir} of the Git repository ${enclosing.top}.\n`);
    process.stdout.write(`Commit it (git add ${positionals[0]} && git commit) before Cairn can deploy it; then: cairn plan ${positionals[0]}\n`);
    return EXIT.ok;
  }
  try {
    git(['init', '--quiet', '--initial-branch=main']);
    git(['add', '--all']);
    // A fresh machine may have no Git identity yet; the first commit still needs one.
    let identity: string[] = [];
    try {
      git(['config', 'user.email']);
    } catch {
      identity = ['-c', 'user.name=Cairn', '-c', 'user.email=cairn@localhost'];
    }
    git([...identity, 'commit', '--quiet', '-m', 'Declare the platform stacks for Cairn']);
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || (error instanceof Error ? error.message : String(error));
    throw new UsageError(`cairn init: wrote ${dir}, but git could not make the first commit: ${detail}`);
  }
  const sha = git(['rev-parse', '--short', 'HEAD']).trim();
  process.stdout.write(
    [
      `${style.green('✓')} Created source "${name}" in ${dir}: a Git repository with 4 stacks, first commit ${sha}.`,
      `Next:  cairn plan ${positionals[0]}          what applying it would do`,
      `       cairn serve --repo ${positionals[0]}  follow it: every new commit is applied`,
      '',
    ].join('\n'),
  );
  return EXIT.ok;
}

/** Whether the repository at `top` ignores `dir` (then DIR is not part of it and gets its own). */
function ignoredBy(top: string, dir: string, git: (args: string[], cwd?: string) => string): boolean {
  try {
    git(['check-ignore', '--quiet', dir], top);
    return true;
  } catch {
    return false;
  }
}
