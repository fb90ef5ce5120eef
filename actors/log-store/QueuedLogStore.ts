/**
 * What the two disk stores (`LevelLogStore`, `FileLogStore`) share: they open on first use, take writes into a queue
 * of their own, read snapshot chunks once open, and fail for good on the first error. This class maps the node's
 * messages onto those steps; a subclass says how to open, queue, read a chunk and close.
 */
import type { RecoveredState } from '../../src/core/index.js';
import { InvalidWrite, type Write } from './levelGroupCommit.js';
import { LogStore, StoreCorruptedError, type CompactLog, type Load, type ReadSnapshotChunk, type SaveLog, type StoreFailureCause, type WriteSnapshotChunk } from './LogStore.js';

export abstract class QueuedLogStore extends LogStore {
  /** Set on the first failure: the store acknowledges nothing after it. */
  protected failure: StoreFailureCause | null = null;

  /**
   * Open the storage (once), check (or, on a new store, record) the identity, and read back the durable state.
   * Rejects with `StoreCorruptedError` when the contents cannot be trusted, or with the storage's own error.
   */
  abstract open(): Promise<RecoveredState>;
  /** Make the writes already sent durable, then release the storage. Idempotent. */
  abstract close(): Promise<void>;
  /** Settles once the storage is open. */
  protected abstract ensureOpen(): Promise<void>;
  /** Queue a write, in the order sent. Not called once the store has failed. */
  protected abstract enqueue(write: Write): void;
  /** Answer `message` with a chunk of the current snapshot; what it throws fails the store. */
  protected abstract readChunk(message: ReadSnapshotChunk): Promise<void>;
  /** Forget what is queued: the first failure ends the store's writing. */
  protected abstract dropQueued(): void;

  protected onLoad(_message: Load): void {
    this.open().then(
      (state) => this.loaded(state),
      (error: unknown) => this.fail(error),
    );
  }

  protected onSaveLog(message: SaveLog): void {
    if (this.failure === null) this.enqueue(message);
  }

  protected onWriteSnapshotChunk(message: WriteSnapshotChunk): void {
    if (this.failure === null) this.enqueue(message);
  }

  protected override onCompactLog(message: CompactLog): void {
    if (this.failure === null) this.enqueue(message);
  }

  protected onReadSnapshotChunk(message: ReadSnapshotChunk): void {
    if (this.failure !== null) return;
    this.ensureOpen()
      .then(() => this.readChunk(message))
      .catch((error: unknown) => this.fail(error));
  }

  protected override onStop(): Promise<void> {
    // Writes already sent still become durable; their acknowledgements are dropped with the node that asked. The
    // node's stop() waits for the close and reports it if it fails.
    return this.close();
  }

  /** The first failure, reported once: corruption and refused writes by their codes, anything else as IO_ERROR. */
  protected fail(error: unknown): void {
    if (this.failure !== null) return;
    this.failure = toCause(error);
    this.dropQueued();
    this.failed(this.failure);
  }
}

function toCause(error: unknown): StoreFailureCause {
  if (error instanceof StoreCorruptedError) return error.toCause();
  if (error instanceof InvalidWrite) return { code: 'INVALID_WRITE', message: error.message };
  return { code: 'IO_ERROR', message: error instanceof Error ? error.message : String(error) };
}
