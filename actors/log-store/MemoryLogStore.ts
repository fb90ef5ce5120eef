/**
 * A log store in memory that models durability honestly: a write becomes durable only when the store syncs, and
 * `crash()` loses every write that was not synced yet, as a power cut would. The durable state outlives the node that
 * used it, so a test can restart a node on the same store.
 */
import type { Entry, HardState, RecoveredState, SnapshotMeta } from '../../src/core/index.js';
import { LogStore, applySaveLog, type CompactLog, type Load, type ReadSnapshotChunk, type SaveLog, type WriteSnapshotChunk } from './LogStore.js';

export interface MemoryLogStoreOptions {
  /**
   * Sync on its own, once per turn of the event loop, acknowledging every write queued since (group commit).
   * When false, nothing is durable until `sync()` is called. Default true.
   */
  readonly autoSync?: boolean;
}

interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly chunks: Uint8Array[];
}

export class MemoryLogStore extends LogStore {
  private hardState: HardState = { term: 0, votedFor: null, commit: 0 };
  private entries: Entry[] = [];
  private snapshot: StoredSnapshot | null = null;
  /** A snapshot being written: durable chunks so far. */
  private pendingSnapshot: StoredSnapshot | null = null;
  private pending: (SaveLog | WriteSnapshotChunk)[] = [];
  private syncScheduled = false;
  private readonly autoSync: boolean;
  /** After a failure the store acknowledges nothing more (the contract). */
  private broken = false;

  constructor(options: MemoryLogStoreOptions = {}) {
    super();
    this.autoSync = options.autoSync ?? true;
  }

  /** The durable state, as a restarted node would load it. */
  durableState(): RecoveredState {
    const after = this.snapshot?.meta.index ?? 0;
    return { hardState: this.hardState, snapshot: this.snapshot?.meta ?? null, entries: this.entries.filter((entry) => entry.index > after) };
  }

  /** Writes sent but not yet durable. */
  get unsyncedWrites(): number {
    return this.pending.length;
  }

  /** Make every queued write durable and acknowledge it. */
  sync(): void {
    this.syncScheduled = false;
    if (this.broken) return;
    const writes = this.pending;
    if (writes.length === 0) return;
    this.pending = [];
    for (const write of writes) {
      if (write.type === 'SaveLog') {
        applySaveLog(this.entries, write);
        this.hardState = write.hardState;
      } else {
        this.storeChunk(write);
        if (this.broken) return;
      }
    }
    // Acknowledge in write order (one queue): one LogSaved per run of SaveLogs, then the chunk that follows it.
    let unacknowledged: number | null = null;
    for (const write of writes) {
      if (write.type === 'SaveLog') {
        unacknowledged = write.writeId;
      } else {
        if (unacknowledged !== null) this.saved(unacknowledged);
        unacknowledged = null;
        this.chunkStored(write);
      }
    }
    if (unacknowledged !== null) this.saved(unacknowledged);
  }

  /** Lose every write that was not synced, and any snapshot not completely written, as a crash would. */
  crash(): void {
    this.pending = [];
    this.pendingSnapshot = null;
    this.syncScheduled = false;
  }

  protected onLoad(_message: Load): void {
    this.pendingSnapshot = null;
    this.loaded(this.durableState());
  }

  protected onSaveLog(message: SaveLog): void {
    this.enqueue(message);
  }

  protected onWriteSnapshotChunk(message: WriteSnapshotChunk): void {
    this.enqueue(message);
  }

  protected onReadSnapshotChunk(message: ReadSnapshotChunk): void {
    const data = this.snapshot?.chunks[message.chunk];
    if (this.snapshot === null || data === undefined) {
      this.chunkLoaded(message.ref, null, message.chunk, new Uint8Array(0), true);
      return;
    }
    this.chunkLoaded(message.ref, this.snapshot.meta, message.chunk, data, message.chunk === this.snapshot.chunks.length - 1);
  }

  protected override onCompactLog(message: CompactLog): void {
    // Entries are in index order (with a gap where an installed snapshot skipped ahead): cut at the first one kept.
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.entries[middle]!.index <= message.through) low = middle + 1;
      else high = middle;
    }
    if (low > 0) this.entries = this.entries.slice(low);
  }

  protected override onStop(): void {
    // A graceful stop flushes what was written; `crash()` is the way to lose it.
    this.sync();
  }

  private enqueue(write: SaveLog | WriteSnapshotChunk): void {
    this.pending.push(write);
    if (this.autoSync && !this.syncScheduled) {
      this.syncScheduled = true;
      setImmediate(() => {
        if (this.syncScheduled) this.sync();
      });
    }
  }

  private storeChunk(write: WriteSnapshotChunk): void {
    if (write.chunk === 0) this.pendingSnapshot = { meta: write.meta, chunks: [] };
    const pending = this.pendingSnapshot;
    if (pending === null || pending.meta.index !== write.meta.index || pending.chunks.length !== write.chunk) {
      this.broken = true;
      this.pending = [];
      this.failed({ code: 'INVALID_WRITE', message: `snapshot chunk ${write.chunk} out of order` });
      return;
    }
    // Copy: the sender may reuse its buffer.
    pending.chunks.push(write.data.slice());
    if (write.done) {
      this.snapshot = pending;
      this.pendingSnapshot = null;
    }
  }
}
