/**
 * How a `LevelLogStore` is set up (its identity, where its database and snapshot chunks live, a shared fsync), and
 * what it reports (counters, durable batches).
 */
import type { NodeId } from '../../src/core/index.js';
import type { LevelDatabase } from './levelLayout.js';

/** Who a data directory belongs to. Stored on first open; a later open with a different identity is refused. */
export interface StoreIdentity {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** The voters the cluster was bootstrapped with, kept in the `membership` sublevel. */
  readonly members?: readonly NodeId[];
}

export type LevelLogStoreOptions = {
  readonly identity: StoreIdentity;
  /**
   * Where snapshot chunks are kept: a directory of files (`<generation>.chunks`), or null for values inside the
   * database. Default: `<location>/snapshots` for a store on disk, null for a database given as `db`. Reopen a store
   * with the same setting: chunks kept one way are not found the other way.
   */
  readonly snapshotDirectory?: string | null;
  /** Told about each durable batch (metrics: fsync latency, batch sizes); never on the write's critical path. */
  readonly observer?: LevelLogStoreObserver;
  /**
   * Share one fsync with other stores of the same database (many Raft groups in one process, see
   * SharedLevelLogStores.ts): the store writes its batch without syncing, then waits for `sharedSync.sync()`, one
   * synced write that makes every earlier write of the database durable (LevelDB's log is sequential).
   */
  readonly sharedSync?: SharedSync;
} & (
  | {
      /** Directory of a classic-level (LevelDB) database, created when missing. The store opens and closes it. */
      readonly location: string;
      readonly db?: undefined;
    }
  | {
      /** A database the caller owns (e.g. `new MemoryLevel()`); the store opens it if needed but never closes it. */
      readonly db: LevelDatabase;
      readonly location?: undefined;
    }
);

/** Counters for tests and benchmarks. */
export interface LevelLogStoreStats {
  /** `SaveLog` messages written. */
  readonly writes: number;
  /** Synced batches that carried them (group commit: at most `writes`). */
  readonly batches: number;
  /** Entries appended. */
  readonly entries: number;
  /** Snapshot chunks written. */
  readonly snapshotChunks: number;
  /** Entries deleted by `CompactLog`. */
  readonly compacted: number;
}

/** One durable batch, as the store wrote it (see `LevelLogStoreOptions.observer`). */
export interface LevelBatchWritten {
  /** Entries appended by the batch's `SaveLog`s. */
  readonly entries: number;
  /** `SaveLog` messages in the batch (group commit: many writes, one batch). */
  readonly writes: number;
  readonly snapshotChunks: number;
  /** Bytes of snapshot chunks in the batch. */
  readonly snapshotBytes: number;
  /** Whether the batch was synced (an fsync). */
  readonly synced: boolean;
  /** Time `batch.write` took, in ms: with `synced`, the fsync latency. */
  readonly durationMs: number;
}

/** One synced write for many stores: resolves once a synced write begun after the call is durable. */
export interface SharedSync {
  sync(): Promise<void>;
}

export interface LevelLogStoreObserver {
  batchWritten(batch: LevelBatchWritten): void;
}
