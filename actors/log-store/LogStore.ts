/**
 * The log store actor: durable home of a node's hard state (term, vote, commit) and log.
 *
 * The contract every implementation honours (the conformance suite checks it):
 * - `Load` answers `Loaded` with exactly the state of the last durable write: no write that was never reported
 *   durable may appear partially.
 * - `SaveLog` is one atomic write: truncate the log from `truncateFrom` (when set), append `entries`, replace the hard
 *   state. Writes take effect in the order they were sent.
 * - `LogSaved { writeId }` is sent only once that write **and every earlier one** is durable (fsync'd for a disk
 *   store). One `LogSaved` may acknowledge many writes; the node counts nothing as durable before it arrives, and
 *   never sends a vote or an append acknowledgement that depends on a write before then.
 * - A failure is reported as `StoreFailed` with a typed cause; the node then stops rather than risk serving state it
 *   could not make durable.
 */
import { Actor } from '../../src/actor.js';
import type { Entry, HardState, RecoveredState } from '../../src/core/index.js';

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
export type StoreFailureCause =
  | { readonly code: 'IO_ERROR'; readonly message: string }
  | { readonly code: 'STORE_CORRUPTED'; readonly message: string; readonly key?: string; readonly index?: number };
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
