/**
 * Route a CloudFormation stack status change to the queue of the source that owns the stack, so
 * the reconciler takes its next step as soon as a wave finishes. Only settled statuses matter:
 * an operation in progress needs no step.
 */
import { conditionOf } from '../core/health.js';
import { OWNER_TAGS } from '../core/model.js';
import type { StackGateway } from '../ports/stack-gateway.js';
import type { WorkQueue } from '../ports/work-queue.js';

export interface StackStatusChange {
  /** EventBridge event id: the deduplication id. */
  id: string;
  stackId: string;
  status: string;
  time: string;
  /** Tags, when the event source already knows them (the embedded account does). */
  tags?: Record<string, string>;
}

export type RouteResult = { routed: true; source: string } | { routed: false; reason: string };

export async function routeStackEvent(
  event: StackStatusChange,
  deps: { queue: WorkQueue; gateway: StackGateway; knownSource: (name: string) => boolean },
): Promise<RouteResult> {
  if (conditionOf(event.status) === 'busy') return { routed: false, reason: `${event.status} is not a settled status` };
  const tags = event.tags ?? (await deps.gateway.describeStack(event.stackId))?.tags;
  const source = tags?.[OWNER_TAGS.source];
  if (!source) return { routed: false, reason: 'the stack is not owned by Cairn' };
  if (!deps.knownSource(source)) return { routed: false, reason: `the stack belongs to source "${source}", which this deployment does not follow` };
  const stackName = event.stackId.includes(':stack/') ? event.stackId.split('/')[1]! : event.stackId;
  await deps.queue.send({ source, kind: 'stack-event', dedupId: `stack-${event.id}`, stackName, receivedAt: event.time });
  return { routed: true, source };
}
