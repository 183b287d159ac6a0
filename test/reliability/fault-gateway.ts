/**
 * StackGateway wrappers for the reliability suite. `intercept` routes every call of the port
 * through one function; `CallRecord` keeps what reached the account (which change sets were
 * executed, on which incarnation of a stack); `Chaos` injects what the embedded account cannot:
 * simulated latency, calls that hang past a deadline and then time out, and an invocation killed
 * between two calls (a crashed or timed-out Lambda), after which every call the dead invocation
 * still makes fails without reaching the account; `denying` answers IAM's AccessDenied for the
 * operations a role lacks, shaped as the SDK throws it and mapped as the CloudFormation adapter maps it.
 */
import { toGatewayError } from '../../lib/adapters/aws-errors.js';
import { TransientError } from '../../lib/core/errors.js';
import type { ChangeSetInput, StackGateway } from '../../lib/ports/stack-gateway.js';
import type { Random } from './random.js';

export type Around = (operation: string, args: unknown[], call: () => Promise<unknown>) => Promise<unknown>;

/** Every method of `gateway` goes through `around`; properties pass through. */
export function intercept(gateway: StackGateway, around: Around): StackGateway {
  return new Proxy(gateway, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...a: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) => around(String(prop), args, () => method.apply(target, args));
    },
  });
}

export const WRITE_OPERATIONS = new Set(['createChangeSet', 'executeChangeSet', 'deleteChangeSet', 'deleteStack', 'updateTerminationProtection']);

/** What reached the account: executions per change set of one stack incarnation, and call outcomes. */
export class CallRecord {
  /** `stackId change-set-name` → successful executeChangeSet calls. */
  readonly executions = new Map<string, number>();
  /** Failed calls by error code or name. */
  readonly errors = new Map<string, number>();
  private readonly stackOfChangeSet = new Map<string, string>();

  wrap(gateway: StackGateway): StackGateway {
    return intercept(gateway, async (operation, args, call) => {
      let result: unknown;
      try {
        result = await call();
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name;
        this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
        throw error;
      }
      if (operation === 'createChangeSet') {
        const input = args[0] as ChangeSetInput;
        this.stackOfChangeSet.set(`${input.stackName}/${input.changeSetName}`, (result as { stackId: string }).stackId);
      } else if (operation === 'executeChangeSet') {
        const [stackName, changeSetName] = args as [string, string];
        const key = `${this.stackOfChangeSet.get(`${stackName}/${changeSetName}`) ?? stackName} ${changeSetName}`;
        this.executions.set(key, (this.executions.get(key) ?? 0) + 1);
      }
      return result;
    });
  }
}

/** The invocation was killed: thrown by every call it makes from then on. */
export class KilledError extends Error {
  override name = 'KilledError';
}

/** One Lambda invocation, as far as the gateway can tell. */
export interface Invocation {
  id: number;
  calls: number;
  deadline: number;
  killed: string | undefined;
}

export interface ChaosOptions {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: Random;
  latency: { minMs: number; maxMs: number } | undefined;
  /** Global attempt number → how that attempt hangs and times out. */
  timeouts: Map<number, { hangMs: number; executed: boolean }>;
  /** `invocation/call` → kill the invocation once that call has been answered. */
  kills: Set<string>;
  /** `operation#n` → kill the invocation that makes the nth call of that operation in the run, once it has been answered. */
  killsAfter: Set<string>;
  /** Told about every timeout and kill that fires. */
  onFault: (kind: 'timeout' | 'kill', description: string) => void;
}

/** Counts attempts across every invocation, so a timeout fault names one attempt of the run. */
export class Chaos {
  attempts = 0;
  private readonly answered = new Map<string, number>();
  constructor(private readonly options: ChaosOptions) {}

  wrap(gateway: StackGateway, invocation: Invocation): StackGateway {
    const o = this.options;
    const die = (why: string): never => {
      if (!invocation.killed) {
        invocation.killed = why;
        o.onFault('kill', `invocation #${invocation.id} ${why}`);
      }
      throw new KilledError(`invocation #${invocation.id} ${invocation.killed}`);
    };
    const alive = (): void => {
      if (invocation.killed) throw new KilledError(`invocation #${invocation.id} ${invocation.killed}`);
      if (o.now() >= invocation.deadline) die('reached the Lambda timeout');
    };
    return intercept(gateway, async (operation, _args, call) => {
      alive();
      const n = ++invocation.calls;
      const attempt = ++this.attempts;
      if (o.latency) {
        await o.sleep(o.random.int(o.latency.minMs, o.latency.maxMs));
        alive();
      }
      const timeout = o.timeouts.get(attempt);
      if (timeout) {
        if (timeout.executed) await call().catch(() => undefined);
        await o.sleep(timeout.hangMs);
        alive();
        o.onFault('timeout', `${operation} (attempt #${attempt}) timed out after ${timeout.hangMs} ms${timeout.executed ? ', after CloudFormation acted on it' : ''}`);
        throw new TransientError('ServiceUnavailable', `${operation} timed out after ${timeout.hangMs} ms`);
      }
      const result = await call();
      const occurrence = (this.answered.get(operation) ?? 0) + 1;
      this.answered.set(operation, occurrence);
      if (o.kills.has(`${invocation.id}/${n}`) || o.killsAfter.has(`${operation}#${occurrence}`)) die(`was killed after its call #${n} (${operation})`);
      return result;
    });
  }
}

/** The IAM action of a StackGateway write: `executeChangeSet` is `cloudformation:ExecuteChangeSet`. */
export const iamActionOf = (operation: string): string => `cloudformation:${operation[0]!.toUpperCase()}${operation.slice(1)}`;

/** The error the SDK throws for a call IAM refuses (CloudFormation's query protocol: code AccessDenied, HTTP 403). */
export function accessDeniedSdkError(action: string, resource: string): Error {
  const message = `User: arn:aws:sts::123456789012:assumed-role/CairnSourceRole/cairn-app is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;
  return Object.assign(new Error(message), { name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403, attempts: 1 } });
}

/** Calls of the operations in `denied` (as it is at each call) fail as IAM refuses them, without reaching the account. */
export function denying(gateway: StackGateway, denied: ReadonlySet<string>, onDenied: (operation: string) => void = () => undefined): StackGateway {
  return intercept(gateway, async (operation, args, call) => {
    if (!denied.has(operation)) return call();
    onDenied(operation);
    const stackName = typeof args[0] === 'string' ? args[0] : (args[0] as { stackName?: string } | undefined)?.stackName ?? '*';
    const action = iamActionOf(operation);
    throw toGatewayError(accessDeniedSdkError(action, `arn:aws:cloudformation:eu-west-1:123456789012:stack/${stackName}/*`), `${action.split(':')[1]} for stack ${stackName}`);
  });
}
