/**
 * The CLI's template analyses on disk, one JSON file per content key in a directory under the
 * state directory, so a `cairn plan` whose templates did not change since the last run parses none.
 * Safe to share between processes and to lose: each file is written to a temporary name and renamed
 * into place, an entry is used only when it names its own key and its body still hashes to the hash
 * it records (anything else is ignored), and the directory is trimmed to a size bound, oldest first.
 * Keys are salted with this build of Cairn (the modules and schemas that decide an analysis, by
 * size and modification time), so a new Cairn never reads an old one's findings.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '../core/canonical.js';
import type { Problem } from '../core/errors.js';
import type { TemplateAnalysis, TemplateStore } from '../core/template-cache.js';
import { RESOURCE_SCHEMAS_FILE } from './resource-schema-file.js';

const FORMAT = 'cairn-template-cache-1';

/** Files whose change changes what an analysis says, as tsc lays them out. */
const DECIDING_FILES = [
  new URL(`./${RESOURCE_SCHEMAS_FILE}`, import.meta.url),
  new URL('../core/template.js', import.meta.url),
  new URL('../core/fast-yaml.js', import.meta.url),
  // Its duplicate-key check is the templates' too.
  new URL('../core/manifest.js', import.meta.url),
  new URL('../core/template-checks.js', import.meta.url),
  new URL('../core/template-cache.js', import.meta.url),
];

/**
 * The deciding files of this build: tsc's modules when this module is one of them, else (the
 * bundled CLI, whose chunks are named by their content's hash) every module and the schemas
 * beside this one.
 */
function decidingFiles(): string[] {
  const here = fileURLToPath(import.meta.url);
  const files = DECIDING_FILES.map((url) => fileURLToPath(url));
  if (files.slice(1).every((file) => existsSync(file))) return files;
  const dir = dirname(here);
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith('.js') || name === RESOURCE_SCHEMAS_FILE)
      .sort()
      .map((name) => join(dir, name));
  } catch {
    return [here];
  }
}

function buildSalt(): string {
  const hash = createHash('sha256').update(FORMAT);
  for (const file of decidingFiles()) {
    try {
      const { size, mtimeMs } = statSync(file);
      hash.update(`\0${file}\0${size}\0${mtimeMs}`);
    } catch {
      hash.update(`\0${file}\0absent`);
    }
  }
  return hash.digest('hex');
}

export interface TemplateCacheDirOptions {
  /** The directory the entries live in (created on first write). */
  dir: string;
  /** Trim the directory to this many bytes of entries when a process adds some. Default 64 MiB. */
  maxBytes?: number;
  /** Identifies the code that made the analyses; default: this build's files. */
  salt?: string;
}

interface StoredEntry {
  key: string;
  analysis: TemplateAnalysis;
}

function isProblemList(value: unknown): value is Problem[] {
  return Array.isArray(value) && value.every((p) => p !== null && typeof p === 'object' && typeof (p as Problem).file === 'string' && typeof (p as Problem).message === 'string');
}

/** The analysis in `text` when it is a whole, untampered entry for `key`. */
function verified(text: string, key: string): TemplateAnalysis | undefined {
  let entry: StoredEntry;
  try {
    entry = JSON.parse(text) as StoredEntry;
  } catch {
    return undefined;
  }
  const a = entry?.analysis;
  if (entry?.key !== key || a === null || typeof a !== 'object') return undefined;
  if (a.ok === false) return isProblemList(a.problems) ? a : undefined;
  if (a.ok !== true || typeof a.body !== 'string' || sha256(a.body) !== a.hash) return undefined;
  if (a.parameters === null || typeof a.parameters !== 'object' || !isProblemList(a.errors) || !isProblemList(a.findings)) return undefined;
  return a;
}

export class TemplateCacheDir implements TemplateStore {
  private readonly salt: string;
  private readonly maxBytes: number;
  private trimmed = false;
  private dirMade = false;

  constructor(private readonly options: TemplateCacheDirOptions) {
    this.salt = options.salt ?? buildSalt();
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  private fileOf(key: string): { file: string; salted: string } {
    const salted = sha256(`${this.salt}\0${key}`);
    return { file: join(this.options.dir, `${salted}.json`), salted };
  }

  get(key: string): TemplateAnalysis | undefined {
    const { file, salted } = this.fileOf(key);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    return verified(text, salted);
  }

  set(key: string, analysis: TemplateAnalysis): void {
    const { file, salted } = this.fileOf(key);
    const text = JSON.stringify({ key: salted, analysis } satisfies StoredEntry);
    if (text.length > this.maxBytes / 16) return;
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const write = (): void => {
      writeFileSync(tmp, text);
      renameSync(tmp, file);
    };
    try {
      // The directory is made once per process, and again should it vanish meanwhile.
      if (!this.dirMade) mkdirSync(this.options.dir, { recursive: true });
      this.dirMade = true;
      try {
        write();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        mkdirSync(this.options.dir, { recursive: true });
        write();
      }
    } catch {
      // A cache that cannot be written costs a parse next time, nothing more.
      try {
        unlinkSync(tmp);
      } catch {
        // Never created.
      }
      return;
    }
    // Trimming lists the directory: done once by a process that adds entries, none by one that only reads.
    if (!this.trimmed) {
      this.trimmed = true;
      this.trim();
    }
  }

  /** Remove the oldest entries (and stray temporary files) until the directory is within its bound. */
  trim(): void {
    let names: string[];
    try {
      names = readdirSync(this.options.dir);
    } catch {
      return;
    }
    const entries: { file: string; bytes: number; at: number }[] = [];
    let total = 0;
    for (const name of names) {
      const file = join(this.options.dir, name);
      try {
        const { size, mtimeMs } = statSync(file);
        // A temporary file an hour old belongs to a process that died mid-write.
        if (name.endsWith('.tmp') && Date.now() - mtimeMs > 3_600_000) {
          unlinkSync(file);
          continue;
        }
        if (!name.endsWith('.json')) continue;
        entries.push({ file, bytes: size, at: mtimeMs });
        total += size;
      } catch {
        // Removed by another process meanwhile.
      }
    }
    if (total <= this.maxBytes) return;
    entries.sort((a, b) => a.at - b.at);
    for (const e of entries) {
      if (total <= this.maxBytes * 0.75) break;
      try {
        unlinkSync(e.file);
      } catch {
        // Removed by another process meanwhile.
      }
      total -= e.bytes;
    }
  }
}
