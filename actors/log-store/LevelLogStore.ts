/**
 * A durable log store on an abstract-level database: classic-level (LevelDB) on disk by default, any other
 * abstract-level implementation (memory-level in tests) when given one.
 *
 * Layout, one sublevel per concern, all written together in one atomic batch:
 * - `meta/identity`: `{ clusterId, nodeId }`, written on first open. A directory of another cluster or node is refused.
 * - `hard/state`: the hard state `{ term, votedFor, commit }`.
 * - `membership/voters`: the voters the store was created with (`identity.members`), for membership changes to come.
 * - `snapshot/meta`: the current snapshot: its `SnapshotMeta`, its generation and its number of chunks.
 * - the chunks of a snapshot, one per `WriteSnapshotChunk` exactly as it came, with a CRC-32 over chunk key and bytes:
 *   on disk, in one file per generation beside the database (`<location>/snapshots/<generation>.chunks`, see
 *   snapshotChunkFiles.ts: LevelDB would memory-map a large snapshot's bytes into the process); in a database given
 *   as `db`, as values `snapshot/c<generation><chunk>` (generation and chunk number 8 bytes big-endian each).
 * - `entries/<first><last>`: the entries of one `SaveLog` as one run, under its first and last index (8 bytes
 *   big-endian each, so that key order is log order); a run of one entry under its index alone, as entries were
 *   stored before runs. One record per write instead of one per entry: LevelDB's cost is per record.
 * Every value carries a CRC-32; an entry holds the command text exactly as encoded at proposal time (see
 * `levelCodec.ts`).
 *
 * Group commit: the first write is performed at once; every write (`SaveLog`, `WriteSnapshotChunk`, `CompactLog`)
 * that arrives while a batch is being written joins the next batch, in arrival order. Each batch is one synced
 * batch (or, for a store of `SharedLevelLogStores`, part of the one synced batch that carries every store writing in
 * the same turn: levelBatch.ts), so one fsync makes a whole group durable; acknowledgements then go out in write
 * order (one `LogSaved` for a run of consecutive `SaveLog`s, one `SnapshotChunkStored` per chunk): durable throughput
 * grows with load instead of being capped by the disk's fsync rate, and an acknowledgement always implies every
 * earlier write is durable.
 * `CompactLog` only moves the log's first index in its batch; the runs it drops are deleted once that batch is
 * durable, as one range `clear` on LevelDB's thread, so that thousands of deletes never hold up the writes after it.
 * A run the compaction falls inside is kept whole, and a truncation inside a run writes its earlier entries back under
 * their new key (levelRunIndex.ts).
 *
 * Snapshots, two generations and a pointer: a pending snapshot writes its chunks under a fresh generation number
 * (never reused), so they never touch the current snapshot's chunks. The batch holding the `done` chunk also rewrites
 * `snapshot/meta` to point at the new generation (its file synced first) and drops the old generation's chunks (its
 * keys in the same batch, or its file once the batch is durable): one atomic pointer swap, so after a crash the store
 * has either the old snapshot whole or the new one whole. Nothing is copied or renamed, so memory stays bounded by one
 * chunk however large the snapshot. Chunks of any other generation found on open are a pending snapshot that a crash
 * interrupted (or a dropped one whose file outlived the swap); they are deleted.
 * Chunks are verified when read (`ReadSnapshotChunk`), not on open: checking a GiB snapshot on every start would read
 * the whole of it; the meta record is verified on open.
 *
 * Where each part lives: levelLayout.ts (sublevels, keys, records), levelCodec.ts (bytes and checksums),
 * levelGroupCommit.ts (a group of writes as one batch, and the order of acknowledgements), levelRecovery.ts (the checks
 * on open and on `Load`), snapshotChunkStorage.ts and snapshotChunkFiles.ts (where snapshot chunks are kept).
 *
 * No tail cache: the Raft core keeps the whole log in memory (`RaftLog`) and serves replication from it, so the store
 * only writes on the hot path and reads once, on `Load` (and a run back when a truncation cuts it). Only the runs'
 * bounds are kept here, to know which keys a truncation or a compaction touches.
 *
 * @example
 * const store = new LevelLogStore({ location: './data/n1', identity: { clusterId: 'kv', nodeId: 'n1' } });
 * await store.open(); // optional: fail early with StoreCorruptedError, before creating the node
 * const node = createRaftNode({ id: 'n1', members, logStore: store, ... });
 * // ... later
 * await node.stop();
 * await store.close(); // release the directory's lock before reopening it
 */
import { join } from 'node:path';
import { Level } from 'level'; // the Level ecosystem's entry point: classic-level on Node
import type { NodeId, RecoveredState } from '../../src/core/index.js';
import { StoreCorruptedError, type ReadSnapshotChunk } from './LogStore.js';
import { acknowledgeInOrder, prepareGroup, type LogPosition, type Write } from './levelGroupCommit.js';
import { ChainedGroupBatch, SharedGroupBatch, storeKeys, type GroupBatch, type StoreKeys } from './levelBatch.js';
import type { LevelDatabase, StoreSublevels } from './levelLayout.js';
import { KeySpace } from './levelKeySpace.js';
import { entryKey, type RunBounds } from './levelCodec.js';
import { corruption, readDurableState, readRun, readStoredMembers, recoverLayout } from './levelRecovery.js';
import { RunIndex } from './levelRunIndex.js';
import type { LevelBatchWritten, LevelLogStoreObserver, LevelLogStoreOptions, LevelLogStoreStats, SharedBatch, StoreIdentity } from './levelLogStoreOptions.js';
import { FileChunks } from './snapshotChunkFiles.js';
import { DatabaseChunks, type SnapshotChunkStorage } from './snapshotChunkStorage.js';
import { QueuedLogStore } from './QueuedLogStore.js';

export type { LevelDatabase } from './levelLayout.js';

export type * from './levelLogStoreOptions.js';

const EMPTY = new Uint8Array(0);

export class LevelLogStore extends QueuedLogStore {
  readonly identity: StoreIdentity;
  /** The classic-level directory, when the store opened the database itself. */
  readonly location: string | undefined;
  /** The database the store writes to. */
  readonly db: LevelDatabase;
  private readonly ownsDb: boolean;
  /** The root of `db` (`db` itself unless it is a sublevel): the store reads and writes through it. */
  private readonly root: LevelDatabase;
  private readonly sublevels: StoreSublevels;
  /** The store's keys as bytes of the database its batches go to: its own, or the shared one (levelBatch.ts). */
  private readonly keys: StoreKeys;
  /** Where the snapshots' bytes live (the meta record that names the current one is always in `snapshot`). */
  private readonly chunks: SnapshotChunkStorage;

  /** Settles once the database is open and its identity checked; null when closed. */
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** The log and snapshots as of the last durable batch (the last index: as written). Known after opening. */
  private position: LogPosition = { lastIndex: 0, firstIndex: 1, current: null, pending: null, nextGeneration: 1 };
  /** The runs the log is stored as (levelRunIndex.ts); ahead of `position` by the group being written. */
  private runs = new RunIndex();
  /** Batches that replace the current snapshot, started and finished: a read that races one may miss its chunk. */
  private swapsStarted = 0;
  private swapsFinished = 0;
  /** Writes waiting for the next batch. */
  private queue: Write[] = [];
  /** The batch loop, while it runs. */
  private flushing: Promise<void> | null = null;
  /** Compacted entries being deleted in the background (see `clearCompacted`); close waits for it. */
  private clearing: Promise<void> = Promise.resolve();
  private counters = { writes: 0, batches: 0, entries: 0, snapshotChunks: 0, compacted: 0 };
  private readonly observer: LevelLogStoreObserver | undefined;
  private readonly sharedBatch: SharedBatch | undefined;

  constructor(options: LevelLogStoreOptions) {
    super();
    this.identity = options.identity;
    this.observer = options.observer;
    this.sharedBatch = options.sharedBatch;
    if (options.db !== undefined) {
      this.db = options.db;
      this.ownsDb = false;
      this.location = undefined;
    } else {
      this.db = new Level<string, string>(options.location);
      this.ownsDb = true;
      this.location = options.location;
    }
    const space = options.sublevel === undefined ? KeySpace.of(this.db) : KeySpace.of(this.db).within(options.sublevel);
    this.root = space.db;
    this.sublevels = {
      meta: space.within('meta'),
      hard: space.within('hard'),
      membership: space.within('membership'),
      snapshot: space.within('snapshot'),
      entries: space.within('entries'),
    };
    this.keys = storeKeys(this.sublevels, this.sharedBatch?.db ?? this.root);
    const snapshotDirectory = options.snapshotDirectory === undefined ? (options.location === undefined ? null : join(options.location, 'snapshots')) : options.snapshotDirectory;
    this.chunks = snapshotDirectory === null ? new DatabaseChunks(this.sublevels.snapshot, this.keys.snapshot) : new FileChunks(snapshotDirectory);
  }

  get stats(): LevelLogStoreStats {
    return { ...this.counters };
  }

  /**
   * Open the database, check (or, on a fresh database, record) the identity, and read back the durable state.
   * Rejects with `StoreCorruptedError` when the contents cannot be trusted, or with the database's error.
   */
  async open(): Promise<RecoveredState> {
    await this.ensureOpen();
    return this.readState();
  }

  /** Wait for writes already sent to become durable, then close the database if the store opened it. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    const closing = (async () => {
      while (this.flushing !== null) await this.flushing;
      await this.clearing;
      const opening = this.opening;
      this.opening = null;
      if (opening !== null) await opening.catch(() => undefined);
      await this.chunks.close();
      if (opening !== null && this.ownsDb) await this.db.close();
    })();
    this.closing = closing.finally(() => {
      this.closing = null;
    });
    return this.closing;
  }

  protected enqueue(write: Write): void {
    this.queue.push(write);
    if (this.flushing === null) this.flushing = this.flush();
  }

  /** Answer chunk `message.chunk` of the current snapshot, checksum verified; one chunk in memory at a time. */
  protected async readChunk(message: ReadSnapshotChunk): Promise<void> {
    const current = this.position.current;
    const { ref, chunk } = message;
    if (current === null || !Number.isSafeInteger(chunk) || chunk < 0 || chunk >= current.chunks) {
      this.chunkLoaded(ref, null, chunk, EMPTY, true);
      return;
    }
    const quiet = this.swapsStarted === this.swapsFinished;
    const swaps = this.swapsStarted;
    const keyName = this.chunks.nameOf(current.generation, chunk);
    const opening = this.opening;
    const read = await this.chunks.read(current.generation, chunk).catch((error: unknown) => {
      if (this.opening !== opening) return null;
      throw corruption(error, keyName, undefined, `snapshot chunk ${chunk} (${keyName})`);
    });
    // Closed meanwhile (the node stopped): nobody waits for the answer, and a read cut short is no corruption.
    if (this.failure !== null || read === null || this.opening !== opening) return;
    if (!read.found) {
      // A snapshot that replaced this one deleted the chunk meanwhile: as if asked after the swap, there is no such
      // chunk of the snapshot the reader knows. Without a swap, a chunk the meta record promises is missing.
      if (!quiet || this.swapsStarted !== swaps) return this.chunkLoaded(ref, null, chunk, EMPTY, true);
      throw new StoreCorruptedError({
        code: 'STORE_CORRUPTED',
        reason: 'INDEX_GAP',
        key: keyName,
        message: `chunk ${chunk} of the current snapshot (generation ${current.generation}, ${current.chunks} chunks) is missing (${keyName})`,
      });
    }
    this.chunkLoaded(ref, current.meta, chunk, read.data, chunk === current.chunks - 1);
  }

  /** Write queued groups, one synced batch per group, until the queue is empty. */
  private async flush(): Promise<void> {
    try {
      await this.ensureOpen();
      while (this.queue.length > 0 && this.failure === null) {
        const group = this.queue;
        this.queue = [];
        await this.writeGroup(group);
        acknowledgeInOrder(group, (writeId) => this.saved(writeId), (write) => this.chunkStored(write));
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.flushing = null;
    }
  }

  /**
   * Write `group` as one batch (see levelGroupCommit.ts): its own, or its part of the shared batch of the turn
   * (levelBatch.ts); once it is durable, move the position on.
   */
  private async writeGroup(group: readonly Write[]): Promise<void> {
    const batch: GroupBatch = this.sharedBatch === undefined ? new ChainedGroupBatch(this.root) : new SharedGroupBatch(this.sharedBatch);
    const context = { keys: this.keys, storage: this.chunks, runs: this.runs, readRun: (run: RunBounds) => readRun(this.sublevels.entries, run) };
    const prepared = await prepareGroup(batch, context, this.position, group).catch(async (error: unknown) => {
      await batch.discard();
      throw error;
    });
    const { next, needsSync, swaps, compaction, counts } = prepared;
    if (swaps) this.swapsStarted++;
    const started = this.observer === undefined ? 0 : performance.now();
    try {
      await batch.write(needsSync);
      if (this.observer !== undefined) this.batchWritten(group, counts, needsSync, performance.now() - started);
      this.position = next;
      // Only now drop what the batch replaced: a read that finds the old generation gone, and asks again, must find
      // the new one current, not the old one still named.
      await this.chunks.written();
    } finally {
      if (swaps) this.swapsFinished++;
    }
    if (compaction !== null) this.clearCompacted(compaction.keptFrom);
    this.counters.writes += counts.writes;
    this.counters.batches += 1;
    this.counters.entries += counts.entries;
    this.counters.snapshotChunks += counts.snapshotChunks;
    this.counters.compacted += counts.compacted;
  }

  /**
   * Delete the runs before the one starting at `keptFrom`, which a durable batch compacted, on LevelDB's own thread
   * and off the write path: writes go on meanwhile. A crash before it finishes leaves runs at or below the
   * snapshot's index, which Load skips and the next compaction (from the first key found on open) deletes.
   */
  private clearCompacted(keptFrom: number): void {
    this.clearing = this.clearing
      .then(() => this.sublevels.entries.clear({ lt: entryKey(keptFrom) }))
      .catch((error: unknown) => this.fail(error));
  }

  private batchWritten(group: readonly Write[], counts: { writes: number; entries: number; snapshotChunks: number }, synced: boolean, durationMs: number): void {
    let snapshotBytes = 0;
    if (counts.snapshotChunks > 0) for (const write of group) if (write.type === 'WriteSnapshotChunk') snapshotBytes += write.data.byteLength;
    try {
      this.observer!.batchWritten({ entries: counts.entries, writes: counts.writes, snapshotChunks: counts.snapshotChunks, snapshotBytes, synced, durationMs });
    } catch {
      // An observer's failure is its own; the store goes on.
    }
  }

  protected ensureOpen(): Promise<void> {
    this.opening ??= this.openAndRecover();
    return this.opening;
  }

  private async openAndRecover(): Promise<void> {
    if (this.closing !== null) await this.closing;
    if (this.db.status !== 'open') await this.db.open();
    const { lastIndex, firstIndex, current, runs } = await recoverLayout(this.root, this.sublevels, this.chunks, this.identity);
    this.runs = runs;
    this.position = { lastIndex, firstIndex, current, pending: null, nextGeneration: (current?.generation ?? 0) + 1 };
  }

  /** The voters recorded when the store was created, or null when none were given. */
  async storedMembers(): Promise<readonly NodeId[] | null> {
    await this.ensureOpen();
    return readStoredMembers(this.sublevels);
  }

  private readState(): Promise<RecoveredState> {
    return readDurableState(this.sublevels, this.position.current);
  }

  protected dropQueued(): void {
    this.queue = [];
  }
}
