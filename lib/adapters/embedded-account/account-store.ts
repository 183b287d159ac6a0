/**
 * Persistence of the simulated account under `<home>/embedded-account/`, shared by every process
 * that opens the same home:
 *
 *   stacks/<region>/<name>.json one file per stack, replaced atomically (write, then rename)
 *   journal.log                 one line appended per write: sequence number, the stacks written,
 *                               the clock skew and the fault settings in force
 *   .lock                       held for each read-modify-write (see file-lock.ts)
 *
 * Readers keep every stack in memory. Before each call they stat the journal: when it has not
 * grown nothing is read; when it has, they read the new lines and reload just the stacks named
 * there. The journal is compacted to its last line now and then; a reader that sees it replaced
 * rescans the stack files, comparing inode, mtime and size to reload only what changed.
 */
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
  appendFileSync,
} from 'node:fs';
import path from 'node:path';
import { withFileLock } from './file-lock.js';
import { normalizeFaults, NO_FAULTS, type FaultSettings } from './faults.js';
import type { StackRecord } from './stack-record.js';

export interface AccountMeta {
  seq: number;
  /** Milliseconds the account's clock runs ahead of the host clock (advance/settle). */
  skewMs: number;
  faults: FaultSettings;
}

interface JournalLine extends AccountMeta {
  /** `region/stackName` of every stack the write replaced. */
  stacks: string[];
}

interface Entry {
  key: string;
  record: StackRecord;
}

export interface AccountStoreOptions {
  /** Journal size past which a writer replaces it with its last line. Default 1 MiB. */
  compactAtBytes?: number;
}

const EMPTY_META: AccountMeta = { seq: 0, skewMs: 0, faults: NO_FAULTS };

function fileKey(stats: { ino: bigint; mtimeNs: bigint; size: bigint }): string {
  return `${stats.ino}:${stats.mtimeNs}:${stats.size}`;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Write `text` to a temporary file and rename it over `file`; returns the file's key. */
function writeAtomic(file: string, text: string): string {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = openSync(tmp, 'w');
  let key: string;
  try {
    writeSync(fd, text);
    key = fileKey(fstatSync(fd, { bigint: true }));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  return key;
}

function parseLine(line: string): JournalLine {
  const raw = JSON.parse(line) as Partial<JournalLine>;
  return { seq: raw.seq ?? 0, skewMs: raw.skewMs ?? 0, faults: normalizeFaults(raw.faults), stacks: raw.stacks ?? [] };
}

export class AccountStore {
  readonly root: string;
  private readonly stacksDir: string;
  private readonly journalPath: string;
  private readonly lockPath: string;
  private meta: AccountMeta = EMPTY_META;
  private loaded = false;
  /** Inode of the journal read so far, and how many bytes of it. */
  private journalIno: number | undefined;
  private journalOffset = 0;
  private readonly regions = new Map<string, Map<string, Entry>>();
  private readonly compactAtBytes: number;
  private readonly watchers: ((region: string, stackName: string) => void)[] = [];

  constructor(home: string, options: AccountStoreOptions = {}) {
    this.compactAtBytes = options.compactAtBytes ?? 1 << 20;
    this.root = path.join(home, 'embedded-account');
    this.stacksDir = path.join(this.root, 'stacks');
    this.journalPath = path.join(this.root, 'journal.log');
    this.lockPath = path.join(this.root, '.lock');
  }

  /**
   * Be told of every stack this view takes in or drops, whoever wrote it, so that work done per
   * change needs no scan of every stack.
   */
  watch(watcher: (region: string, stackName: string) => void): void {
    this.watchers.push(watcher);
  }

  /** Bring the in-memory view up to date with what any process has written. */
  refresh(): void {
    let size: number;
    let ino: number;
    try {
      ({ size, ino } = statSync(this.journalPath));
    } catch (error) {
      if (!isMissing(error)) throw error;
      if (!this.loaded || this.journalIno !== undefined) this.reloadAll(undefined);
      return;
    }
    if (this.loaded && ino === this.journalIno && size === this.journalOffset) return;
    if (!this.loaded || ino !== this.journalIno || size < this.journalOffset) this.reloadAll(ino);
    else this.readJournalFrom(this.journalOffset);
  }

  currentMeta(): AccountMeta {
    return this.meta;
  }

  get(region: string, stackName: string): StackRecord | undefined {
    return this.regions.get(region)?.get(stackName)?.record;
  }

  list(region: string): StackRecord[] {
    const stacks = this.regions.get(region);
    if (!stacks) return [];
    return Array.from(stacks.values(), (entry) => entry.record);
  }

  all(): StackRecord[] {
    const out: StackRecord[] = [];
    for (const region of this.regions.keys()) out.push(...this.list(region));
    return out;
  }

  /**
   * Read-modify-write under the cross-process lock. `fn` sees the latest state; what it puts is
   * written when it returns, and nothing is written when it throws.
   */
  transaction<T>(fn: (tx: StoreTransaction) => T): T {
    mkdirSync(this.root, { recursive: true });
    return withFileLock(this.lockPath, () => {
      this.refresh();
      const tx = new StoreTransaction(this);
      const result = fn(tx);
      this.commit(tx);
      return result;
    });
  }

  private commit(tx: StoreTransaction): void {
    if (tx.puts.size === 0 && tx.metaChanges === undefined) return;
    for (const record of tx.puts.values()) {
      const dir = path.join(this.stacksDir, record.region);
      mkdirSync(dir, { recursive: true });
      const key = writeAtomic(path.join(dir, `${record.stackName}.json`), JSON.stringify(record));
      this.remember(record.region, record.stackName, key, record);
    }
    const meta: AccountMeta = { ...this.meta, ...tx.metaChanges, seq: this.meta.seq + 1 };
    const line: JournalLine = { ...meta, stacks: Array.from(tx.puts.values(), (r) => `${r.region}/${r.stackName}`) };
    const text = `${JSON.stringify(line)}\n`;
    if (this.journalOffset + text.length > this.compactAtBytes) {
      // Readers see a new inode and rescan the stack files, which costs them only a stat each.
      writeAtomic(this.journalPath, text);
      this.journalOffset = 0;
    } else {
      appendFileSync(this.journalPath, text);
    }
    const { ino, size } = statSync(this.journalPath);
    // Under the lock nobody else appends, so everything up to `size` has been read or written here.
    this.journalIno = ino;
    this.journalOffset = size;
    this.meta = meta;
  }

  private reloadAll(journalIno: number | undefined): void {
    this.journalIno = journalIno;
    this.journalOffset = 0;
    this.meta = EMPTY_META;
    if (journalIno !== undefined) this.readJournalFrom(0);
    this.scan();
    this.loaded = true;
  }

  /** Read complete journal lines from `offset` on, reloading the stacks they name. */
  private readJournalFrom(offset: number): void {
    let fd: number;
    try {
      fd = openSync(this.journalPath, 'r');
    } catch (error) {
      if (!isMissing(error)) throw error;
      return;
    }
    let text: string;
    try {
      const { size, ino } = fstatSync(fd);
      if (ino !== this.journalIno) return;
      const buffer = Buffer.alloc(Math.max(0, size - offset));
      let read = 0;
      while (read < buffer.length) {
        const n = readSync(fd, buffer, read, buffer.length - read, offset + read);
        if (n === 0) break;
        read += n;
      }
      // A writer may be half-way through appending: only whole lines count.
      const end = buffer.lastIndexOf(0x0a, read - 1);
      if (end < 0) return;
      text = buffer.subarray(0, end + 1).toString('utf8');
      this.journalOffset = offset + end + 1;
    } finally {
      closeSync(fd);
    }
    const changed = new Set<string>();
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      const line = parseLine(raw);
      for (const id of line.stacks) changed.add(id);
      this.meta = { seq: line.seq, skewMs: line.skewMs, faults: line.faults };
    }
    // A full reload scans every file afterwards anyway.
    if (offset === 0) return;
    for (const id of changed) {
      const slash = id.indexOf('/');
      this.load(id.slice(0, slash), id.slice(slash + 1));
    }
  }

  private scan(): void {
    const present = new Set<string>();
    for (const region of this.readDir(this.stacksDir)) {
      for (const file of this.readDir(path.join(this.stacksDir, region))) {
        if (!file.endsWith('.json')) continue;
        const stackName = file.slice(0, -'.json'.length);
        present.add(`${region}/${stackName}`);
        let key: string;
        try {
          key = fileKey(statSync(path.join(this.stacksDir, region, file), { bigint: true }));
        } catch (error) {
          if (isMissing(error)) continue;
          throw error;
        }
        if (this.regions.get(region)?.get(stackName)?.key !== key) this.load(region, stackName);
      }
    }
    for (const [region, stacks] of this.regions) {
      for (const stackName of stacks.keys()) {
        if (present.has(`${region}/${stackName}`)) continue;
        stacks.delete(stackName);
        this.changed(region, stackName);
      }
    }
  }

  private load(region: string, stackName: string): void {
    const file = path.join(this.stacksDir, region, `${stackName}.json`);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (error) {
      if (!isMissing(error)) throw error;
      if (this.regions.get(region)?.delete(stackName)) this.changed(region, stackName);
      return;
    }
    try {
      // The key comes from the open descriptor so that it matches the bytes read, even if the
      // file is replaced meanwhile.
      const key = fileKey(fstatSync(fd, { bigint: true }));
      const record = JSON.parse(readFileSync(fd, 'utf8')) as StackRecord;
      this.remember(region, stackName, key, record);
    } finally {
      closeSync(fd);
    }
  }

  private remember(region: string, stackName: string, key: string, record: StackRecord): void {
    let stacks = this.regions.get(region);
    if (!stacks) {
      stacks = new Map();
      this.regions.set(region, stacks);
    }
    stacks.set(stackName, { key, record });
    this.changed(region, stackName);
  }

  private changed(region: string, stackName: string): void {
    for (const watcher of this.watchers) watcher(region, stackName);
  }

  private readDir(dir: string): string[] {
    try {
      return readdirSync(dir);
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
  }
}

/** What one read-modify-write may do. Records handed out are private copies. */
export class StoreTransaction {
  readonly puts = new Map<string, StackRecord>();
  metaChanges: Partial<Pick<AccountMeta, 'skewMs' | 'faults'>> | undefined;

  constructor(private readonly store: AccountStore) {}

  meta(): AccountMeta {
    return { ...this.store.currentMeta(), ...this.metaChanges };
  }

  /** A private copy of the stack to modify and `put` back. */
  get(region: string, stackName: string): StackRecord | undefined {
    const pending = this.puts.get(`${region}/${stackName}`);
    if (pending) return pending;
    const record = this.store.get(region, stackName);
    return record ? structuredClone(record) : undefined;
  }

  /** Read-only: the stacks of a region as committed (for exports and imports). */
  list(region: string): readonly StackRecord[] {
    return this.store.list(region).map((r) => this.puts.get(`${r.region}/${r.stackName}`) ?? r);
  }

  put(record: StackRecord): void {
    this.puts.set(`${record.region}/${record.stackName}`, record);
  }

  setMeta(changes: Partial<Pick<AccountMeta, 'skewMs' | 'faults'>>): void {
    this.metaChanges = { ...this.metaChanges, ...changes };
  }
}
