/**
 * CloudFormationGateway: the StackGateway port over AWS SDK v3, for one region of one account.
 * Credentials and region come from the SDK's default chains, and the SDK itself honours
 * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_CLOUDFORMATION, so LocalStack-style endpoints need no code
 * here. Throttling is retried by the SDK's adaptive retry strategy; what is still throttled after
 * that, and every other service error, surfaces as the port's error classes (see aws-errors.ts).
 */
import { createHash } from 'node:crypto';
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  UpdateTerminationProtectionCommand,
  paginateDescribeChangeSet,
  paginateDescribeStackEvents,
  paginateDescribeStackResourceDrifts,
  paginateDescribeStacks,
  paginateListChangeSets,
  type Change,
  type CloudFormationClientConfig,
  type ChangeSetSummary as SdkChangeSetSummary,
  type Stack,
  type StackResourceDrift,
} from '@aws-sdk/client-cloudformation';
// The S3 client is loaded on the first template over the inline limit (templateSource), not at import.
import type { S3Client } from '@aws-sdk/client-s3';
import { StalledError } from '../core/errors.js';
import type { ActualStack } from '../core/model.js';
import type {
  ChangeSetChange,
  ChangeSetDescription,
  ChangeSetExecutionStatus,
  ChangeSetInput,
  ChangeSetStatus,
  ChangeSetSummary,
  DriftDetection,
  DriftDetectionStatus,
  PropertyDifference,
  ResourceDrift,
  StackEvent,
  StackGateway,
} from '../ports/stack-gateway.js';
import { hasErrorCode, isAwsServiceError, toGatewayError } from './aws-errors.js';

/** CloudFormation's limit for TemplateBody; larger templates must be passed by TemplateURL. */
export const TEMPLATE_BODY_LIMIT_BYTES = 51_200;

/** Environment variable naming the S3 bucket for templates over the inline limit. */
export const TEMPLATE_BUCKET_ENV = 'CAIRN_TEMPLATE_BUCKET';

/** Enough attempts to ride out a burst of throttling in a Lambda invocation, few enough to fail in seconds, not minutes. */
export const DEFAULT_MAX_ATTEMPTS = 6;
export const DEFAULT_REQUEST_TIMEOUT_MS = 20_000;

export const DEFAULT_TEMPLATE_PREFIX = 'cairn/templates/';

export interface CloudFormationGatewayOptions {
  /** Defaults to the SDK's region chain (AWS_REGION, then the shared config profile). */
  region?: string;
  /** A ready client; its own region and retry settings then apply, and `maxAttempts` is ignored. */
  client?: CloudFormationClient;
  /** A ready S3 client for template uploads; by default one is built for the same region. */
  s3?: S3Client;
  /** Bucket for templates over 51,200 bytes; defaults to the CAIRN_TEMPLATE_BUCKET environment variable. */
  templateBucket?: string;
  /** Key prefix inside the bucket, ending in `/`. */
  templatePrefix?: string;
  /** Attempts per call, first included, under the SDK's adaptive retry mode. */
  maxAttempts?: number;
  /** Deadline of one attempt (an answer that never comes is retried, then fails), default 20 s. */
  requestTimeoutMs?: number;
  /**
   * Credentials for the CloudFormation calls only (a source's assumed role); template uploads keep
   * the process's own identity, the one writer the template bucket's policy allows.
   */
  credentials?: CloudFormationClientConfig['credentials'];
}

export class CloudFormationGateway implements StackGateway {
  readonly target = 'aws';
  private readonly client: CloudFormationClient;
  private s3Client: S3Client | undefined;
  private readonly configuredRegion: string | undefined;
  private resolvedRegion: string | undefined;
  private readonly maxAttempts: number;
  private readonly requestTimeoutMs: number;
  private readonly templateBucket: string | undefined;
  private readonly templatePrefix: string;

  constructor(options: CloudFormationGatewayOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.client = options.client ?? new CloudFormationClient({ ...this.clientConfig(options.region), ...(options.credentials ? { credentials: options.credentials } : {}) });
    this.s3Client = options.s3;
    this.configuredRegion = options.region ?? (options.client ? undefined : process.env.AWS_REGION);
    this.templateBucket = options.templateBucket ?? (process.env[TEMPLATE_BUCKET_ENV] || undefined);
    this.templatePrefix = options.templatePrefix ?? DEFAULT_TEMPLATE_PREFIX;
  }

  /**
   * The region calls go to. Known at construction when given or in AWS_REGION; when it comes from a
   * profile file or a supplied client it is known after the first call, and empty before.
   */
  get region(): string {
    return this.resolvedRegion ?? this.configuredRegion ?? '';
  }

  async listStacks(): Promise<ActualStack[]> {
    const region = await this.resolveRegion();
    return this.call('DescribeStacks', async () => {
      const stacks: ActualStack[] = [];
      for await (const page of paginateDescribeStacks({ client: this.client, stopOnSameToken: true }, {})) {
        for (const stack of page.Stacks ?? []) {
          if (stack.StackStatus !== 'DELETE_COMPLETE') stacks.push(toActualStack(stack, region));
        }
      }
      return stacks;
    });
  }

  async describeStack(stackName: string): Promise<ActualStack | undefined> {
    const region = await this.resolveRegion();
    return this.call(`DescribeStacks for stack ${stackName}`, async () => {
      try {
        const { Stacks } = await this.client.send(new DescribeStacksCommand({ StackName: stackName }));
        const stack = Stacks?.[0];
        return stack && stack.StackStatus !== 'DELETE_COMPLETE' ? toActualStack(stack, region) : undefined;
      } catch (error) {
        if (isStackMissing(error)) return undefined;
        throw error;
      }
    });
  }

  async getTemplate(stackName: string): Promise<string> {
    return this.call(`GetTemplate for stack ${stackName}`, async () => {
      const { TemplateBody } = await this.client.send(
        new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Original' }),
      );
      return TemplateBody ?? '';
    });
  }

  async createChangeSet(input: ChangeSetInput): Promise<{ changeSetId: string; stackId: string }> {
    const template = await this.templateSource(input.stackName, input.templateBody);
    return this.call(`CreateChangeSet for stack ${input.stackName}`, async () => {
      const { Id, StackId } = await this.client.send(
        new CreateChangeSetCommand({
          StackName: input.stackName,
          ChangeSetName: input.changeSetName,
          ChangeSetType: input.changeSetType,
          ...template,
          Parameters: input.parameters.map(({ key, value }) => ({ ParameterKey: key, ParameterValue: value })),
          Tags: Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value })),
          Capabilities: input.capabilities,
          RoleARN: input.roleArn,
          ClientToken: input.clientToken,
          Description: input.description,
          DeploymentMode: input.deploymentMode,
          IncludeNestedStacks: false,
          // CreateChangeSet has no IncludePropertyValues: CloudFormation computes the values for every
          // change set, and DescribeChangeSet returns them when asked (below).
        }),
      );
      return { changeSetId: Id ?? '', stackId: StackId ?? '' };
    });
  }

  async describeChangeSet(stackName: string, changeSetName: string, options: { includePropertyValues?: boolean } = {}): Promise<ChangeSetDescription | undefined> {
    return this.call(`DescribeChangeSet ${changeSetName} for stack ${stackName}`, async () => {
      try {
        let description: ChangeSetDescription | undefined;
        const pages = paginateDescribeChangeSet(
          { client: this.client, stopOnSameToken: true },
          { StackName: stackName, ChangeSetName: changeSetName, ...(options.includePropertyValues ? { IncludePropertyValues: true } : {}) },
        );
        for await (const page of pages) {
          description ??= {
            changeSetId: page.ChangeSetId ?? '',
            changeSetName: page.ChangeSetName ?? changeSetName,
            stackName: page.StackName ?? stackName,
            status: (page.Status ?? 'CREATE_PENDING') as ChangeSetStatus,
            statusReason: page.StatusReason,
            executionStatus: (page.ExecutionStatus ?? 'UNAVAILABLE') as ChangeSetExecutionStatus,
            changes: [],
            createdAt: isoTime(page.CreationTime),
          };
          description.changes.push(...toChanges(page.Changes ?? []));
        }
        return description;
      } catch (error) {
        if (hasErrorCode(error, 'ChangeSetNotFoundException') || isStackMissing(error)) return undefined;
        throw error;
      }
    });
  }

  async listChangeSets(stackName: string): Promise<ChangeSetSummary[]> {
    return this.call(`ListChangeSets for stack ${stackName}`, async () => {
      try {
        const summaries: ChangeSetSummary[] = [];
        const pages = paginateListChangeSets({ client: this.client, stopOnSameToken: true }, { StackName: stackName });
        for await (const page of pages) summaries.push(...(page.Summaries ?? []).map(toChangeSetSummary));
        return summaries;
      } catch (error) {
        if (isStackMissing(error)) return [];
        throw error;
      }
    });
  }

  async executeChangeSet(stackName: string, changeSetName: string, clientToken: string): Promise<void> {
    await this.call(`ExecuteChangeSet ${changeSetName} for stack ${stackName}`, () =>
      this.client.send(
        new ExecuteChangeSetCommand({
          StackName: stackName,
          ChangeSetName: changeSetName,
          ClientRequestToken: clientToken,
        }),
      ),
    );
  }

  async deleteChangeSet(stackName: string, changeSetName: string): Promise<void> {
    await this.call(`DeleteChangeSet ${changeSetName} for stack ${stackName}`, () =>
      this.client.send(new DeleteChangeSetCommand({ StackName: stackName, ChangeSetName: changeSetName })),
    );
  }

  async deleteStack(stackName: string, options: { clientToken: string; roleArn: string | undefined }): Promise<void> {
    await this.call(`DeleteStack for stack ${stackName}`, () =>
      this.client.send(
        new DeleteStackCommand({
          StackName: stackName,
          ClientRequestToken: options.clientToken,
          RoleARN: options.roleArn,
        }),
      ),
    );
  }

  async updateTerminationProtection(stackName: string, enabled: boolean): Promise<void> {
    await this.call(`UpdateTerminationProtection for stack ${stackName}`, () =>
      this.client.send(
        new UpdateTerminationProtectionCommand({ StackName: stackName, EnableTerminationProtection: enabled }),
      ),
    );
  }

  async listStackEvents(stackName: string, limit: number): Promise<StackEvent[]> {
    return this.call(`DescribeStackEvents for stack ${stackName}`, async () => {
      const events: StackEvent[] = [];
      if (limit <= 0) return events;
      // CloudFormation returns events newest first, so the first pages are the ones wanted.
      const pages = paginateDescribeStackEvents({ client: this.client, stopOnSameToken: true }, { StackName: stackName });
      for await (const page of pages) {
        for (const event of page.StackEvents ?? []) {
          events.push({
            eventId: event.EventId ?? '',
            stackName: event.StackName ?? stackName,
            logicalId: event.LogicalResourceId ?? '',
            resourceType: event.ResourceType ?? '',
            status: event.ResourceStatus ?? '',
            statusReason: event.ResourceStatusReason,
            timestamp: isoTime(event.Timestamp),
            ...(event.ClientRequestToken ? { clientRequestToken: event.ClientRequestToken } : {}),
          });
          if (events.length >= limit) return events;
        }
      }
      return events;
    });
  }

  async detectStackDrift(stackName: string): Promise<string> {
    return this.call(`DetectStackDrift for stack ${stackName}`, async () => {
      const { StackDriftDetectionId } = await this.client.send(new DetectStackDriftCommand({ StackName: stackName }));
      return StackDriftDetectionId ?? '';
    });
  }

  async describeDriftDetection(detectionId: string): Promise<DriftDetection> {
    return this.call(`DescribeStackDriftDetectionStatus ${detectionId}`, async () => {
      const output = await this.client.send(
        new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: detectionId }),
      );
      return {
        status: (output.DetectionStatus ?? 'DETECTION_IN_PROGRESS') as DriftDetectionStatus,
        stackDriftStatus: output.StackDriftStatus,
        reason: output.DetectionStatusReason,
        driftedResourceCount: output.DriftedStackResourceCount,
      };
    });
  }

  async listResourceDrifts(stackName: string): Promise<ResourceDrift[]> {
    return this.call(`DescribeStackResourceDrifts for stack ${stackName}`, async () => {
      const drifts: ResourceDrift[] = [];
      const pages = paginateDescribeStackResourceDrifts(
        { client: this.client, stopOnSameToken: true },
        { StackName: stackName, StackResourceDriftStatusFilters: ['MODIFIED', 'DELETED'] },
      );
      for await (const page of pages) drifts.push(...(page.StackResourceDrifts ?? []).map(toResourceDrift));
      return drifts;
    });
  }

  private clientConfig(region: string | undefined): {
    region?: string;
    retryMode: string;
    maxAttempts: number;
    requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: boolean };
  } {
    // Without a deadline an attempt whose answer never comes waits as long as the socket does,
    // which is past the function's own timeout. (The SDK only warns at requestTimeout unless told to throw.)
    const requestHandler = { connectionTimeout: Math.min(5_000, this.requestTimeoutMs), requestTimeout: this.requestTimeoutMs, throwOnRequestTimeout: true };
    return { ...(region ? { region } : {}), retryMode: 'adaptive', maxAttempts: this.maxAttempts, requestHandler };
  }

  private async resolveRegion(): Promise<string> {
    this.resolvedRegion ??= await this.client.config.region();
    return this.resolvedRegion;
  }

  /** Runs one SDK interaction and rethrows its failure as the port's error for `operation`. */
  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toGatewayError(error, operation);
    }
  }

  /** TemplateBody when it fits CloudFormation's inline limit; otherwise the body is uploaded to S3 once per content. */
  private async templateSource(
    stackName: string,
    body: string,
  ): Promise<{ TemplateBody: string } | { TemplateURL: string }> {
    const size = Buffer.byteLength(body, 'utf8');
    if (size <= TEMPLATE_BODY_LIMIT_BYTES) return { TemplateBody: body };
    const bucket = this.templateBucket;
    if (!bucket) {
      const hint =
        `Set the gateway option templateBucket, or the environment variable ${TEMPLATE_BUCKET_ENV}, ` +
        'to an S3 bucket in this region that Cairn may write templates to.';
      const limit = TEMPLATE_BODY_LIMIT_BYTES.toLocaleString('en-US');
      throw new StalledError(
        'TemplateTooLarge',
        `The template of stack ${stackName} is ${size} bytes, over CloudFormation's ${limit}-byte limit ` +
          `for inline templates, and no template bucket is configured. ${hint}`,
        { hint },
      );
    }
    // Only templates over 51,200 bytes need S3, so its client (the SDK's largest) is loaded here, on first use.
    const { HeadObjectCommand, PutObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
    const s3 = (this.s3Client ??= new S3Client(this.clientConfig(await this.resolveRegion())));
    const key = `${this.templatePrefix}${stackName}/${createHash('sha256').update(body).digest('hex')}.json`;
    await this.call(`Template upload to s3://${bucket}/${key}`, async () => {
      if (await objectExists(() => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))) return;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
    });
    return { TemplateURL: templateUrl(bucket, await s3.config.region(), key) };
  }
}

/** The regional virtual-hosted URL CloudFormation fetches the template from. */
function templateUrl(bucket: string, region: string, key: string): string {
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  const path = key.split('/').map(encodeURIComponent).join('/');
  return `https://${bucket}.s3.${region}.${domain}/${path}`;
}

/** Whether `head` (a HeadObject) found the object. */
async function objectExists(head: () => Promise<unknown>): Promise<boolean> {
  try {
    await head();
    return true;
  } catch (error) {
    // Without s3:ListBucket a missing object answers 403, not 404; uploading again is harmless.
    const status = isAwsServiceError(error) ? error.$metadata.httpStatusCode : undefined;
    if (status === 404 || status === 403 || hasErrorCode(error, 'NotFound', 'NoSuchKey')) return false;
    throw error;
  }
}

/** CloudFormation reports a missing stack as a ValidationError whose message says so. */
function isStackMissing(error: unknown): boolean {
  return hasErrorCode(error, 'ValidationError') && /does not exist/i.test((error as Error).message);
}

function isoTime(date: Date | undefined): string {
  return date ? date.toISOString() : '';
}

function toActualStack(stack: Stack, region: string): ActualStack {
  return {
    stackName: stack.StackName ?? '',
    stackId: stack.StackId ?? '',
    region,
    status: stack.StackStatus ?? '',
    statusReason: stack.StackStatusReason,
    tags: Object.fromEntries((stack.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
    outputs: Object.fromEntries((stack.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? ''])),
    // The declared value, not ResolvedValue: desired state compares against what was declared (e.g. an SSM name).
    parameters: Object.fromEntries(
      (stack.Parameters ?? []).map((parameter) => [parameter.ParameterKey ?? '', parameter.ParameterValue ?? '']),
    ),
    terminationProtection: stack.EnableTerminationProtection ?? false,
    createdAt: isoTime(stack.CreationTime),
    updatedAt: stack.LastUpdatedTime?.toISOString(),
    driftStatus: stack.DriftInformation?.StackDriftStatus,
    driftCheckedAt: stack.DriftInformation?.LastCheckTimestamp?.toISOString(),
    ...(stack.RoleARN ? { roleArn: stack.RoleARN } : {}),
  };
}

function toChanges(changes: Change[]): ChangeSetChange[] {
  return changes.flatMap((change) => {
    const resource = change.ResourceChange;
    if (!resource) return [];
    const propertyDetails = (resource.Details ?? []).filter((detail) => detail.Target?.Attribute === 'Properties' && detail.Target.Name);
    const properties = propertyDetails.map((detail) => detail.Target!.Name!);
    // With IncludePropertyValues CloudFormation also says where in the resource, and from what to what.
    const values = propertyDetails
      .filter((detail) => detail.Target!.BeforeValue !== undefined || detail.Target!.AfterValue !== undefined)
      .map((detail) => ({
        path: detail.Target!.Path ?? `/Properties/${detail.Target!.Name}`,
        before: detail.Target!.BeforeValue,
        after: detail.Target!.AfterValue,
        requiresRecreation: detail.Target!.RequiresRecreation,
      }));
    return [
      {
        // SyncWithActual only rewrites CloudFormation's record of the resource; the port has no
        // such action, and Modify keeps the change visible rather than silently dropped.
        action: resource.Action === 'SyncWithActual' || !resource.Action ? 'Modify' : resource.Action,
        logicalId: resource.LogicalResourceId ?? '',
        physicalId: resource.PhysicalResourceId,
        resourceType: resource.ResourceType ?? '',
        replacement: resource.Replacement,
        properties: [...new Set(properties)],
        ...(values.length ? { values } : {}),
      },
    ];
  });
}

function toChangeSetSummary(summary: SdkChangeSetSummary): ChangeSetSummary {
  return {
    changeSetId: summary.ChangeSetId ?? '',
    changeSetName: summary.ChangeSetName ?? '',
    status: (summary.Status ?? 'CREATE_PENDING') as ChangeSetStatus,
    executionStatus: (summary.ExecutionStatus ?? 'UNAVAILABLE') as ChangeSetExecutionStatus,
    createdAt: isoTime(summary.CreationTime),
  };
}

function toResourceDrift(drift: StackResourceDrift): ResourceDrift {
  return {
    logicalId: drift.LogicalResourceId ?? '',
    physicalId: drift.PhysicalResourceId,
    resourceType: drift.ResourceType ?? '',
    status: drift.StackResourceDriftStatus ?? 'UNKNOWN',
    differences: (drift.PropertyDifferences ?? []).map(
      (difference): PropertyDifference => ({
        path: difference.PropertyPath ?? '',
        expected: difference.ExpectedValue ?? '',
        actual: difference.ActualValue ?? '',
        kind: difference.DifferenceType ?? 'NOT_EQUAL',
      }),
    ),
    checkedAt: isoTime(drift.Timestamp),
  };
}
