/**
 * CairnStack: Cairn in one AWS account. The webhook function behind a Function URL, the FIFO work
 * queue, the reconciler on it, the scheduled sweep, the CloudFormation status-change rule, the
 * template bucket, the sources' secrets, the deployer roles, and the dashboard and alarms, wired
 * with the environment variables the handlers read (ENV) and only the permissions each one uses.
 */
import { CfnOutput, Duration, Size, Stack, type StackProps } from 'aws-cdk-lib';
import { Match, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Effect, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ENV } from '../core/environment.js';
import { CairnAlarms } from './alarms.js';
import { CloudFormationAccess, DATA_PLANE_READS, LIST_WILDCARD_REASON, STACK_WILDCARD_REASON } from './cloudformation-access.js';
import { CairnDashboard } from './dashboard.js';
import type { DeployConfig } from './deploy-config.js';
import { Deployers } from './deployer.js';
import { driftReadActions } from './drift-reads.js';
import { CairnFunction } from './functions.js';
import { attachManagedPolicies } from './managed-policies.js';
import { SourceRoles } from './source-roles.js';
import { SourceSecrets } from './source-secrets.js';
import { TemplateBucket } from './template-bucket.js';
import { acknowledgeWildcards } from './nag.js';
import { DEFAULT_TEMPLATE_PREFIX } from '../adapters/cloudformation-gateway.js';
import { APPROVAL_STATE_PREFIX, APPROVALS_PREFIX } from '../adapters/s3-approvals.js';
import { WorkQueue } from './work-queue.js';

/** One reconcile step: fetch, plan, start change sets; the handler keeps 30 s in reserve. */
export const RECONCILE_TIMEOUT = Duration.minutes(2);
/** Lambda's advice for an SQS event source: at least six times the function timeout. */
export const QUEUE_VISIBILITY_TIMEOUT = Duration.seconds(6 * RECONCILE_TIMEOUT.toSeconds());
/** Long enough for a paced share of drift detections; never longer than the shortest sweep interval. */
export const SWEEP_TIMEOUT = Duration.minutes(5);
/** Git providers give up after 10 s (Gitea after 5 s); the handler answers in milliseconds. */
export const WEBHOOK_TIMEOUT = Duration.seconds(10);
/** The reconciler's git cache in /tmp, kept across warm invocations. */
export const RECONCILE_EPHEMERAL_STORAGE = Size.gibibytes(1);
/** Messages per reconcile invocation; the handler folds each source's messages into one reconcile. */
export const RECONCILE_BATCH_SIZE = 10;

/**
 * The stack status events of operations Cairn started (its client request tokens start with
 * `cairn-`), once they settle: the next wave can start as soon as the previous one is done.
 */
export const STACK_STATUS_EVENT_PATTERN = {
  source: ['aws.cloudformation'],
  detailType: ['CloudFormation Stack Status Change'],
  detail: {
    'client-request-token': Match.prefix('cairn-'),
    'status-details': { status: Match.anyOf(Match.suffix('_COMPLETE'), Match.suffix('_FAILED')) },
  },
};

export interface CairnStackProps extends StackProps {
  config: DeployConfig;
}

export class CairnStack extends Stack {
  readonly webhook: CairnFunction;
  readonly reconcile: CairnFunction;
  readonly sweep: CairnFunction;
  readonly stackEvents: CairnFunction;
  readonly work: WorkQueue;
  readonly deployers: Deployers;
  readonly sourceRoles: SourceRoles;
  readonly alarms: CairnAlarms;

  constructor(scope: Construct, id: string, props: CairnStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.logRetentionDays as RetentionDays;

    const secrets = new SourceSecrets(this, 'Secrets', { sources: config.sources, createWebhookSecrets: config.createWebhookSecrets });
    this.deployers = new Deployers(this, 'Deployers', {
      sources: config.sources,
      policies: config.deployerPolicies,
    });
    this.work = new WorkQueue(this, 'Work', { visibilityTimeout: QUEUE_VISIBILITY_TIMEOUT });
    const templates = new TemplateBucket(this, 'Templates');
    const cloudformation = new CloudFormationAccess({ regions: config.regions, selfStackName: this.stackName });
    const queue = this.work.queue;
    const sendToQueue = new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] });

    // Every function reads the same configuration, with each source's deployer role filled in (and,
    // for the reconciler, below, each source's own role).
    const environment = {
      [ENV.config]: this.toJsonString({ sources: this.deployers.sources }),
      [ENV.queueUrl]: queue.queueUrl,
    };

    this.webhook = new CairnFunction(this, 'Webhook', {
      handler: 'webhook',
      description: 'Cairn: verifies Git provider webhooks and queues a reconcile of the source',
      memorySize: 512,
      timeout: WEBHOOK_TIMEOUT,
      reservedConcurrency: config.reservedConcurrency.webhook,
      environment: { ...environment, [ENV.templateBucket]: templates.bucket.bucketName },
      logRetention,
    });
    this.webhook.grant(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets.webhookSecretArns }));
    this.webhook.grant(sendToQueue);
    // `/cairn approve` comments: the source's token asks the provider whether the author may write,
    // the stack's approval state names the change set it awaits, and the decision is written.
    if (secrets.gitTokenSecretArns.length > 0) {
      this.webhook.grant(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets.gitTokenSecretArns }));
    }
    this.webhook.grant(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: [templates.bucket.arnForObjects(`${APPROVAL_STATE_PREFIX}*`)] }),
      'Approval states are keyed by source and stack, known only at run time; the webhook reads which change set a stack awaits.',
    );
    this.webhook.grant(
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [templates.bucket.arnForObjects(`${APPROVALS_PREFIX}*`)] }),
      'Approvals are keyed by source, stack and change set, known only when a person with write access comments; the webhook writes them after asking the provider.',
    );
    // No IAM auth: Git providers cannot sign AWS requests. Each delivery is authenticated by its
    // signature over the body, with the source's secret, before anything is queued.
    const webhookUrl = this.webhook.function.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });

    this.reconcile = new CairnFunction(this, 'Reconcile', {
      handler: 'reconcile',
      description: 'Cairn: reconciles a source with its branch head, one step per invocation',
      memorySize: 1024,
      timeout: RECONCILE_TIMEOUT,
      ephemeralStorage: RECONCILE_EPHEMERAL_STORAGE,
      reservedConcurrency: config.reservedConcurrency.reconcile,
      environment: { ...environment, [ENV.templateBucket]: templates.bucket.bucketName, [ENV.deadLetterQueueUrl]: this.work.deadLetterQueue.queueUrl },
      logRetention,
      // Template checks read the resource schemas from beside the bundle.
      files: ['lib/adapters/resource-schemas.br'],
    });
    // Grants ReceiveMessage, DeleteMessage and ChangeMessageVisibility on the queue, which the
    // handler also calls itself to bring a waiting source back later.
    this.reconcile.function.addEventSource(
      new SqsEventSource(queue, {
        batchSize: RECONCILE_BATCH_SIZE,
        reportBatchItemFailures: true,
        maxConcurrency: config.reconcileConcurrency,
      }),
    );
    // A source that must wait is put back on the queue as a fresh message (requeue), so waiting spends
    // no receive; a malformed message is moved to the dead-letter queue on its first receive.
    this.reconcile.grant(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn, this.work.deadLetterQueue.queueArn] }));
    // The reconciler's own role has no CloudFormation rights at all: it acts on a source's stacks
    // only through that source's role, which IAM limits to the source's stacks and deployer roles.
    this.sourceRoles = new SourceRoles(this, 'SourceRoles', {
      sources: this.deployers.sources,
      assumedBy: this.reconcile.role,
      cloudformation,
      templateObjectsArn: templates.bucket.arnForObjects('*'),
    });
    this.reconcile.grant(this.sourceRoles.assumeStatement());
    this.reconcile.function.addEnvironment(ENV.config, this.toJsonString({ sources: this.sourceRoles.sources }));
    // GetObject: HeadObject, which the reconciler uses to skip an upload, is authorised as GetObject.
    this.reconcile.grant(
      new PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject'], resources: [templates.bucket.arnForObjects(`${DEFAULT_TEMPLATE_PREFIX}*`)] }),
      'Template objects are keyed by stack name and content hash, known only at run time; the prefix holds nothing but these templates.',
    );
    this.reconcile.grant(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: [templates.bucket.arnForObjects(`${APPROVALS_PREFIX}*`)] }),
      'Approvals are keyed by source, stack and change set, known only at run time; the reconciler reads them and the bucket policy denies it writing one.',
    );
    this.reconcile.grant(
      new PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject'], resources: [templates.bucket.arnForObjects(`${APPROVAL_STATE_PREFIX}*`)] }),
      'Approval states are keyed by source and stack, known only at run time; the reconciler records which change set each stack awaits.',
    );
    templates.onlyWrittenBy(this.reconcile.role);
    if (secrets.gitTokenSecretArns.length > 0) {
      this.reconcile.grant(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets.gitTokenSecretArns }));
    }

    this.sweep = new CairnFunction(this, 'Sweep', {
      handler: 'sweep',
      description: 'Cairn: detects drift on a paced share of owned stacks and queues a reconcile of every source',
      memorySize: 512,
      timeout: SWEEP_TIMEOUT,
      reservedConcurrency: config.reservedConcurrency.sweep,
      environment: {
        ...environment,
        [ENV.sweepIntervalMs]: String(config.sweepIntervalMinutes * 60_000),
        ...(config.regions.length > 0 ? { [ENV.regions]: config.regions.join(',') } : {}),
      },
      logRetention,
    });
    this.sweep.grant(
      cloudformation.unscoped(['cloudformation:DescribeStacks', 'cloudformation:DescribeStackDriftDetectionStatus']),
      LIST_WILDCARD_REASON,
    );
    this.sweep.grant(
      cloudformation.onStacks([
        'cloudformation:DetectStackDrift',
        'cloudformation:DetectStackResourceDrift',
        'cloudformation:DescribeStackResourceDrifts',
      ]),
      STACK_WILDCARD_REASON,
    );
    // Drift detection reads every resource of a stack with the caller's credentials: the sweep may
    // read the configuration of the services the deployment's stacks may use, and no more.
    this.sweep.grantReads(
      driftReadActions(config.driftDetectionResourceTypes),
      'Drift detection reads each resource of a stack with the caller\'s credentials, through its service\'s Describe, Get and ' +
        'List calls, on resources named in the repositories at run time; the services are those of driftDetectionResourceTypes ' +
        '(docs/deploy.md), and their data-plane reads are denied.',
    );
    attachManagedPolicies(
      this.sweep.role,
      config.driftDetectionPolicies,
      'Added by the deployment (driftDetectionPolicies) for drift detection, which reads resources with the caller\'s credentials.',
    );
    this.sweep.grant(new PolicyStatement({ effect: Effect.DENY, actions: DATA_PLANE_READS, resources: ['*'] }));
    this.sweep.grant(sendToQueue);
    new Rule(this, 'SweepSchedule', {
      description: `Cairn: sweep every ${config.sweepIntervalMinutes} minutes`,
      schedule: Schedule.rate(Duration.minutes(config.sweepIntervalMinutes)),
      // A failed sweep is not retried: the next one is never more than an interval away.
      targets: [new LambdaFunction(this.sweep.function, { retryAttempts: 0 })],
    });

    this.stackEvents = new CairnFunction(this, 'StackEvents', {
      handler: 'stack-events',
      description: 'Cairn: queues the owning source when a stack operation Cairn started settles',
      memorySize: 256,
      timeout: Duration.seconds(30),
      reservedConcurrency: config.reservedConcurrency.stackEvents,
      environment,
      logRetention,
    });
    this.stackEvents.grant(cloudformation.onStacks(['cloudformation:DescribeStacks']), STACK_WILDCARD_REASON);
    this.stackEvents.grant(sendToQueue);
    new Rule(this, 'StackStatusChanges', {
      description: 'Cairn: settled status changes of stack operations Cairn started',
      eventPattern: STACK_STATUS_EVENT_PATTERN,
      targets: [new LambdaFunction(this.stackEvents.function, { retryAttempts: 4, maxEventAge: Duration.hours(1) })],
    });

    const sourceNames = config.sources.map((s) => s.name);
    this.alarms = new CairnAlarms(this, 'Alarms', {
      namePrefix: this.stackName,
      sources: sourceNames,
      deadLetterQueue: this.work.deadLetterQueue,
      sweepIntervalMinutes: config.sweepIntervalMinutes,
      emails: config.alarms.emails,
      topicArn: config.alarms.topicArn,
    });
    const functions = { webhook: this.webhook, reconcile: this.reconcile, sweep: this.sweep, 'stack-events': this.stackEvents };
    const dashboard = new CairnDashboard(this, 'Dashboard', {
      dashboardName: this.stackName,
      sources: sourceNames,
      webhookUrl: webhookUrl.url,
      queue,
      deadLetterQueue: this.work.deadLetterQueue,
      functions: Object.fromEntries(Object.entries(functions).map(([name, f]) => [name, f.function])),
      logGroups: Object.values(functions).map((f) => f.logGroup),
      alarms: this.alarms.alarms,
    });

    new CfnOutput(this, 'WebhookUrl', {
      description: 'Each source\'s webhook address is this URL followed by hooks/<source name>',
      value: webhookUrl.url,
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards/dashboard/${dashboard.dashboard.dashboardName}`,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.work.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'TemplateBucketName', { value: templates.bucket.bucketName });
    // Attach to the people (or their role) who may approve change sets of stacks with an `approval` policy.
    const approvers = new ManagedPolicy(this, 'ApproverPolicy', { description: 'Cairn: approve or reject change sets (cairn approve --target aws)', statements: templates.approverStatements() });
    acknowledgeWildcards(
      approvers,
      [templates.bucket.arnForObjects(`${APPROVALS_PREFIX}*`), templates.bucket.arnForObjects(`${APPROVAL_STATE_PREFIX}*`), '*'],
      'Approvals are keyed by source, stack and change set, known only when a person approves, and approval states by source and stack; reading change sets needs DescribeStacks and ListChangeSets on the stacks, whose names come from each repository.',
    );
    new CfnOutput(this, 'ApproverPolicyArn', { description: 'Managed policy for people who run `cairn approve --target aws`', value: approvers.managedPolicyArn });
    for (const [name, f] of Object.entries(functions)) {
      new CfnOutput(this, `${f.node.id}LogGroup`, { description: `Log group of the ${name} function`, value: f.logGroup.logGroupName });
    }
    if (this.deployers.defaultRole) {
      new CfnOutput(this, 'DefaultDeployerRoleArn', {
        description: 'The CloudFormation service role of sources without a roleArn',
        value: this.deployers.defaultRole.roleArn,
      });
    }
  }
}
