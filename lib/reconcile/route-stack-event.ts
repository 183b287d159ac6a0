/**
 * Route a CloudFormation stack status change to the queue of the source that owns the stack, so
 * the reconciler takes its next step as soon as a wave finishes. Only settled statuses matter:
 * an operation in progress needs no step.
 *
 * An event carries what EventBridge sends: the stack id, its name and the operation's client
 * request token, never the tags. The token of an operation Cairn started names its source (see
 * request-token.ts), which is what routes a DELETE_COMPLETE, when the stack can no longer be
 * described; for any other token the stack's tags are looked up.
 */
import { conditionOf } from '../core/health.js';
import { OWNER_TAGS } from '../core/model.js';
import { sourceOfToken } from '../core/request-token.js';
import type { StackGateway } from '../ports/stack-gateway.js';
import type { WorkQueue } from '../ports/work-queue.js';

export interface StackStatusChange {
  /** EventBridge event id: the deduplication id. */
  id: string;
  /** The stack's ARN (or, from a source that has none, its name). */
  stackId: string;
  /** The stack's name, when the event names it apart from the ARN. */
  stackName?: string;
  status: string;
  time: string;
  /** The client request token of the operation the status belongs to. */
  clientRequestToken?: string;
}

export type RouteResult = { routed: true; source: string } | { routed: false; reason: string };

export async function routeStackEvent(
  event: StackStatusChange,
  deps: { queue: WorkQueue; gateway: StackGateway; knownSource: (name: string) => boolean },
): Promise<RouteResult> {
  if (conditionOf(event.status) === 'busy') return { routed: false, reason: `${event.status} is not a settled status` };
  const source = sourceOfToken(event.clientRequestToken) ?? (await deps.gateway.describeStack(event.stackId))?.tags[OWNER_TAGS.source];
  if (!source) return { routed: false, reason: 'the stack is not owned by Cairn' };
  if (!deps.knownSource(source)) return { routed: false, reason: `the stack belongs to source "${source}", which this deployment does not follow` };
  const stackName = event.stackName ?? (event.stackId.includes(':stack/') ? event.stackId.split('/')[1]! : event.stackId);
  await deps.queue.send({ source, kind: 'stack-event', dedupId: `stack-${event.id}`, stackName, receivedAt: event.time });
  return { routed: true, source };
}
