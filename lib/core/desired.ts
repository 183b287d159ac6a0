/**
 * From a parsed cairn.yaml and the files it names to the desired stacks: paths checked to stay in
 * the repository, deployment files read, templates canonicalised, parameters checked against each
 * template, dependencies and stack names validated. Pure: files arrive through a lookup function.
 */
import { toWindow } from './windows.js';
import { posix } from 'node:path';
import type { Problem } from './errors.js';
import { findCycles } from './graph.js';
import { MANIFEST_FILE, parseDeploymentFile, type Manifest, type StackEntry } from './manifest.js';
import type { DesiredStack, DesiredState, ParameterValue } from './model.js';
import { DEFAULT_DRIFT_POLICY, DEFAULT_PROTECTED_TYPES, DEFAULT_PRUNE_MAX_SHARE } from './policy.js';
import { stackNameProblem } from './stack-name.js';
import { cachedTemplate, type TemplateStore } from './template-cache.js';

export type FileContent =
  | { kind: 'file'; text: string }
  | { kind: 'missing' }
  /** A symlink (or similar) that resolves outside the repository. */
  | { kind: 'outside'; detail: string }
  /** Over the size limit of a file (LIMITS.fileBytes) or of the commit (LIMITS.commitBytes); not read. */
  | { kind: 'too-large'; detail: string };

export type FileLookup = (path: string) => FileContent | undefined;

export type DesiredResult = { ok: true; value: DesiredState } | { ok: false; problems: Problem[] };

/** A repository-relative path, normalised, or why it is not acceptable. */
export function repoPath(raw: string): { ok: true; path: string } | { ok: false; message: string } {
  if (raw.includes('\0')) return { ok: false, message: 'contains a NUL character' };
  if (posix.isAbsolute(raw) || /^[A-Za-z]:[\\/]/.test(raw) || raw.startsWith('\\')) {
    return { ok: false, message: `"${raw}" is an absolute path; use a path relative to the repository root` };
  }
  const path = posix.normalize(raw.replace(/\\/g, '/'));
  if (path === '..' || path.startsWith('../')) {
    return { ok: false, message: `"${raw}" leaves the repository; templates must be inside it` };
  }
  if (path === '.' || path.endsWith('/')) return { ok: false, message: `"${raw}" is a directory; expected a file` };
  return { ok: true, path };
}

/** Files cairn.yaml needs read, given what has been read so far (deployment files name templates). */
export function requiredFiles(manifest: Manifest, lookup: FileLookup): string[] {
  const paths = new Set<string>();
  for (const entry of Object.values(manifest.stacks)) {
    const ref = entry.template ?? entry.deploymentFile;
    const p = ref ? repoPath(ref) : undefined;
    if (!p?.ok) continue;
    paths.add(p.path);
    if (entry.deploymentFile) {
      const content = lookup(p.path);
      if (content?.kind !== 'file') continue;
      const parsed = parseDeploymentFile(content.text, p.path);
      if (!parsed.ok) continue;
      const t = repoPath(parsed.value['template-file-path']);
      if (t.ok) paths.add(t.path);
    }
  }
  return [...paths].sort();
}

interface ResolveInput {
  source: string;
  commit: string;
  manifest: Manifest;
  files: FileLookup;
  /** Where analysed templates are kept by content (default: the process-wide memory store). */
  templates?: TemplateStore;
}

const RESERVED_TAG_PREFIXES = ['cairn:', 'aws:'];

export function resolveDesired({ source, commit, manifest, files, templates }: ResolveInput): DesiredResult {
  const problems: Problem[] = [];
  const at = (path: string, message: string, file = MANIFEST_FILE): void => {
    problems.push({ file, path, message });
  };
  const defaults = manifest.defaults ?? {};
  const defaultWindows = (defaults.windows ?? []).map(toWindow);
  const ids = Object.keys(manifest.stacks);
  // Named in messages; a long list is cut, so reporting stays linear in the number of problems.
  const declaredList = ids.length > 20 ? `${ids.slice(0, 20).join(', ')} and ${ids.length - 20} more` : ids.join(', ');
  const stacks: DesiredStack[] = [];
  const findings: Problem[] = [];
  // Stacks may share a template: each file is checked once, and its problems name every stack using it.
  const checked = new Set<string>();
  const usedBy = new Map<string, string[]>();

  for (const [tagKey] of Object.entries(defaults.tags ?? {})) checkTagKey(tagKey, 'defaults.tags', at);

  for (const id of ids) {
    const entry = manifest.stacks[id]!;
    const where = `stacks.${id}`;
    const source = loadEntryFiles(entry, where, files, problems);
    if (!source) continue;
    const { templateFile, templateText, fileParameters, fileTags, deploymentFile } = source;
    usedBy.set(templateFile, [...(usedBy.get(templateFile) ?? []), id]);
    const parsed = cachedTemplate(templateText, templateFile, templates);
    if (!parsed.ok) {
      if (!checked.has(templateFile)) problems.push(...parsed.problems);
      checked.add(templateFile);
      continue;
    }
    const template = parsed.value;
    if (!checked.has(templateFile)) {
      checked.add(templateFile);
      problems.push(...parsed.errors);
      findings.push(...parsed.findings);
    }

    const stackName = entry.stackName ?? id;
    const nameProblem = stackNameProblem(stackName);
    if (nameProblem) {
      at(entry.stackName ? `${where}.stackName` : where, entry.stackName ? nameProblem : `${nameProblem}; set \`stackName\` to a valid name`);
    }

    const parameters: Record<string, ParameterValue> = { ...fileParameters, ...(entry.parameters ?? {}) };
    for (const name of Object.keys(parameters)) {
      if (!Object.hasOwn(template.parameters, name)) {
        const declared = Object.keys(template.parameters);
        const inManifest = entry.parameters && name in entry.parameters;
        at(
          inManifest ? `${where}.parameters.${name}` : 'parameters.' + name,
          `is not a parameter of ${templateFile}${declared.length ? ` (it declares ${declared.length > 20 ? `${declared.slice(0, 20).join(', ')} and ${declared.length - 20} more` : declared.join(', ')})` : ' (it declares none)'}`,
          inManifest ? MANIFEST_FILE : deploymentFile!,
        );
      }
    }
    for (const [name, decl] of Object.entries(template.parameters)) {
      if (!decl.hasDefault && !Object.hasOwn(parameters, name)) {
        at(`${where}.parameters`, `gives no value for ${name}, which ${templateFile} declares without a Default`);
      }
    }

    // Own properties only: a name such as `toString` or `__proto__` is not a declared stack.
    const isDeclared = (name: string): boolean => Object.hasOwn(manifest.stacks, name);
    const dependsOn = new Set(entry.dependsOn ?? []);
    (entry.dependsOn ?? []).forEach((dep, i) => {
      if (!isDeclared(dep)) at(`${where}.dependsOn.${i}`, `names unknown stack "${dep}"; declared stacks are ${declaredList}`);
      if (dep === id) at(`${where}.dependsOn.${i}`, 'a stack cannot depend on itself');
    });
    for (const [name, value] of Object.entries(entry.parameters ?? {})) {
      if (typeof value === 'string') continue;
      if (!isDeclared(value.fromStack)) {
        at(`${where}.parameters.${name}.fromStack`, `names unknown stack "${value.fromStack}"; declared stacks are ${declaredList}`);
      } else if (value.fromStack === id) {
        at(`${where}.parameters.${name}.fromStack`, 'a stack cannot take a parameter from its own outputs');
      } else {
        dependsOn.add(value.fromStack);
      }
    }

    const tags = { ...(defaults.tags ?? {}), ...fileTags, ...(entry.tags ?? {}) };
    for (const key of Object.keys(entry.tags ?? {})) checkTagKey(key, `${where}.tags`, at);

    stacks.push({
      id,
      stackName,
      region: entry.region ?? defaults.region,
      templateFile,
      template: template.template,
      templateBody: template.body,
      parameters,
      tags,
      capabilities: [...new Set([...(defaults.capabilities ?? []), ...(entry.capabilities ?? [])])].sort(),
      roleArn: entry.roleArn ?? defaults.roleArn,
      terminationProtection: entry.terminationProtection ?? false,
      dependsOn: [...dependsOn].filter((d) => d !== id && isDeclared(d)).sort(),
      drift: entry.drift ?? defaults.drift ?? DEFAULT_DRIFT_POLICY,
      adopt: entry.adopt ?? false,
      allowDestructive: [...new Set(entry.allowDestructive ?? [])].sort(),
      windows: entry.windows ? entry.windows.map(toWindow) : defaultWindows,
      approval: entry.approval ?? defaults.approval ?? 'auto',
    });
  }

  const byName = new Map<string, string>();
  for (const s of stacks) {
    const key = `${s.region ?? ''}/${s.stackName}`;
    const other = byName.get(key);
    if (other) at(`stacks.${s.id}`, `uses stack name "${s.stackName}", already used by stack "${other}"${s.region ? ` in ${s.region}` : ''}`);
    else byName.set(key, s.id);
  }

  const deps = new Map(stacks.map((s) => [s.id, s.dependsOn]));
  for (const cycle of findCycles(deps)) {
    at(`stacks.${cycle[0]}.dependsOn`, `dependency cycle: ${cycle.join(' → ')}`);
  }

  const named = (list: Problem[]): Problem[] =>
    list.map((p) => {
      const users = p.file === MANIFEST_FILE ? undefined : usedBy.get(p.file);
      return users ? { ...p, message: `${p.message} (template of stack${users.length === 1 ? '' : 's'} ${users.join(', ')})` } : p;
    });
  if (problems.length > 0) return { ok: false, problems: named([...problems, ...findings]) };
  return {
    ok: true,
    value: {
      source,
      commit,
      stacks,
      prune: defaults.prune ?? false,
      pruneMaxShare: defaults.pruneMaxShare ?? DEFAULT_PRUNE_MAX_SHARE,
      protectedTypes: [...new Set([...DEFAULT_PROTECTED_TYPES, ...(defaults.protectedTypes ?? [])])].sort(),
      windows: defaultWindows,
      approval: defaults.approval ?? 'auto',
      findings: named(findings),
    },
  };
}

function checkTagKey(key: string, where: string, at: (path: string, message: string) => void): void {
  const prefix = RESERVED_TAG_PREFIXES.find((p) => key.toLowerCase().startsWith(p));
  if (prefix) at(`${where}.${key}`, `tag keys starting with "${prefix}" are reserved${prefix === 'cairn:' ? ' for Cairn\'s ownership tags' : ' by AWS'}`);
}

interface EntryFiles {
  templateFile: string;
  templateText: string;
  fileParameters: Record<string, string>;
  fileTags: Record<string, string>;
  deploymentFile: string | undefined;
}

function readFile(
  raw: string,
  where: string,
  files: FileLookup,
  problems: Problem[],
  file = MANIFEST_FILE,
): { path: string; text: string } | undefined {
  const p = repoPath(raw);
  if (!p.ok) {
    problems.push({ file, path: where, message: p.message });
    return undefined;
  }
  const content = files(p.path);
  if (!content || content.kind === 'missing') {
    problems.push({ file, path: where, message: `"${p.path}" does not exist in the repository` });
    return undefined;
  }
  if (content.kind === 'outside') {
    problems.push({ file, path: where, message: `"${p.path}" ${content.detail}; templates must be inside the repository` });
    return undefined;
  }
  if (content.kind === 'too-large') {
    problems.push({ file, path: where, message: `"${p.path}" ${content.detail}` });
    return undefined;
  }
  return { path: p.path, text: content.text };
}

function loadEntryFiles(entry: StackEntry, where: string, files: FileLookup, problems: Problem[]): EntryFiles | undefined {
  if (entry.template) {
    const t = readFile(entry.template, `${where}.template`, files, problems);
    return t && { templateFile: t.path, templateText: t.text, fileParameters: {}, fileTags: {}, deploymentFile: undefined };
  }
  const d = readFile(entry.deploymentFile!, `${where}.deploymentFile`, files, problems);
  if (!d) return undefined;
  const parsed = parseDeploymentFile(d.text, d.path);
  if (!parsed.ok) {
    problems.push(...parsed.problems);
    return undefined;
  }
  const t = readFile(parsed.value['template-file-path'], 'template-file-path', files, problems, d.path);
  if (!t) return undefined;
  return {
    templateFile: t.path,
    templateText: t.text,
    fileParameters: parsed.value.parameters ?? {},
    fileTags: parsed.value.tags ?? {},
    deploymentFile: d.path,
  };
}
