/**
 * Git objects read from a gitdir's packs and loose files with Node's native zlib, for every
 * snapshot read. isomorphic-git still fetches and indexes packs; reading through it costs a pako
 * inflate stream (with its own 32 KB window) per object plus several file-system calls, which came
 * to 0.3-0.9 s for 300 templates in a fresh process. Here a read is a binary search in the pack
 * index and one `inflateSync`, and trees, blobs and delta bases are remembered in memory.
 *
 * Supported: pack index v1 and v2, offset and reference deltas (including the thin packs of
 * Cairn's cache, whose bases live in other packs), loose objects, and `objects/info/alternates`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
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

const TYPES: Record<number, ObjectType | 'ofs_delta' | 'ref_delta'> = {
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

  constructor(private readonly maxBytes: number) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V, bytes: number): void {
    // One large object must not flush everything else.
    if (bytes > this.maxBytes / 16 || this.entries.has(key)) return;
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

  static parse(buf: Buffer): PackIndex {
    const v2 = buf.readUInt32BE(0) === 0xff744f63;
    if (v2 && buf.readUInt32BE(4) !== 2) throw new Error(`unsupported pack index version ${buf.readUInt32BE(4)}`);
    const fanout = v2 ? 8 : 0;
    return new PackIndex(buf, buf.readUInt32BE(fanout + 255 * 4), v2 ? 2 : 1);
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

/** Apply a git delta to its base. */
function applyDelta(delta: Buffer, base: Buffer): Buffer {
  let p = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = delta[p++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  if (varint() !== base.length) throw new Error('delta does not apply: base size differs');
  const out = Buffer.allocUnsafe(varint());
  let o = 0;
  while (p < delta.length) {
    const cmd = delta[p++]!;
    if (cmd & 0x80) {
      let offset = 0;
      let size = 0;
      for (let bit = 0; bit < 4; bit++) if (cmd & (1 << bit)) offset += delta[p++]! * 2 ** (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (cmd & (0x10 << bit)) size += delta[p++]! << (8 * bit);
      if (size === 0) size = 0x10000;
      o += base.copy(out, o, offset, offset + size);
    } else if (cmd > 0) {
      o += delta.copy(out, o, p, p + cmd);
      p += cmd;
    } else throw new Error('delta does not apply: reserved instruction 0');
  }
  if (o !== out.length) throw new Error('delta does not apply: result size differs');
  return out;
}

/** An object larger than a read allowed, found from its header (or while inflating, never past the limit). */
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

/** The base and result sizes a delta starts with. */
function deltaSizes(delta: Buffer): { base: number; result: number } {
  let p = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = delta[p++] ?? 0;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80 && p < delta.length);
    return value;
  };
  const base = varint();
  return { base, result: varint() };
}

/** inflateSync that stops at `max` bytes of output instead of allocating past it. */
function inflateAtMost(data: Buffer, max: number, tooLarge: () => Error): Buffer {
  try {
    return inflateSync(data, Number.isFinite(max) ? { maxOutputLength: Math.max(1, max) } : {});
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge();
    throw err;
  }
}

export class ObjectStore {
  private packs: Pack[] | undefined;
  private scanned: Promise<void> | undefined;
  private readonly objects: Memo<string, GitObject>;
  private readonly trees: Memo<string, Tree>;

  constructor(
    readonly gitdir: string,
    memoBytes = 16 * 1024 * 1024,
  ) {
    this.objects = new Memo(memoBytes);
    this.trees = new Memo(memoBytes / 4);
  }

  /** The object `oid`; with `maxBytes`, ObjectTooLargeError for a larger one, found before it is inflated whole. */
  async readObject(oid: string, maxBytes = Number.POSITIVE_INFINITY): Promise<GitObject> {
    const known = this.objects.get(oid);
    if (known) {
      if (known.data.length > maxBytes) throw new ObjectTooLargeError(oid, known.data.length, maxBytes);
      return known;
    }
    const object = (await this.fromPacks(oid, maxBytes)) ?? (await this.fromLoose(oid, maxBytes));
    if (!object) throw new ObjectNotFoundError(oid);
    this.objects.set(oid, object, object.data.length);
    return object;
  }

  /** A blob's bytes: a copy, so a caller that changes them cannot change what is remembered. */
  async readBlob(oid: string, maxBytes?: number): Promise<Uint8Array> {
    const { type, data } = await this.readObject(oid, maxBytes);
    if (type !== 'blob') throw new Error(`object ${oid} is a ${type}, not a blob`);
    return new Uint8Array(data);
  }

  async readTree(oid: string): Promise<Tree> {
    const known = this.trees.get(oid);
    if (known) return known;
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

  private async fromPacks(oid: string, maxBytes: number): Promise<GitObject | undefined> {
    const id = Buffer.from(oid, 'hex');
    for (let attempt = 0; attempt < 2; attempt++) {
      // A second look rescans: a fetch may have added a pack since the last scan.
      if (attempt === 1) this.scanned = undefined;
      for (const pack of await this.listPacks()) {
        const offset = pack.index.offsetOf(id);
        if (offset !== undefined) return this.readAt(pack, offset, oid, maxBytes);
      }
    }
    return undefined;
  }

  private async listPacks(): Promise<Pack[]> {
    this.scanned ??= (async () => {
      const known = new Map((this.packs ?? []).map((p) => [p.path, p]));
      const found: Pack[] = [];
      for (const dir of await this.objectDirs()) {
        const names = await readdir(join(dir, 'pack')).catch(() => [] as string[]);
        for (const name of names.filter((n) => n.endsWith('.idx'))) {
          const path = join(dir, 'pack', name.slice(0, -4));
          const pack = known.get(path) ?? { index: PackIndex.parse(await readFile(`${path}.idx`)), path, data: undefined };
          found.push(pack);
        }
      }
      this.packs = found;
    })();
    await this.scanned;
    return this.packs!;
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
   * With a finite `maxBytes`, the object's size is read from its header (or its delta's) before
   * anything of that size is allocated, and no base in the chain may inflate past MAX_BASE_BYTES.
   */
  private async readAt(pack: Pack, offset: number, oid = '', maxBytes = Number.POSITIVE_INFINITY): Promise<GitObject> {
    pack.data ??= readFile(`${pack.path}.pack`);
    const data = await pack.data;
    const limited = Number.isFinite(maxBytes);
    const tooLarge = (bytes?: number): Error => new ObjectTooLargeError(oid, bytes, maxBytes);
    const baseLimit = limited ? Math.max(maxBytes, MAX_BASE_BYTES) : Number.POSITIVE_INFINITY;
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
      const entryAt = at;
      let p = at;
      let byte = data[p++]!;
      const kind = TYPES[(byte >> 4) & 7];
      let size = byte & 0x0f;
      for (let shift = 4; byte & 0x80; shift += 7) {
        byte = data[p++]!;
        size += (byte & 0x7f) * 2 ** shift;
      }
      // Which limit this entry's inflated bytes are held to: the object's own, or a base's.
      const limit = chain.length === 0 ? maxBytes : baseLimit;
      if (size > (kind === 'ofs_delta' || kind === 'ref_delta' ? baseLimit : limit)) throw tooLarge(chain.length === 0 ? size : undefined);
      const inflate = (from: number): Buffer =>
        limited ? inflateAtMost(data.subarray(from), Math.min(size, baseLimit), () => tooLarge()) : inflateSync(data.subarray(from));
      if (kind === 'ofs_delta' || kind === 'ref_delta') {
        let from = p + 20;
        if (kind === 'ofs_delta') {
          byte = data[p++]!;
          let back = byte & 0x7f;
          while (byte & 0x80) {
            byte = data[p++]!;
            back = (back + 1) * 128 + (byte & 0x7f);
          }
          from = p;
          at -= back;
        }
        const delta = inflate(from);
        const sizes = deltaSizes(delta);
        if (sizes.result > limit || sizes.base > baseLimit) throw tooLarge(chain.length === 0 ? sizes.result : undefined);
        chain.push({ at: entryAt, delta });
        if (kind === 'ref_delta') base = await this.readObject(data.toString('hex', p, p + 20), baseLimit);
      } else if (kind) {
        base = { type: kind, data: inflate(p) };
        if (chain.length > 0) this.remember(pack, at, base);
      } else throw new Error(`unknown object type at offset ${at} of ${pack.path}.pack`);
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

  private async fromLoose(oid: string, maxBytes: number): Promise<GitObject | undefined> {
    for (const dir of await this.objectDirs()) {
      let file: Buffer;
      try {
        file = await readFile(join(dir, oid.slice(0, 2), oid.slice(2)));
      } catch {
        continue;
      }
      let raw: Buffer;
      try {
        // The header ("blob 1234\0") is at most a few dozen bytes more than the content.
        raw = inflateAtMost(file, maxBytes + 64, () => new ObjectTooLargeError(oid, undefined, maxBytes));
      } catch (err) {
        if (err instanceof ObjectTooLargeError) throw err;
        continue;
      }
      const nul = raw.indexOf(0);
      const type = raw.toString('latin1', 0, raw.indexOf(0x20)) as ObjectType;
      if (raw.length - nul - 1 > maxBytes) throw new ObjectTooLargeError(oid, raw.length - nul - 1, maxBytes);
      return { type, data: raw.subarray(nul + 1) };
    }
    return undefined;
  }
}
