/**
 * The shapes of `cairn plan|status|apply|drift|validate --json`, as zod schemas: the commands build
 * their output as these types, docs/schemas/ holds them as JSON Schema (written from these by
 * `npm run json-schemas`), and a test parses the built CLI's real output with them.
 */
import * as z from 'zod';

const Commit = z.string().describe('a commit SHA; `sha256:…` for a directory outside Git; `<sha>-dirty` for uncommitted edits');
const Target = z.enum(['embedded', 'aws']);
const Uncommitted = z.array(z.strictObject({ path: z.string(), change: z.enum(['modified', 'deleted', 'untracked']) })).describe('files cairn.yaml reads whose work-tree content differs from the commit');

const PropertyChangeSchema = z.strictObject({
  path: z.string(),
  before: z.string().optional(),
  after: z.string().optional(),
  requiresRecreation: z.enum(['Never', 'Conditionally', 'Always']).optional(),
});

const ChangeSchema = z.strictObject({
  action: z.enum(['Add', 'Modify', 'Remove', 'Import', 'Dynamic']),
  logicalId: z.string(),
  physicalId: z.string().optional(),
  resourceType: z.string(),
  replacement: z.enum(['True', 'False', 'Conditional']).optional(),
  properties: z.array(z.string()),
  values: z.array(PropertyChangeSchema).optional(),
});

const PlanCounts = z.strictObject({ create: z.number(), update: z.number(), delete: z.number(), revert: z.number(), none: z.number(), blocked: z.number() });

export const PlanOutputSchema = z.strictObject({
  source: z.string(),
  commit: Commit,
  target: Target,
  changes: z.boolean(),
  counts: PlanCounts,
  uncommitted: Uncommitted,
  stacks: z.array(
    z.strictObject({
      id: z.string(),
      stackName: z.string(),
      action: z.enum(['create', 'update', 'delete', 'revert', 'none', 'blocked']).describe('revert: in sync, but drifted and `drift: revert` puts it back'),
      wave: z.number().int().min(1).describe('numbered from 1, as the text shows'),
      region: z.string(),
      reason: z.string(),
      recreate: z.boolean(),
      waiting: z.boolean(),
      resources: z.array(z.strictObject({ logicalId: z.string(), type: z.string(), change: z.enum(['add', 'modify', 'remove']), properties: z.array(z.string()) })),
      preview: z.strictObject({ state: z.enum(['ready', 'empty', 'pending']), changes: z.array(ChangeSchema) }).optional().describe("CloudFormation's own preview of an update; absent offline and for creates"),
      held: z
        .strictObject({ window: z.string(), until: z.string().optional(), message: z.string() })
        .optional()
        .describe('a change window holds this action now: planned, not applied, until `until` (when known)'),
      mayChangeAfter: z.array(z.string()).optional().describe("stacks applied in this run whose outputs this one's parameters take: it may change once they are known"),
      parameters: z.array(z.string()),
    }),
  ),
});
export type PlanOutput = z.infer<typeof PlanOutputSchema>;

const ProblemSchema = z.strictObject({ file: z.string(), path: z.string(), line: z.number().optional(), column: z.number().optional(), message: z.string(), severity: z.enum(['warning', 'notice']).optional() });

export const StatusOutputSchema = z.strictObject({
  source: z.string(),
  commit: Commit,
  target: Target,
  valid: z.boolean(),
  uncommitted: Uncommitted,
  stacks: z.array(
    z.strictObject({
      id: z.string(),
      stackName: z.string(),
      region: z.string().nullable(),
      status: z.string().describe("CloudFormation's stack status, or NOT_DEPLOYED"),
      health: z.string(),
      inSync: z.boolean().nullable(),
      reason: z.string().nullable().describe('why the stack is not in sync'),
      problem: z.string().nullable().describe('what is wrong with the stack itself'),
      commit: z.string().nullable(),
      appliedAt: z.string().nullable(),
      drift: z.string().nullable(),
      driftCheckedAt: z.string().nullable(),
      driftBeforeUpdate: z.string().nullable(),
      declared: z.boolean(),
      approval: z
        .strictObject({
          source: z.string(),
          stack: z.string(),
          state: z.enum(['awaiting', 'approved', 'rejected']),
          changeSetName: z.string(),
          commit: z.string(),
          action: z.string(),
          summary: z.string().optional(),
          since: z.string(),
          decision: z
            .strictObject({
              source: z.string(),
              stack: z.string(),
              changeSetName: z.string(),
              commit: z.string(),
              decision: z.enum(['approved', 'rejected']),
              by: z.string(),
              at: z.string(),
              via: z.string().optional(),
            })
            .optional(),
        })
        .nullable()
        .describe("the stack's approval as the reconciler last recorded it: what it awaits, or who decided its last change set"),
    }),
  ),
  problems: z.array(ProblemSchema).optional(),
});
export type StatusOutput = z.infer<typeof StatusOutputSchema>;

export const ApplyOutputSchema = z.strictObject({
  source: z.string(),
  commit: Commit,
  target: Target,
  outcome: z
    .enum(['succeeded', 'progressing', 'stalled', 'declined'])
    .describe('stalled: a person must act; declined: the account moved since the plan and the change was not confirmed (both exit 1); progressing: what is left is held by change windows (exit 3); a run that is interrupted or times out prints an error instead'),
  summary: z.string(),
  counts: z
    .strictObject({
      created: z.number(),
      updated: z.number(),
      replaced: z.number().describe('resources replaced inside the updated stacks'),
      deleted: z.number(),
      reverted: z.number().describe('stacks whose drift was reverted'),
      blocked: z.number().describe('stacks this run stopped at: blocked by policy, or their create or update failed'),
      unchanged: z.number(),
    })
    .describe('what this run did, the same numbers as the text; a stack whose operation failed counts as blocked, not created or updated'),
  planned: PlanCounts.describe('what the plan shown before the run said, as `cairn plan --json` counts it'),
  moved: z.array(z.strictObject({ stack: z.string(), why: z.string() })).optional().describe('stacks whose account state changed between the plan and the apply, and how'),
  held: z
    .array(z.strictObject({ stack: z.string(), window: z.string(), until: z.string().optional(), message: z.string() }))
    .optional()
    .describe('present when outcome is progressing: the stacks change windows hold, and until when'),
  error: z
    .strictObject({ reason: z.string(), message: z.string(), hint: z.string().optional(), stack: z.string().optional().describe("the stack's id in cairn.yaml") })
    .optional()
    .describe('present when outcome is stalled'),
});
export type ApplyOutput = z.infer<typeof ApplyOutputSchema>;

const DriftDifferenceSchema = z.strictObject({ path: z.string(), expected: z.string(), actual: z.string(), kind: z.enum(['ADD', 'REMOVE', 'NOT_EQUAL']) });

export const DriftOutputSchema = z.strictObject({
  source: z.string(),
  commit: Commit.nullable().describe('null when --source named the source without reading the repository'),
  target: Target,
  checked: z.number().describe('stacks whose drift was detected now; drifted plus inSync'),
  drifted: z.array(
    z.strictObject({
      id: z.string(),
      stackName: z.string(),
      policy: z.string().describe("the stack's drift policy in cairn.yaml: alert or revert"),
      resources: z.array(z.strictObject({ logicalId: z.string(), resourceType: z.string(), status: z.string(), differences: z.array(DriftDifferenceSchema) })),
    }),
  ),
  inSync: z.array(z.string()).describe('ids of the stacks without drift'),
  notChecked: z.array(z.strictObject({ stackName: z.string(), reason: z.string() })).describe('stacks whose detection failed'),
});
export type DriftOutput = z.infer<typeof DriftOutputSchema>;

export const ValidateOutputSchema = z.strictObject({
  valid: z.boolean(),
  source: z.string().nullable().describe('null when cairn.yaml is too broken to name it'),
  commit: Commit,
  uncommitted: Uncommitted,
  stacks: z.array(
    z.strictObject({
      id: z.string(),
      stackName: z.string(),
      template: z.string(),
      wave: z.number().int().min(1).describe('numbered from 1, as plan numbers them'),
      dependsOn: z.array(z.string()),
    }),
  ),
  problems: z.array(ProblemSchema).describe('errors when invalid; warnings and notices otherwise'),
});
export type ValidateOutput = z.infer<typeof ValidateOutputSchema>;

/** Every published shape, by the file name its JSON Schema has in docs/schemas/. */
export const JSON_OUTPUTS = {
  'plan.schema.json': PlanOutputSchema,
  'status.schema.json': StatusOutputSchema,
  'apply.schema.json': ApplyOutputSchema,
  'drift.schema.json': DriftOutputSchema,
  'validate.schema.json': ValidateOutputSchema,
} as const;
