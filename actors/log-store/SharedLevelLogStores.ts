/**
 * One LevelDB for every Raft group of a process (multi-Raft, docs/multiraft.md), with one fsync for all of them.
 *
 * Each group gets an ordinary `LevelLogStore` (same layout, same recovery, same conformance) on its own sublevel of
 * the shared database, named by the group id (base64url, so any id is a valid sublevel name): the group id is the
 * prefix of all its keys. Group commit across groups: a store writes its batch without syncing and then waits for
 * the shared sync, one small synced write that every store writing in the meantime shares; LevelDB's log is
 * sequential, so that one fsync makes every earlier batch of every group durable. A thousand groups writing in the
 * same turn cost one fsync, not a thousand.
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
import { LevelLogStore, type LevelDatabase, type SharedSync } from './LevelLogStore.js';
import { syncWrite, type Bytes } from './levelLayout.js';

export type SharedLevelLogStoresOptions = {
  /** The cluster the host belongs to; each group's store records `<clusterId>/<group>` as its cluster. */
  readonly clusterId: string;
  /** The host's id: the node id of its member in every group. */
  readonly nodeId: NodeId;
} & ({ readonly location: string; readonly db?: undefined } | { readonly db: LevelDatabase; readonly location?: undefined });

const SYNC_KEY = Buffer.from('sync');

export class SharedLevelLogStores implements SharedSync {
  readonly db: LevelDatabase;
  private readonly ownsDb: boolean;
  private readonly location: string | undefined;
  private readonly commits;
  /** Callers of `sync` waiting for the next synced write. */
  private waiting: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private syncing: Promise<void> | null = null;
  private syncs = 0;

  constructor(private readonly options: SharedLevelLogStoresOptions) {
    if (options.db !== undefined) {
      this.db = options.db;
      this.ownsDb = false;
    } else {
      this.db = new Level<string, string>(options.location);
      this.ownsDb = true;
    }
    this.location = options.location;
    this.commits = this.db.sublevel<Bytes, Bytes>('sync', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  }

  /** Synced writes so far (each one made every group's earlier writes durable). */
  get syncCount(): number {
    return this.syncs;
  }

  /** A store for group `group` on the shared database (a new one for each call: one per node incarnation). */
  store(group: GroupId, options: { readonly members?: readonly NodeId[] } = {}): LevelLogStore {
    if (!groupIdSchema.safeParse(group).success) throw new RangeError(`invalid group id ${JSON.stringify(group)}`);
    const name = `g${Buffer.from(group, 'utf8').toString('base64url')}`;
    const db = this.db.sublevel<string, string>(name, {}) as unknown as LevelDatabase;
    return new LevelLogStore({
      db,
      identity: { clusterId: `${this.options.clusterId}/${group}`, nodeId: this.options.nodeId, ...(options.members === undefined ? {} : { members: options.members }) },
      snapshotDirectory: this.location === undefined ? null : join(this.location, 'snapshots', name),
      sharedSync: this,
    });
  }

  /** Resolve once a synced write that began after this call is durable (see SharedSync). */
  sync(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.syncing ??= this.runSyncs();
    });
  }

  /** Close the database (when it was opened here), once every store is closed. */
  async close(): Promise<void> {
    while (this.syncing !== null) await this.syncing;
    if (this.ownsDb) await this.db.close();
  }

  /** One synced write per round, shared by every caller waiting when it starts; more rounds while callers arrive. */
  private async runSyncs(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        // Let the stores writing in this turn join the same round.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const round = this.waiting;
        this.waiting = [];
        try {
          await this.commits.batch([{ type: 'put', key: SYNC_KEY, value: Buffer.from(String(++this.syncs)) }], syncWrite);
          for (const waiter of round) waiter.resolve();
        } catch (error) {
          for (const waiter of round) waiter.reject(error);
        }
      }
    } finally {
      this.syncing = null;
    }
  }
}
