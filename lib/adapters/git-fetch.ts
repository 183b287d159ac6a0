/**
 * Git's smart HTTP protocol, as much of it as Cairn's cache needs: the ref advertisement, and one
 * stateless fetch of a commit at depth 1 on top of what the cache holds; and the pack that fetch
 * answers, indexed here with Node's native zlib and SHA-1 into the `.pack` and `.idx` that
 * git-objects.ts reads.
 *
 * It replaced isomorphic-git's fetch, which inflated every object of the pack with pako (a
 * JavaScript zlib) and hashed it through WebCrypto one promise at a time, and whose module alone
 * took 0.1-0.2 s to load in a fresh process and a quarter of the reconcile bundle.
 *
 * The request names the head as its one `want` with `deepen 1`, every commit the cache holds as a
 * `have` and as `shallow` (each was fetched at depth 1, so the server knows their history stops
 * there and sends every object the new head needs that they lack, including content restored from
 * an older commit), and asks for a thin pack: its deltas may be against objects in the cache's
 * older packs, which the index resolves through the ObjectStore.
 */
import { createHash } from 'node:crypto';
import { crc32 as nativeCrc32, inflateSync } from 'node:zlib';
import { applyDelta, BadBytes, ObjectNotFoundError, PACK_TYPES, type GitObject, type ObjectType } from './git-objects.js';

/** One HTTP exchange, as git-source.ts's Exchange sends it (deadline, redirects, byte budget). */
export interface SmartHttpRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Uint8Array[];
}

export interface SmartHttpResponse {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string>;
  body?: AsyncIterableIterator<Uint8Array>;
}

export type SmartHttp = (req: SmartHttpRequest) => Promise<SmartHttpResponse>;

/** The server answered with an HTTP error status; `data` as git-source.ts's translation reads it. */
export class GitHttpError extends Error {
  override name = 'HttpError';
  readonly code = 'HttpError';
  readonly data: { statusCode: number; statusMessage: string };
  constructor(statusCode: number, statusMessage: string) {
    super(`HTTP Error: ${statusCode} ${statusMessage}`);
    this.data = { statusCode, statusMessage };
  }
}

/** The URL answered, but not as a Git smart HTTP server (a login page, a dumb server). */
export class SmartHttpError extends Error {
  override name = 'SmartHttpError';
  readonly code = 'SmartHttpError';
}

/** The server lacks a capability the fetch needs (shallow fetches). */
export class RemoteCapabilityError extends Error {
  override name = 'RemoteCapabilityError';
  readonly code = 'RemoteCapabilityError';
}

/** The server's own error message (an `ERR` line or side band 3). */
export class GitRemoteError extends Error {
  override name = 'GitRemoteError';
}

const AGENT = 'git/cairn';

function pktLine(line: string): Buffer {
  const payload = Buffer.from(line, 'utf8');
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0'), 'latin1'), payload]);
}

const FLUSH = Buffer.from('0000', 'latin1');

async function readAll(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  if (body) for await (const chunk of body) chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return Buffer.concat(chunks);
}

/** Throw the HTTP error of a response that is not a 200, after reading (and dropping) its body. */
async function expectOk(res: SmartHttpResponse): Promise<void> {
  if (res.statusCode === 200) return;
  await res.body?.return?.();
  throw new GitHttpError(res.statusCode, res.statusMessage);
}

/** The pkt-lines of `buf` from `start`: each payload, or null for a flush (and delimiter) packet. */
function* pktLines(buf: Buffer, start = 0): Generator<{ payload: Buffer | null; end: number }> {
  let p = start;
  while (p < buf.length) {
    if (p + 4 > buf.length) throw new BadBytes(`a pkt-line at ${p} is cut short`);
    const hex = buf.toString('latin1', p, p + 4);
    if (!/^[0-9a-f]{4}$/i.test(hex)) {
      // Not a pkt-line: the caller decides whether these bytes may be there (a pack without side band).
      yield { payload: buf.subarray(p), end: -1 };
      return;
    }
    const length = Number.parseInt(hex, 16);
    if (length === 0 || length === 1 || length === 2) {
      p += 4;
      yield { payload: null, end: p };
      continue;
    }
    if (length < 4 || p + length > buf.length) throw new BadBytes(`a pkt-line at ${p} says ${length} bytes, past the end of the answer`);
    yield { payload: buf.subarray(p + 4, p + length), end: p + length };
    p += length;
  }
}

export interface Advertisement {
  /** Ref name to object id. */
  refs: Map<string, string>;
  capabilities: Set<string>;
}

/** GET info/refs: the refs the server has and what it can do (protocol version 0/1). */
export async function advertisedRefs(http: SmartHttp, url: string, headers: Record<string, string>): Promise<Advertisement> {
  const res = await http({ url: `${url}/info/refs?service=git-upload-pack`, method: 'GET', headers: { ...headers, 'user-agent': AGENT } });
  await expectOk(res);
  if (!(res.headers['content-type'] ?? '').startsWith('application/x-git-upload-pack-advertisement')) {
    await res.body?.return?.();
    throw new SmartHttpError(`the server answered ${res.headers['content-type'] ?? 'without a content type'}, not a Git ref advertisement`);
  }
  const body = await readAll(res.body);
  const refs = new Map<string, string>();
  const capabilities = new Set<string>();
  let first = true;
  for (const { payload } of pktLines(body)) {
    if (payload === null) continue;
    const line = payload.toString('utf8').replace(/\n$/, '');
    if (line.startsWith('# service=')) continue;
    if (line.startsWith('ERR ')) throw new GitRemoteError(line.slice(4));
    const nul = line.indexOf('\0');
    const refPart = nul >= 0 ? line.slice(0, nul) : line;
    if (first && nul >= 0) for (const cap of line.slice(nul + 1).split(' ')) if (cap) capabilities.add(cap);
    first = false;
    const [oid, name] = refPart.split(' ');
    if (oid && name && /^[0-9a-f]{40}$/.test(oid) && name !== 'capabilities^{}') refs.set(name, oid);
  }
  return { refs, capabilities };
}

export interface FetchRequest {
  url: string;
  headers: Record<string, string>;
  capabilities: Set<string>;
  want: string;
  /** Commits the cache holds whole, each fetched at depth 1. */
  haves: string[];
}

/**
 * POST git-upload-pack for `want` at depth 1: the pack the server answered (possibly thin), or an
 * empty buffer when it sent none.
 */
export async function fetchPack(http: SmartHttp, req: FetchRequest): Promise<Buffer> {
  if (!req.capabilities.has('shallow')) throw new RemoteCapabilityError('the server does not support shallow fetches');
  const wanted = ['side-band-64k', 'thin-pack', 'ofs-delta', 'shallow', 'no-progress'].filter((c) => req.capabilities.has(c));
  if (!wanted.includes('side-band-64k') && req.capabilities.has('side-band')) wanted.unshift('side-band');
  const lines = [pktLine(`want ${req.want} ${wanted.join(' ')}\n`), ...req.haves.map((oid) => pktLine(`shallow ${oid}\n`)), pktLine('deepen 1\n'), FLUSH];
  lines.push(...req.haves.map((oid) => pktLine(`have ${oid}\n`)), pktLine('done\n'));
  const res = await http({
    url: `${req.url}/git-upload-pack`,
    method: 'POST',
    headers: { ...req.headers, 'user-agent': AGENT, 'content-type': 'application/x-git-upload-pack-request', accept: 'application/x-git-upload-pack-result' },
    body: [Buffer.concat(lines)],
  });
  await expectOk(res);
  return demultiplex(await readAll(res.body));
}

/** The pack in an upload-pack answer: after the shallow lines and the ACK or NAK, in side band 1 (or raw). */
function demultiplex(answer: Buffer): Buffer {
  const pack: Buffer[] = [];
  let sideBand = false;
  for (const { payload, end } of pktLines(answer)) {
    if (end === -1) {
      // No side band: the pack follows the last ACK or NAK as it is.
      if (!sideBand && payload!.subarray(0, 4).toString('latin1') === 'PACK') return payload!;
      throw new BadBytes('the answer holds bytes that are neither a pkt-line nor a pack');
    }
    if (payload === null) {
      if (sideBand) break;
      continue;
    }
    const band = payload[0];
    if (band === 1 || band === 2 || band === 3) {
      sideBand = true;
      if (band === 1) pack.push(payload.subarray(1));
      else if (band === 3) throw new GitRemoteError(payload.subarray(1).toString('utf8').trim());
      continue;
    }
    const line = payload.toString('utf8');
    if (line.startsWith('ERR ')) throw new GitRemoteError(line.slice(4).trim());
    // shallow, unshallow, ACK and NAK lines carry nothing the cache keeps.
  }
  return Buffer.concat(pack);
}

interface Entry {
  offset: number;
  /** Where the compressed data starts, and the end of the entry. */
  dataStart: number;
  end: number;
  size: number;
  kind: ObjectType | 'ofs_delta' | 'ref_delta';
  baseOffset?: number;
  baseOid?: string;
  oid?: Buffer;
}

/** Values by key up to a byte budget, the oldest dropped first. */
class Budget<K, V extends { data: Buffer }> {
  private readonly map = new Map<K, V>();
  private bytes = 0;
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    return this.map.get(key);
  }
  set(key: K, value: V): void {
    if (value.data.length > this.max / 4 || this.map.has(key)) return;
    this.map.set(key, value);
    this.bytes += value.data.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.max) break;
      this.map.delete(k);
      this.bytes -= v.data.length;
    }
  }
}

/** Inflated objects kept while a pack is indexed, so a delta's base is not inflated again. */
const INDEX_MEMO_BYTES = 32 * 1024 * 1024;

function inflateEntry(pack: Buffer, at: number, size: number): { data: Buffer; consumed: number } {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    result = inflateSync(pack.subarray(at), { info: true, maxOutputLength: Math.max(size, 1) }) as unknown as typeof result;
  } catch (err) {
    throw new BadBytes(`the compressed data at ${at} does not inflate to ${size} bytes (${(err as Error).message})`);
  }
  if (result.buffer.length !== size) throw new BadBytes(`the compressed data at ${at} inflates to ${result.buffer.length} bytes, not ${size}`);
  return { data: result.buffer, consumed: result.engine.bytesWritten };
}

let crcTable: Int32Array | undefined;
/** CRC-32 of an entry's bytes, for the index: zlib's where Node has it (20.15 and later), else a table. */
function crc32(bytes: Buffer): number {
  if (typeof nativeCrc32 === 'function') return nativeCrc32(bytes);
  crcTable ??= Int32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  let crc = -1;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

export interface IndexedPack {
  /** The pack's name: the hex SHA-1 of its contents, its last 20 bytes. */
  checksum: string;
  /** The `.idx` (version 2) for it. */
  index: Buffer;
  /** Every object id in it. */
  oids: Set<string>;
}

export interface IndexOptions {
  /** An object outside the pack, for the bases of a thin pack's deltas; throws ObjectNotFoundError when there is none. */
  external: (oid: string) => Promise<GitObject>;
  /** Checked between objects: a fetch past its deadline stops indexing. */
  signal?: AbortSignal;
}

/**
 * Index a pack: every object's id (its deltas resolved against the pack or, for a thin pack, the
 * objects `external` gives), and the version 2 index git and git-objects.ts read. Every object is
 * inflated once, and again only when it is the base of a delta after the memo dropped it.
 */
export async function indexPack(pack: Buffer, options: IndexOptions): Promise<IndexedPack> {
  if (pack.length < 32 || pack.toString('latin1', 0, 4) !== 'PACK') throw new BadBytes('the answer is not a pack');
  const version = pack.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new BadBytes(`unsupported pack version ${version}`);
  const count = pack.readUInt32BE(8);
  const trailer = pack.subarray(pack.length - 20);
  if (!createHash('sha1').update(pack.subarray(0, pack.length - 20)).digest().equals(trailer)) throw new BadBytes('the pack does not match its checksum');

  const entries: Entry[] = [];
  const byOffset = new Map<number, Entry>();
  const byOid = new Map<string, Entry>();
  const memo = new Budget<number, GitObject>(INDEX_MEMO_BYTES);
  const limit = pack.length - 20;

  /** The object an entry holds, its delta chain resolved. */
  const objectOf = async (entry: Entry, inflated?: Buffer): Promise<GitObject> => {
    const known = memo.get(entry.offset);
    if (known) return known;
    const raw = inflated ?? inflateEntry(pack, entry.dataStart, entry.size).data;
    let object: GitObject;
    if (entry.kind === 'ofs_delta') {
      const base = byOffset.get(entry.baseOffset!);
      if (!base) throw new BadBytes(`the offset delta at ${entry.offset} points at ${entry.baseOffset}, where no entry starts`);
      const b = await objectOf(base);
      object = { type: b.type, data: applyDelta(raw, b.data) };
    } else if (entry.kind === 'ref_delta') {
      const inPack = byOid.get(entry.baseOid!);
      const b = inPack ? await objectOf(inPack) : await options.external(entry.baseOid!);
      object = { type: b.type, data: applyDelta(raw, b.data) };
    } else object = { type: entry.kind, data: raw };
    memo.set(entry.offset, object);
    return object;
  };
  const name = (entry: Entry, object: GitObject): void => {
    entry.oid = createHash('sha1').update(`${object.type} ${object.data.length}\0`, 'latin1').update(object.data).digest();
    byOid.set(entry.oid.toString('hex'), entry);
  };

  let p = 12;
  const waiting: Array<{ entry: Entry; raw: Buffer }> = [];
  for (let i = 0; i < count; i++) {
    if (i % 256 === 0) options.signal?.throwIfAborted();
    if (p >= limit) throw new BadBytes(`the pack says ${count} objects but ends after ${i}`);
    const offset = p;
    let byte = pack[p++]!;
    const kind = PACK_TYPES[(byte >> 4) & 7];
    if (!kind) throw new BadBytes(`unknown object type at offset ${offset}`);
    let size = byte & 0x0f;
    for (let shift = 4; byte & 0x80; shift += 7) {
      if (p >= limit || shift > 53) throw new BadBytes(`the entry at ${offset} has a truncated size`);
      byte = pack[p++]!;
      size += (byte & 0x7f) * 2 ** shift;
    }
    const entry: Entry = { offset, dataStart: 0, end: 0, size, kind };
    if (kind === 'ofs_delta') {
      byte = pack[p++]!;
      let back = byte & 0x7f;
      while (byte & 0x80) {
        if (p >= limit || back > offset) throw new BadBytes(`the offset delta at ${offset} has a truncated distance`);
        byte = pack[p++]!;
        back = (back + 1) * 128 + (byte & 0x7f);
      }
      if (back <= 0 || offset - back < 12) throw new BadBytes(`the offset delta at ${offset} points ${back} bytes back, outside the pack`);
      entry.baseOffset = offset - back;
    } else if (kind === 'ref_delta') {
      entry.baseOid = pack.toString('hex', p, p + 20);
      p += 20;
    }
    entry.dataStart = p;
    const { data, consumed } = inflateEntry(pack, p, size);
    p += consumed;
    entry.end = p;
    entries.push(entry);
    byOffset.set(offset, entry);
    if (kind === 'ref_delta' && !byOid.has(entry.baseOid!)) {
      // A base outside the pack (thin), or later in it: resolved once every entry is known.
      waiting.push({ entry, raw: data });
      continue;
    }
    name(entry, await objectOf(entry, data));
  }
  if (p !== limit) throw new BadBytes(`the pack's ${count} objects end at ${p}, not at its checksum (${limit})`);

  // Reference deltas on bases outside the pack or later in it, until none is left that can be resolved.
  for (let progress = true; waiting.length > 0 && progress; ) {
    progress = false;
    for (let i = 0; i < waiting.length; i++) {
      options.signal?.throwIfAborted();
      const { entry, raw } = waiting[i]!;
      if (!byOid.has(entry.baseOid!)) {
        let base: GitObject;
        try {
          base = await options.external(entry.baseOid!);
        } catch (err) {
          if (err instanceof ObjectNotFoundError) continue;
          throw err;
        }
        const object = { type: base.type, data: applyDelta(raw, base.data) };
        memo.set(entry.offset, object);
        name(entry, object);
      } else name(entry, await objectOf(entry, raw));
      waiting.splice(i--, 1);
      progress = true;
    }
  }
  if (waiting.length > 0) throw new BadBytes(`the delta at ${waiting[0]!.entry.offset} is on ${waiting[0]!.entry.baseOid}, which is in no pack`);

  return { checksum: trailer.toString('hex'), index: writeIndex(entries, pack, trailer), oids: new Set(byOid.keys()) };
}

/** A version 2 pack index: fanout, sorted ids, CRC-32s, offsets (with a table of large ones), the pack's and its own checksum. */
function writeIndex(entries: Entry[], pack: Buffer, trailer: Buffer): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.oid!, b.oid!));
  const n = sorted.length;
  const large = sorted.filter((e) => e.offset >= 0x80000000);
  const out = Buffer.alloc(8 + 256 * 4 + n * 28 + large.length * 8 + 40);
  out.writeUInt32BE(0xff744f63, 0);
  out.writeUInt32BE(2, 4);
  const fanout = new Uint32Array(256);
  for (const e of sorted) fanout[e.oid![0]!]!++;
  let total = 0;
  for (let i = 0; i < 256; i++) {
    total += fanout[i]!;
    out.writeUInt32BE(total, 8 + i * 4);
  }
  const ids = 8 + 256 * 4;
  const crcs = ids + n * 20;
  const offsets = crcs + n * 4;
  const largeTable = offsets + n * 4;
  let nextLarge = 0;
  sorted.forEach((e, i) => {
    e.oid!.copy(out, ids + i * 20);
    out.writeUInt32BE(crc32(pack.subarray(e.offset, e.end)), crcs + i * 4);
    if (e.offset < 0x80000000) out.writeUInt32BE(e.offset, offsets + i * 4);
    else {
      out.writeUInt32BE((0x80000000 | nextLarge) >>> 0, offsets + i * 4);
      out.writeBigUInt64BE(BigInt(e.offset), largeTable + nextLarge * 8);
      nextLarge++;
    }
  });
  const end = largeTable + large.length * 8;
  trailer.copy(out, end);
  createHash('sha1').update(out.subarray(0, end + 20)).digest().copy(out, end + 20);
  return out;
}
