/**
 * The Cairn stack as CloudFormation will see it: the properties the handlers depend on (FIFO and
 * dead-letter wiring, batch failure reporting, timeouts against visibility, environment names),
 * the IAM scope (PassRole, the deployer-role condition, each function's grants), the event rule,
 * alarms, retention, and the bundles esbuild produced. Synthesised once per configuration.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lib/core/environment.js';
import { parseDeploymentConfig } from '../../lib/core/source-config.js';
import { FAILURE_THRESHOLD, FAILURE_WINDOW } from '../../lib/infra/alarms.js';
import { RECONCILE_TIMEOUT } from '../../lib/infra/cairn-stack.js';
import { EXTERNAL_MODULES, LOADED_AT_FIRST_USE } from '../../lib/infra/functions.js';
import { MAX_RECEIVE_COUNT } from '../../lib/infra/work-queue.js';
import { FULL_CONFIG, MINIMAL_CONFIG, synth, type Synthesised } from './synth.js';

// A template is untyped JSON; each assertion states the shape it expects.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Json> };

const resources = (template: Template, type: string): Record<string, Resource> => template.findResources(type) as Record<string, Resource>;

/** The Lambda function whose description names it, e.g. "reconciles". */
function functionLike(template: Template, description: RegExp): [string, Resource] {
  const found = Object.entries(resources(template, 'AWS::Lambda::Function')).filter(([, r]) => description.test(r.Properties['Description']));
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** The logical id of a source's role (its description names the source). */
function sourceRoleOf(template: Template, source: string): string {
  const found = Object.entries(resources(template, 'AWS::IAM::Role')).filter(([, r]) => String(r.Properties['Description']).startsWith(`Cairn source ${source}:`));
  expect(found, `role of source ${source}`).toHaveLength(1);
  return found[0]![0];
}

/** Every statement of the inline policies attached to the role of that function. */
function statementsOf(template: Template, fn: Resource): Statement[] {
  return statementsOfRole(template, fn.Properties['Role']['Fn::GetAtt'][0]);
}

function statementsOfRole(template: Template, roleId: string): Statement[] {
  return Object.values(resources(template, 'AWS::IAM::Policy'))
    .filter((p) => p.Properties['Roles'].some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties['PolicyDocument']['Statement'] as Statement[]);
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const allActions = (statements: Statement[]): string[] => statements.filter((s) => s.Effect === 'Allow').flatMap(actionsOf).sort();

describe('Infra: Cairn stack', () => {
  let s: Synthesised;
  let t: Template;
  beforeAll(() => {
    s = synth(FULL_CONFIG);
    t = s.template;
  });
  /** The directory esbuild wrote the function's code to, in the cloud assembly. */
  const bundleOf = (fn: Resource): string => join(s.outdir, `asset.${String(fn.Properties['Code']['S3Key']).replace(/\.zip$/, '')}`);

  describe('work queue', () => {
    it('is FIFO with sender-set deduplication per source, and dead-letters into a FIFO queue', () => {
      const queues = resources(t, 'AWS::SQS::Queue');
      const [dlqId] = Object.entries(queues).find(([, q]) => !q.Properties['RedrivePolicy'])!;
      expect(queues[dlqId]!.Properties).toMatchObject({ FifoQueue: true, MessageRetentionPeriod: 14 * 24 * 3600 });
      t.hasResourceProperties('AWS::SQS::Queue', {
        FifoQueue: true,
        ContentBasedDeduplication: false,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        SqsManagedSseEnabled: true,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: MAX_RECEIVE_COUNT },
      });
      expect(Object.values(queues).every((q) => q.Properties['FifoQueue'] === true)).toBe(true);
    });

    it('keeps a failing message long enough to reach the dead letters after its last receive', () => {
      const queue = Object.values(resources(t, 'AWS::SQS::Queue')).find((q) => q.Properties['RedrivePolicy'])!;
      const { VisibilityTimeout, MessageRetentionPeriod, RedrivePolicy } = queue.Properties;
      expect(MessageRetentionPeriod).toBeGreaterThan(RedrivePolicy.maxReceiveCount * VisibilityTimeout);
    });

    it('refuses requests without TLS on both queues', () => {
      const policies = Object.values(resources(t, 'AWS::SQS::QueuePolicy'));
      expect(policies).toHaveLength(2);
      for (const p of policies) {
        expect(p.Properties['PolicyDocument']['Statement']).toContainEqual(
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        );
      }
    });

    it('feeds the reconciler in batches that report item failures, with the configured maximum concurrency', () => {
      const [reconcileId] = functionLike(t, /reconciles a source/);
      const [queueId] = Object.entries(resources(t, 'AWS::SQS::Queue')).find(([, q]) => q.Properties['RedrivePolicy'])!;
      t.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: reconcileId },
        EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 10,
        ScalingConfig: { MaximumConcurrency: FULL_CONFIG.reconcileConcurrency },
      });
    });

    it('hides a message in flight for at least six times the reconcile timeout', () => {
      const [, reconcile] = functionLike(t, /reconciles a source/);
      const queue = Object.values(resources(t, 'AWS::SQS::Queue')).find((q) => q.Properties['RedrivePolicy'])!;
      expect(reconcile.Properties['Timeout']).toBe(RECONCILE_TIMEOUT.toSeconds());
      expect(queue.Properties['VisibilityTimeout']).toBeGreaterThanOrEqual(6 * reconcile.Properties['Timeout']);
    });
  });

  describe('functions', () => {
    it('run on the newest Node.js runtime, on arm64, traced, logging to their own log group', () => {
      const fns = Object.values(resources(t, 'AWS::Lambda::Function'));
      expect(fns).toHaveLength(4);
      for (const fn of fns) {
        expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler', TracingConfig: { Mode: 'Active' } });
        expect(fn.Properties['LoggingConfig']['LogGroup']).toHaveProperty('Ref');
        expect(fn.Properties['Environment']['Variables']).toMatchObject({
          POWERTOOLS_SERVICE_NAME: 'cairn',
          POWERTOOLS_METRICS_NAMESPACE: 'Cairn',
          NODE_OPTIONS: '--enable-source-maps',
        });
      }
    });

    it('keep logs for the configured number of days', () => {
      const groups = Object.values(resources(t, 'AWS::Logs::LogGroup'));
      expect(groups).toHaveLength(4);
      for (const g of groups) expect(g.Properties['RetentionInDays']).toBe(FULL_CONFIG.logRetentionDays);
    });

    it('read the environment variables the handlers read, by their shared names', () => {
      const env = (d: RegExp) => Object.keys(functionLike(t, d)[1].Properties['Environment']['Variables']).filter((k) => k.startsWith('CAIRN_')).sort();
      expect(env(/verifies Git provider webhooks/)).toEqual([ENV.config, ENV.queueUrl, ENV.templateBucket].sort());
      expect(env(/reconciles a source/)).toEqual([ENV.config, ENV.queueUrl, ENV.templateBucket, ENV.deadLetterQueueUrl].sort());
      expect(env(/detects drift/)).toEqual([ENV.config, ENV.queueUrl, ENV.regions, ENV.sweepIntervalMs].sort());
      expect(env(/queues the owning source/)).toEqual([ENV.config, ENV.queueUrl].sort());
      const sweep = functionLike(t, /detects drift/)[1].Properties['Environment']['Variables'];
      expect(sweep[ENV.sweepIntervalMs]).toBe(String(30 * 60_000));
      expect(sweep[ENV.regions]).toBe('eu-west-1,us-east-1');
    });

    it('pass the sources to the handlers as a configuration they accept', () => {
      const raw = functionLike(t, /verifies Git provider webhooks/)[1].Properties['Environment']['Variables'][ENV.config];
      // Every source here has its own role, so the configuration is plain JSON, not a join.
      expect(typeof raw).toBe('string');
      expect(parseDeploymentConfig(raw, ENV.config)).toEqual({ sources: FULL_CONFIG.sources });
    });

    it('give the reconciler a 1 GiB /tmp for its git cache', () => {
      expect(functionLike(t, /reconciles a source/)[1].Properties['EphemeralStorage']).toEqual({ Size: 1024 });
    });

    it('put only the webhook behind a Function URL, authenticated by the signature rather than IAM', () => {
      const [webhookId] = functionLike(t, /verifies Git provider webhooks/);
      t.resourceCountIs('AWS::Lambda::Url', 1);
      t.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [webhookId, 'Arn'] } });
    });

    it('are bundled by esbuild into ES modules of under 1 MB, with source maps', () => {
      for (const fn of Object.values(resources(t, 'AWS::Lambda::Function'))) {
        expect(statSync(join(bundleOf(fn), 'index.mjs')).size).toBeLessThan(1_000_000);
        expect(statSync(join(bundleOf(fn), 'index.mjs.map')).size).toBeGreaterThan(0);
      }
    });

    it('put the resource schemas beside the reconcile bundle only, where its template checks read them', () => {
      const [reconcileId] = functionLike(t, /reconciles a source/);
      const schemas = readFileSync(new URL('../../lib/adapters/resource-schemas.br', import.meta.url));
      for (const [id, fn] of Object.entries(resources(t, 'AWS::Lambda::Function'))) {
        const copied = join(bundleOf(fn), 'resource-schemas.br');
        if (id !== reconcileId) {
          expect(existsSync(copied)).toBe(false);
          continue;
        }
        expect(readFileSync(copied).equals(schemas)).toBe(true);
        // The bundle and the data it reads stay within 1 MB (1,048,576 bytes) together.
        expect(statSync(join(bundleOf(fn), 'index.mjs')).size + schemas.length).toBeLessThan(1_048_576);
      }
    });

    it('leave out of the bundles only Node built-ins and what is imported at first use: S3 and the credential providers', () => {
      const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
      for (const fn of Object.values(resources(t, 'AWS::Lambda::Function'))) {
        const code = readFileSync(join(bundleOf(fn), 'index.mjs'), 'utf8');
        const outside = (pattern: RegExp) => [...code.matchAll(pattern)].map((m) => m[1]!).filter((x) => /^[@a-z]/.test(x) && !builtins.has(x));
        // Nothing outside the bundle is loaded at start-up: the runtime's CommonJS SDK costs several times the bundled one.
        expect(outside(/\b(?:from|import)"([^"\s]+)"/g)).toEqual([]);
        // Loaded only when first used (S3), or if credentials were not in the environment, which in Lambda they always are.
        for (const specifier of outside(/\bimport\("([^"\s]+)"\)/g)) expect(EXTERNAL_MODULES).toContain(specifier);
        // Nor is any of S3 bundled: none of its sources is in the bundle's source map.
        const { sources } = JSON.parse(readFileSync(join(bundleOf(fn), 'index.mjs.map'), 'utf8')) as { sources: string[] };
        expect(sources.filter((f) => /@aws-sdk\/client-s3\//.test(f))).toEqual([]);
      }
    });

    it('import the clients they need only now and then where they first need them, never at init', () => {
      const files = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
      const root = join(import.meta.dirname, '..', '..');
      const found: string[] = [];
      for (const file of [...files(join(root, 'lib')), ...files(join(root, 'functions'))]) {
        const code = readFileSync(file, 'utf8');
        for (const pkg of LOADED_AT_FIRST_USE) {
          const statically = new RegExp(`^import\\s+(?!type\\b)[^;]*?from\\s+'${pkg}'`, 'm');
          if (statically.test(code)) found.push(`${file.slice(root.length + 1)}: ${pkg}`);
        }
      }
      expect(found).toEqual([]);
    });
  });

  describe('permissions', () => {
    it('let each source role pass only its own deployer roles, and only to CloudFormation', () => {
      const passRole = (source: string) => statementsOfRole(t, sourceRoleOf(t, source)).filter((st) => actionsOf(st).some((a) => a.startsWith('iam:')));
      const only = (roles: string[]) => [
        { Effect: 'Allow', Action: 'iam:PassRole', Resource: roles.length === 1 ? roles[0] : roles, Condition: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } } },
      ];
      expect(passRole('platform')).toEqual(only(['arn:aws:iam::123456789012:role/platform-deployer', 'arn:aws:iam::123456789012:role/network-deployer']));
      expect(passRole('data')).toEqual(only(['arn:aws:iam::123456789012:role/data-deployer']));
    });

    it('let a source role create change sets only through its deployer roles and with its own cairn:source tag', () => {
      const create = statementsOfRole(t, sourceRoleOf(t, 'data')).filter((st) => st.Effect === 'Allow' && actionsOf(st).includes('cloudformation:CreateChangeSet'));
      expect(create).toHaveLength(1);
      expect(create[0]!.Condition).toEqual({
        StringEquals: { 'aws:RequestTag/cairn:source': 'data' },
        ArnEquals: { 'cloudformation:RoleArn': ['arn:aws:iam::123456789012:role/data-deployer'] },
      });
    });

    it('let only the reconcile function assume the source roles', () => {
      const [, reconcile] = functionLike(t, /reconciles a source/);
      const reconcileRole = reconcile.Properties['Role']['Fn::GetAtt'][0];
      for (const source of ['platform', 'data']) {
        const role = resources(t, 'AWS::IAM::Role')[sourceRoleOf(t, source)]!;
        expect(role.Properties['AssumeRolePolicyDocument']['Statement']).toEqual([
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: { 'Fn::GetAtt': [reconcileRole, 'Arn'] } } },
        ]);
      }
      const assume = statementsOf(t, reconcile).filter((st) => actionsOf(st).includes('sts:AssumeRole'));
      expect(assume).toEqual([
        { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: [sourceRoleOf(t, 'platform'), sourceRoleOf(t, 'data')].map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })) },
      ]);
    });

    it('scope stack operations to this account in the configured regions, and deny Cairn\'s own stack', () => {
      const statements = statementsOfRole(t, sourceRoleOf(t, 'platform'));
      const execute = statements.find((st) => st.Effect === 'Allow' && actionsOf(st).includes('cloudformation:ExecuteChangeSet'))!;
      const text = JSON.stringify(execute.Resource);
      expect(text).toContain('":cloudformation:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":stack/*"');
      expect(text).toContain(':cloudformation:us-east-1:');
      const deny = statements.find((st) => st.Effect === 'Deny' && JSON.stringify(st.Resource).includes(':stack/CairnTest/*'))!;
      expect(actionsOf(deny)).toEqual(expect.arrayContaining(['cloudformation:DeleteStack', 'cloudformation:ExecuteChangeSet']));
    });

    it('give each function exactly the actions its handler calls', () => {
      const of = (d: RegExp) => allActions(statementsOf(t, functionLike(t, d)[1]));
      const common = ['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
      // Webhook secrets and, for comment commands, the sources' tokens; approval states read, approvals written.
      expect(of(/verifies Git provider webhooks/)).toEqual([...common, 's3:GetObject', 's3:PutObject', 'secretsmanager:GetSecretValue', 'secretsmanager:GetSecretValue', 'sqs:SendMessage'].sort());
      expect(of(/queues the owning source/)).toEqual([...common, 'cloudformation:DescribeStacks', 'sqs:SendMessage'].sort());
      expect(of(/detects drift/)).toEqual(
        [
          ...common,
          'cloudformation:DescribeStackDriftDetectionStatus',
          'cloudformation:DescribeStackResourceDrifts',
          'cloudformation:DescribeStacks',
          'cloudformation:DetectStackDrift',
          'cloudformation:DetectStackResourceDrift',
          // The reads drift detection makes with the sweep's credentials, for AWS::SQS::Queue and AWS::Cognito::*.
          ...['cognito-identity', 'cognito-idp', 'sqs'].flatMap((p) => [`${p}:Describe*`, `${p}:Get*`, `${p}:List*`]),
          'sqs:SendMessage',
        ].sort(),
      );
      // CloudFormation only through the source roles (below).
      expect(of(/reconciles a source/)).toEqual(
        [
          ...common,
          // Templates (read and written), people's approvals (read only) and approval states (read and written), each under its own prefix.
          's3:GetObject',
          's3:GetObject',
          's3:GetObject',
          's3:PutObject',
          's3:PutObject',
          'secretsmanager:GetSecretValue',
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
          'sqs:SendMessage',
          'sts:AssumeRole',
        ].sort(),
      );
      expect(allActions(statementsOfRole(t, sourceRoleOf(t, 'platform')))).toEqual(
        [
          'cloudformation:CreateChangeSet',
          'cloudformation:DeleteChangeSet',
          'cloudformation:DeleteChangeSet',
          'cloudformation:DeleteStack',
          'cloudformation:DescribeChangeSet',
          'cloudformation:DescribeStackEvents',
          'cloudformation:DescribeStackResourceDrifts',
          'cloudformation:DescribeStacks',
          'cloudformation:ExecuteChangeSet',
          'cloudformation:ExecuteChangeSet',
          'cloudformation:GetTemplate',
          'cloudformation:ListChangeSets',
          'cloudformation:UpdateTerminationProtection',
          'iam:PassRole',
          's3:GetObject',
        ].sort(),
      );
    });

    it('let the webhook read every source\'s current and previous webhook secret, and nothing else', () => {
      const [, webhook] = functionLike(t, /verifies Git provider webhooks/);
      const read = statementsOf(t, webhook).find((st) => actionsOf(st).includes('secretsmanager:GetSecretValue'))!;
      const arns = JSON.stringify(read.Resource);
      expect(arns).toContain(':secret:cairn/platform/webhook-??????');
      expect(arns).toContain(':secret:cairn/platform/webhook-previous-??????');
      expect(arns).toContain('arn:aws:secretsmanager:eu-west-1:123456789012:secret:cairn/data/webhook');
      expect(arns).not.toContain('git-token');
    });

    it('give the functions no AWS managed policy but the sweep\'s drift-detection reads', () => {
      const managed = Object.values(resources(t, 'AWS::IAM::Role')).flatMap((r) => JSON.stringify(r.Properties['ManagedPolicyArns'] ?? []));
      expect(managed.filter((m) => m.includes('AWSLambdaBasicExecutionRole'))).toEqual([]);
      const [, sweep] = functionLike(t, /detects drift/);
      const sweepRole = resources(t, 'AWS::IAM::Role')[sweep.Properties['Role']['Fn::GetAtt'][0]]!;
      expect(JSON.stringify(sweepRole.Properties['ManagedPolicyArns'])).toContain(':iam::aws:policy/SecurityAudit');
    });

    it('create no default deployer when every source has its own role', () => {
      const trustingCloudFormation = Object.values(resources(t, 'AWS::IAM::Role')).filter((r) =>
        JSON.stringify(r.Properties['AssumeRolePolicyDocument']).includes('cloudformation.amazonaws.com'),
      );
      expect(trustingCloudFormation).toEqual([]);
    });
  });

  describe('events', () => {
    it('route only settled status changes of operations Cairn started to the stack-events function', () => {
      const [stackEventsId] = functionLike(t, /queues the owning source/);
      t.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudformation'],
          'detail-type': ['CloudFormation Stack Status Change'],
          detail: {
            'client-request-token': [{ prefix: 'cairn-' }],
            'status-details': { status: [{ suffix: '_COMPLETE' }, { suffix: '_FAILED' }] },
          },
        },
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [stackEventsId, 'Arn'] } })],
      });
    });

    it('run the sweep on the configured schedule', () => {
      const [sweepId] = functionLike(t, /detects drift/);
      t.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(30 minutes)',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [sweepId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
      });
    });
  });

  describe('alarms', () => {
    const alarm = (name: string): Resource =>
      Object.values(resources(t, 'AWS::CloudWatch::Alarm')).find((a) => a.Properties['AlarmName'] === name) ?? expect.fail(`no alarm ${name}`);

    it('alarm as soon as one message is in the dead-letter queue', () => {
      const [dlqId] = Object.entries(resources(t, 'AWS::SQS::Queue')).find(([, q]) => !q.Properties['RedrivePolicy'])!;
      expect(alarm('CairnTest-dead-letters').Properties).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    });

    it.each(['platform', 'data'])('watch %s for repeated failures, stalls and drift', (source) => {
      const dimensions = [{ Name: 'Source', Value: source }];
      expect(alarm(`CairnTest-${source}-reconcile-failures`).Properties).toMatchObject({
        Namespace: 'Cairn',
        MetricName: 'ReconcilesFailed',
        Dimensions: dimensions,
        Statistic: 'Sum',
        Period: FAILURE_WINDOW.toSeconds(),
        Threshold: FAILURE_THRESHOLD,
      });
      // Two sweep intervals (30 minutes here): stalls and drift are re-reported by every sweep.
      expect(alarm(`CairnTest-${source}-stalled`).Properties).toMatchObject({ MetricName: 'ReconcilesStalled', Dimensions: dimensions, Period: 3600, Threshold: 1 });
      expect(alarm(`CairnTest-${source}-drift`).Properties).toMatchObject({ MetricName: 'DriftedStacks', Dimensions: dimensions, Period: 3600, Threshold: 1 });
    });

    it('notify the topic made for the email addresses and the existing topic, on alarm and on recovery', () => {
      t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
      const [topicId] = Object.keys(resources(t, 'AWS::SNS::Topic'));
      for (const a of Object.values(resources(t, 'AWS::CloudWatch::Alarm'))) {
        expect(a.Properties['AlarmActions']).toEqual([{ Ref: topicId }, 'arn:aws:sns:eu-west-1:123456789012:pager']);
        expect(a.Properties['OKActions']).toEqual(a.Properties['AlarmActions']);
      }
    });
  });

  describe('dashboard', () => {
    it('graphs every metric per source by the names the functions publish', () => {
      const body = JSON.stringify(s.stack.resolve(Object.values(resources(t, 'AWS::CloudWatch::Dashboard'))[0]!.Properties['DashboardBody']));
      for (const metric of ['ReconcilesSucceeded', 'ReconcilesFailed', 'ReconcilesStalled', 'StacksCreated', 'StacksUpdated', 'StacksDeleted', 'DriftedStacks', 'PushToApplyLatency']) {
        for (const source of ['platform', 'data']) expect(body).toContain(`\\"Cairn\\",\\"${metric}\\",\\"Source\\",\\"${source}\\"`);
      }
      expect(body).toContain('ApproximateAgeOfOldestMessage');
      expect(body).toContain('ApproximateNumberOfMessagesVisible');
    });
  });

  it('passes CloudFormation\'s own template validation, which CDK runs at synth', () => {
    const report = JSON.parse(readFileSync(join(s.outdir, 'validation-report.json'), 'utf8')) as { pluginReports: unknown[] };
    expect(report.pluginReports).toEqual([]);
  });

  it('keeps the same IAM policies (snapshot: any change to a grant shows up in review)', () => {
    const policies = Object.fromEntries(
      Object.entries(resources(t, 'AWS::IAM::Policy')).map(([id, p]) => [id, p.Properties['PolicyDocument']['Statement']]),
    );
    expect(policies).toMatchSnapshot();
  });
});

describe('Infra: Cairn stack with only sources configured', () => {
  let t: Template;
  beforeAll(() => {
    t = synth(MINIMAL_CONFIG, { bundle: false, validate: false }).template;
  });

  it('deploys through a default deployer role that only CloudFormation can assume', () => {
    const deployers = Object.entries(resources(t, 'AWS::IAM::Role')).filter(([, r]) =>
      JSON.stringify(r.Properties['AssumeRolePolicyDocument']).includes('cloudformation.amazonaws.com'),
    );
    expect(deployers).toHaveLength(1);
    const [deployerId, deployer] = deployers[0]!;
    expect(deployer.Properties['AssumeRolePolicyDocument']['Statement']).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'cloudformation.amazonaws.com' } },
    ]);
    expect(deployer.Properties['ManagedPolicyArns']).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/PowerUserAccess']] },
      'arn:aws:iam::123456789012:policy/cairn-deployer-iam',
    ]);

    const [, reconcile] = functionLike(t, /reconciles a source/);
    const passRole = statementsOfRole(t, sourceRoleOf(t, 'platform')).find((st) => actionsOf(st).includes('iam:PassRole'))!;
    expect(passRole).toMatchObject({
      Resource: { 'Fn::GetAtt': [deployerId, 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
    });
    // The handlers see it as the source's roleArn.
    const config = JSON.stringify(reconcile.Properties['Environment']['Variables'][ENV.config]);
    expect(config).toContain(`"roleArn\\":\\"",{"Fn::GetAtt":["${deployerId}","Arn"]}`);
    // And the reconciler sees the role it assumes for the source's work.
    expect(config).toContain(`"sourceRoleArn\\":\\"",{"Fn::GetAtt":["${sourceRoleOf(t, 'platform')}","Arn"]}`);
  });

  it('creates the webhook secret with a random value, kept when the stack is removed', () => {
    t.resourceCountIs('AWS::SecretsManager::Secret', 1);
    t.hasResource('AWS::SecretsManager::Secret', {
      Properties: { Name: 'cairn/platform/webhook', GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true } },
      DeletionPolicy: 'Retain',
    });
  });

  it('uses the defaults: sweep every 15 minutes, 90 days of logs, concurrency 5, no alarm actions', () => {
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    for (const g of Object.values(resources(t, 'AWS::Logs::LogGroup'))) expect(g.Properties['RetentionInDays']).toBe(90);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 5 } });
    t.resourceCountIs('AWS::SNS::Topic', 0);
    for (const a of Object.values(resources(t, 'AWS::CloudWatch::Alarm'))) expect(a.Properties['AlarmActions']).toBeUndefined();
  });

  it('keeps the template bucket private, encrypted and TLS-only', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });
});
