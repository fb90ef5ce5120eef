/**
 * The bytes of a `FileLogStore`'s log file: one append-only file of frames, each the records of one synced write.
 *
 *   frame:  [u32 body length][u32 CRC-32 of those 4 bytes][u32 CRC-32 of the body][body]
 *   body:   records, each [u8 kind][u32 length][bytes]
 *
 * Record kinds: `identity` (the first frame of every file: cluster, node and, on a new store, its voters), `save` (a
 * `SaveLog`'s hard state and truncation point), `run` (the entries of the `save` before it, in levelCodec's run
 * format), `snapshot` (the current snapshot: its meta, generation and chunk count). Lengths are big-endian, like the
 * rest of the stores' encodings. A frame is written with one `write` and made durable with one `fdatasync`, so a
 * crash can only tear the last frame, which was never acknowledged. On open such a frame is cut off: one whose intact
 * header promises more bytes than the file holds, or zeros where a header should be, or a frame that fails its
 * checksum with nothing but zeros after it and a whole disk sector of zeros inside it (a sector that never reached
 * the disk: etcd's WAL tells torn writes the same way). Anything else that fails a checksum is corruption, the last
 * frame included: it may hold acknowledged writes, and the store refuses to start rather than forget them. The length
 * has a checksum of its own so that a flipped bit in it reads as corruption, not as a frame cut short.
 */
import type { Entry, HardState } from '../../src/core/index.js';
import { StoreCorruptedError, type CorruptionReason } from './LogStore.js';
import { crc32, decodeRecord, decodeRun, DecodeFailure, encodeRecord, encodeRun } from './levelCodec.js';
import { acceptCurrentSnapshot, acceptHardState, acceptIdentity, type CurrentSnapshot } from './levelLayout.js';

export const FRAME_HEADER_BYTES = 12;
const RECORD_HEADER_BYTES = 5;
const KIND = { identity: 1, save: 2, run: 3, snapshot: 4 } as const;

/** What the file's first frame says the store belongs to. */
export interface FileIdentity {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly voters?: readonly string[];
}

/** One record of a frame, decoded. */
export type FileRecord =
  | { readonly kind: 'identity'; readonly identity: FileIdentity }
  | { readonly kind: 'save'; readonly hardState: HardState; readonly truncateFrom: number | null; readonly entries: readonly Entry[] }
  | { readonly kind: 'snapshot'; readonly snapshot: CurrentSnapshot };

/** Builds one frame from records, in order. */
export class FrameBuilder {
  private readonly parts: Buffer[] = [];
  private bytes = 0;

  get empty(): boolean {
    return this.parts.length === 0;
  }

  identity(identity: FileIdentity): this {
    return this.record(KIND.identity, encodeRecord(identity));
  }

  save(hardState: HardState, truncateFrom: number | null, entries: readonly Entry[]): this {
    this.record(KIND.save, encodeRecord({ hardState, truncateFrom }));
    return entries.length === 0 ? this : this.record(KIND.run, encodeRun(entries));
  }

  snapshot(snapshot: CurrentSnapshot): this {
    return this.record(KIND.snapshot, encodeRecord(snapshot));
  }

  /** The frame: header, then the records. */
  build(): Buffer {
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + this.bytes);
    let at = FRAME_HEADER_BYTES;
    for (const part of this.parts) at += part.copy(frame, at);
    frame.writeUInt32BE(this.bytes, 0);
    frame.writeUInt32BE(crc32(frame, 0, 4), 4);
    frame.writeUInt32BE(crc32(frame, FRAME_HEADER_BYTES), 8);
    return frame;
  }

  private record(kind: number, value: Buffer): this {
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    header[0] = kind;
    header.writeUInt32BE(value.length, 1);
    this.parts.push(header, value);
    this.bytes += RECORD_HEADER_BYTES + value.length;
    return this;
  }
}

/** The frames of a file's bytes: their records, and where the valid frames end (the rest is a torn tail). */
export function readFrames(bytes: Buffer, fileName: string): { readonly frames: FileRecord[][]; readonly validBytes: number } {
  const frames: FileRecord[][] = [];
  let at = 0;
  while (at < bytes.length) {
    const where = `${fileName}@${at}`;
    // A header cut short can only be the start of the last write.
    if (bytes.length - at < FRAME_HEADER_BYTES) break;
    const length = bytes.readUInt32BE(at);
    if (length === 0 || crc32(bytes, at, at + 4) !== bytes.readUInt32BE(at + 4)) {
      if (zeros(bytes, at, bytes.length)) break;
      throw corrupt('CHECKSUM_MISMATCH', where, `the frame header at byte ${at} fails its checksum`);
    }
    const end = at + FRAME_HEADER_BYTES + length;
    if (end > bytes.length) break;
    if (crc32(bytes, at + FRAME_HEADER_BYTES, end) !== bytes.readUInt32BE(at + 8)) {
      if (zeros(bytes, end, bytes.length) && holdsZeroSector(bytes, at + FRAME_HEADER_BYTES, end)) break;
      throw corrupt('CHECKSUM_MISMATCH', where, `the frame at byte ${at} (${length} bytes) fails its checksum`);
    }
    frames.push(decodeRecords(bytes.subarray(at + FRAME_HEADER_BYTES, end), where));
    at = end;
  }
  return { frames, validBytes: at };
}

function decodeRecords(body: Buffer, where: string): FileRecord[] {
  const records: FileRecord[] = [];
  let at = 0;
  try {
    while (at < body.length) {
      if (body.length - at < RECORD_HEADER_BYTES) throw new DecodeFailure('UNDECODABLE', 'a record header is cut short');
      const kind = body[at]!;
      const end = at + RECORD_HEADER_BYTES + body.readUInt32BE(at + 1);
      if (end > body.length) throw new DecodeFailure('UNDECODABLE', 'a record runs past its frame');
      const value = body.subarray(at + RECORD_HEADER_BYTES, end);
      if (kind === KIND.identity) records.push({ kind: 'identity', identity: decodeRecord(value, acceptFileIdentity) });
      else if (kind === KIND.snapshot) records.push({ kind: 'snapshot', snapshot: decodeRecord(value, acceptCurrentSnapshot) });
      else if (kind === KIND.save) records.push({ kind: 'save', ...decodeRecord(value, acceptSave), entries: [] });
      else if (kind === KIND.run) {
        const save = records.at(-1);
        if (save?.kind !== 'save' || save.entries.length > 0) throw new DecodeFailure('UNDECODABLE', 'a run that follows no save record');
        records[records.length - 1] = { ...save, entries: decodeRun(value) };
      } else throw new DecodeFailure('UNDECODABLE', `unknown record kind ${kind}`);
      at = end;
    }
  } catch (error) {
    if (error instanceof DecodeFailure) throw corrupt(error.reason, where, `${where}: ${error.message}`);
    throw error;
  }
  return records;
}

function acceptSave(value: unknown): { hardState: HardState; truncateFrom: number | null } | null {
  if (typeof value !== 'object' || value === null) return null;
  const { hardState, truncateFrom } = value as Record<string, unknown>;
  const state = acceptHardState(hardState);
  if (state === null || !(truncateFrom === null || (typeof truncateFrom === 'number' && Number.isSafeInteger(truncateFrom) && truncateFrom >= 1))) return null;
  return { hardState: state, truncateFrom };
}

function acceptFileIdentity(value: unknown): FileIdentity | null {
  const identity = acceptIdentity(value);
  if (identity === null) return null;
  const voters = (value as { voters?: unknown }).voters;
  if (voters === undefined) return identity;
  return Array.isArray(voters) && voters.every((voter) => typeof voter === 'string') ? { ...identity, voters } : null;
}

function zeros(bytes: Buffer, from: number, to: number): boolean {
  for (let at = from; at < to; at++) if (bytes[at] !== 0) return false;
  return true;
}

const SECTOR_BYTES = 512;
/** A piece this short may be zeros by chance (a big-endian number's high bytes): it proves no torn sector. */
const MIN_ZERO_PIECE = 16;

/** Whether some piece of `[from, to)` cut at the disk's sector boundaries (file offsets) is all zeros. */
function holdsZeroSector(bytes: Buffer, from: number, to: number): boolean {
  for (let start = from; start < to; ) {
    const end = Math.min(to, (Math.floor(start / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    if (end - start >= MIN_ZERO_PIECE && zeros(bytes, start, end)) return true;
    start = end;
  }
  return false;
}

export function corrupt(reason: CorruptionReason, key: string, message: string, index?: number): StoreCorruptedError {
  return new StoreCorruptedError({ code: 'STORE_CORRUPTED', reason, key, message, ...(index === undefined ? {} : { index }) });
}
