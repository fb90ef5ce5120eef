/**
 * One LevelDB for every Raft group of a process (multi-Raft, docs/multiraft.md), with one write for all of them.
 *
 * Each group gets an ordinary `LevelLogStore` (same layout, same recovery, same conformance) on its own sublevel of
 * the shared database, named by the group id (base64url, so any id is a valid sublevel name): the group id is the
 * prefix of all its keys. Group commit across groups: a store hands its batch's operations to the shared batch
 * (sharedLevelBatch.ts), which writes those of every store writing in the same turn as one synced LevelDB batch.
 * A thousand groups writing in the same turn cost one write and one fsync, not a thousand.
 *
 * Snapshot chunks go to `<location>/snapshots/<group>/` (files, like a single store's), or into the database when it
 * was given as `db`.
 *
 * @example
 * const stores = new SharedLevelLogStores({ location: './data/n1', clusterId: 'kv', nodeId: 'n1' });
 * host.createGroup('shard-1', { members, commandSchema, stateMachine, logStore: stores.store('shard-1') });
 * // ... after host.close():
 * await stores.close();
 */
import { join } from 'node:path';
import { Level } from 'level';
import { groupIdSchema, type GroupId } from '../../src/groupId.js';
import type { NodeId } from '../../src/core/index.js';
import { LevelLogStore, type LevelDatabase } from './LevelLogStore.js';
import { SharedLevelBatch } from './sharedLevelBatch.js';

export type SharedLevelLogStoresOptions = {
  /** The cluster the host belongs to; each group's store records `<clusterId>/<group>` as its cluster. */
  readonly clusterId: string;
  /** The host's id: the node id of its member in every group. */
  readonly nodeId: NodeId;
} & ({ readonly location: string; readonly db?: undefined } | { readonly db: LevelDatabase; readonly location?: undefined });

export class SharedLevelLogStores {
  readonly db: LevelDatabase;
  private readonly ownsDb: boolean;
  private readonly location: string | undefined;
  /** The one write per turn that carries every store's batch. */
  private readonly batch: SharedLevelBatch;

  constructor(private readonly options: SharedLevelLogStoresOptions) {
    if (options.db !== undefined) {
      this.db = options.db;
      this.ownsDb = false;
    } else {
      this.db = new Level<string, string>(options.location);
      this.ownsDb = true;
    }
    this.location = options.location;
    this.batch = new SharedLevelBatch(this.db);
  }

  /** Synced batches written so far (each one made the writes of every group in it durable). */
  get syncCount(): number {
    return this.batch.syncCount;
  }

  /** Batches written so far, synced or not: one per turn in which stores wrote, however many. */
  get writeCount(): number {
    return this.batch.writeCount;
  }

  /** A store for group `group` on the shared database (a new one for each call: one per node incarnation). */
  store(group: GroupId, options: { readonly members?: readonly NodeId[] } = {}): LevelLogStore {
    if (!groupIdSchema.safeParse(group).success) throw new RangeError(`invalid group id ${JSON.stringify(group)}`);
    const name = `g${Buffer.from(group, 'utf8').toString('base64url')}`;
    return new LevelLogStore({
      db: this.db,
      sublevel: name,
      identity: { clusterId: `${this.options.clusterId}/${group}`, nodeId: this.options.nodeId, ...(options.members === undefined ? {} : { members: options.members }) },
      snapshotDirectory: this.location === undefined ? null : join(this.location, 'snapshots', name),
      sharedBatch: this.batch,
    });
  }

  /** Close the database (when it was opened here), once every store is closed. */
  async close(): Promise<void> {
    await this.batch.idle();
    if (this.ownsDb) await this.db.close();
  }
}
