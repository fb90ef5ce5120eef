/**
 * The log store actor: durable home of a node's hard state (term, vote, commit) and log.
 *
 * The contract every implementation honours (`logStoreConformance` from `xraft/testing` checks it):
 *
 * - **`Load`** is the first message a node sends. It answers `Loaded` with exactly the state of the last durable write:
 *   every write acknowledged by a `LogSaved` is there, and no write appears partially. The recovered log is contiguous from index 1 (until snapshots exist), and `hardState.commit` never exceeds its
 *   last index.
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
 * - Replies after the node detached the store are dropped (see `Actor.reply`); a graceful stop still lets writes that
 *   were already sent become durable.
 */
import { Actor } from '../../src/actor.js';
import type { Entry, HardState, RecoveredState } from '../../src/core/index.js';
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
}
export type LogStoreMessage = Load | SaveLog;

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
export type LogStoreReply = Loaded | LogSaved | StoreFailed;

export abstract class LogStore extends Actor<LogStoreMessage, LogStoreReply> {
  receive(message: LogStoreMessage): void {
    switch (message.type) {
      case 'Load':
        return this.onLoad(message);
      case 'SaveLog':
        return this.onSaveLog(message);
    }
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
