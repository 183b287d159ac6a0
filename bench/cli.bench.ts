/**
 * CLI figures: start time of `cairn --version` (target under 300 ms), `cairn validate` of 300
 * templates as a whole process (every template checked against the resource schemas), and planning
 * a 200-stack repository with nothing to change, as a whole `cairn plan` process and as
 * CloudFormation calls.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, round, summary, timeRuns, type BenchModule } from './harness.js';

const CLI = fileURLToPath(new URL('../bin/cairn.js', import.meta.url));

/** A repository of `n` stacks (every tenth depends on the one before it), as files by path. */
export function manyStacks(n: number, timeout = 30): Record<string, string> {
  const files: Record<string, string> = {};
  const lines = ['version: 1', 'source: bench', 'stacks:'];
  for (let i = 0; i < n; i++) {
    const id = `svc-${String(i).padStart(3, '0')}`;
    files[`stacks/${id}.yaml`] =
      `Parameters:\n  Name: {Type: String, Default: ${id}}\n  Timeout: {Type: Number, Default: ${timeout}}\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub "\${Name}-queue"\n      VisibilityTimeout: !Ref Timeout\n  Topic: {Type: AWS::SNS::Topic}\nOutputs:\n  QueueUrl: {Value: !Ref Queue}\n`;
    lines.push(`  ${id}:`, `    template: stacks/${id}.yaml`);
    if (i % 10 === 9) lines.push(`    dependsOn: [svc-${String(i - 1).padStart(3, '0')}]`);
  }
  files['cairn.yaml'] = `${lines.join('\n')}\n`;
  return files;
}

export function writeManyStacks(dir: string, n: number): void {
  mkdirSync(join(dir, 'stacks'), { recursive: true });
  for (const [path, text] of Object.entries(manyStacks(n))) writeFileSync(join(dir, path), text);
}

function cairn(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

export const cliBench: BenchModule = {
  name: 'cli',
  command: 'npm run bench -- cli',
  async run(ctx) {
    const starts = await timeRuns(() => execFileSync(process.execPath, [CLI, '--version']), 15, 2);
    const start = median(starts);
    ctx.add({ group: 'cli', name: 'cairn --version start time', value: round(start, 1), unit: 'ms', target: '< 300', ok: start < 300, detail: 'median of 15 processes' });

    const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-cli-'));
    try {
      const wide = join(dir, 'wide');
      writeManyStacks(wide, 300);
      let run = 0;
      const validates = await timeRuns(() => {
        // A state directory of its own each time: no template analysed before, every one checked.
        const r = cairn(['validate', wide], { NO_COLOR: '1', CAIRN_HOME: join(dir, `validate-${run++}`) });
        if (r.status !== 0) throw new Error(`validate of the 300-stack repository exited ${r.status}, expected 0`);
      }, 5, 1);
      const validate = summary(validates);
      ctx.add({ group: 'cli', name: 'cairn validate, 300 templates, nothing cached', ...validate, unit: 'ms', target: '< 1200', ok: validate.value < 1200, detail: 'median of 5 processes' });

      const repo = join(dir, 'repo');
      writeManyStacks(repo, 200);
      const env = { CAIRN_HOME: join(dir, 'home'), NO_COLOR: '1' };
      const applied = cairn(['apply', repo, '--yes', '--source', 'bench'], env);
      if (applied.status !== 0) throw new Error(`applying the 200-stack repository failed (exit ${applied.status})`);
      const plans = await timeRuns(() => {
        const r = cairn(['plan', repo, '--source', 'bench'], env);
        if (r.status !== 0) throw new Error(`plan of an unchanged repository exited ${r.status}, expected 0`);
      }, 5, 1);
      ctx.add({ group: 'cli', name: 'cairn plan, 200 stacks, nothing to change', ...summary(plans), unit: 'ms', detail: 'median of 5 processes, embedded account, templates cached by the apply' });

      const { EmbeddedAccount } = await import('../lib/adapters/embedded-account/index.js');
      const { loadDesired } = await import('../lib/reconcile/load-desired.js');
      const { planSource } = await import('../lib/reconcile/plan-source.js');
      const { openSource } = await import('../lib/adapters/local-source.js');
      const account = new EmbeddedAccount({ home: env.CAIRN_HOME });
      const desired = await loadDesired(await openSource({ dir: repo }).snapshot(), 'bench');
      const before = account.callCount();
      const { plan } = await planSource(desired, { gateways: (r) => account.gateway(r), resourceDiff: true });
      const calls = account.callCount() - before;
      await account.close();
      if (plan.changes) throw new Error('the 200-stack plan found changes after apply');
      ctx.add({ group: 'cli', name: 'CloudFormation calls to plan 200 unchanged stacks', value: calls, unit: 'calls', target: 'no growth per stack', ok: calls <= 2, detail: 'one listing; no GetTemplate, no change set' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
