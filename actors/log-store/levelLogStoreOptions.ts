/**
 * How a `LevelLogStore` is set up (its identity, where its database and snapshot chunks live, a shared batch), and
 * what it reports (counters, durable batches).
 */
import type { NodeId } from '../../src/core/index.js';
import type { RawOperation } from './levelBatch.js';
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
   * Share one database write with other stores of the same database (many Raft groups in one process, see
   * SharedLevelLogStores.ts): the store hands its batch's operations, keyed as `sharedBatch.db` sees them, to
   * `sharedBatch.write`, which writes those of every store of the same turn as one synced batch. The store's
   * database must then be a sublevel of (or be) `sharedBatch.db`.
   */
  readonly sharedBatch?: SharedBatch;
} & (
  | {
      /** Directory of a classic-level (LevelDB) database, created when missing. The store opens and closes it. */
      readonly location: string;
      readonly db?: undefined;
      readonly sublevel?: undefined;
    }
  | {
      /** A database the caller owns (e.g. `new MemoryLevel()`); the store opens it if needed but never closes it. */
      readonly db: LevelDatabase;
      readonly location?: undefined;
      /**
       * Keep the store's keys where `db.sublevel(sublevel)` would, without making that sublevel (an object of a few
       * KiB: this is for many stores on one database). Letters, digits and `-_.` etc.: ASCII 35 to 126.
       */
      readonly sublevel?: string;
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

/** One database write for the batches of many stores (see `LevelLogStoreOptions.sharedBatch`). */
export interface SharedBatch {
  /** The database the batch is written to: the operations' keys are its keys (sublevel prefixes included). */
  readonly db: LevelDatabase;
  /**
   * Write `operations` atomically, in one batch with those of the other stores that write in the same turn. Resolves
   * once that batch is written (durable, when it was synced: it is whenever one of its stores asked for `sync`);
   * rejects, for every store in it, when it failed.
   */
  write(operations: readonly RawOperation[], sync: boolean): Promise<void>;
}

export interface LevelLogStoreObserver {
  batchWritten(batch: LevelBatchWritten): void;
}
