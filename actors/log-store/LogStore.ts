/**
 * The log store actor: durable home of a node's hard state (term, vote, commit) and log.
 *
 * The contract every implementation honours (`logStoreConformance` from `xraft/testing` checks it):
 *
 * - **`Load`** is the first message a node sends. It answers `Loaded` with exactly the state of the last durable write:
 *   every write acknowledged by a `LogSaved` is there, and no write appears partially. The recovered log is contiguous
 *   from index 1, or from just after the current snapshot's index, and `hardState.commit` never exceeds its last
 *   index (or the snapshot's).
 * - **`SaveLog`** is one atomic write: truncate the log from `truncateFrom` (when set: every entry with
 *   `index >= truncateFrom` goes), append `entries`, replace the hard state. After a crash either all of it is there
 *   or none of it (and then no later write either). `entries` continue the log: the first has index
 *   `truncateFrom ?? lastIndex + 1` and they are consecutive. `data` is stored and returned byte for byte: it is the
 *   command as encoded once at proposal time and is never re-encoded. Writes take effect in the order they were sent.
 * - **`LogSaved { writeId }`** is sent only once that write **and every earlier one** is durable (fsync'd for a disk
 *   store; a crash of the process or the machine cannot lose it). One `LogSaved` may acknowledge many writes (group
 *   commit); acknowledgements never go backwards. The node counts nothing as durable before it arrives, and never
 *   sends a vote or an append acknowledgement that depends on a write before then.
 * - **Failures** are reported as `StoreFailed` with a typed `cause` (`StoreFailureCause`), never thrown at the node and
 *   never acknowledged: `IO_ERROR` (the medium refused a read or write), `STORE_CORRUPTED` (what is stored is not
 *   what was written: a checksum mismatch, an undecodable value, a gap in the indexes, or a store that belongs to a
 *   different cluster or node; it names the key and, for an entry, the index), `INVALID_WRITE` (the node asked for
 *   something the contract forbids, such as entries that do not continue the log). After a failure the store
 *   acknowledges nothing more; the node stops rather than serve state it could not make durable or read back.
 * - **Snapshots** (paper section 7). A store keeps at most one *current* snapshot, and at most one *pending* one
 *   being written. `WriteSnapshotChunk` with `chunk: 0` starts a new pending snapshot (discarding any earlier pending
 *   one); chunks arrive in order; each is acknowledged with `SnapshotChunkStored` once written (a chunk before the
 *   last may be acknowledged before it is durable: it only counts once the last chunk's durable write makes the
 *   snapshot current, and that write makes every earlier one durable too). The chunk with
 *   `done: true` atomically makes the pending snapshot current (replacing the old one) together with its `meta`;
 *   until then a crash leaves the old snapshot intact and the pending one is forgotten. Snapshot writes are ordered
 *   with `SaveLog` writes (one queue). Once a snapshot at index I is current, `Load` answers it as `state.snapshot`
 *   and returns only the entries after I; the log may then continue at I + 1 even if it ended before I (a follower
 *   that installed a leader's snapshot), so a `SaveLog` may start at `truncateFrom ?? max(lastIndex, I) + 1`.
 *   `ReadSnapshotChunk` answers `SnapshotChunkLoaded` with chunk `chunk` of the current snapshot (`meta: null` when
 *   there is none or the chunk does not exist). `CompactLog` allows the store to delete entries up to `through` (a
 *   snapshot covers them); it is never acknowledged. Every snapshot message carries a `ref` that its answer echoes.
 * - Replies after the node detached the store are dropped (see `Actor.reply`); a graceful stop still lets writes that
 *   were already sent become durable.
 */
import { Actor } from '../../src/actor.js';
import type { Entry, HardState, RecoveredState, SnapshotMeta } from '../../src/core/index.js';
import { XraftError } from '../../src/errors.js';

export interface Load {
  readonly type: 'Load';
}
export interface SaveLog {
  readonly type: 'SaveLog';
  readonly writeId: number;
  readonly hardState: HardState;
  readonly truncateFrom: number | null;
  readonly entries: readonly Entry[];
  /**
   * A leader's append of its own new entries, already sent to its followers (their acknowledgements can commit them
   * without this write): a store may make it durable off its thread. It is acknowledged only once durable, all the
   * same, and in order with every other write.
   */
  readonly background?: boolean;
}
export interface WriteSnapshotChunk {
  readonly type: 'WriteSnapshotChunk';
  readonly ref: string;
  readonly meta: SnapshotMeta;
  readonly chunk: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}
export interface ReadSnapshotChunk {
  readonly type: 'ReadSnapshotChunk';
  readonly ref: string;
  readonly chunk: number;
}
export interface CompactLog {
  readonly type: 'CompactLog';
  readonly through: number;
}
export type LogStoreMessage = Load | SaveLog | WriteSnapshotChunk | ReadSnapshotChunk | CompactLog;

export interface Loaded {
  readonly type: 'Loaded';
  readonly state: RecoveredState;
}
export interface LogSaved {
  readonly type: 'LogSaved';
  /** Every write up to and including this one is durable. */
  readonly writeId: number;
}
/** Why a store found its contents untrustworthy. */
export type CorruptionReason =
  /** The stored checksum does not match the stored bytes. */
  | 'CHECKSUM_MISMATCH'
  /** A value or key that cannot be decoded at all (wrong length, unknown format, invalid UTF-8, bad JSON). */
  | 'UNDECODABLE'
  /** An entry index is missing between the first entry and the last one. */
  | 'INDEX_GAP'
  /** An entry stored under one index says it is another. */
  | 'MISPLACED_ENTRY'
  /** The hard state's commit index is beyond the end of the stored log. */
  | 'COMMIT_BEYOND_LOG'
  /** The store was created for another cluster or another node (or has log data but no identity). */
  | 'IDENTITY_MISMATCH';

export type StoreFailureCause =
  | { readonly code: 'IO_ERROR'; readonly message: string }
  | {
      readonly code: 'STORE_CORRUPTED';
      readonly reason: CorruptionReason;
      readonly message: string;
      /** The stored key that failed, in the store's own notation (for LevelLogStore: `sublevel/key`). */
      readonly key: string;
      /** The log index concerned, when the failure is about an entry. */
      readonly index?: number;
    }
  | { readonly code: 'INVALID_WRITE'; readonly message: string };
export interface StoreFailed {
  readonly type: 'StoreFailed';
  readonly cause: StoreFailureCause;
}
export interface SnapshotChunkStored {
  readonly type: 'SnapshotChunkStored';
  readonly ref: string;
  readonly meta: SnapshotMeta;
  readonly chunk: number;
  readonly done: boolean;
}
export interface SnapshotChunkLoaded {
  readonly type: 'SnapshotChunkLoaded';
  readonly ref: string;
  /** The current snapshot's meta, or null when there is no snapshot or no such chunk. */
  readonly meta: SnapshotMeta | null;
  readonly chunk: number;
  readonly data: Uint8Array;
  /** This is the snapshot's last chunk. */
  readonly done: boolean;
}
export type LogStoreReply = Loaded | LogSaved | StoreFailed | SnapshotChunkStored | SnapshotChunkLoaded;

export abstract class LogStore extends Actor<LogStoreMessage, LogStoreReply> {
  receive(message: LogStoreMessage): void {
    switch (message.type) {
      case 'Load':
        return this.onLoad(message);
      case 'SaveLog':
        return this.onSaveLog(message);
      case 'WriteSnapshotChunk':
        return this.onWriteSnapshotChunk(message);
      case 'ReadSnapshotChunk':
        return this.onReadSnapshotChunk(message);
      case 'CompactLog':
        return this.onCompactLog(message);
    }
  }

  /** Store one chunk of a pending snapshot (in order with SaveLog writes); answer `chunkStored` once durable. */
  protected abstract onWriteSnapshotChunk(message: WriteSnapshotChunk): void;

  /** Answer `chunkLoaded` with a chunk of the current snapshot. */
  protected abstract onReadSnapshotChunk(message: ReadSnapshotChunk): void;

  /** Delete entries up to `through` when convenient. The default keeps them (always correct, never compact). */
  protected onCompactLog(_message: CompactLog): void {}

  protected chunkStored(message: WriteSnapshotChunk): void {
    this.reply({ type: 'SnapshotChunkStored', ref: message.ref, meta: message.meta, chunk: message.chunk, done: message.done });
  }

  protected chunkLoaded(ref: string, meta: SnapshotMeta | null, chunk: number, data: Uint8Array, done: boolean): void {
    this.reply({ type: 'SnapshotChunkLoaded', ref, meta, chunk, data, done });
  }

  /** Read back the durable state and answer `loaded(state)` (or `failed`). */
  protected abstract onLoad(message: Load): void;

  /** Perform one atomic write and, once it is durable, answer `saved(writeId)`. */
  protected abstract onSaveLog(message: SaveLog): void;

  protected loaded(state: RecoveredState): void {
    this.reply({ type: 'Loaded', state });
  }

  protected saved(writeId: number): void {
    this.reply({ type: 'LogSaved', writeId });
  }

  protected failed(cause: StoreFailureCause): void {
    this.reply({ type: 'StoreFailed', cause });
  }
}

/**
 * Where the first entry of a `SaveLog` goes, in a log whose last written entry is `lastIndex` under a snapshot at
 * `snapshotIndex`: right after both (a log that ended before the snapshot, a follower's that installed the leader's,
 * continues after it), or, with a truncation, at `truncateFrom`, unless that lies beyond where the log ends.
 */
export function nextAppendIndex(lastIndex: number, snapshotIndex: number, truncateFrom: number | null): number {
  if (truncateFrom === null) return Math.max(lastIndex, snapshotIndex) + 1;
  return Math.min(truncateFrom, Math.max(Math.min(lastIndex, truncateFrom - 1), snapshotIndex) + 1);
}

/** Apply one `SaveLog` to an in-memory log (shared by stores that keep a copy of the log in memory). */
export function applySaveLog(entries: Entry[], write: SaveLog): void {
  if (write.truncateFrom !== null) {
    const keep = entries.findIndex((entry) => entry.index >= write.truncateFrom!);
    if (keep !== -1) entries.length = keep;
  }
  entries.push(...write.entries);
}

/**
 * A store's contents cannot be trusted: thrown by stores that open eagerly (e.g. `LevelLogStore.open()`), and carried
 * as the `STORE_CORRUPTED` cause of `StoreFailed` when the node loads. The node refuses to start rather than serve it.
 */
export class StoreCorruptedError extends XraftError {
  readonly code = 'STORE_CORRUPTED';
  readonly reason: CorruptionReason;
  readonly key: string;
  readonly index: number | undefined;
  constructor(cause: Extract<StoreFailureCause, { code: 'STORE_CORRUPTED' }>) {
    super(cause.message);
    this.name = 'StoreCorruptedError';
    this.reason = cause.reason;
    this.key = cause.key;
    this.index = cause.index;
  }

  /** The cause to report in `StoreFailed`. */
  toCause(): Extract<StoreFailureCause, { code: 'STORE_CORRUPTED' }> {
    const base = { code: 'STORE_CORRUPTED' as const, reason: this.reason, message: this.message, key: this.key };
    return this.index === undefined ? base : { ...base, index: this.index };
  }
}
