/**
 * Reads a template body the way CloudFormation does before anything else: JSON (what Cairn sends),
 * or YAML in long form, into its sections, with CloudFormation's "Template format error" messages.
 */
import { yamlPackage } from '../../core/yaml-package.js';

/** A problem in the template; the message is the one CloudFormation would give. */
export class TemplateError extends Error {
  override name = 'TemplateError';
}

export interface ParameterDeclaration {
  Type?: string;
  Default?: unknown;
  AllowedValues?: unknown[];
  AllowedPattern?: string;
  NoEcho?: boolean | string;
}

export interface ResourceDeclaration {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
  Metadata?: unknown;
}

export interface OutputDeclaration {
  Value: unknown;
  Condition?: string;
  Export?: { Name: unknown };
}

export interface TemplateDocument {
  body: Record<string, unknown>;
  parameters: Record<string, ParameterDeclaration>;
  mappings: Record<string, Record<string, Record<string, unknown>>>;
  conditions: Record<string, unknown>;
  resources: Record<string, ResourceDeclaration>;
  outputs: Record<string, OutputDeclaration>;
  hasTransform: boolean;
  /** The template's Transform names, in order. */
  transforms: string[];
}

export const SAM_TRANSFORM = 'AWS::Serverless-2016-10-31';
export const FOR_EACH_PREFIX = 'Fn::ForEach::';

const SECTIONS = new Set([
  'AWSTemplateFormatVersion',
  'Description',
  'Metadata',
  'Parameters',
  'Mappings',
  'Conditions',
  'Transform',
  'Resources',
  'Outputs',
  'Rules',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseText(text: string): unknown {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new TemplateError(`Template format error: JSON not well-formed. (${(error as Error).message})`);
    }
  }
  const doc = yamlPackage().parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) throw new TemplateError(`Template format error: YAML not well-formed. (${doc.errors[0]!.message})`);
  const tag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (tag) {
    throw new TemplateError(
      `Template format error: the simulated account reads long-form intrinsic functions only; ${tag.message.split('\n')[0]}`,
    );
  }
  return doc.toJS();
}

function section<T>(body: Record<string, unknown>, name: string): Record<string, T> {
  const value = body[name];
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new TemplateError(`Template format error: ${name} must be an object`);
  return value as Record<string, T>;
}

export function parseTemplate(text: string): TemplateDocument {
  const body = parseText(text);
  if (!isRecord(body)) throw new TemplateError('Template format error: the template must be a JSON or YAML object');
  const transform = body.Transform;
  const transforms = typeof transform === 'string' ? [transform] : Array.isArray(transform) ? transform.filter((t): t is string => typeof t === 'string') : [];
  const unknown = Object.keys(body).filter((key) => !SECTIONS.has(key) && !(key === 'Globals' && transforms.includes(SAM_TRANSFORM)));
  if (unknown.length > 0) {
    throw new TemplateError(`Template format error: Invalid template property or properties [${unknown.join(', ')}]`);
  }
  const resources = section<ResourceDeclaration>(body, 'Resources');
  if (Object.keys(resources).length === 0) {
    throw new TemplateError('Template format error: At least one Resources member must be defined.');
  }
  for (const [logicalId, resource] of Object.entries(resources)) {
    // A loop of AWS::LanguageExtensions, expanded when the stack is planned (its collection may use parameters).
    if (logicalId.startsWith(FOR_EACH_PREFIX)) continue;
    if (!/^[A-Za-z0-9]+$/.test(logicalId)) {
      throw new TemplateError(`Template format error: Resource name ${logicalId} is non alphanumeric.`);
    }
    if (!isRecord(resource) || typeof resource.Type !== 'string') {
      throw new TemplateError(`Template format error: [/Resources/${logicalId}] Every Resources object must contain a Type member.`);
    }
    if (resource.Properties !== undefined && !isRecord(resource.Properties)) {
      throw new TemplateError(`Template format error: [/Resources/${logicalId}/Properties] Properties must be an object.`);
    }
  }
  const outputs = section<OutputDeclaration>(body, 'Outputs');
  for (const [name, output] of Object.entries(outputs)) {
    if (name.startsWith(FOR_EACH_PREFIX)) continue;
    if (!isRecord(output) || output.Value === undefined) {
      throw new TemplateError(`Template format error: Every Outputs member must contain a Value object, the output ${name} does not.`);
    }
  }
  return {
    body,
    parameters: section<ParameterDeclaration>(body, 'Parameters'),
    mappings: section<Record<string, Record<string, unknown>>>(body, 'Mappings'),
    conditions: section<unknown>(body, 'Conditions'),
    resources,
    outputs,
    hasTransform: body.Transform !== undefined,
    transforms,
  };
}
