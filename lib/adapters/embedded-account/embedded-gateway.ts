/**
 * The StackGateway port over the simulated account: each call is counted, delayed, throttled or
 * failed as the account's faults say, then answered by the simulated CloudFormation service.
 */
import type { ActualStack } from '../../core/model.js';
import type {
  ChangeSetDescription,
  ChangeSetInput,
  ChangeSetSummary,
  DriftDetection,
  ResourceDrift,
  StackEvent,
  StackGateway,
} from '../../ports/stack-gateway.js';
import type { CallGate, FaultSettings } from './faults.js';
import type { SimulatedCloudFormation } from './simulated-cloudformation.js';

/** What a gateway needs from its account. */
export interface GatewayBackend {
  service: SimulatedCloudFormation;
  gate: CallGate;
  /** Reload what other processes wrote; returns the fault settings in force. */
  refresh(): FaultSettings;
  now(): number;
  /** Deliver due stack events and schedule the next ones. */
  afterCall(): void;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class EmbeddedGateway implements StackGateway {
  readonly target = 'embedded';

  constructor(
    private readonly backend: GatewayBackend,
    readonly region: string,
  ) {}

  listStacks(): Promise<ActualStack[]> {
    return this.call('listStacks', () => this.backend.service.listStacks(this.region));
  }

  /** As the CloudFormation gateway: a deleted stack, which DescribeStacks still returns by id, is undefined. */
  describeStack(stackName: string): Promise<ActualStack | undefined> {
    return this.call('describeStack', () => {
      const stack = this.backend.service.describeStack(this.region, stackName);
      return stack?.status === 'DELETE_COMPLETE' ? undefined : stack;
    });
  }

  getTemplate(stackName: string): Promise<string> {
    return this.call('getTemplate', () => this.backend.service.getTemplate(this.region, stackName));
  }

  createChangeSet(input: ChangeSetInput): Promise<{ changeSetId: string; stackId: string }> {
    return this.call('createChangeSet', () => this.backend.service.createChangeSet(this.region, input));
  }

  describeChangeSet(stackName: string, changeSetName: string, options: { includePropertyValues?: boolean } = {}): Promise<ChangeSetDescription | undefined> {
    return this.call('describeChangeSet', () => this.backend.service.describeChangeSet(this.region, stackName, changeSetName, options));
  }

  listChangeSets(stackName: string): Promise<ChangeSetSummary[]> {
    return this.call('listChangeSets', () => this.backend.service.listChangeSets(this.region, stackName));
  }

  executeChangeSet(stackName: string, changeSetName: string, clientToken: string): Promise<void> {
    return this.call('executeChangeSet', () => this.backend.service.executeChangeSet(this.region, stackName, changeSetName, clientToken));
  }

  deleteChangeSet(stackName: string, changeSetName: string): Promise<void> {
    return this.call('deleteChangeSet', () => this.backend.service.deleteChangeSet(this.region, stackName, changeSetName));
  }

  deleteStack(stackName: string, options: { clientToken: string; roleArn: string | undefined }): Promise<void> {
    return this.call('deleteStack', () => this.backend.service.deleteStack(this.region, stackName, options.clientToken));
  }

  updateTerminationProtection(stackName: string, enabled: boolean): Promise<void> {
    return this.call('updateTerminationProtection', () => this.backend.service.updateTerminationProtection(this.region, stackName, enabled));
  }

  listStackEvents(stackName: string, limit: number): Promise<StackEvent[]> {
    return this.call('listStackEvents', () => this.backend.service.listStackEvents(this.region, stackName, limit));
  }

  detectStackDrift(stackName: string): Promise<string> {
    return this.call('detectStackDrift', () => this.backend.service.detectStackDrift(this.region, stackName));
  }

  describeDriftDetection(detectionId: string): Promise<DriftDetection> {
    return this.call('describeDriftDetection', () => this.backend.service.describeDriftDetection(this.region, detectionId));
  }

  listResourceDrifts(stackName: string): Promise<ResourceDrift[]> {
    return this.call('listResourceDrifts', () => this.backend.service.listResourceDrifts(this.region, stackName));
  }

  private async call<T>(operation: string, fn: () => T): Promise<T> {
    const { backend } = this;
    backend.gate.count(operation);
    let faults = backend.refresh();
    if (faults.latencyMs > 0) {
      await delay(faults.latencyMs);
      faults = backend.refresh();
    }
    backend.gate.admit(faults, backend.now());
    try {
      return fn();
    } finally {
      backend.afterCall();
    }
  }
}
