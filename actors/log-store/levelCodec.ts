/**
 * How `LevelLogStore` lays out keys and values on disk. Every value ends with a CRC-32 of the bytes before it, so that
 * a flipped bit anywhere in a value is caught when it is read back, not served.
 *
 * The log is stored as runs: the entries of one `SaveLog` under one key, so that a batch of twenty entries costs
 * LevelDB one record instead of twenty (measured: 3.1 to 3.5 µs of CPU per entry of a 3 KB record, against 10.5 to
 * 17 µs as separate records). A run of one entry is stored as entries always were, so a store written before runs
 * reads back unchanged:
 * - one entry: key = its index as 8 bytes, big-endian; value = the entry (format 1);
 * - two or more: key = the first index then the last, 8 bytes each, big-endian; value = the run (format 2).
 * Either way the store's byte order is log order (runs never overlap, and a key that is a prefix sorts first).
 *
 * Entry value (format 1):
 *
 * ```
 * offset    size  field
 * 0         1     format (1)
 * 1         1     kind (0 = noop, 1 = command, 2 = config)
 * 2         8     index, big-endian (repeats the key: an entry stored under the wrong key is detected)
 * 10        8     term, big-endian
 * 18        4     n, the byte length of data
 * 22        n     data: the command exactly as encoded at proposal time, UTF-8 (never re-encoded)
 * 22+n      m     extras: the entry's other fields (proposal id, session tag) as JSON, or nothing (m = 0)
 * 22+n+m    4     CRC-32 (IEEE) of everything before it
 * ```
 *
 * Run value (format 2):
 *
 * ```
 * offset    size  field
 * 0         1     format (2)
 * 1         8     first index, big-endian (repeats the key)
 * 9         4     count, the number of entries (repeats the key)
 * 13        ...   each entry in index order: kind (1), term (8), n (4), data (n), m (4), extras (m)
 * end - 4   4     CRC-32 (IEEE) of everything before it
 * ```
 *
 * Small records (identity, hard state, membership, the current snapshot's meta) are JSON text followed by the same
 * 4-byte CRC-32.
 *
 * Snapshot chunk key (in the `snapshot` sublevel): `c`, then the snapshot's generation (8 bytes big-endian), then the
 * chunk number (8 bytes big-endian), so that one snapshot's chunks are adjacent and in order. Generations are never
 * reused: a chunk key names one chunk of one snapshot for good.
 * Snapshot chunk value: the chunk's bytes exactly as the node sent them, then a CRC-32 of the key followed by those
 * bytes (4 bytes): a flipped bit is caught, and so is a chunk stored under another chunk's key.
 */
import * as zlib from 'node:zlib';
import type { Entry, EntryKind } from '../../src/core/index.js';
import type { CorruptionReason } from './LogStore.js';

const FORMAT = 1;
const HEADER_BYTES = 22;
const CRC_BYTES = 4;
const TWO_TO_32 = 2 ** 32;

const crcTable = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/**
 * CRC-32 (IEEE 802.3, as zlib) of `bytes[start, end)`, continuing from `previous` (the CRC-32 of the bytes before
 * them; 0 to start). Uses node:zlib's native crc32 (about 1 GB/s) when this Node has it (20.15 and later).
 */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  // Nothing to add: zlib.crc32 answers 0 for some empty views (a zero-length ArrayBuffer has no backing store).
  if (end <= start) return previous >>> 0;
  // A namespace import: on a Node without zlib.crc32 the property is undefined instead of failing to link.
  if (typeof zlib.crc32 === 'function') return zlib.crc32(bytes.subarray(start, end), previous);
  let crc = previous ^ -1;
  for (let i = start; i < end; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** A value that failed to decode; the store turns it into a `StoreCorruptedError` naming the key. */
export class DecodeFailure extends Error {
  constructor(
    readonly reason: CorruptionReason,
    message: string,
  ) {
    super(message);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function writeUint64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUInt32BE(Math.floor(value / TWO_TO_32), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
}

function readUint64(buffer: Uint8Array, offset: number): number {
  const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return view.readUInt32BE(offset) * TWO_TO_32 + view.readUInt32BE(offset + 4);
}

const NO_PREFIX = new Uint8Array(0);

/**
 * The 8-byte big-endian key of entry `index`, after `prefix` when given (the entries sublevel's own, for a batch of
 * the database itself: the key the sublevel would write, built in one allocation).
 */
export function entryKey(index: number, prefix: Uint8Array = NO_PREFIX): Buffer {
  const key = Buffer.allocUnsafe(prefix.length + 8);
  key.set(prefix, 0);
  writeUint64(key, index, prefix.length);
  return key;
}

export function decodeEntryKey(key: Uint8Array): number {
  if (key.length !== 8) throw new DecodeFailure('UNDECODABLE', `an entry key must be 8 bytes, found ${key.length}`);
  return readUint64(key, 0);
}

/** The entries `first..last` a stored run holds. */
export interface RunBounds {
  readonly first: number;
  readonly last: number;
}

/** The key of the run `first..last`: an entry's key for a run of one, else both indexes. */
export function runKey(first: number, last: number, prefix: Uint8Array = NO_PREFIX): Buffer {
  if (first === last) return entryKey(first, prefix);
  const key = Buffer.allocUnsafe(prefix.length + 16);
  key.set(prefix, 0);
  writeUint64(key, first, prefix.length);
  writeUint64(key, last, prefix.length + 8);
  return key;
}

export function decodeRunKey(key: Uint8Array): RunBounds {
  if (key.length === 8) {
    const index = readUint64(key, 0);
    return { first: index, last: index };
  }
  if (key.length !== 16) throw new DecodeFailure('UNDECODABLE', `a log key must be 8 or 16 bytes, found ${key.length}`);
  const first = readUint64(key, 0);
  const last = readUint64(key, 8);
  if (last <= first) throw new DecodeFailure('UNDECODABLE', `a run key must name a later last index than its first, found ${first}..${last}`);
  return { first, last };
}

/** The fields every entry has; anything else an entry carries (id, session, ...) travels in the extras section. */
const CORE_FIELDS = new Set(['index', 'term', 'kind', 'data']);

function extrasOf(entry: Entry): string | null {
  let extras: Record<string, unknown> | null = null;
  // Keys, not entries: no [field, value] pair per field of every entry written.
  for (const field of Object.keys(entry)) {
    const value = (entry as unknown as Record<string, unknown>)[field];
    if (CORE_FIELDS.has(field) || value === undefined) continue;
    extras ??= {};
    extras[field] = value;
  }
  return extras === null ? null : JSON.stringify(extras);
}

/** A configuration entry must come back as one: read as a no-op, a restarted node would forget membership changes. */
const ENTRY_KINDS: readonly EntryKind[] = ['noop', 'command', 'config'];
const KIND_BYTE: Readonly<Record<EntryKind, number>> = { noop: 0, command: 1, config: 2 };

export function encodeEntry(entry: Entry): Buffer {
  const dataBytes = Buffer.byteLength(entry.data, 'utf8');
  const extras = extrasOf(entry);
  const extrasBytes = extras === null ? 0 : Buffer.byteLength(extras, 'utf8');
  const crcAt = HEADER_BYTES + dataBytes + extrasBytes;
  const value = Buffer.allocUnsafe(crcAt + CRC_BYTES);
  value[0] = FORMAT;
  value[1] = KIND_BYTE[entry.kind];
  writeUint64(value, entry.index, 2);
  writeUint64(value, entry.term, 10);
  value.writeUInt32BE(dataBytes, 18);
  value.write(entry.data, HEADER_BYTES, dataBytes, 'utf8');
  if (extras !== null) value.write(extras, HEADER_BYTES + dataBytes, extrasBytes, 'utf8');
  value.writeUInt32BE(crc32(value, 0, crcAt), crcAt);
  return value;
}

const RUN_FORMAT = 2;
const RUN_HEADER_BYTES = 13;
/** kind, term, n, then m after the data. */
const RUN_ENTRY_FIXED_BYTES = 17;

/** The value of a run of two or more consecutive entries (see the format above). */
export function encodeRun(entries: readonly Entry[]): Buffer {
  const dataBytes = entries.map((entry) => Buffer.byteLength(entry.data, 'utf8'));
  const extras = entries.map(extrasOf);
  let length = RUN_HEADER_BYTES + CRC_BYTES;
  for (let i = 0; i < entries.length; i++) length += RUN_ENTRY_FIXED_BYTES + dataBytes[i]! + (extras[i] === null ? 0 : Buffer.byteLength(extras[i]!, 'utf8'));
  const value = Buffer.allocUnsafe(length);
  value[0] = RUN_FORMAT;
  writeUint64(value, entries[0]!.index, 1);
  value.writeUInt32BE(entries.length, 9);
  let at = RUN_HEADER_BYTES;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    value[at] = KIND_BYTE[entry.kind];
    writeUint64(value, entry.term, at + 1);
    value.writeUInt32BE(dataBytes[i]!, at + 9);
    at += 13 + value.write(entry.data, at + 13, dataBytes[i]!, 'utf8');
    const extrasText = extras[i];
    const extrasBytes = extrasText === null ? 0 : value.write(extrasText!, at + 4, 'utf8');
    value.writeUInt32BE(extrasBytes, at);
    at += 4 + extrasBytes;
  }
  value.writeUInt32BE(crc32(value, 0, at), at);
  return value;
}

/** The entries of a run value (format 2), checksum verified; the caller checks them against the key. */
export function decodeRun(value: Uint8Array): Entry[] {
  if (value.length < RUN_HEADER_BYTES + CRC_BYTES) {
    throw new DecodeFailure('UNDECODABLE', `a run value must be at least ${RUN_HEADER_BYTES + CRC_BYTES} bytes, found ${value.length}`);
  }
  checkCrc(value);
  if (value[0] !== RUN_FORMAT) throw new DecodeFailure('UNDECODABLE', `unknown run format ${value[0]}`);
  const first = readUint64(value, 1);
  const count = readUint32(value, 9);
  const end = value.length - CRC_BYTES;
  const entries: Entry[] = [];
  let at = RUN_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + RUN_ENTRY_FIXED_BYTES > end) throw new DecodeFailure('UNDECODABLE', `the run ends within entry ${first + i}`);
    const kind = ENTRY_KINDS[value[at]!];
    if (kind === undefined) throw new DecodeFailure('UNDECODABLE', `unknown entry kind ${value[at]}`);
    const term = readUint64(value, at + 1);
    const dataEnd = at + 13 + readUint32(value, at + 9);
    if (dataEnd + 4 > end) throw new DecodeFailure('UNDECODABLE', `entry ${first + i}'s data overruns the run`);
    const extrasEnd = dataEnd + 4 + readUint32(value, dataEnd);
    if (extrasEnd > end) throw new DecodeFailure('UNDECODABLE', `entry ${first + i}'s extras overrun the run`);
    const data = decodeText(value, at + 13, dataEnd, 'entry data is not valid UTF-8');
    const extras = extrasEnd > dataEnd + 4 ? decodeExtras(value, dataEnd + 4, extrasEnd) : {};
    entries.push({ ...extras, index: first + i, term, kind, data });
    at = extrasEnd;
  }
  if (at !== end) throw new DecodeFailure('UNDECODABLE', `${end - at} bytes follow the run's ${count} entries`);
  return entries;
}

function decodeText(value: Uint8Array, start: number, end: number, failure: string): string {
  try {
    return utf8.decode(value.subarray(start, end));
  } catch {
    throw new DecodeFailure('UNDECODABLE', failure);
  }
}

/** An entry's extras: fields this codec wrote from an Entry (checksummed), restored as they were. */
function decodeExtras(value: Uint8Array, start: number, end: number): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeText(value, start, end, 'entry extras are not valid UTF-8'));
  } catch (error) {
    if (error instanceof DecodeFailure) throw error;
    throw new DecodeFailure('UNDECODABLE', 'entry extras are not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DecodeFailure('UNDECODABLE', 'entry extras are not a JSON object');
  }
  return parsed;
}

export function decodeEntry(value: Uint8Array): Entry {
  if (value.length < HEADER_BYTES + CRC_BYTES) {
    throw new DecodeFailure('UNDECODABLE', `an entry value must be at least ${HEADER_BYTES + CRC_BYTES} bytes, found ${value.length}`);
  }
  checkCrc(value);
  if (value[0] !== FORMAT) throw new DecodeFailure('UNDECODABLE', `unknown entry format ${value[0]}`);
  const kindByte = value[1];
  const kind = ENTRY_KINDS[kindByte!];
  if (kind === undefined) throw new DecodeFailure('UNDECODABLE', `unknown entry kind ${kindByte}`);
  const dataEnd = HEADER_BYTES + readUint32(value, 18);
  const crcAt = value.length - CRC_BYTES;
  if (dataEnd > crcAt) throw new DecodeFailure('UNDECODABLE', `entry data length ${dataEnd - HEADER_BYTES} overruns the value`);
  const data = decodeText(value, HEADER_BYTES, dataEnd, 'entry data is not valid UTF-8');
  const extras = dataEnd < crcAt ? decodeExtras(value, dataEnd, crcAt) : {};
  return { ...extras, index: readUint64(value, 2), term: readUint64(value, 10), kind, data };
}

function readUint32(value: Uint8Array, offset: number): number {
  return ((value[offset]! << 24) | (value[offset + 1]! << 16) | (value[offset + 2]! << 8) | value[offset + 3]!) >>> 0;
}

export function encodeRecord(record: object): Buffer {
  const json = JSON.stringify(record);
  const length = Buffer.byteLength(json, 'utf8');
  const value = Buffer.allocUnsafe(length + CRC_BYTES);
  value.write(json, 0, length, 'utf8');
  value.writeUInt32BE(crc32(value, 0, length), length);
  return value;
}

/** Decode a JSON record and check its shape with `accept`, which returns the typed record or null. */
export function decodeRecord<T>(value: Uint8Array, accept: (parsed: unknown) => T | null): T {
  if (value.length < CRC_BYTES) throw new DecodeFailure('UNDECODABLE', `a record must be at least ${CRC_BYTES} bytes`);
  checkCrc(value);
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(value.subarray(0, value.length - CRC_BYTES)));
  } catch {
    throw new DecodeFailure('UNDECODABLE', 'the record is not valid JSON');
  }
  const record = accept(parsed);
  if (record === null) throw new DecodeFailure('UNDECODABLE', 'the record does not have the expected fields');
  return record;
}

const CHUNK_KEY_TAG = 0x63; // 'c'
const CHUNK_KEY_BYTES = 17;

/** The key of chunk `chunk` of the snapshot of generation `generation`. */
export function snapshotChunkKey(generation: number, chunk: number): Buffer {
  const key = Buffer.allocUnsafe(CHUNK_KEY_BYTES);
  key[0] = CHUNK_KEY_TAG;
  writeUint64(key, generation, 1);
  writeUint64(key, chunk, 9);
  return key;
}

/** Bounds of every chunk key of generations `[from, to)` (to the last generation when `to` is omitted). */
export function snapshotChunkRange(fromGeneration: number, toGeneration?: number): { gte: Buffer; lt: Buffer } {
  const lt = toGeneration === undefined ? Buffer.from([CHUNK_KEY_TAG + 1]) : snapshotChunkKey(toGeneration, 0);
  return { gte: snapshotChunkKey(fromGeneration, 0), lt };
}

export function decodeSnapshotChunkKey(key: Uint8Array): { generation: number; chunk: number } {
  if (key.length !== CHUNK_KEY_BYTES || key[0] !== CHUNK_KEY_TAG) {
    throw new DecodeFailure('UNDECODABLE', `a snapshot chunk key must be 'c' and 16 bytes, found ${key.length} bytes`);
  }
  return { generation: readUint64(key, 1), chunk: readUint64(key, 9) };
}

/**
 * The stored value of a chunk: one copy of `data` with the checksum appended. (The copy is the price of keeping the
 * checksum in the same value; a chunk is at most a few MiB, so memory stays bounded by one chunk.)
 */
export function encodeSnapshotChunk(key: Uint8Array, data: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(data.length + CRC_BYTES);
  value.set(data, 0);
  value.writeUInt32BE(crc32(data, 0, data.length, crc32(key)), data.length);
  return value;
}

/** The chunk's bytes (a view into `value`, no copy) once the checksum over key and bytes matches. */
export function decodeSnapshotChunk(key: Uint8Array, value: Uint8Array): Uint8Array {
  if (value.length < CRC_BYTES) throw new DecodeFailure('UNDECODABLE', `a snapshot chunk value must be at least ${CRC_BYTES} bytes`);
  const end = value.length - CRC_BYTES;
  const stored = readUint32(value, end);
  const actual = crc32(value, 0, end, crc32(key));
  if (stored !== actual) {
    throw new DecodeFailure('CHECKSUM_MISMATCH', `checksum mismatch (stored ${hex32(stored)}, computed ${hex32(actual)})`);
  }
  return value.subarray(0, end);
}

function checkCrc(value: Uint8Array): void {
  const end = value.length - CRC_BYTES;
  const stored = readUint32(value, end);
  const actual = crc32(value, 0, end);
  if (stored !== actual) {
    throw new DecodeFailure('CHECKSUM_MISMATCH', `checksum mismatch (stored ${hex32(stored)}, computed ${hex32(actual)})`);
  }
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}
