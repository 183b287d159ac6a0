/**
 * Plan a source against an account: list the live stacks of every region the source touches (one
 * paginated listing per region, not one call per stack), read current templates only for stacks
 * whose content hash differs, and hand both to the pure planner.
 */
import type { ActualStack, DesiredState, Plan } from '../core/model.js';
import { plan, stackKey } from '../core/plan.js';
import { parseTemplate } from '../core/template.js';
import type { GatewayFactory, StackGateway } from '../ports/stack-gateway.js';

export interface PlanSourceOptions {
  gateways: GatewayFactory;
  /** Read current templates of changed stacks to show resource-level diffs (one GetTemplate per changed stack). */
  resourceDiff?: boolean;
  /**
   * Also read the live templates of up to this many in-sync stacks (a random sample, so repeated
   * sweeps cover them all) to find templates changed outside Cairn.
   */
  verifyTemplates?: number;
  random?: () => number;
  /** Stack ids whose failed attempt at the same content may be retried (see PlanInput.retry). */
  retry?: ReadonlySet<string>;
}

export interface SourcePlan {
  plan: Plan;
  actual: ActualStack[];
  defaultRegion: string;
  /** The gateway for a stack's region. */
  gatewayFor(region: string | undefined): StackGateway;
}

export async function listActual(desired: DesiredState, gateways: GatewayFactory): Promise<{ actual: ActualStack[]; defaultRegion: string }> {
  const defaultRegion = gateways(undefined).region;
  const regions = [...new Set([defaultRegion, ...desired.stacks.map((s) => s.region ?? defaultRegion)])].sort();
  const listed = await Promise.all(regions.map((r) => gateways(r).listStacks()));
  const actual = listed.flatMap((stacks, i) => stacks.map((s) => ({ ...s, region: s.region ?? regions[i] })));
  return { actual, defaultRegion };
}

export async function planSource(desired: DesiredState, options: PlanSourceOptions): Promise<SourcePlan> {
  const { actual, defaultRegion } = await listActual(desired, options.gateways);
  const gatewayFor = (region: string | undefined): StackGateway => options.gateways(region ?? defaultRegion);
  const retry = options.retry;
  let result = plan({ desired, actual, defaultRegion, ...(retry ? { retry } : {}) });
  const toRead = [
    ...(options.resourceDiff ? result.stacks.filter((s) => s.action === 'update') : []),
    ...sample(
      result.stacks.filter((s) => s.action === 'none' && !s.waiting && s.desiredHash !== undefined && s.actualHash === s.desiredHash),
      options.verifyTemplates ?? 0,
      options.random ?? Math.random,
    ),
  ];
  if (toRead.length > 0) {
    const templates = new Map<string, Record<string, unknown>>();
    await Promise.all(
      toRead.map(async (s) => {
        const text = await gatewayFor(s.region).getTemplate(s.stackName);
        const parsed = parseTemplate(text, s.stackName);
        if (parsed.ok) templates.set(stackKey(s.region, s.stackName, defaultRegion), parsed.value.template);
      }),
    );
    result = plan({ desired, actual, defaultRegion, templates, ...(retry ? { retry } : {}) });
  }
  return { plan: result, actual, defaultRegion, gatewayFor };
}

function sample<T>(items: T[], n: number, random: () => number): T[] {
  if (n >= items.length) return items;
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}
