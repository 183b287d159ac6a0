/**
 * Read a source's desired state at one commit: cairn.yaml, the deployment files it names, then the
 * templates, each read once as a blob of that snapshot. Throws ValidationError with every problem.
 *
 * The source's name travels with the repository: cairn.yaml's `source:`. A name given from outside
 * either must agree with it (the deployment's and `serve`'s sources: a repository cannot claim to
 * be another source) or overrides it (the CLI's --source, an explicit choice of the user's).
 */
import { requiredFiles, resolveDesired, type FileContent } from '../core/desired.js';
import { PolicyDeniedError, ValidationError, type Problem } from '../core/errors.js';
import { sha256 } from '../core/canonical.js';
import { MANIFEST_FILE, parseManifest, withLines, type Manifest, type ParseResult } from '../core/manifest.js';
import type { DesiredState } from '../core/model.js';
import type { TemplateStore } from '../core/template-cache.js';
import { destinationProblems, type DestinationPolicy } from '../core/policy.js';
import { formatBytes, LIMITS } from '../core/limits.js';
import { FileTooLargeError, PathOutsideRepoError, type SourceSnapshot } from '../ports/source-repo.js';
import type { ProgressListener } from '../ports/progress.js';

const decoder = new TextDecoder('utf-8');

/** The bytes one commit has left to read; every file is refused past it, before it is read. */
class ReadBudget {
  used = 0;
  constructor(readonly total: number) {}
}

/** Reads in flight at once: a directory's files are read side by side, not one after another. */
const READ_WINDOW = 32;

type RawRead = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'over'; bytes: number | undefined; limit: number } | Exclude<FileContent, { kind: 'file' | 'too-large' }>;

async function readRaw(snapshot: SourceSnapshot, path: string, limit: number): Promise<RawRead> {
  try {
    const bytes = await snapshot.readFile(path, { maxBytes: limit });
    return bytes ? { kind: 'bytes', bytes } : { kind: 'missing' };
  } catch (error) {
    if (error instanceof PathOutsideRepoError) return { kind: 'outside', detail: 'is a symbolic link that points outside the repository' };
    if (error instanceof FileTooLargeError) return { kind: 'over', bytes: error.bytes, limit };
    throw error;
  }
}

/**
 * Read `paths`, a window at a time. Each read is bounded by what the commit had left when its
 * window started, and the budget is then charged in path order, so the outcome is the one of
 * reading them one after another: a file is refused the moment it would take the commit past its
 * budget, whichever finished first.
 */
async function readAll(snapshot: SourceSnapshot, paths: string[], budget: ReadBudget, maxBytes: number, what: string, onRead?: (read: number) => void): Promise<Map<string, FileContent>> {
  const out = new Map<string, FileContent>();
  for (let i = 0; i < paths.length; i += READ_WINDOW) {
    const window = paths.slice(i, i + READ_WINDOW);
    const limit = Math.min(maxBytes, budget.total - budget.used);
    const reads = await Promise.all(window.map((p) => readRaw(snapshot, p, limit)));
    window.forEach((p, k) => out.set(p, charge(reads[k]!, budget, maxBytes, what)));
    onRead?.(out.size);
  }
  return out;
}

function charge(read: RawRead, budget: ReadBudget, maxBytes: number, what: string): FileContent {
  const overall = (): FileContent => ({
    kind: 'too-large',
    detail: `would take the files this commit reads past ${formatBytes(budget.total)} in all (${budget.used} bytes read before it); not read. Split the source, or make its templates smaller`,
  });
  if (read.kind === 'over') {
    if (read.limit !== maxBytes) return overall();
    const size = read.bytes === undefined ? 'is larger than' : `is ${read.bytes} bytes, over`;
    return { kind: 'too-large', detail: `${size} the limit of ${formatBytes(maxBytes)} for ${what}; not read` };
  }
  if (read.kind !== 'bytes') return read;
  if (budget.used + read.bytes.byteLength > budget.total) return overall();
  budget.used += read.bytes.byteLength;
  return { kind: 'file', text: decoder.decode(read.bytes) };
}

/** The last few cairn.yaml parses by content: a warm step whose cairn.yaml did not change parses none. */
const manifests = new Map<string, ParseResult<Manifest>>();
const MANIFESTS_KEPT = 8;

/** parseManifest, from memory when this content was parsed before; every caller gets its own copy. */
export function parsedManifest(text: string): ParseResult<Manifest> {
  const key = sha256(text);
  let parsed = manifests.get(key);
  if (parsed) manifests.delete(key);
  else parsed = parseManifest(text);
  manifests.set(key, parsed);
  if (manifests.size > MANIFESTS_KEPT) manifests.delete(manifests.keys().next().value!);
  return structuredClone(parsed);
}

export interface LoadOptions {
  /** How a `source` given to loadDesired relates to cairn.yaml's: must agree (default) or overrides it. */
  sourceFrom?: 'deployment' | 'flag';
  /**
   * The destinations of the named source (undefined: unrestricted): a valid cairn.yaml asking for
   * any other role or region throws PolicyDeniedError.
   */
  destinations?: (source: string) => Omit<DestinationPolicy, 'source'> | undefined;
  /** Where analysed templates are kept by content (default: the process-wide memory store). */
  templates?: TemplateStore;
  /** Told how many of the files are read and validated (the CLI's progress line); the caller ends the phase. */
  progress?: ProgressListener;
}

/**
 * The destination policy a reconciler checks a source's commits against: its declared destinations,
 * plus its default role and the account's region (both always allowed).
 */
export function sourceDestinations(
  declared: { roleArns?: readonly string[]; regions?: readonly string[]; accounts?: readonly string[]; configuredIn: string } | undefined,
  defaultRoleArn: string | undefined,
  defaultRegion: string,
): NonNullable<LoadOptions['destinations']> {
  return () => ({ ...declared, configuredIn: declared?.configuredIn ?? 'the source configuration', defaultRoleArn, defaultRegion });
}

export async function loadDesired(snapshot: SourceSnapshot, source: string | undefined, options: LoadOptions = {}): Promise<DesiredState> {
  const { progress } = options;
  const budget = new ReadBudget(LIMITS.commitBytes);
  const manifestFile = (await readAll(snapshot, [MANIFEST_FILE], budget, LIMITS.manifestBytes, 'cairn.yaml')).get(MANIFEST_FILE)!;
  if (manifestFile.kind !== 'file') {
    throw new ValidationError([
      {
        file: MANIFEST_FILE,
        path: '',
        message:
          manifestFile.kind === 'missing'
            ? `does not exist at commit ${snapshot.commit.slice(0, 12)}; a Cairn repository declares its stacks in cairn.yaml at its root`
            : `${manifestFile.detail}`,
      },
    ]);
  }
  const parsed = parsedManifest(manifestFile.text);
  if (!parsed.ok && !parsed.partial) throw new ValidationError(parsed.problems);
  // With only unknown keys wrong, the rest of the file is still checked, so every problem shows at once.
  const manifest = { value: parsed.ok ? parsed.value : parsed.partial! };
  const schemaProblems = parsed.ok ? [] : parsed.problems;
  const naming = sourceName(manifest.value.source, source, options.sourceFrom ?? 'deployment');
  if ('problem' in naming) schemaProblems.push(naming.problem);

  const files = new Map<string, FileContent>();
  const lookup = (path: string): FileContent | undefined => files.get(path);
  // Deployment files name templates, so a second round may be needed; never more.
  for (let round = 0; round < 2; round++) {
    const wanted = requiredFiles(manifest.value, lookup).filter((p) => !files.has(p));
    if (wanted.length === 0) break;
    const before = files.size;
    const onRead = progress && ((n: number) => progress({ phase: 'templates', step: 'reading', done: before + n, total: before + wanted.length }));
    for (const [p, content] of await readAll(snapshot, wanted, budget, LIMITS.fileBytes, 'a template or deployment file', onRead)) files.set(p, content);
  }
  const checking = progress ? reportingLookups(files, progress) : lookup;
  const desired = resolveDesired({ source: 'name' in naming ? naming.name : '', commit: snapshot.commit, manifest: manifest.value, files: checking, ...(options.templates ? { templates: options.templates } : {}) });
  if (!desired.ok || schemaProblems.length > 0) {
    throw new ValidationError(withLines([...schemaProblems, ...(desired.ok ? [] : desired.problems)], manifestFile.text, MANIFEST_FILE));
  }
  const destinations = options.destinations?.(desired.value.source);
  if (destinations) {
    const denied = destinationProblems(manifest.value, { ...destinations, source: desired.value.source });
    if (denied.length > 0) throw new PolicyDeniedError(withLines(denied, manifestFile.text, MANIFEST_FILE));
  }
  return desired.value;
}

/**
 * A lookup of the files read that reports each the first time it is asked for: resolveDesired asks
 * for a stack's files just before it checks them, so this counts the validation as it goes.
 */
function reportingLookups(files: Map<string, FileContent>, progress: ProgressListener): (path: string) => FileContent | undefined {
  const asked = new Set<string>();
  return (path) => {
    const content = files.get(path);
    if (content && !asked.has(path)) {
      asked.add(path);
      progress({ phase: 'templates', step: 'validating', done: asked.size, total: files.size });
    }
    return content;
  };
}

/** The source's name from cairn.yaml and from outside, or the problem that leaves it unknown. */
function sourceName(declared: string | undefined, given: string | undefined, from: 'deployment' | 'flag'): { name: string } | { problem: Problem } {
  if (given !== undefined && (from === 'flag' || declared === undefined || declared === given)) return { name: given };
  if (given !== undefined) {
    return {
      problem: {
        file: MANIFEST_FILE,
        path: 'source',
        message: `declares source "${declared}", but Cairn follows this repository as source "${given}"; make them agree: set \`source: ${given}\` here, or rename the source where Cairn is configured`,
      },
    };
  }
  if (declared !== undefined) return { name: declared };
  return {
    problem: {
      file: MANIFEST_FILE,
      path: '',
      message:
        'names no source: add `source: NAME` at the top level (lower-case letters, digits and hyphens, e.g. `source: platform-prod`), the name Cairn stamps on the stacks it owns wherever the repository is read from; or pass --source NAME',
    },
  };
}
