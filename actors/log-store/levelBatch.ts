/**
 * The batch a group of writes becomes (levelGroupCommit.ts), and the keys it writes.
 *
 * Every operation carries its key as raw bytes of the database the batch is written to, the prefixes of the store's
 * sublevels included (`StoreKeys`): the same bytes the sublevels would write, without abstract-level's per-operation
 * sublevel handling, which cost about as much again as the rest of a put (measured 8.8 against 4.8 µs per entry of a
 * 32-entry batch). A store's keys are therefore the same bytes whichever way its batch goes:
 * - alone (`ChainedGroupBatch`): a chained batch on the store's database (its root, when it was given a sublevel),
 *   which the store writes and syncs;
 * - shared (`SharedGroupBatch`): a list of operations handed to a `SharedBatch` (SharedLevelLogStores), which writes
 *   the lists of every store of the same turn as one batch of the database the stores are sublevels of: one native
 *   call and one fsync for all of them, instead of one batch per group.
 */
import type { AbstractChainedBatch } from 'abstract-level';
import type { SharedBatch } from './levelLogStoreOptions.js';
import {
  HARD_STATE_KEY,
  SNAPSHOT_META_KEY,
  syncWrite,
  unsyncedWrite,
  type Bytes,
  type LevelDatabase,
  type StoreSublevels,
} from './levelLayout.js';

/** One operation, its key as bytes of the database that writes it. */
export type RawOperation = { readonly type: 'put'; readonly key: Bytes; readonly value: Bytes } | { readonly type: 'del'; readonly key: Bytes };

/** Where a group's operations go until the group is written. */
export interface GroupBatch {
  put(key: Bytes, value: Bytes): void;
  del(key: Bytes): void;
  /** Write the operations as one atomic batch; durable once it resolves when `sync`. */
  write(sync: boolean): Promise<void>;
  /** Drop the operations unwritten (a group refused as `InvalidWrite`). */
  discard(): Promise<void>;
}

/** A store's keys as bytes of the database its batches are written to (its own, or the shared one). */
export interface StoreKeys {
  /** Before every entry key (see `entryKey`). */
  readonly entries: Bytes;
  readonly hardState: Bytes;
  readonly snapshotMeta: Bytes;
  /** Before every snapshot chunk key, for chunks kept in the database. */
  readonly snapshot: Bytes;
}

/** Encodings of operations whose keys and values are bytes as they are. */
export const RAW_KEYS = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const;

export function storeKeys(sublevels: StoreSublevels, target: LevelDatabase): StoreKeys {
  return {
    entries: sublevels.entries.prefixWithin(target),
    hardState: Buffer.concat([sublevels.hard.prefixWithin(target), HARD_STATE_KEY]),
    snapshotMeta: Buffer.concat([sublevels.snapshot.prefixWithin(target), SNAPSHOT_META_KEY]),
    snapshot: sublevels.snapshot.prefixWithin(target),
  };
}

/** A store alone: a chained batch on its database, each operation handed to LevelDB as it is added. */
export class ChainedGroupBatch implements GroupBatch {
  private readonly batch: AbstractChainedBatch<LevelDatabase, string | Buffer | Uint8Array, string>;

  constructor(db: LevelDatabase) {
    this.batch = db.batch();
  }

  put(key: Bytes, value: Bytes): void {
    this.batch.put<Bytes, Bytes>(key, value, RAW_KEYS);
  }

  del(key: Bytes): void {
    this.batch.del<Bytes>(key, RAW_KEYS);
  }

  write(sync: boolean): Promise<void> {
    return this.batch.write(sync ? syncWrite : unsyncedWrite);
  }

  discard(): Promise<void> {
    return this.batch.close();
  }
}

/** A store sharing its database: operations collected here, written with those of other stores by `shared`. */
export class SharedGroupBatch implements GroupBatch {
  private operations: RawOperation[] = [];

  constructor(private readonly shared: SharedBatch) {}

  put(key: Bytes, value: Bytes): void {
    this.operations.push({ type: 'put', key, value });
  }

  del(key: Bytes): void {
    this.operations.push({ type: 'del', key });
  }

  write(sync: boolean): Promise<void> {
    // Nothing to write (a group of CompactLogs alone): nothing to wait for, as for an empty chained batch.
    return this.operations.length === 0 ? Promise.resolve() : this.shared.write(this.operations, sync);
  }

  async discard(): Promise<void> {
    this.operations = [];
  }
}
