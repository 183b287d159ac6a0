/**
 * The shapes of `cairn plan --json` and `cairn status --json`, as zod schemas: the commands build
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

export const PlanOutputSchema = z.strictObject({
  source: z.string(),
  commit: Commit,
  target: Target,
  changes: z.boolean(),
  counts: z.strictObject({ create: z.number(), update: z.number(), delete: z.number(), revert: z.number(), none: z.number(), blocked: z.number() }),
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

const ProblemSchema = z.strictObject({ file: z.string(), path: z.string(), line: z.number().optional(), message: z.string(), severity: z.enum(['warning', 'notice']).optional() });

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
    }),
  ),
  problems: z.array(ProblemSchema).optional(),
});
export type StatusOutput = z.infer<typeof StatusOutputSchema>;

/** Every published shape, by the file name its JSON Schema has in docs/schemas/. */
export const JSON_OUTPUTS = { 'plan.schema.json': PlanOutputSchema, 'status.schema.json': StatusOutputSchema } as const;
