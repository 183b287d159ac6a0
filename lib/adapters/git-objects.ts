/**
 * Git objects read from a gitdir's packs and loose files with Node's native zlib, for every
 * snapshot read (git-fetch.ts fetches and indexes the packs). Reading through isomorphic-git, as
 * before, cost a pako inflate stream (with its own 32 KB window) per object plus several
 * file-system calls, which came to 0.3-0.9 s for 300 templates in a fresh process. Here a read is a
 * binary search in the pack index and one `inflateSync`, and trees, blobs and delta bases are
 * remembered in memory.
 *
 * Supported: pack index v1 and v2, offset and reference deltas (including the thin packs of
 * Cairn's cache, whose bases live in other packs), loose objects, and `objects/info/alternates`.
 *
 * Reading terminates on any set of packs. Thin packs fetched one after another can hold the same
 * object twice, once whole and once as a delta, and two packs can hold A as a delta of B and B as a
 * delta of A (a commit that restores a file to earlier content). So every copy of an object is a
 * candidate, whole copies first; a delta whose base is already being resolved is a cycle and the
 * next copy is tried; and one read gives up after a fixed number of steps. Every object read by id
 * is checked against its SHA-1. When no copy can be read, the gitdir is broken
 * (CorruptObjectStoreError), which the caller answers by discarding and refetching it.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { inflateSync } from 'node:zlib';

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

export interface GitObject {
  type: ObjectType;
  data: Buffer;
}

export type EntryType = 'tree' | 'blob' | 'commit';

/** One entry of a tree: `mode` as git writes it (`100644`, `100755`, `120000`, `40000`, `160000`). */
export interface TreeEntry {
  name: string;
  mode: string;
  oid: string;
  type: EntryType;
}

export type Tree = Map<string, TreeEntry>;

/** An object id that is in none of the gitdir's packs or loose objects. */
export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  readonly code = 'NotFoundError';
  constructor(readonly oid: string) {
    super(`object ${oid} is not in the repository`);
  }
}

/**
 * The gitdir's packs cannot produce an object they list: a delta cycle with no whole copy, a
 * missing delta base, or corrupt bytes. Reading again will fail the same way; the cache holding
 * this gitdir must be discarded and fetched again.
 */
export class CorruptObjectStoreError extends Error {
  override name = 'CorruptObjectStoreError';
  readonly code = 'CorruptObjectStore';
  constructor(
    readonly gitdir: string,
    /** What could not be read: `object <oid>` or `pack index <file>`. */
    readonly what: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${what} in ${gitdir} cannot be read: ${detail}`, options);
  }
}

/** Whether an error means the gitdir's objects are missing or broken (rather than, say, a bad path). */
export function isBrokenObjectStore(err: unknown): boolean {
  return err instanceof CorruptObjectStoreError || err instanceof ObjectNotFoundError || (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** One read resolves at most this many copies and delta bases; far beyond git's own chains (50 by default, 4095 at most). */
const MAX_RESOLVE_STEPS = 20_000;

/** Pack entry types by their 3-bit number. */
export const PACK_TYPES: Readonly<Record<number, ObjectType | 'ofs_delta' | 'ref_delta'>> = {
  1: 'commit',
  2: 'tree',
  3: 'blob',
  4: 'tag',
  6: 'ofs_delta',
  7: 'ref_delta',
};

/** Rough in-memory size of one parsed tree entry, for the memo's budget. */
const TREE_ENTRY_BYTES = 160;

/**
 * Values by key with a byte budget, least recently used first out. Keys are object ids (or pack
 * offsets), which always name the same bytes, so nothing here goes stale.
 */
class Memo<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private bytes = 0;

  /** `maxEntryBytes`: the largest value kept (default a sixteenth of the budget). */
  constructor(
    private readonly maxBytes: number,
    private readonly maxEntryBytes = maxBytes / 16,
  ) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V, bytes: number): void {
    // One large object must not flush everything else.
    if (bytes > this.maxEntryBytes || this.entries.has(key)) return;
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [k, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= entry.bytes;
    }
  }
}

/** A `.idx` file: object ids to offsets in the matching `.pack`. */
class PackIndex {
  private constructor(
    private readonly buf: Buffer,
    private readonly count: number,
    private readonly version: 1 | 2,
  ) {}

  /** Throws BadBytes when `buf` is too short for the index it says it is. */
  static parse(buf: Buffer): PackIndex {
    if (buf.length < 8 + 256 * 4 + 40) throw new BadBytes(`the index is ${buf.length} bytes, too short for a pack index`);
    const v2 = buf.readUInt32BE(0) === 0xff744f63;
    if (v2 && buf.readUInt32BE(4) !== 2) throw new BadBytes(`unsupported pack index version ${buf.readUInt32BE(4)}`);
    const fanout = v2 ? 8 : 0;
    const count = buf.readUInt32BE(fanout + 255 * 4);
    const needed = v2 ? 8 + 256 * 4 + count * 28 + 40 : 256 * 4 + count * 24 + 40;
    if (buf.length < needed) throw new BadBytes(`the index lists ${count} objects but is ${buf.length} bytes, not at least ${needed}`);
    return new PackIndex(buf, count, v2 ? 2 : 1);
  }

  /** The object's offset in the pack, or undefined. */
  offsetOf(oid: Buffer): number | undefined {
    const fanout = this.version === 2 ? 8 : 0;
    const first = oid[0]!;
    let lo = first === 0 ? 0 : this.buf.readUInt32BE(fanout + (first - 1) * 4);
    let hi = this.buf.readUInt32BE(fanout + first * 4);
    const table = fanout + 256 * 4;
    // v1 entries are offset (4) + id (20); v2 has a table of ids, then CRCs, then offsets.
    const idAt = (i: number): number => (this.version === 2 ? table + i * 20 : table + i * 24 + 4);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = idAt(mid);
      const cmp = this.buf.compare(oid, 0, 20, at, at + 20) * -1;
      if (cmp === 0) return this.offsetAt(mid);
      if (cmp < 0) hi = mid;
      else lo = mid + 1;
    }
    return undefined;
  }

  private offsetAt(i: number): number {
    const table = (this.version === 2 ? 8 : 0) + 256 * 4;
    if (this.version === 1) return this.buf.readUInt32BE(table + i * 24);
    const offsets = table + this.count * 24;
    const small = this.buf.readUInt32BE(offsets + i * 4);
    if (!(small & 0x80000000)) return small;
    const large = offsets + this.count * 4 + (small & 0x7fffffff) * 8;
    return Number(this.buf.readBigUInt64BE(large));
  }
}

interface Pack {
  index: PackIndex;
  path: string;
  data: Promise<Buffer> | undefined;
}

/** Bytes that are not a valid pack entry or delta; says what was wrong, for CorruptObjectStoreError. */
export class BadBytes extends Error {}

/** The base and result sizes a git delta starts with, and where its instructions begin. */
function deltaHeader(delta: Buffer): { base: number; result: number; start: number } {
  let p = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      if (p >= delta.length || shift > 49) throw new BadBytes('delta does not apply: truncated size');
      byte = delta[p++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const base = varint();
  return { base, result: varint(), start: p };
}

/** Apply a git delta to its base. */
export function applyDelta(delta: Buffer, base: Buffer): Buffer {
  const header = deltaHeader(delta);
  if (header.base !== base.length) throw new BadBytes('delta does not apply: base size differs');
  const out = Buffer.allocUnsafe(header.result);
  let p = header.start;
  let o = 0;
  while (p < delta.length) {
    const cmd = delta[p++]!;
    if (cmd & 0x80) {
      let offset = 0;
      let size = 0;
      for (let bit = 0; bit < 4; bit++) if (cmd & (1 << bit)) offset += delta[p++]! * 2 ** (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (cmd & (0x10 << bit)) size += delta[p++]! << (8 * bit);
      if (size === 0) size = 0x10000;
      if (offset + size > base.length || o + size > out.length) throw new BadBytes('delta does not apply: copy outside the base or result');
      o += base.copy(out, o, offset, offset + size);
    } else if (cmd > 0) {
      if (p + cmd > delta.length || o + cmd > out.length) throw new BadBytes('delta does not apply: insert past its end');
      o += delta.copy(out, o, p, p + cmd);
      p += cmd;
    } else throw new BadBytes('delta does not apply: reserved instruction 0');
  }
  if (o !== out.length) throw new BadBytes('delta does not apply: result size differs');
  return out;
}

/** One copy of an object in a pack, and whether it is stored whole or as a delta. */
interface Copy {
  pack: Pack;
  offset: number;
  /** 0 whole, 1 offset delta (same pack), 2 reference delta (maybe another pack), 3 unreadable. */
  rank: number;
}

/** One read by id: the ids whose copies are being resolved (a base among them is a cycle) and the steps left. */
interface Resolution {
  resolving: Set<string>;
  steps: number;
  /** The object asked for, held to `maxBytes`; its delta bases to `baseBytes`. */
  top: string;
  maxBytes: number;
  baseBytes: number;
}

/** An object larger than a read allowed, found from its header (or its delta's) before it is inflated whole. */
export class ObjectTooLargeError extends Error {
  override name = 'ObjectTooLargeError';
  constructor(
    readonly oid: string,
    readonly bytes: number | undefined,
    readonly maxBytes: number,
  ) {
    super(`object ${oid} is ${bytes === undefined ? 'over' : `${bytes} bytes, over`} the limit of ${maxBytes} bytes`);
  }
}

/** Delta bases of a limited read may be larger than the object itself, but never beyond this. */
const MAX_BASE_BYTES = 64 * 1024 * 1024;


function rankAt(data: Buffer, offset: number): number {
  const kind = offset >= 12 && offset < data.length ? PACK_TYPES[(data[offset]! >> 4) & 7] : undefined;
  return kind === undefined ? 3 : kind === 'ofs_delta' ? 1 : kind === 'ref_delta' ? 2 : 0;
}

/** The zlib stream at `p`, which must inflate to exactly `size` bytes. */
function inflateAt(data: Buffer, p: number, size: number): Buffer {
  let out: Buffer;
  try {
    out = inflateSync(data.subarray(p), { maxOutputLength: Math.max(size, 1) });
  } catch (err) {
    throw new BadBytes(`the compressed data at ${p} does not inflate to ${size} bytes (${(err as Error).message})`);
  }
  if (out.length !== size) throw new BadBytes(`the compressed data at ${p} inflates to ${out.length} bytes, not ${size}`);
  return out;
}

function sha1Of(object: GitObject): string {
  return createHash('sha1').update(`${object.type} ${object.data.length}\0`, 'latin1').update(object.data).digest('hex');
}

export class ObjectStore {
  private packs: Pack[] | undefined;
  private scanned: Promise<void> | undefined;
  private readonly objects: Memo<string, GitObject>;
  private readonly trees: Memo<string, Tree>;
  /** Trees being read now: reads that start together share one parse. */
  private readonly readingTrees = new Map<string, Promise<Tree>>();

  constructor(
    readonly gitdir: string,
    memoBytes = 16 * 1024 * 1024,
  ) {
    this.objects = new Memo(memoBytes);
    // A directory is read again for every path through it: even a very wide one (tens of thousands
    // of entries) is kept, up to half the trees' budget.
    this.trees = new Memo(memoBytes / 4, memoBytes / 8);
  }

  /**
   * The object with this id. Throws ObjectNotFoundError when no pack and no loose file has it, and
   * CorruptObjectStoreError when copies exist but none can be read.
   */
  async readObject(oid: string, maxBytes = Number.POSITIVE_INFINITY): Promise<GitObject> {
    const known = this.objects.get(oid);
    if (known && known.data.length > maxBytes) throw new ObjectTooLargeError(oid, known.data.length, maxBytes);
    const baseBytes = Number.isFinite(maxBytes) ? Math.max(maxBytes, MAX_BASE_BYTES) : maxBytes;
    return known ?? this.resolve(oid, { resolving: new Set(), steps: MAX_RESOLVE_STEPS, top: oid, maxBytes, baseBytes });
  }

  /**
   * A blob's bytes: a copy, so a caller that changes them cannot change what is remembered. With
   * `maxBytes`, ObjectTooLargeError for a larger blob, known from its header before it is inflated.
   */
  async readBlob(oid: string, maxBytes?: number): Promise<Uint8Array> {
    const { type, data } = await this.readObject(oid, maxBytes);
    if (type !== 'blob') throw new Error(`object ${oid} is a ${type}, not a blob`);
    return new Uint8Array(data);
  }

  async readTree(oid: string): Promise<Tree> {
    const known = this.trees.get(oid);
    if (known) return known;
    let reading = this.readingTrees.get(oid);
    if (!reading) {
      reading = this.parseTree(oid).finally(() => this.readingTrees.delete(oid));
      this.readingTrees.set(oid, reading);
    }
    return reading;
  }

  private async parseTree(oid: string): Promise<Tree> {
    const { type, data } = await this.readObject(oid);
    if (type !== 'tree') throw new Error(`object ${oid} is a ${type}, not a tree`);
    const tree: Tree = new Map();
    let p = 0;
    while (p < data.length) {
      const space = data.indexOf(0x20, p);
      const nul = data.indexOf(0, space);
      const mode = data.toString('latin1', p, space);
      const name = data.toString('utf8', space + 1, nul);
      const entryOid = data.toString('hex', nul + 1, nul + 21);
      const type: EntryType = mode === '40000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
      tree.set(name, { name, mode, oid: entryOid, type });
      p = nul + 21;
    }
    this.trees.set(oid, tree, tree.size * TREE_ENTRY_BYTES);
    return tree;
  }

  /** The commit an id names, peeling annotated tags; undefined when it names something else. */
  async peelToCommit(oid: string): Promise<string | undefined> {
    for (let hops = 0; hops < 10; hops++) {
      const { type, data } = await this.readObject(oid);
      if (type === 'commit') return oid;
      if (type !== 'tag') return undefined;
      oid = /^object ([0-9a-f]{40})$/m.exec(data.toString('latin1'))?.[1] ?? '';
    }
    return undefined;
  }

  /** The root tree of a commit. */
  async commitTree(commit: string): Promise<string> {
    const { type, data } = await this.readObject(commit);
    const tree = type === 'commit' ? /^tree ([0-9a-f]{40})$/m.exec(data.toString('latin1', 0, 64))?.[1] : undefined;
    if (!tree) throw new Error(`object ${commit} is a ${type}, not a commit`);
    return tree;
  }

  /** Try every copy of `oid`, whole ones first, then a loose file; each copy must hash to `oid`. */
  private async resolve(oid: string, resolution: Resolution): Promise<GitObject> {
    const known = this.objects.get(oid);
    if (known) return known;
    const copies = await this.copiesOf(oid);
    const failures: string[] = [];
    resolution.resolving.add(oid);
    try {
      for (const { pack, offset } of copies) {
        try {
          const object = await this.readAt(pack, offset, resolution, oid);
          if (sha1Of(object) !== oid) throw new BadBytes(`it resolves to ${sha1Of(object)}`);
          this.objects.set(oid, object, object.data.length);
          return object;
        } catch (err) {
          if (!(err instanceof BadBytes || err instanceof CorruptObjectStoreError)) throw err;
          failures.push(`${basename(pack.path)}.pack at ${offset}: ${err instanceof BadBytes ? err.message : `its base ${err.what} cannot be read (${err.detail.slice(0, 300)})`}`);
        }
      }
    } finally {
      resolution.resolving.delete(oid);
    }
    const loose = await this.fromLoose(oid, oid === resolution.top ? resolution.maxBytes : resolution.baseBytes);
    if (loose && sha1Of(loose) === oid) {
      this.objects.set(oid, loose, loose.data.length);
      return loose;
    }
    if (loose) failures.push('its loose file does not hash to its id');
    if (failures.length === 0) throw new ObjectNotFoundError(oid);
    throw new CorruptObjectStoreError(this.gitdir, `object ${oid}`, failures.slice(0, 4).join('; '));
  }

  /** Every pack copy of `oid`, whole copies first (they need no base), then deltas within a pack, then deltas on another object. */
  private async copiesOf(oid: string): Promise<Copy[]> {
    const id = Buffer.from(oid, 'hex');
    for (let attempt = 0; attempt < 2; attempt++) {
      // A second look rescans: a fetch may have added a pack since the last scan.
      if (attempt === 1) this.scanned = undefined;
      const copies: Copy[] = [];
      for (const pack of await this.listPacks()) {
        const offset = pack.index.offsetOf(id);
        if (offset !== undefined) copies.push({ pack, offset, rank: rankAt(await this.packData(pack), offset) });
      }
      if (copies.length > 0) return copies.sort((a, b) => a.rank - b.rank);
    }
    return [];
  }

  private packData(pack: Pack): Promise<Buffer> {
    pack.data ??= readFile(`${pack.path}.pack`);
    return pack.data;
  }

  private async listPacks(): Promise<Pack[]> {
    this.scanned ??= (async () => {
      const known = new Map((this.packs ?? []).map((p) => [p.path, p]));
      const found: Pack[] = [];
      for (const dir of await this.objectDirs()) {
        const names = await readdir(join(dir, 'pack')).catch(() => [] as string[]);
        // Sorted, so which copy is tried first does not depend on the file system's order.
        for (const name of names.filter((n) => n.endsWith('.idx')).sort()) {
          const path = join(dir, 'pack', name.slice(0, -4));
          found.push(known.get(path) ?? { index: await this.readIndex(path), path, data: undefined });
        }
      }
      this.packs = found;
    })();
    const scan = this.scanned;
    // A failed scan is not remembered: the next read scans again.
    await scan.catch((err: unknown) => {
      if (this.scanned === scan) this.scanned = undefined;
      throw err;
    });
    return this.packs!;
  }

  private async readIndex(path: string): Promise<PackIndex> {
    try {
      return PackIndex.parse(await readFile(`${path}.idx`));
    } catch (err) {
      if (err instanceof BadBytes) throw new CorruptObjectStoreError(this.gitdir, `pack index ${basename(path)}.idx`, err.message);
      throw err;
    }
  }

  private async objectDirs(): Promise<string[]> {
    const own = join(this.gitdir, 'objects');
    const alternates = await readFile(join(own, 'info', 'alternates'), 'utf8').catch(() => '');
    const others = alternates
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => (isAbsolute(l) ? l : join(own, l)));
    return [own, ...others];
  }

  /**
   * The object at `offset` in `pack`, resolving its chain of deltas from the nearest known base.
   * Throws BadBytes for anything that cannot be this object: corrupt bytes, an offset delta that
   * does not point back, a reference to a base already being resolved (a cycle), a base that is
   * nowhere, or the read's steps used up.
   */
  private async readAt(pack: Pack, offset: number, resolution: Resolution, oid: string): Promise<GitObject> {
    const data = await this.packData(pack);
    // From the object asked for down to its base: each delta and the offset it sits at.
    const chain: Array<{ at: number; delta: Buffer }> = [];
    let base: GitObject | undefined;
    let at = offset;
    while (!base) {
      const cached = chain.length > 0 ? this.objects.get(`${pack.path}@${at}`) : undefined;
      if (cached) {
        base = cached;
        break;
      }
      if (--resolution.steps < 0) throw new BadBytes(`gave up after ${MAX_RESOLVE_STEPS} copies and delta bases`);
      // The 12-byte header comes first and the 20-byte checksum last: an entry starts in between.
      if (at < 12 || at >= data.length - 20) throw new BadBytes(`an entry at ${at} is outside the pack's ${data.length} bytes`);
      let p = at;
      let byte = data[p++]!;
      const kind = PACK_TYPES[(byte >> 4) & 7];
      let size = byte & 0x0f;
      for (let shift = 4; byte & 0x80; shift += 7) {
        if (p >= data.length || shift > 53) throw new BadBytes(`the entry at ${at} has a truncated size`);
        byte = data[p++]!;
        size += (byte & 0x7f) * 2 ** shift;
      }
      // The object asked for is held to its limit, its bases to theirs, before anything is inflated.
      const top = oid === resolution.top && chain.length === 0;
      const limit = top ? resolution.maxBytes : resolution.baseBytes;
      if (size > (kind === 'ofs_delta' || kind === 'ref_delta' ? resolution.baseBytes : limit)) throw new ObjectTooLargeError(oid, top ? size : undefined, resolution.maxBytes);
      const checkDelta = (delta: Buffer): Buffer => {
        const result = deltaHeader(delta).result;
        if (result > limit) throw new ObjectTooLargeError(oid, top ? result : undefined, resolution.maxBytes);
        return delta;
      };
      if (kind === 'ofs_delta') {
        byte = data[p++]!;
        let back = byte & 0x7f;
        while (byte & 0x80) {
          if (p >= data.length || back > at) throw new BadBytes(`the offset delta at ${at} has a truncated distance`);
          byte = data[p++]!;
          back = (back + 1) * 128 + (byte & 0x7f);
        }
        if (back <= 0 || at - back < 12) throw new BadBytes(`the offset delta at ${at} points ${back} bytes back, outside the pack`);
        chain.push({ at, delta: checkDelta(inflateAt(data, p, size)) });
        at -= back;
      } else if (kind === 'ref_delta') {
        const baseOid = data.toString('hex', p, p + 20);
        if (resolution.resolving.has(baseOid)) throw new BadBytes(`it is a delta of ${baseOid}, which is itself being resolved (a delta cycle)`);
        chain.push({ at, delta: checkDelta(inflateAt(data, p + 20, size)) });
        try {
          base = await this.resolve(baseOid, resolution);
        } catch (err) {
          if (err instanceof ObjectNotFoundError) throw new BadBytes(`its delta base ${baseOid} is in no pack`);
          throw err;
        }
      } else if (kind) {
        base = { type: kind, data: inflateAt(data, p, size) };
        if (chain.length > 0) this.remember(pack, at, base);
      } else throw new BadBytes(`unknown object type at offset ${at}`);
    }
    let object = base;
    for (let i = chain.length - 1; i >= 0; i--) {
      object = { type: object.type, data: applyDelta(chain[i]!.delta, object.data) };
      // Objects in the middle of a chain are the bases of others: keep them by offset.
      if (i > 0) this.remember(pack, chain[i]!.at, object);
    }
    return object;
  }

  private remember(pack: Pack, offset: number, object: GitObject): void {
    this.objects.set(`${pack.path}@${offset}`, object, object.data.length);
  }

  private async fromLoose(oid: string, maxBytes = Number.POSITIVE_INFINITY): Promise<GitObject | undefined> {
    for (const dir of await this.objectDirs()) {
      let raw: Buffer;
      try {
        // Never inflated past the limit (plus room for the header).
        raw = inflateSync(await readFile(join(dir, oid.slice(0, 2), oid.slice(2))), Number.isFinite(maxBytes) ? { maxOutputLength: maxBytes + 64 } : {});
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw new ObjectTooLargeError(oid, undefined, maxBytes);
        continue;
      }
      const nul = raw.indexOf(0);
      if (raw.length - nul - 1 > maxBytes) throw new ObjectTooLargeError(oid, raw.length - nul - 1, maxBytes);
      const type = raw.toString('latin1', 0, raw.indexOf(0x20)) as ObjectType;
      return { type, data: raw.subarray(nul + 1) };
    }
    return undefined;
  }
}
