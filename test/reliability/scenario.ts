/**
 * Random scenarios for the reliability suite: a small GitOps repository (1–6 stacks of cheap
 * resource types, wired by dependsOn and fromStack without cycles, prune on), the sequence of
 * commits pushed to it, and the faults injected while Cairn applies them. Everything is drawn from
 * one seed, and `describeScenario` prints a scenario so that a failure reads as a story.
 */
import type { MemoryFiles } from '../helpers/memory-source.js';
import { Random } from './random.js';

export const SOURCE = 'src';
/** A source no deployment follows: messages naming it are poison and must reach the dead letters. */
export const POISON_SOURCE = 'ghost';
/** Only the commits of a rollback fault use this type, so failing it fails exactly those. */
export const CANARY_TYPE = 'AWS::SSM::Parameter';

const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
const MAX_STACKS = 6;

export interface StackSpec {
  id: string;
  topics: number;
  queues: number;
  label: string;
  /** Takes parameter Upstream from this stack's output Out (fromStack). */
  upstream: string | undefined;
  /** Explicit dependsOn; only stacks earlier in the list, so there is never a cycle. */
  dependsOn: string[];
  /** Holds a resource of CANARY_TYPE. */
  canary: boolean;
}

export interface RepoSpec {
  stacks: StackSpec[];
  /** Undefined: Cairn's default (0.5). */
  pruneMaxShare: number | undefined;
}

export interface CommitPlan {
  index: number;
  /** Milliseconds after the scenario starts. */
  at: number;
  spec: RepoSpec;
  change: string;
  /** The push webhook for this commit reaches the queue this much later (a slow or reordered delivery). */
  deliveryDelayMs: number;
  /** cairn.yaml at this commit names a dependency that does not exist (a ManifestInvalid stall). */
  broken?: boolean;
}

export type Fault =
  | { kind: 'throttle'; at: number; durationMs: number; perSecond: number }
  | { kind: 'errors'; at: number; durationMs: number; rate: number }
  | { kind: 'latency'; minMs: number; maxMs: number }
  | { kind: 'timeout'; call: number; hangMs: number; executed: boolean }
  | { kind: 'kill'; invocation: number; afterCall: number }
  | { kind: 'kill-after'; operation: string; occurrence: number }
  | { kind: 'duplicate'; commit: number; delayMs: number; sameDedupId: boolean }
  | { kind: 'reorder'; commit: number; at: number }
  | { kind: 'stuck'; at: number; durationMs: number; via: 'force' | 'outside'; pick: number }
  | { kind: 'rollback'; commit: number; stack: string; permanent: boolean; failRollback: boolean; clearAt: number | undefined }
  | { kind: 'poison'; at: number }
  | { kind: 'sweep'; at: number }
  | { kind: 'slow-source'; invocation: number; delayMs: number }
  | { kind: 'source-down'; at: number; durationMs: number }
  | { kind: 'lost-events'; at: number; durationMs: number; share: number }
  /** IAM refuses every call of this gateway operation from `at` until `until` (undefined: never granted). */
  | { kind: 'denied'; operation: string; at: number; until: number | undefined };

export type Expectation =
  | { kind: 'converge' }
  | { kind: 'stall'; reason: 'StackFailed'; stack: string }
  /** The last commit stalls with AccessDenied, naming the refused IAM action. */
  | { kind: 'denied'; action: string };

export interface Scenario {
  seed: number;
  index: number;
  commits: CommitPlan[];
  faults: Fault[];
  expect: Expectation;
}

// ---- the repository -------------------------------------------------------------------------

function templateOf(s: StackSpec): string {
  const value = s.upstream ? { 'Fn::Sub': '${Label}|${Upstream}' } : { Ref: 'Label' };
  const resources: Record<string, unknown> = {};
  for (let i = 0; i < s.topics; i++) resources[`Topic${i}`] = { Type: 'AWS::SNS::Topic', Properties: { DisplayName: value } };
  for (let i = 0; i < s.queues; i++) resources[`Queue${i}`] = { Type: 'AWS::SQS::Queue', Properties: { Tags: [{ Key: 'label', Value: value }] } };
  if (s.canary) resources['Canary'] = { Type: CANARY_TYPE, Properties: { Type: 'String', Value: value } };
  return JSON.stringify(
    {
      Parameters: { Label: { Type: 'String' }, ...(s.upstream ? { Upstream: { Type: 'String' } } : {}) },
      Resources: resources,
      Outputs: { Out: { Value: s.upstream ? { 'Fn::Sub': '${Label}-${Upstream}' } : { 'Fn::Sub': '${Label}-out' } } },
    },
    null,
    2,
  );
}

/** cairn.yaml (as JSON, which is YAML) and one template per stack. */
export function renderRepo(spec: RepoSpec, options: { broken?: boolean } = {}): MemoryFiles {
  const stacks: Record<string, unknown> = {};
  for (const [i, s] of spec.stacks.entries()) {
    const dependsOn = options.broken && i === 0 ? [...s.dependsOn, 'nowhere'] : s.dependsOn;
    stacks[s.id] = {
      template: `stacks/${s.id}.json`,
      parameters: { Label: s.label, ...(s.upstream ? { Upstream: { fromStack: s.upstream, output: 'Out' } } : {}) },
      ...(dependsOn.length > 0 ? { dependsOn } : {}),
    };
  }
  const manifest = { version: 1, defaults: { prune: true, ...(spec.pruneMaxShare ? { pruneMaxShare: spec.pruneMaxShare } : {}) }, stacks };
  const files: MemoryFiles = { 'cairn.yaml': JSON.stringify(manifest, null, 2) };
  for (const s of spec.stacks) files[`stacks/${s.id}.json`] = templateOf(s);
  return files;
}

// ---- commits --------------------------------------------------------------------------------

function clone(spec: RepoSpec): RepoSpec {
  return { pruneMaxShare: spec.pruneMaxShare, stacks: spec.stacks.map((s) => ({ ...s, dependsOn: [...s.dependsOn] })) };
}

class Labels {
  private n = 0;
  next(): string {
    return `v${++this.n}`;
  }
}

function newStack(rng: Random, spec: RepoSpec, labels: Labels): StackSpec {
  const id = rng.pick(NAMES.filter((n) => !spec.stacks.some((s) => s.id === n)));
  const topics = rng.int(0, 2);
  const queues = topics === 0 ? rng.int(1, 2) : rng.int(0, 1);
  const earlier = spec.stacks.map((s) => s.id);
  const upstream = earlier.length > 0 && rng.chance(0.5) ? rng.pick(earlier) : undefined;
  const others = earlier.filter((e) => e !== upstream);
  const dependsOn = others.length > 0 && rng.chance(0.3) ? [rng.pick(others)] : [];
  return { id, topics, queues, label: labels.next(), upstream, dependsOn, canary: false };
}

type Mutation = 'label' | 'resize' | 'add' | 'remove' | 'rewire' | 'noop';

function mutate(rng: Random, previous: RepoSpec, labels: Labels): { spec: RepoSpec; change: string } {
  const spec = clone(previous);
  const changes: string[] = [];
  const count = rng.chance(0.35) ? 2 : 1;
  for (let i = 0; i < count; i++) {
    const options: Mutation[] = ['label', 'label', 'resize', 'rewire', 'noop'];
    if (spec.stacks.length < MAX_STACKS) options.push('add', 'add');
    if (spec.stacks.length > 1) options.push('remove');
    const m = rng.pick(options);
    switch (m) {
      case 'label': {
        const s = rng.pick(spec.stacks);
        s.label = labels.next();
        changes.push(`label of ${s.id} → ${s.label}`);
        break;
      }
      case 'resize': {
        const s = rng.pick(spec.stacks);
        s.topics = rng.int(0, 2);
        s.queues = s.topics === 0 ? rng.int(1, 2) : rng.int(0, 1);
        changes.push(`${s.id} now has ${s.topics} topic(s), ${s.queues} queue(s)`);
        break;
      }
      case 'add': {
        const s = newStack(rng, spec, labels);
        spec.stacks.push(s);
        changes.push(`add ${s.id}${s.upstream ? ` (Upstream from ${s.upstream})` : ''}${s.dependsOn.length ? ` (dependsOn ${s.dependsOn.join(', ')})` : ''}`);
        break;
      }
      case 'remove': {
        const s = rng.pick(spec.stacks);
        spec.stacks = spec.stacks.filter((x) => x !== s);
        for (const x of spec.stacks) {
          if (x.upstream === s.id) x.upstream = undefined;
          x.dependsOn = x.dependsOn.filter((d) => d !== s.id);
        }
        changes.push(`remove ${s.id} (prune)`);
        break;
      }
      case 'rewire': {
        const index = rng.int(0, spec.stacks.length - 1);
        const s = spec.stacks[index]!;
        const earlier = spec.stacks.slice(0, index).map((x) => x.id);
        s.upstream = earlier.length > 0 && rng.chance(0.6) ? rng.pick(earlier) : undefined;
        const others = earlier.filter((e) => e !== s.upstream);
        s.dependsOn = others.length > 0 && rng.chance(0.4) ? [rng.pick(others)] : [];
        changes.push(`rewire ${s.id}: Upstream from ${s.upstream ?? 'nothing'}, dependsOn [${s.dependsOn.join(', ')}]`);
        break;
      }
      case 'noop':
        changes.push('no content change');
        break;
    }
  }
  return { spec, change: changes.join('; ') };
}

// ---- the scenario ---------------------------------------------------------------------------

const SECOND = 1000;

export function generateScenario(seed: number, index: number): Scenario {
  const rng = new Random(seed);
  const labels = new Labels();
  const initial: RepoSpec = { stacks: [], pruneMaxShare: rng.chance(0.3) ? 1 : undefined };
  for (let i = rng.int(1, 4); i > 0; i--) initial.stacks.push(newStack(rng, initial, labels));

  const commits: CommitPlan[] = [{ index: 0, at: 0, spec: initial, change: 'initial commit', deliveryDelayMs: 0 }];
  const count = rng.int(2, 5);
  let at = 0;
  for (let k = 1; k < count; k++) {
    const gap = rng.pick(['short', 'medium', 'long'] as const);
    at += gap === 'short' ? rng.int(0, 8) * SECOND : gap === 'medium' ? rng.int(10, 40) * SECOND : rng.int(60, 300) * SECOND;
    const { spec, change } = mutate(rng, commits[k - 1]!.spec, labels);
    commits.push({ index: k, at, spec, change, deliveryDelayMs: 0 });
  }
  const end = at;
  const last = commits.length - 1;
  const faults: Fault[] = [];
  let expect: Expectation = { kind: 'converge' };

  const f = rng.fork();
  const within = (): number => f.int(0, Math.floor((end + 120 * SECOND) / SECOND)) * SECOND;

  if (f.chance(0.3)) faults.push({ kind: 'throttle', at: within(), durationMs: f.int(10, 90) * SECOND, perSecond: f.pick([2, 4, 8]) });
  if (f.chance(0.3)) faults.push({ kind: 'errors', at: within(), durationMs: f.int(10, 120) * SECOND, rate: f.pick([0.05, 0.1, 0.2, 0.35]) });
  if (f.chance(0.3)) faults.push({ kind: 'latency', minMs: 0, maxMs: f.pick([200, 1000, 3000]) });
  for (let i = f.pick([0, 0, 1, 2]); i > 0; i--) faults.push({ kind: 'timeout', call: f.int(1, 200), hangMs: f.int(5, 45) * SECOND, executed: f.chance(0.5) });
  for (let i = f.pick([0, 1, 1, 2]); i > 0; i--) faults.push({ kind: 'kill', invocation: f.int(1, 8), afterCall: f.int(1, 30) });
  for (const c of commits) {
    if (f.chance(0.25)) faults.push({ kind: 'duplicate', commit: c.index, delayMs: f.int(0, 600) * SECOND, sameDedupId: f.chance(0.5) });
    // A push delivered late, possibly after the next commit's push: the reconciler reads the head anyway.
    if (f.chance(0.2)) c.deliveryDelayMs = f.int(1, 120) * SECOND;
  }
  // A commit with a broken cairn.yaml stalls until the next one repairs it.
  if (f.chance(0.1)) commits[f.int(0, last - 1)]!.broken = true;
  if (f.chance(0.3) && commits.length > 1) faults.push({ kind: 'reorder', commit: f.int(0, last - 1), at: end + f.int(0, 60) * SECOND });
  if (f.chance(0.35)) faults.push({ kind: 'stuck', at: within(), durationMs: f.int(20, 240) * SECOND, via: f.chance(0.5) ? 'force' : 'outside', pick: f.next() });
  if (f.chance(0.1)) faults.push({ kind: 'poison', at: within() });
  for (let i = f.pick([0, 0, 1, 2]); i > 0; i--) faults.push({ kind: 'sweep', at: within() });
  // A cold Git fetch can eat most of an invocation's time budget.
  if (f.chance(0.15)) faults.push({ kind: 'slow-source', invocation: f.int(1, 8), delayMs: f.int(30, 110) * SECOND });
  if (f.chance(0.1)) faults.push({ kind: 'source-down', at: within(), durationMs: f.int(10, 200) * SECOND });
  // EventBridge may lose or delay events; the scheduled sweep is what repairs that (see SWEEP_EVERY_MS).
  if (f.chance(0.1)) faults.push({ kind: 'lost-events', at: within(), durationMs: f.int(10, 300) * SECOND, share: f.pick([0.3, 0.6, 1]) });

  if (f.chance(0.3)) {
    const k = f.int(0, last);
    const commit = commits[k]!;
    const stack = f.pick(commit.spec.stacks);
    stack.canary = true;
    const permanent = k === last;
    const failRollback = permanent && f.chance(0.3);
    const next = commits[k + 1];
    const clearAt = !permanent && f.chance(0.5) ? next!.at + f.int(0, 120) * SECOND : undefined;
    faults.push({ kind: 'rollback', commit: k, stack: stack.id, permanent, failRollback, clearAt });
    if (permanent) expect = { kind: 'stall', reason: 'StackFailed', stack: stack.id };
  }
  return { seed, index, commits, faults, expect };
}

// ---- a readable account of a scenario -------------------------------------------------------

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

function describeStack(s: StackSpec): string {
  const parts = [`${s.topics}t${s.queues}q`, s.label];
  if (s.upstream) parts.push(`Upstream←${s.upstream}`);
  if (s.dependsOn.length) parts.push(`dependsOn ${s.dependsOn.join('+')}`);
  if (s.canary) parts.push(`+${CANARY_TYPE}`);
  return `${s.id}(${parts.join(' ')})`;
}

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'throttle':
      return `throttling at ${f.perSecond} calls/s from ${seconds(f.at)} for ${seconds(f.durationMs)}`;
    case 'errors':
      return `InternalFailure on ${Math.round(f.rate * 100)}% of calls from ${seconds(f.at)} for ${seconds(f.durationMs)}`;
    case 'latency':
      return `gateway latency ${f.minMs}–${f.maxMs} ms on every call`;
    case 'timeout':
      return `gateway call #${f.call} hangs ${seconds(f.hangMs)} then times out (${f.executed ? 'after CloudFormation acted on it' : 'before it reached CloudFormation'})`;
    case 'kill':
      return `invocation #${f.invocation} is killed after its gateway call #${f.afterCall}`;
    case 'kill-after':
      return `the invocation that makes ${f.operation} call #${f.occurrence} of the run is killed right after it`;
    case 'duplicate':
      return `the push of commit ${f.commit} is delivered again ${seconds(f.delayMs)} later with ${f.sameDedupId ? 'the same' : 'a different'} dedupId`;
    case 'reorder':
      return `a push naming old commit ${f.commit} arrives at ${seconds(f.at)}, after newer ones`;
    case 'stuck':
      return f.via === 'force'
        ? `an owned stack is stuck in UPDATE_IN_PROGRESS from ${seconds(f.at)} for ${seconds(f.durationMs)}`
        : `an owned stack is updated outside Cairn at ${seconds(f.at)} (busy for a while, parameters changed)`;
    case 'rollback':
      return `${CANARY_TYPE} fails from commit ${f.commit} on (stack ${f.stack} uses it)${f.failRollback ? ', and so does the rollback' : ''}; ${
        f.permanent ? 'left on: the last commit is expected to stall' : `the next commit removes it${f.clearAt !== undefined ? `; the fault is cleared at ${seconds(f.clearAt)}` : ''}`
      }`;
    case 'poison':
      return `a poison message (source "${POISON_SOURCE}") is sent at ${seconds(f.at)}`;
    case 'sweep':
      return `the scheduled sweep enqueues a reconcile at ${seconds(f.at)}`;
    case 'slow-source':
      return `invocation #${f.invocation} takes ${seconds(f.delayMs)} to fetch the branch head`;
    case 'source-down':
      return `the Git host is unreachable from ${seconds(f.at)} for ${seconds(f.durationMs)}`;
    case 'denied':
      return `IAM refuses every ${f.operation} call from ${seconds(f.at)}${f.until === undefined ? ' on (never granted)' : ` until ${seconds(f.until)}`}`;
    case 'lost-events':
      return `${Math.round(f.share * 100)}% of stack status events are lost from ${seconds(f.at)} for ${seconds(f.durationMs)} (the scheduled sweep runs every 15 min)`;
  }
}

function describeExpectation(e: Expectation): string {
  if (e.kind === 'converge') return 'convergence';
  return e.kind === 'denied' ? `an AccessDenied stall naming ${e.action}` : `a ${e.reason} stall on ${e.stack}`;
}

export function describeScenario(s: Scenario): string {
  const lines = [`scenario #${s.index} (seed ${s.seed}), expecting ${describeExpectation(s.expect)}`];
  for (const c of s.commits) {
    const share = c.spec.pruneMaxShare ? ` pruneMaxShare ${c.spec.pruneMaxShare}` : '';
    const delay = c.deliveryDelayMs ? ` (push delivered ${seconds(c.deliveryDelayMs)} late)` : '';
    const broken = c.broken ? ' [cairn.yaml names a dependency "nowhere" that does not exist]' : '';
    lines.push(`  commit ${c.index} at ${seconds(c.at)}${delay}: ${c.change}${broken}`, `    ${c.spec.stacks.map(describeStack).join(', ')}${share}`);
  }
  lines.push(s.faults.length ? '  faults:' : '  no faults');
  for (const f of s.faults) lines.push(`    - ${describeFault(f)}`);
  return lines.join('\n');
}
