/**
 * `cairn approve STACK [DIR]` and `cairn reject STACK [DIR]` (or `SOURCE STACK`, read from the
 * stack's approval state): a person's decision on the change set a stack with an `approval` policy
 * is waiting on, at the source's commit. The decision is kept
 * where `cairn serve` reads it (the state directory's approvals/), with who and when; the
 * reconciler then executes the change set (or stalls the commit, for a rejection) on its next step.
 */
import { statSync } from 'node:fs';
import { FileApprovals } from '../../adapters/file-approvals.js';
import { stackKey } from '../../core/plan.js';
import type { Approval, ApprovalStore } from '../../ports/approvals.js';
import { S3Approvals } from '../../adapters/s3-approvals.js';
import { keptChangeSet } from '../../reconcile/preview.js';
import { listActual } from '../../reconcile/plan-source.js';
import { OWNER_TAGS } from '../../core/model.js';
import { parse, SOURCE_HELP, SOURCE_OPTIONS, UsageError } from '../args.js';
import { approvalsDir, loadSource, openAccount, parseTarget, userName } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { shortSha } from '../render.js';
import { style } from '../style.js';

const help = (verb: 'approve' | 'reject'): string => `Usage: cairn ${verb} STACK [DIR] [options]
       cairn ${verb} SOURCE STACK [options]

${verb === 'approve' ? 'Approves' : 'Rejects'} the change set that stack STACK (its id in cairn.yaml) is awaiting, for a
stack whose \`approval\` policy (manual, manual-on-replace, manual-on-delete) asks for one; for a
stack being pruned, its deletion. The decision is bound to that change set and to the source's
commit (HEAD unless --ref): a newer commit needs its own. It is recorded with your user name and
the time, and the reconciler (\`cairn serve\`, or the deployed one with --target aws)
${verb === 'approve' ? 'executes the change set' : 'stalls the commit, naming you'} on its next step. With --target aws the decision is written to the
deployment's bucket: set CAIRN_APPROVALS_BUCKET to its TemplateBucketName output; your identity
needs the stack's ApproverPolicyArn policy.

With SOURCE STACK, no repository is needed: the change set and commit are the ones the reconciler
recorded the stack as awaiting (what \`cairn status\` shows under Approvals).

Options:
${SOURCE_HELP}
`;

export async function run(argv: string[]): Promise<number> {
  return decide(argv, 'approve');
}

export async function decide(argv: string[], verb: 'approve' | 'reject'): Promise<number> {
  const { values, positionals } = parse(verb, argv, SOURCE_OPTIONS, 2);
  if (values.help) {
    process.stdout.write(help(verb));
    return EXIT.ok;
  }
  if (!positionals[0]) throw new UsageError(`cairn ${verb}: name the stack, e.g. \`cairn ${verb} app\` (or \`cairn ${verb} SOURCE STACK\`)`);
  // `cairn approve SOURCE STACK`: the second word is not a directory, so it is a stack, and what it
  // awaits is read from its approval state, with no repository at hand.
  if (positionals[1] !== undefined && !isDirectory(positionals[1])) {
    return decideFromState(verb, positionals[0], positionals[1], approvalStore(parseTarget(values.target), values.region));
  }
  const stackId = positionals[0];
  const { desired, snapshot, source } = await loadSource(values, positionals[1]);
  // Where the decision goes is known before anything is asked of the account.
  const store = approvalStore(parseTarget(values.target), values.region);
  const account = await openAccount(values.target, values.region);
  try {
    const { actual, defaultRegion } = await listActual(desired, account.gateways);
    const declared = desired.stacks.find((s) => s.id === stackId);
    const owned = actual.find((a) => a.tags[OWNER_TAGS.source] === source && a.tags[OWNER_TAGS.stack] === stackId);
    const stack = declared ? actual.find((a) => stackKey(a.region, a.stackName, defaultRegion) === stackKey(declared.region, declared.stackName, defaultRegion)) : owned;
    if (!declared && !owned) throw new UsageError(`cairn ${verb}: source "${source}" has no stack "${stackId}" (declared: ${desired.stacks.map((s) => s.id).join(', ') || 'none'})`);
    let changeSetName = 'delete';
    if (declared) {
      const waiting = stack ? await keptChangeSet(account.gateways(stack.region), stack.stackName) : undefined;
      if (!waiting) throw new UsageError(`cairn ${verb}: stack ${stackId} has no change set awaiting approval; \`cairn status\` shows what it waits on`);
      changeSetName = waiting;
    }
    await record(store, verb, { source, stack: stackId, changeSetName, commit: snapshot.commit });
    return EXIT.ok;
  } finally {
    await account.close();
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Decide on what the stack awaits as its approval state records it (the change set and commit the reconciler holds). */
async function decideFromState(verb: 'approve' | 'reject', source: string, stack: string, store: ApprovalStore): Promise<number> {
  const state = await store.getState(source, stack);
  if (!state || state.state !== 'awaiting') {
    throw new UsageError(
      `cairn ${verb}: stack ${stack} of source ${source} is not awaiting approval${state ? ` (its last change set was ${state.state} at ${shortSha(state.commit)})` : ' (no approval state is recorded for it)'}; \`cairn status\` shows what it waits on`,
    );
  }
  await record(store, verb, { source, stack, changeSetName: state.changeSetName, commit: state.commit }, state.summary);
  return EXIT.ok;
}

/** Write the decision, with who and when, and say what the reconciler does with it. */
async function record(store: ApprovalStore, verb: 'approve' | 'reject', bound: Pick<Approval, 'source' | 'stack' | 'changeSetName' | 'commit'>, summary?: string): Promise<void> {
  const approval: Approval = { ...bound, decision: verb === 'approve' ? 'approved' : 'rejected', by: userName(), at: new Date().toISOString() };
  await store.put(approval);
  const what = bound.changeSetName === 'delete' ? 'the deletion of' : `change set ${bound.changeSetName} of`;
  process.stdout.write(
    `${verb === 'approve' ? style.green('✓') : style.red('✗')} ${approval.decision} ${what} stack ${bound.stack} at ${shortSha(bound.commit)}${summary ? ` (${summary})` : ''}, as ${approval.by}\n` +
      `  the reconciler ${verb === 'approve' ? 'executes it' : 'stalls the commit'} on its next step\n`,
  );
}

/**
 * Where the decision goes: the state directory for the embedded account (what `cairn serve` reads),
 * the deployment's bucket for AWS (what the reconcile function reads), named by CAIRN_APPROVALS_BUCKET.
 */
export function approvalStore(target: string, region: string | undefined): ApprovalStore {
  if (target !== 'aws') return new FileApprovals(approvalsDir());
  const bucket = process.env['CAIRN_APPROVALS_BUCKET'];
  if (!bucket) {
    throw new UsageError(
      'cairn approve --target aws: set CAIRN_APPROVALS_BUCKET to the deployment\'s bucket (the TemplateBucketName output of the Cairn stack); your identity needs the ApproverPolicyArn policy',
    );
  }
  return new S3Approvals({ bucket, ...(region ? { region } : {}) });
}
