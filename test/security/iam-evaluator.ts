/**
 * A small IAM policy evaluator for the synthesised templates: identity-based statements only
 * (Allow and Deny, Action and Resource with `*` and `?` wildcards, NotAction and NotResource
 * refused), and the condition operators Cairn's policies use (StringEquals, StringNotEquals,
 * StringLike, ArnEquals, ArnLike, ArnNotEquals, Null), with IAM's rules: an explicit Deny wins, then
 * any Allow, else the request is implicitly denied; a condition key missing from the request fails
 * a positive operator and satisfies a negated one; several keys or operators in one block must all
 * hold, several values of one key are alternatives. Anything else it meets is an error, never a guess.
 */

// A template is untyped JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface PolicyStatementJson {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface IamRequest {
  action: string;
  resource: string;
  /** Condition keys of the request, e.g. `aws:ResourceTag/cairn:source`; absent keys are left out. */
  context?: Record<string, string>;
}

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

/** Values of the pseudo parameters and GetAtt ARNs, as the synthesised stack would get them. */
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

/** Resolve the intrinsic functions a policy document uses into the strings IAM would see. */
export function resolve(value: Json): Json {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(resolve);
  if (value && typeof value === 'object') {
    if ('Ref' in value) {
      const refs: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com' };
      const ref = refs[value.Ref as string];
      if (ref === undefined) throw new Error(`unknown Ref ${value.Ref}`);
      return ref;
    }
    if ('Fn::Join' in value) {
      const [delimiter, parts] = value['Fn::Join'] as [string, Json[]];
      return parts.map(resolve).join(delimiter);
    }
    if ('Fn::GetAtt' in value) {
      const [id, attribute] = value['Fn::GetAtt'] as [string, string];
      if (attribute !== 'Arn') throw new Error(`unknown attribute ${id}.${attribute}`);
      return `arn:aws:iam::${ACCOUNT}:role/${id}`;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  }
  return value;
}

/** IAM's wildcard match: `*` any run of characters, `?` one; case-sensitive (actions are compared case-insensitively). */
function wildcard(pattern: string, text: string, ignoreCase = false): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(text);
}

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);

function conditionHolds(operator: string, key: string, expected: string[], context: Record<string, string>): boolean {
  const actual = context[key];
  switch (operator) {
    case 'Null':
      if (expected.length !== 1 || !['true', 'false'].includes(expected[0]!)) throw new Error(`Null takes "true" or "false", got ${expected.join(',')}`);
      return (actual === undefined) === (expected[0] === 'true');
    case 'StringEquals':
    case 'ArnEquals':
      return actual !== undefined && expected.includes(actual);
    case 'StringLike':
    case 'ArnLike':
      return actual !== undefined && expected.some((e) => wildcard(e, actual));
    case 'StringNotEquals':
    case 'ArnNotEquals':
      return actual === undefined || !expected.includes(actual);
    default:
      throw new Error(`condition operator ${operator} is not modelled`);
  }
}

function matches(statement: PolicyStatementJson, request: IamRequest): boolean {
  for (const field of ['NotAction', 'NotResource', 'NotPrincipal', 'Principal']) {
    if (field in statement) throw new Error(`${field} is not modelled`);
  }
  if (!list(statement.Action).some((a) => wildcard(a, request.action, true))) return false;
  if (!list(statement.Resource).some((r) => wildcard(r, request.resource))) return false;
  const context = request.context ?? {};
  return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, values]) => conditionHolds(operator, key, list(values), context)),
  );
}

/** The decision IAM's identity-policy evaluation reaches for `request` under `statements`. */
export function evaluate(statements: PolicyStatementJson[], request: IamRequest): Decision {
  const applicable = statements.filter((s) => matches(s, request));
  if (applicable.some((s) => s.Effect === 'Deny')) return 'ExplicitDeny';
  return applicable.some((s) => s.Effect === 'Allow') ? 'Allow' : 'ImplicitDeny';
}

/** Every statement of the inline policies attached to a role, resolved. */
export function statementsOfRole(template: Json, roleId: string): PolicyStatementJson[] {
  return Object.values(template.Resources as Record<string, Json>)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as Json[]).some((x) => x.Ref === roleId))
    .flatMap((r) => resolve(r.Properties.PolicyDocument.Statement) as PolicyStatementJson[]);
}
