/**
 * CairnFunction: one of the four handlers under functions/, bundled by the local esbuild (never
 * Docker) into a minified ES module with a source map, with its own log group, its own role that
 * holds only what it is granted here, and X-Ray tracing. The same runtime, bundling and
 * environment conventions for every function, in one place.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../adapters/powertools-sink.js';
import { CREATE_REQUIRE_BANNER } from './esm-banner.js';
import { acknowledge, acknowledgeWildcards } from './nag.js';

/** The newest Node.js runtime aws-cdk-lib knows; the handlers need Node 20 or later. */
export const RUNTIME = Runtime.NODEJS_24_X;
export const ESBUILD_TARGET = 'node24';

export type HandlerName = 'webhook' | 'reconcile' | 'sweep' | 'stack-events';

/**
 * Left to the Lambda runtime's own SDK, and imported only by dynamic `import()` at first use, so
 * they cost nothing at init: the S3 client, the SDK's largest (only templates over 51,200 bytes
 * and approvals use it), and the credential providers, which the SDK loads only when no
 * credentials are in the environment, and in Lambda they always are. Every SDK version makes
 * those calls alike.
 *
 * Everything else is bundled, each client tree-shaken to the commands the code sends. The
 * runtime's SDK is CommonJS, one package after another and every command of each client, and
 * importing a client from it costs several times what the same client costs bundled (`npm run
 * bench -- cold` measures both: SQS and Secrets Manager took 125-160 ms from the runtime and 45-50 ms
 * bundled). STS is bundled too but imported at first use (the first AssumeRole of a source's
 * role), so at init it is only parsed. Bundling pins the SDK the tests ran against, including
 * recent CloudFormation fields such as DeploymentMode.
 */
export const EXTERNAL_MODULES = [
  '@aws-sdk/client-s3',
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/nested-clients',
  '@aws-sdk/token-providers',
  '@smithy/credential-provider-imds',
];

/** SDK clients the code imports only by dynamic `import()` where it first needs them, never at init. */
export const LOADED_AT_FIRST_USE = ['@aws-sdk/client-s3', '@aws-sdk/client-sts'];


/** How esbuild bundles a handler, in the terms of CDK's NodejsFunction: every function alike. */
export function bundling() {
  return {
    format: OutputFormat.ESM,
    target: ESBUILD_TARGET,
    mainFields: ['module', 'main'],
    banner: CREATE_REQUIRE_BANNER,
    minify: true,
    sourceMap: true,
    sourcesContent: false,
    externalModules: [...EXTERNAL_MODULES],
  };
}

/**
 * The same bundling as options of esbuild's own build API, for bundles made outside CDK (the tests'
 * and the benchmarks'), so they cannot drift from what `cdk synth` produces.
 */
export function esbuildOptions() {
  const b = bundling();
  return {
    bundle: true,
    platform: 'node' as const,
    format: b.format,
    target: b.target,
    mainFields: b.mainFields,
    banner: { js: b.banner },
    minify: b.minify,
    sourcemap: b.sourceMap,
    sourcesContent: b.sourcesContent,
    external: b.externalModules,
  };
}

export interface CairnFunctionProps {
  /** The handler file, functions/<handler>.ts. */
  handler: HandlerName;
  description: string;
  memorySize: number;
  timeout: Duration;
  environment: Record<string, string>;
  logRetention: RetentionDays;
  /** Writable /tmp, e.g. for the reconciler's git cache. */
  ephemeralStorage?: Size;
  /** Repository-relative files the handler reads from beside its bundle, copied there after bundling. */
  files?: string[];
  /** Concurrency held for this function alone, which is also its ceiling (the deployment's reservedConcurrency). */
  reservedConcurrency?: number;
}

export class CairnFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: CairnFunctionProps) {
    super(scope, id);
    const root = projectRoot();

    // Kept when the stack is removed: the logs are the record of what Cairn did to the account.
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    // An explicit role instead of AWSLambdaBasicExecutionRole, whose logs:CreateLogGroup on "*"
    // this function does not need: its log group already exists.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Cairn ${props.handler} function`,
    });
    this.role.addToPolicy(
      new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }),
    );

    this.function = new NodejsFunction(this, 'Function', {
      entry: join(root, 'functions', `${props.handler}.ts`),
      handler: 'handler',
      projectRoot: root,
      depsLockFilePath: join(root, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: Architecture.ARM_64,
      description: props.description,
      memorySize: props.memorySize,
      timeout: props.timeout,
      ...(props.ephemeralStorage ? { ephemeralStorageSize: props.ephemeralStorage } : {}),
      ...(props.reservedConcurrency !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        // Stack traces in the logs point at functions/ and lib/, not at the minified bundle.
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        ...bundling(),
        ...(props.files?.length
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) => props.files!.map((f) => `cp "${join(inputDir, f)}" "${outputDir}"`),
              },
            }
          : {}),
      },
    });
    acknowledgeWildcards(
      this,
      ['*'],
      'X-Ray accepts trace segments only on "*" (xray:PutTraceSegments and PutTelemetryRecords have no resource types).',
    );
  }

  /**
   * Allow read `actions` named with wildcards (sqs:Get*) on every resource, each wildcard
   * acknowledged to cdk-nag with `reason`.
   */
  grantReads(actions: string[], reason: string): void {
    this.grant(new PolicyStatement({ actions, resources: ['*'] }), reason);
    for (const action of actions) if (action.includes('*')) acknowledge(this, `IAM5[Action::${action}]`, reason);
  }

  /** Add a permission to this function's role; `wildcardReason` explains any "*" in its resources to cdk-nag. */
  grant(statement: PolicyStatement, wildcardReason?: string): void {
    this.role.addToPolicy(statement);
    if (wildcardReason) acknowledgeWildcards(this, statement.resources, wildcardReason);
  }
}

/** The directory holding package.json: functions/ and the lock file are found from it, built or not. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${fileURLToPath(import.meta.url)}: cannot find Cairn's functions/ directory.`);
    dir = parent;
  }
  return dir;
}
