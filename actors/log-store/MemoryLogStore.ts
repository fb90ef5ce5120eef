/**
 * A log store in memory that models durability honestly: a write becomes durable only when the store syncs, and
 * `crash()` loses every write that was not synced yet, as a power cut would. The durable state outlives the node that
 * used it, so a test can restart a node on the same store.
 */
import type { Entry, HardState, RecoveredState } from '../../src/core/index.js';
import { LogStore, applySaveLog, type Load, type SaveLog } from './LogStore.js';

export interface MemoryLogStoreOptions {
  /**
   * Sync on its own, once per turn of the event loop, acknowledging every write queued since (group commit).
   * When false, nothing is durable until `sync()` is called. Default true.
   */
  readonly autoSync?: boolean;
}

export class MemoryLogStore extends LogStore {
  private hardState: HardState = { term: 0, votedFor: null, commit: 0 };
  private readonly entries: Entry[] = [];
  private pending: SaveLog[] = [];
  private syncScheduled = false;
  private readonly autoSync: boolean;

  constructor(options: MemoryLogStoreOptions = {}) {
    super();
    this.autoSync = options.autoSync ?? true;
  }

  /** The durable state, as a restarted node would load it. */
  durableState(): RecoveredState {
    return { hardState: this.hardState, entries: [...this.entries] };
  }

  /** Writes sent but not yet durable. */
  get unsyncedWrites(): number {
    return this.pending.length;
  }

  /** Make every queued write durable and acknowledge the last one. */
  sync(): void {
    this.syncScheduled = false;
    const writes = this.pending;
    if (writes.length === 0) return;
    this.pending = [];
    for (const write of writes) {
      applySaveLog(this.entries, write);
      this.hardState = write.hardState;
    }
    this.saved(writes[writes.length - 1]!.writeId);
  }

  /** Lose every write that was not synced, as a crash would. */
  crash(): void {
    this.pending = [];
    this.syncScheduled = false;
  }

  protected onLoad(_message: Load): void {
    this.loaded(this.durableState());
  }

  protected onSaveLog(message: SaveLog): void {
    this.pending.push(message);
    if (this.autoSync && !this.syncScheduled) {
      this.syncScheduled = true;
      setImmediate(() => {
        if (this.syncScheduled) this.sync();
      });
    }
  }

  protected override onStop(): void {
    // A graceful stop flushes what was written; `crash()` is the way to lose it.
    this.sync();
  }
}
