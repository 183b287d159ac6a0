/**
 * An AWS-compatible CloudFormation endpoint over the embedded account, so the SDK path
 * (`--target aws`) can run end to end on one machine: `AWS_ENDPOINT_URL=http://127.0.0.1:PORT`.
 *
 * It speaks what @aws-sdk/client-cloudformation speaks on the wire, the awsQuery protocol
 * (form-encoded POST with `Action=...&Version=2010-05-15`, XML answers, errors as
 * `<ErrorResponse>` with CloudFormation's codes and HTTP statuses), for every operation the
 * CloudFormation gateway sends, and the S3 PutObject/HeadObject/GetObject (path style) that the
 * gateway uses for templates over the inline limit. Objects live in this process's memory.
 * Signatures are not checked: any static credentials work; the region is read from the
 * signature's credential scope. It listens on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { EmbeddedAccount } from '../adapters/embedded-account/index.js';
import type { ActualStack } from '../core/model.js';
import { GatewayError, type ChangeSetChange, type ChangeSetInput, type StackGateway } from '../ports/stack-gateway.js';

const XMLNS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
/** Bodies above this are refused; CloudFormation's own TemplateURL limit is 1 MB, and S3 uploads here are templates. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** The HTTP status CloudFormation answers a code with, where it is not 400, and the code on the wire where the SDK's differs. */
const WIRE_ERRORS: Record<string, { code: string; status: number }> = {
  ChangeSetNotFoundException: { code: 'ChangeSetNotFound', status: 404 },
  StackNotFoundException: { code: 'StackNotFoundException', status: 404 },
  NameAlreadyExistsException: { code: 'NameAlreadyExistsException', status: 409 },
};

export interface CloudFormationEndpointOptions {
  account: EmbeddedAccount;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Items per page of DescribeChangeSet, DescribeStackEvents and DescribeStackResourceDrifts (CloudFormation's own sizes by default). */
  pageSize?: { changes?: number; events?: number; drifts?: number };
}

export interface CloudFormationEndpoint {
  /** e.g. http://127.0.0.1:4566, for AWS_ENDPOINT_URL. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A request's parameters, with awsQuery's `Name.member.N[.Field]` lists read back. */
class QueryParameters {
  constructor(private readonly params: URLSearchParams) {}

  string(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }

  required(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') throw new GatewayError('ValidationError', `1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
    return value;
  }

  boolean(name: string): boolean | undefined {
    const value = this.string(name);
    return value === undefined ? undefined : value === 'true';
  }

  /** `Name.member.1`, `Name.member.2` ... as strings. */
  list(name: string): string[] {
    const out: string[] = [];
    for (let i = 1; this.params.has(`${name}.member.${i}`); i++) out.push(this.params.get(`${name}.member.${i}`)!);
    return out;
  }

  /** `Name.member.N.Field` ... as records of their fields. */
  structures(name: string): Record<string, string>[] {
    const out: Record<string, string>[] = [];
    for (let i = 1; ; i++) {
      const prefix = `${name}.member.${i}.`;
      const item: Record<string, string> = {};
      for (const [key, value] of this.params) if (key.startsWith(prefix)) item[key.slice(prefix.length)] = value;
      if (Object.keys(item).length === 0) return out;
      out.push(item);
    }
  }
}

type Xml = string | number | boolean | undefined | Xml[] | { [element: string]: Xml };

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** awsQuery XML: objects are elements, arrays are `<member>` lists, undefined is left out. */
function toXml(value: Xml): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map((item) => `<member>${toXml(item)}</member>`).join('');
  if (typeof value === 'object') {
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${toXml(v)}</${k}>`)
      .join('');
  }
  return escape(String(value));
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function page<T>(items: T[], token: string | undefined, size: number): { items: T[]; next: string | undefined } {
  const start = token ? Number.parseInt(Buffer.from(token, 'base64url').toString('utf8'), 10) || 0 : 0;
  const end = start + size;
  return { items: items.slice(start, end), next: end < items.length ? Buffer.from(String(end)).toString('base64url') : undefined };
}

function stackMissing(stackName: string): GatewayError {
  return new GatewayError('ValidationError', `Stack with id ${stackName} does not exist`);
}

function stackXml(stack: ActualStack): Xml {
  return {
    StackId: stack.stackId,
    StackName: stack.stackName,
    Parameters: Object.entries(stack.parameters).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
    CreationTime: stack.createdAt,
    LastUpdatedTime: stack.updatedAt,
    RoleARN: stack.roleArn,
    StackStatus: stack.status,
    StackStatusReason: stack.statusReason,
    Outputs: Object.entries(stack.outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
    Tags: Object.entries(stack.tags).map(([Key, Value]) => ({ Key, Value })),
    EnableTerminationProtection: stack.terminationProtection,
    DriftInformation: { StackDriftStatus: stack.driftStatus ?? 'NOT_CHECKED', LastCheckTimestamp: stack.driftCheckedAt },
  };
}

/** A port change as CloudFormation's ResourceChange: one Properties detail per changed value, or per property without values. */
function changeXml(change: ChangeSetChange): Xml {
  const nameOf = (path: string): string => path.split('/')[2] ?? path;
  const values = change.values ?? [];
  const details: Xml[] = [];
  for (const property of change.properties) {
    const own = values.filter((v) => nameOf(v.path) === property);
    const target = (v?: (typeof values)[number]): Xml => ({
      Attribute: 'Properties',
      Name: property,
      RequiresRecreation: v?.requiresRecreation ?? 'Never',
      Path: v?.path,
      BeforeValue: v?.before,
      AfterValue: v?.after,
    });
    if (own.length === 0) details.push({ Target: target(), Evaluation: 'Static', ChangeSource: 'DirectModification' });
    for (const v of own) details.push({ Target: target(v), Evaluation: 'Static', ChangeSource: 'DirectModification' });
  }
  return {
    Type: 'Resource',
    ResourceChange: {
      Action: change.action,
      LogicalResourceId: change.logicalId,
      PhysicalResourceId: change.physicalId,
      ResourceType: change.resourceType,
      Replacement: change.replacement,
      Scope: change.properties.length ? ['Properties'] : [],
      Details: details,
    },
  };
}

/** Serves one embedded account's CloudFormation (and template S3) API over HTTP on 127.0.0.1. */
export async function startCloudFormationEndpoint(options: CloudFormationEndpointOptions): Promise<CloudFormationEndpoint> {
  const { account } = options;
  const sizes = { changes: options.pageSize?.changes ?? 100, events: options.pageSize?.events ?? 100, drifts: options.pageSize?.drifts ?? 100 };
  const objects = new Map<string, Buffer>();

  async function template(q: QueryParameters): Promise<string> {
    const body = q.string('TemplateBody');
    if (body !== undefined) return body;
    const url = q.string('TemplateURL');
    if (!url) throw new GatewayError('ValidationError', 'Either Template URL or Template Body must be specified.');
    const object = objects.get(objectKeyOfUrl(url));
    if (!object) throw new GatewayError('ValidationError', `S3 error: Access Denied (no object at ${url})`);
    return object.toString('utf8');
  }

  async function cloudFormation(action: string, q: QueryParameters, gateway: StackGateway): Promise<Xml> {
    const existing = async (name: string): Promise<ActualStack> => (await gateway.describeStack(name)) ?? (() => { throw stackMissing(name); })();
    switch (action) {
      case 'DescribeStacks': {
        const name = q.string('StackName');
        const stacks = name ? [await existing(name)] : await gateway.listStacks();
        const { items, next } = page(stacks, q.string('NextToken'), 100);
        return { Stacks: items.map(stackXml), NextToken: next };
      }
      case 'GetTemplate': {
        const name = q.required('StackName');
        return { TemplateBody: await gateway.getTemplate(name), StagesAvailable: ['Original', 'Processed'] };
      }
      case 'CreateChangeSet': {
        const type = q.string('ChangeSetType') ?? 'UPDATE';
        if (type !== 'CREATE' && type !== 'UPDATE') throw new GatewayError('ValidationError', `ChangeSetType ${type} is not supported here (CREATE or UPDATE)`);
        const mode = q.string('DeploymentMode');
        const input: ChangeSetInput = {
          stackName: q.required('StackName'),
          changeSetName: q.required('ChangeSetName'),
          changeSetType: type,
          templateBody: await template(q),
          parameters: q.structures('Parameters').map((p) => ({ key: p['ParameterKey'] ?? '', value: p['ParameterValue'] ?? '' })),
          tags: Object.fromEntries(q.structures('Tags').map((t) => [t['Key'] ?? '', t['Value'] ?? ''])),
          capabilities: q.list('Capabilities') as ChangeSetInput['capabilities'],
          roleArn: q.string('RoleARN'),
          clientToken: q.string('ClientToken') ?? randomUUID(),
          ...(q.string('Description') === undefined ? {} : { description: q.string('Description')! }),
          ...(mode === 'REVERT_DRIFT' ? { deploymentMode: mode } : {}),
          // CreateChangeSet has no IncludePropertyValues (the SDK drops it); CloudFormation records
          // values for every change set and DescribeChangeSet returns them when asked.
          includePropertyValues: true,
        };
        const { changeSetId, stackId } = await gateway.createChangeSet(input);
        return { Id: changeSetId, StackId: stackId };
      }
      case 'DescribeChangeSet': {
        const stackName = q.required('StackName');
        const name = q.required('ChangeSetName');
        const d = await gateway.describeChangeSet(stackName, name, { includePropertyValues: q.boolean('IncludePropertyValues') === true });
        if (!d) throw new GatewayError('ChangeSetNotFoundException', `ChangeSet [${name}] does not exist`);
        const { items, next } = page(d.changes, q.string('NextToken'), sizes.changes);
        const stack = await gateway.describeStack(d.stackName);
        return {
          ChangeSetName: d.changeSetName,
          ChangeSetId: d.changeSetId,
          StackId: stack?.stackId,
          StackName: d.stackName,
          CreationTime: d.createdAt,
          ExecutionStatus: d.executionStatus,
          Status: d.status,
          StatusReason: d.statusReason,
          Changes: items.map(changeXml),
          NextToken: next,
          IncludeNestedStacks: false,
        };
      }
      case 'ListChangeSets': {
        const stackName = q.required('StackName');
        const stack = await existing(stackName);
        const summaries = await gateway.listChangeSets(stackName);
        const { items, next } = page(summaries, q.string('NextToken'), 100);
        return {
          Summaries: items.map((s) => ({
            StackId: stack.stackId,
            StackName: stack.stackName,
            ChangeSetId: s.changeSetId,
            ChangeSetName: s.changeSetName,
            ExecutionStatus: s.executionStatus,
            Status: s.status,
            CreationTime: s.createdAt,
          })),
          NextToken: next,
        };
      }
      case 'ExecuteChangeSet':
        await gateway.executeChangeSet(q.required('StackName'), q.required('ChangeSetName'), q.string('ClientRequestToken') ?? '');
        return {};
      case 'DeleteChangeSet':
        await gateway.deleteChangeSet(q.required('StackName'), q.required('ChangeSetName'));
        return {};
      case 'DeleteStack':
        await gateway.deleteStack(q.required('StackName'), { clientToken: q.string('ClientRequestToken') ?? '', roleArn: q.string('RoleARN') });
        return {};
      case 'UpdateTerminationProtection': {
        const name = q.required('StackName');
        await gateway.updateTerminationProtection(name, q.boolean('EnableTerminationProtection') === true);
        return { StackId: (await existing(name)).stackId };
      }
      case 'DescribeStackEvents': {
        const name = q.required('StackName');
        const stack = await existing(name);
        const events = await gateway.listStackEvents(name, Number.MAX_SAFE_INTEGER);
        const { items, next } = page(events, q.string('NextToken'), sizes.events);
        return {
          StackEvents: items.map((e) => ({
            StackId: stack.stackId,
            EventId: e.eventId,
            StackName: e.stackName,
            LogicalResourceId: e.logicalId,
            ResourceType: e.resourceType,
            Timestamp: e.timestamp,
            ResourceStatus: e.status,
            ResourceStatusReason: e.statusReason,
            ClientRequestToken: e.clientRequestToken,
          })),
          NextToken: next,
        };
      }
      case 'DetectStackDrift':
        return { StackDriftDetectionId: await gateway.detectStackDrift(q.required('StackName')) };
      case 'DescribeStackDriftDetectionStatus': {
        const id = q.required('StackDriftDetectionId');
        const d = await gateway.describeDriftDetection(id);
        return {
          StackDriftDetectionId: id,
          StackDriftStatus: d.stackDriftStatus,
          DetectionStatus: d.status,
          DetectionStatusReason: d.reason,
          DriftedStackResourceCount: d.driftedResourceCount,
          Timestamp: new Date(account.now()).toISOString(),
        };
      }
      case 'DescribeStackResourceDrifts': {
        const name = q.required('StackName');
        const stack = await existing(name);
        const filters = q.list('StackResourceDriftStatusFilters');
        const drifts = (await gateway.listResourceDrifts(name)).filter((d) => filters.length === 0 || filters.includes(d.status));
        const { items, next } = page(drifts, q.string('NextToken'), sizes.drifts);
        return {
          StackResourceDrifts: items.map((d) => ({
            StackId: stack.stackId,
            LogicalResourceId: d.logicalId,
            PhysicalResourceId: d.physicalId,
            ResourceType: d.resourceType,
            PropertyDifferences: d.differences.map((p) => ({ PropertyPath: p.path, ExpectedValue: p.expected, ActualValue: p.actual, DifferenceType: p.kind })),
            StackResourceDriftStatus: d.status,
            Timestamp: d.checkedAt,
          })),
          NextToken: next,
        };
      }
      default:
        throw new GatewayError('InvalidAction', `The action ${action} is not valid for this endpoint (Cairn's embedded CloudFormation serves what Cairn calls)`);
    }
  }

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const requestId = randomUUID();
    const region = regionOf(request.headers.authorization) ?? account.defaultRegion;
    const contentType = request.headers['content-type'] ?? '';
    if (request.method === 'POST' && contentType.startsWith('application/x-www-form-urlencoded')) {
      const q = new QueryParameters(new URLSearchParams(body.toString('utf8')));
      const action = q.string('Action') ?? '';
      try {
        const result = await cloudFormation(action, q, account.gateway(region));
        const xml = `<${action}Response xmlns="${XMLNS}"><${action}Result>${toXml(result)}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
        send(response, 200, xml, requestId);
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        const wire = WIRE_ERRORS[error.code] ?? { code: error.code, status: 400 };
        const xml = `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${escape(wire.code)}</Code><Message>${escape(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
        send(response, wire.status, xml, requestId);
      }
      return;
    }
    // S3, path style (the SDK's choice for an IP-address endpoint): /bucket/key.
    const path = decodeURIComponent((request.url ?? '/').split('?')[0]!).replace(/^\/+/, '');
    if (request.method === 'PUT' && path.includes('/')) {
      objects.set(path, decodeAwsChunked(body, request.headers['content-encoding']));
      response.writeHead(200, { ETag: `"${requestId}"`, 'x-amz-request-id': requestId }).end();
      return;
    }
    if ((request.method === 'GET' || request.method === 'HEAD') && objects.has(path)) {
      const object = objects.get(path)!;
      response.writeHead(200, { 'Content-Length': object.length, 'Content-Type': 'application/json', 'x-amz-request-id': requestId });
      response.end(request.method === 'GET' ? object : undefined);
      return;
    }
    const xml = `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${escape(path)}</Key><RequestId>${requestId}</RequestId></Error>`;
    if (request.method === 'HEAD') response.writeHead(404, { 'x-amz-request-id': requestId }).end();
    else send(response, 404, xml, requestId);
  }

  const server: Server = createServer((request, response) => {
    answer(request, response).catch((error: unknown) => {
      const requestId = randomUUID();
      const message = error instanceof Error ? error.message : String(error);
      if (!response.headersSent) {
        send(response, 500, `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>${escape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`, requestId);
      } else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(response: ServerResponse, status: number, xml: string, requestId: string): void {
  response.writeHead(status, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': requestId, 'x-amz-request-id': requestId });
  response.end(`<?xml version="1.0" encoding="UTF-8"?>${xml}`);
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new GatewayError('ValidationError', `Request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The region of a SigV4 Authorization header's credential scope: `Credential=AKID/DATE/REGION/SERVICE/aws4_request`. */
function regionOf(authorization: string | undefined): string | undefined {
  return authorization ? /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(authorization)?.[1] : undefined;
}

/** `bucket/key` of a TemplateURL, virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`) or path style. */
function objectKeyOfUrl(url: string): string {
  const parsed = new URL(url);
  const path = parsed.pathname.split('/').map(decodeURIComponent).join('/').replace(/^\/+/, '');
  const virtual = /^(.+)\.s3[.-]/.exec(parsed.hostname)?.[1];
  return virtual ? `${virtual}/${path}` : path;
}

/** The payload of an `aws-chunked` body (`SIZE_HEX[;ext]\r\nDATA\r\n` ... `0\r\n` then trailers), or the body itself. */
function decodeAwsChunked(body: Buffer, encoding: string | string[] | undefined): Buffer {
  if (!String(encoding ?? '').includes('aws-chunked')) return body;
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(body.subarray(at, lineEnd).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
