/**
 * The environment variables the CDK constructs set and the Lambda handlers read, named once here so
 * a construct and its handler cannot drift apart. Names and defaults only: no CDK, no process.env.
 */

export const ENV = {
  /** The deployment configuration as JSON (DeploymentConfigSchema in core/source-config). */
  config: 'CAIRN_CONFIG',
  /** URL of the FIFO work queue between intake and the reconciler. */
  queueUrl: 'CAIRN_QUEUE_URL',
  /** URL of the work queue's FIFO dead-letter queue, where the reconciler moves malformed messages at once. */
  deadLetterQueueUrl: 'CAIRN_DEAD_LETTER_QUEUE_URL',
  /** Bucket for templates over CloudFormation's inline body limit. */
  templateBucket: 'CAIRN_TEMPLATE_BUCKET',
  /** Largest webhook body accepted, in bytes; larger deliveries get 413. */
  maxBodyBytes: 'CAIRN_MAX_BODY_BYTES',
  /** How long a secret value is served from memory, in milliseconds. */
  secretTtlMs: 'CAIRN_SECRET_TTL_MS',
  /** How often the sweep runs, in milliseconds: it sizes each run's share of drift checks. */
  sweepIntervalMs: 'CAIRN_SWEEP_INTERVAL_MS',
  /** Comma-separated regions the sweep looks for owned stacks in (default: the function's own). */
  regions: 'CAIRN_REGIONS',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** 1 MiB: far above any real push of a few hundred commits, far below Lambda's 6 MB payload cap. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

