/**
 * Which property changes make CloudFormation replace a resource, from the official resource schemas'
 * create-only properties (at any depth), and the Replacement value a change set reports: True,
 * False, or Conditional when the schema says "in some cases" or the new value is not known until a
 * resource it refers to is created. Types the schemas do not know (custom resources) update in place.
 */
import { isDeepStrictEqual } from 'node:util';
import { objectProperties, resourceSchema, type PropertySchema, type PropertySchemas, type Shape } from '../../core/resource-schemas.js';
import { containsUnknown } from './intrinsic-functions.js';

type Props = Record<string, unknown>;

export type Replacement = 'True' | 'False' | 'Conditional';

const RANK: Record<Replacement, number> = { False: 0, Conditional: 1, True: 2 };

function worse(a: Replacement, b: Replacement): Replacement {
  return RANK[b] > RANK[a] ? b : a;
}

function isRecord(value: unknown): value is Props {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object properties a shape holds directly, when it is an object (or may be one). */
function nestedProperties(shape: Shape): PropertySchemas | undefined {
  if (shape.kind === 'object') return objectProperties(shape);
  if (shape.kind === 'union') {
    for (const option of shape.options) {
      const found = nestedProperties(option);
      if (found) return found;
    }
  }
  return undefined;
}

/** The replacement a change of one property from `prev` to `next` needs, per its schema. */
function propertyReplacement(schema: PropertySchema, next: unknown, prev: unknown): Replacement {
  if (schema.replacement !== 'never') {
    return schema.replacement === 'always' && !containsUnknown(next) ? 'True' : 'Conditional';
  }
  // Not create-only itself: a create-only property inside it may still have changed.
  const nested = nestedProperties(schema.shape);
  if (!nested || !isRecord(next) || !isRecord(prev)) return 'False';
  return changedReplacement(nested, next, prev);
}

function changedReplacement(schemas: PropertySchemas, next: Props, prev: Props): Replacement {
  let result: Replacement = 'False';
  for (const key of new Set([...Object.keys(next), ...Object.keys(prev)])) {
    const schema = Object.hasOwn(schemas, key) ? schemas[key] : undefined;
    if (!schema || isDeepStrictEqual(next[key], prev[key])) continue;
    result = worse(result, propertyReplacement(schema, next[key], prev[key]));
    if (result === 'True') break;
  }
  return result;
}

/** The Replacement a change set reports for a Modify of `changed` top-level properties. */
export function replacementFor(type: string, changed: string[], next: Props, prev: Props): Replacement {
  const schema = resourceSchema(type);
  if (!schema) return 'False';
  const only = Object.fromEntries(changed.filter((key) => Object.hasOwn(schema.properties, key)).map((key) => [key, schema.properties[key]])) as PropertySchemas;
  return changedReplacement(only, next, prev);
}

/** Whether executing the change replaces the resource: the value is known by then, so Conditional counts. */
export function requiresReplacement(type: string, changed: string[], next: Props, prev: Props): boolean {
  return replacementFor(type, changed, next, prev) !== 'False';
}
