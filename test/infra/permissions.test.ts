/**
 * Every AWS call a function's code can make is granted to its role, and nothing else is, except the
 * few permissions AWS itself uses on the function's behalf (named below, each with its reason).
 *
 * What a handler can send is derived from the code, not listed by hand: from functions/<handler>.ts
 * the value imports are followed through lib/; every module reached contributes the SDK commands it
 * constructs (`new XxxCommand(`, `paginateXxx(`); the StackGateway adapter contributes, per method,
 * the commands that method (and the private helpers it calls) sends, for each gateway method some
 * reached module calls. The result is compared with the synthesized inline policies, both ways.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { driftReadActions } from '../../lib/infra/drift-reads.js';
import type { HandlerName } from '../../lib/infra/functions.js';
import { FULL_CONFIG, synth } from './synth.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GATEWAY_MODULE = join(ROOT, 'lib/adapters/cloudformation-gateway.ts');
const GATEWAY_PORT = join(ROOT, 'lib/ports/stack-gateway.ts');

/** IAM service prefix of each SDK client package. */
const SERVICES: Record<string, string> = {
  '@aws-sdk/client-cloudformation': 'cloudformation',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
  '@aws-sdk/client-sqs': 'sqs',
  '@aws-sdk/client-sts': 'sts',
};

/** Calls IAM authorises under another action's name. */
const AUTHORISED_AS: Record<string, string> = { 's3:HeadObject': 's3:GetObject' };

/** Granted for AWS to use on the function's behalf: no code of Cairn's sends them. */
const USED_BY_AWS: Record<string, string> = {
  'logs:CreateLogStream': 'the Lambda runtime writes the function\'s logs',
  'logs:PutLogEvents': 'the Lambda runtime writes the function\'s logs',
  'xray:PutTraceSegments': 'active tracing',
  'xray:PutTelemetryRecords': 'active tracing',
};
const USED_BY_AWS_FOR: Partial<Record<HandlerName, Record<string, string>>> = {
  reconcile: {
    'sqs:ReceiveMessage': 'the SQS event source mapping polls with the function\'s role',
    'sqs:DeleteMessage': 'the SQS event source mapping deletes what the batch processed',
    'sqs:GetQueueAttributes': 'the SQS event source mapping',
    'sqs:GetQueueUrl': 'the SQS event source mapping',
    'iam:PassRole': 'CreateChangeSet and DeleteStack, signed with the source role, pass the deployer role to CloudFormation',
    's3:GetObject': 'CloudFormation fetches a TemplateURL with the caller\'s credentials (the source role\'s)',
  },
  sweep: {
    'cloudformation:DetectStackResourceDrift': 'DetectStackDrift checks each resource with the caller\'s DetectStackResourceDrift permission',
    ...Object.fromEntries(driftReadActions(FULL_CONFIG.driftDetectionResourceTypes).map((a) => [a, 'drift detection reads each resource with the caller\'s credentials'])),
  },
};

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  node.forEachChild((child) => walk(child, visit));
}

/** Relative modules a file imports for their values (type-only imports carry no code). */
function valueImports(source: ts.SourceFile): string[] {
  const out: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
    const spec = statement.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      if (clause && !clause.name && named && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly)) continue;
    } else if (statement.isTypeOnly) continue;
    out.push(resolve(dirname(source.fileName), spec.text.replace(/\.js$/, '.ts')).replace(/(?<!\.ts)$/, ''));
  }
  // A module loaded lazily (`await import('./x.js')`) is as reachable as one imported at the top.
  walk(source, (n) => {
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const spec = n.arguments[0];
      if (spec && ts.isStringLiteral(spec) && spec.text.startsWith('.')) out.push(resolve(dirname(source.fileName), spec.text.replace(/\.js$/, '.ts')));
    }
  });
  return out.map((f) => (f.endsWith('.ts') ? f : `${f}/index.ts`));
}

/** Every module reachable from `entry` through value imports. */
function reachable(entry: string): ts.SourceFile[] {
  const seen = new Map<string, ts.SourceFile>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const source = parse(file);
    seen.set(file, source);
    queue.push(...valueImports(source));
  }
  return [...seen.values()];
}

/**
 * SDK identifiers imported from client packages: local name to IAM action. Both static imports and
 * the clients loaded at first use, `const { XxxCommand } = await import('@aws-sdk/client-...')`.
 */
function sdkActions(source: ts.SourceFile): Map<string, string> {
  const out = new Map<string, string>();
  const add = (service: string, names: string[]): void => {
    for (const name of names) {
      const operation = /^(\w+)Command$/.exec(name)?.[1] ?? /^paginate(\w+)$/.exec(name)?.[1];
      if (operation) {
        const action = `${service}:${operation}`;
        out.set(name, AUTHORISED_AS[action] ?? action);
      }
    }
  };
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const service = SERVICES[statement.moduleSpecifier.text];
    const named = statement.importClause?.namedBindings;
    if (!service || !named || !ts.isNamedImports(named) || statement.importClause?.isTypeOnly) continue;
    add(service, named.elements.filter((e) => !e.isTypeOnly).map((e) => e.name.text));
  }
  walk(source, (n) => {
    if (!ts.isVariableDeclaration(n) || !ts.isObjectBindingPattern(n.name) || !n.initializer || !ts.isAwaitExpression(n.initializer)) return;
    const call = n.initializer.expression;
    if (!ts.isCallExpression(call) || call.expression.kind !== ts.SyntaxKind.ImportKeyword) return;
    const spec = call.arguments[0];
    const service = spec && ts.isStringLiteral(spec) ? SERVICES[spec.text] : undefined;
    if (service) add(service, n.name.elements.flatMap((e) => (ts.isIdentifier(e.name) ? [e.name.text] : [])));
  });
  return out;
}

/** The IAM actions of the SDK calls (`new XxxCommand(`, `paginateXxx(`) inside `node`. */
function actionsIn(node: ts.Node, sdk: Map<string, string>): Set<string> {
  const out = new Set<string>();
  walk(node, (n) => {
    const callee = ts.isNewExpression(n) || ts.isCallExpression(n) ? n.expression : undefined;
    if (callee && ts.isIdentifier(callee) && sdk.has(callee.text)) out.add(sdk.get(callee.text)!);
  });
  return out;
}

/** The StackGateway port's method names. */
function gatewayMethods(): Set<string> {
  const port = parse(GATEWAY_PORT);
  const iface = port.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'StackGateway')!;
  return new Set(iface.members.flatMap((m) => (m.name && ts.isIdentifier(m.name) ? [m.name.text] : [])));
}

/** For each method of the CloudFormation adapter, the actions it sends, through the private helpers it calls. */
function actionsPerGatewayMethod(): Map<string, Set<string>> {
  const source = parse(GATEWAY_MODULE);
  const sdk = sdkActions(source);
  const cls = source.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === 'CloudFormationGateway')!;
  const direct = new Map<string, { actions: Set<string>; calls: Set<string> }>();
  for (const member of cls.members) {
    if (!ts.isMethodDeclaration(member) || !member.name || !ts.isIdentifier(member.name)) continue;
    const calls = new Set<string>();
    walk(member, (n) => {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.expression.kind === ts.SyntaxKind.ThisKeyword) {
        calls.add(n.expression.name.text);
      }
    });
    direct.set(member.name.text, { actions: actionsIn(member, sdk), calls });
  }
  const closure = (method: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(method)) return new Set();
    seen.add(method);
    const entry = direct.get(method);
    const out = new Set(entry?.actions ?? []);
    for (const callee of entry?.calls ?? []) for (const a of closure(callee, seen)) out.add(a);
    return out;
  };
  return new Map([...direct.keys()].map((m) => [m, closure(m)]));
}

/** Whether a module is an implementation of the StackGateway port (which calls every method it wraps). */
const implementsGateway = (source: ts.SourceFile): boolean =>
  source.statements.some(
    (s) => ts.isClassDeclaration(s) && s.heritageClauses?.some((h) => h.types.some((t) => t.expression.getText(source) === 'StackGateway')),
  );

/** Every IAM action the code reachable from functions/<handler>.ts can send. */
function actionsSentBy(handler: HandlerName): Set<string> {
  const modules = reachable(join(ROOT, 'functions', `${handler}.ts`));
  const methods = gatewayMethods();
  const perMethod = actionsPerGatewayMethod();
  const out = new Set<string>();
  const usesGateway = modules.some((m) => m.fileName === GATEWAY_MODULE);
  for (const module of modules) {
    if (module.fileName !== GATEWAY_MODULE) for (const a of actionsIn(module, sdkActions(module))) out.add(a);
    if (!usesGateway || implementsGateway(module)) continue;
    walk(module, (n) => {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && methods.has(n.expression.name.text)) {
        for (const a of perMethod.get(n.expression.name.text) ?? []) out.add(a);
      }
    });
  }
  return out;
}

// A template is untyped JSON; each assertion states the shape it expects.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** The Allow actions of the inline policies on the roles (a function's, and the source roles it assumes). */
function grantedTo(template: Template, handler: HandlerName, roleIds: string[]): Set<string> {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Json[];
  const statements = policies
    .filter((p) => p.Properties.Roles.some((r: { Ref?: string }) => roleIds.includes(r.Ref ?? '')))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
  expect(statements.length, `statements for ${handler}`).toBeGreaterThan(0);
  return new Set(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]) as string[]));
}

const HANDLERS: HandlerName[] = ['webhook', 'reconcile', 'sweep', 'stack-events'];

describe('Infra: permissions derived from the code', () => {
  let template: Template;
  let roles: Record<HandlerName, string>;
  let sourceRoles: string[];
  beforeAll(() => {
    const s = synth(FULL_CONFIG, { bundle: false, validate: false });
    template = s.template;
    const fns = { webhook: s.stack.webhook, reconcile: s.stack.reconcile, sweep: s.stack.sweep, 'stack-events': s.stack.stackEvents };
    roles = Object.fromEntries(
      HANDLERS.map((h) => [h, s.stack.getLogicalId(fns[h].role.node.defaultChild as unknown as Parameters<typeof s.stack.getLogicalId>[0])]),
    ) as Record<HandlerName, string>;
    sourceRoles = [...s.stack.sourceRoles.roles.values()].map((r) => s.stack.getLogicalId(r.node.defaultChild as unknown as Parameters<typeof s.stack.getLogicalId>[0]));
  });

  /** The reconciler acts with its own role and, for each source's work, that source's role. */
  const identityOf = (handler: HandlerName): string[] => (handler === 'reconcile' ? [roles.reconcile, ...sourceRoles] : [roles[handler]]);

  it('gives the reconcile function\'s own role no CloudFormation action and no PassRole: only the source roles have them', () => {
    const own = grantedTo(template, 'reconcile', [roles.reconcile]);
    expect([...own].filter((a) => a.startsWith('cloudformation:') || a === 'iam:PassRole')).toEqual([]);
    expect(own.has('sts:AssumeRole')).toBe(true);
    const cloudformation = [...actionsSentBy('reconcile')].filter((a) => a.startsWith('cloudformation:')).sort();
    expect(sourceRoles).toHaveLength(FULL_CONFIG.sources.length);
    for (const role of sourceRoles) {
      const granted = grantedTo(template, 'reconcile', [role]);
      expect([...granted].filter((a) => a.startsWith('cloudformation:')).sort(), role).toEqual(cloudformation);
      expect([...granted].filter((a) => !a.startsWith('cloudformation:')).sort(), role).toEqual(['iam:PassRole', 's3:GetObject']);
    }
  });

  it('finds the calls the code makes (the derivation itself works)', () => {
    expect([...actionsSentBy('reconcile')]).toEqual(
      expect.arrayContaining(['cloudformation:CreateChangeSet', 'cloudformation:DescribeStacks', 's3:PutObject', 'sqs:SendMessage', 'sqs:ChangeMessageVisibility']),
    );
    expect([...actionsSentBy('stack-events')].sort()).toEqual(['cloudformation:DescribeStacks', 'sqs:SendMessage']);
    expect(actionsSentBy('webhook').has('cloudformation:DescribeStacks')).toBe(false);
  });

  for (const handler of HANDLERS) {
    it(`grants ${handler} every call its code can make, and nothing more`, () => {
      const sent = actionsSentBy(handler);
      const granted = grantedTo(template, handler, identityOf(handler));
      const byAws = { ...USED_BY_AWS, ...USED_BY_AWS_FOR[handler] };
      expect([...sent].filter((a) => !granted.has(a)).sort(), 'sent but not granted').toEqual([]);
      expect([...granted].filter((a) => !sent.has(a) && !(a in byAws)).sort(), 'granted but never sent').toEqual([]);
    });
  }

  it('lets the reconciler requeue a waiting source on the work queue and move poison to the dead-letter queue', () => {
    const queues = Object.entries(template.findResources('AWS::SQS::Queue')) as [string, Json][];
    const work = queues.find(([, q]) => q.Properties.RedrivePolicy)![0];
    const dead = queues.find(([, q]) => !q.Properties.RedrivePolicy)![0];
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roles.reconcile }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: [{ 'Fn::GetAtt': [work, 'Arn'] }, { 'Fn::GetAtt': [dead, 'Arn'] }] }),
        ]),
      },
    });
  });
});
