/**
 * Drift: changing a simulated resource's live properties as someone in the console would, and
 * comparing live with declared properties the way drift detection does (only properties the
 * template sets are checked; differences are reported as `/A/B` pointers with expected and actual).
 */
import { isDeepStrictEqual } from 'node:util';
import type { PropertyDifference, ResourceDrift } from '../../ports/stack-gateway.js';
import type { StackState } from './stack-record.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `VersioningConfiguration.Status`, `Tags.0.Value` or `/Tags/0/Value` as path segments. */
export function parsePropertyPath(path: string): string[] {
  const segments = path.startsWith('/')
    ? path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    : path.split('.');
  if (segments.length === 0 || segments.some((s) => s === '')) throw new Error(`Property path "${path}" has an empty segment`);
  return segments;
}

/** A copy of `properties` with the value at `segments` replaced (undefined removes it). */
export function withValueAt(properties: Record<string, unknown>, segments: string[], value: unknown): Record<string, unknown> {
  const root = structuredClone(properties);
  let node: Record<string, unknown> | unknown[] = root;
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    const key: string | number = Array.isArray(node) ? Number(segment) : segment;
    if (Array.isArray(node) && !Number.isInteger(key)) throw new Error(`Property path segment "${segment}" must index a list`);
    const container = node as Record<string | number, unknown>;
    if (last) {
      if (value === undefined) {
        if (Array.isArray(node)) node.splice(key as number, 1);
        else delete container[key];
      } else {
        container[key] = structuredClone(value);
      }
      break;
    }
    let child = container[key];
    if (!isRecord(child) && !Array.isArray(child)) {
      child = /^\d+$/.test(segments[i + 1]!) ? [] : {};
      container[key] = child;
    }
    node = child as Record<string, unknown> | unknown[];
  }
  return root;
}

function pointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function render(value: unknown): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function collect(expected: unknown, actual: unknown, path: string, out: PropertyDifference[]): void {
  if (isDeepStrictEqual(expected, actual)) return;
  if (isRecord(expected) && isRecord(actual)) {
    for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      collect(expected[key], actual[key], `${path}/${pointer(key)}`, out);
    }
    return;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    for (let i = 0; i < Math.max(expected.length, actual.length); i++) collect(expected[i], actual[i], `${path}/${i}`, out);
    return;
  }
  const kind = expected === undefined ? 'ADD' : actual === undefined ? 'REMOVE' : 'NOT_EQUAL';
  out.push({ path, expected: render(expected), actual: render(actual), kind });
}

/** Differences in the properties the template declares; undeclared live properties are not drift. */
export function propertyDifferences(expected: Record<string, unknown>, actual: Record<string, unknown>): PropertyDifference[] {
  const out: PropertyDifference[] = [];
  for (const key of Object.keys(expected)) collect(expected[key], actual[key], `/${pointer(key)}`, out);
  return out;
}

/** Whether drift at `segments` would be seen by detection: its top-level property is declared. */
export function isDetectable(expected: Record<string, unknown>, segments: string[]): boolean {
  return segments[0]! in expected;
}

/** The MODIFIED and DELETED resources of a stack, as drift detection reports them. */
export function resourceDrifts(state: StackState, checkedAt: string): ResourceDrift[] {
  const drifts: ResourceDrift[] = [];
  for (const [logicalId, resource] of Object.entries(state.resources)) {
    const base = { logicalId, physicalId: resource.physicalId, resourceType: resource.type, checkedAt };
    if (resource.actual === null) {
      drifts.push({ ...base, status: 'DELETED', differences: [] });
      continue;
    }
    const differences = propertyDifferences(resource.properties, resource.actual);
    if (differences.length > 0) drifts.push({ ...base, status: 'MODIFIED', differences });
  }
  return drifts;
}
