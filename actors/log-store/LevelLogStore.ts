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
 * - `entries/<index>`: one entry per key, the index as 8 bytes big-endian so that key order is log order.
 * Every value carries a CRC-32; the entry value holds the command text exactly as encoded at proposal time (see
 * `levelCodec.ts`).
 *
 * Group commit: the first write is performed at once; every write (`SaveLog`, `WriteSnapshotChunk`, `CompactLog`)
 * that arrives while a batch is being written joins the next batch, in arrival order. Each batch is one synced
 * batch, so one fsync makes a whole group durable; acknowledgements then go out in write order (one `LogSaved` for a
 * run of consecutive `SaveLog`s, one `SnapshotChunkStored` per chunk): durable throughput grows with load instead of
 * being capped by the disk's fsync rate, and an acknowledgement always implies every earlier write is durable.
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
 * No tail cache: the Raft core keeps the whole log in memory (`RaftLog`) and serves replication from it, so the store
 * only writes on the hot path and reads once, on `Load`. Only the last index is kept here, to know which keys a
 * truncation deletes.
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
import { ClassicLevel } from 'classic-level';
import type { AbstractBatchOperation, AbstractBatchOptions, AbstractLevel, AbstractSublevel } from 'abstract-level';
import type { Entry, HardState, NodeId, RecoveredState, SnapshotMeta } from '../../src/core/index.js';
import {
  LogStore,
  StoreCorruptedError,
  type CompactLog,
  type Load,
  type ReadSnapshotChunk,
  type SaveLog,
  type StoreFailureCause,
  type WriteSnapshotChunk,
} from './LogStore.js';
import { DecodeFailure, decodeEntry, decodeEntryKey, decodeRecord, encodeEntry, encodeRecord, entryKey } from './levelCodec.js';
import { FileChunks } from './snapshotChunkFiles.js';
import { DatabaseChunks, type SnapshotChunkStorage } from './snapshotChunkStorage.js';

/** Who a data directory belongs to. Stored on first open; a later open with a different identity is refused. */
export interface StoreIdentity {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** The voters the cluster was bootstrapped with, kept in the `membership` sublevel. */
  readonly members?: readonly NodeId[];
}

/** Any abstract-level database whose keys and values the store may write as bytes. */
export type LevelDatabase = AbstractLevel<string | Buffer | Uint8Array, string, string>;

export type LevelLogStoreOptions = {
  readonly identity: StoreIdentity;
  /**
   * Where snapshot chunks are kept: a directory of files (`<generation>.chunks`), or null for values inside the
   * database. Default: `<location>/snapshots` for a store on disk, null for a database given as `db`. Reopen a store
   * with the same setting: chunks kept one way are not found the other way.
   */
  readonly snapshotDirectory?: string | null;
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

/** The current snapshot, as `snapshot/meta` records it. Invariant: chunks `0 .. chunks - 1` of `generation` exist. */
interface CurrentSnapshot {
  readonly meta: SnapshotMeta;
  readonly generation: number;
  readonly chunks: number;
}

/** A snapshot being written (in memory only: a restart forgets it). Invariant: chunks `0 .. nextChunk - 1` exist. */
interface PendingSnapshot {
  readonly meta: SnapshotMeta;
  readonly generation: number;
  readonly nextChunk: number;
}

type Write = SaveLog | WriteSnapshotChunk | CompactLog;

type Bytes = Buffer;
type Sublevel = AbstractSublevel<LevelDatabase, string | Buffer | Uint8Array, Bytes, Bytes>;
type BatchOperation = AbstractBatchOperation<LevelDatabase, Bytes, Bytes>;

const IDENTITY_KEY = Buffer.from('identity');
const HARD_STATE_KEY = Buffer.from('state');
const VOTERS_KEY = Buffer.from('voters');
const SNAPSHOT_META_KEY = Buffer.from('meta');
const EMPTY = new Uint8Array(0);
const ZERO_HARD_STATE: HardState = { term: 0, votedFor: null, commit: 0 };

export class LevelLogStore extends LogStore {
  readonly identity: StoreIdentity;
  /** The classic-level directory, when the store opened the database itself. */
  readonly location: string | undefined;
  /** The database the store writes to. */
  readonly db: LevelDatabase;
  private readonly ownsDb: boolean;
  private readonly meta: Sublevel;
  private readonly hard: Sublevel;
  private readonly membership: Sublevel;
  private readonly snapshot: Sublevel;
  private readonly entries: Sublevel;
  /** Where the snapshots' bytes live (the meta record that names the current one is always in `snapshot`). */
  private readonly chunks: SnapshotChunkStorage;

  /** Settles once the database is open and its identity checked; null when closed. */
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Last index of the log as written (durable once the batch in flight completes). Known after opening. */
  private lastIndex = 0;
  /** Invariant: no entry is stored below this index (compaction and the first key on open move it up). */
  private firstIndex = 1;
  /** The current snapshot as last made durable. Known after opening. */
  private current: CurrentSnapshot | null = null;
  /** The snapshot being written, as of the last durable batch. */
  private pendingSnapshot: PendingSnapshot | null = null;
  /** The generation the next pending snapshot writes its chunks under. */
  private nextGeneration = 1;
  /** Batches that replace the current snapshot, started and finished: a read that races one may miss its chunk. */
  private swapsStarted = 0;
  private swapsFinished = 0;
  /** Writes waiting for the next batch. */
  private queue: Write[] = [];
  /** The batch loop, while it runs. */
  private flushing: Promise<void> | null = null;
  /** Set on the first failure: the store acknowledges nothing after it. */
  private failure: StoreFailureCause | null = null;
  private counters = { writes: 0, batches: 0, entries: 0, snapshotChunks: 0, compacted: 0 };

  constructor(options: LevelLogStoreOptions) {
    super();
    this.identity = options.identity;
    if (options.db !== undefined) {
      this.db = options.db;
      this.ownsDb = false;
      this.location = undefined;
    } else {
      this.db = new ClassicLevel<string, string>(options.location);
      this.ownsDb = true;
      this.location = options.location;
    }
    const sublevel = (name: string): Sublevel =>
      this.db.sublevel<Bytes, Bytes>(name, { keyEncoding: 'buffer', valueEncoding: 'buffer' }) as unknown as Sublevel;
    this.meta = sublevel('meta');
    this.hard = sublevel('hard');
    this.membership = sublevel('membership');
    this.snapshot = sublevel('snapshot');
    this.entries = sublevel('entries');
    const snapshotDirectory = options.snapshotDirectory === undefined ? (options.location === undefined ? null : join(options.location, 'snapshots')) : options.snapshotDirectory;
    this.chunks = snapshotDirectory === null ? new DatabaseChunks(this.snapshot) : new FileChunks(snapshotDirectory);
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

  protected onLoad(_message: Load): void {
    this.open().then(
      (state) => this.loaded(state),
      (error: unknown) => this.fail(error),
    );
  }

  protected onSaveLog(message: SaveLog): void {
    this.enqueue(message);
  }

  protected onWriteSnapshotChunk(message: WriteSnapshotChunk): void {
    this.enqueue(message);
  }

  protected override onCompactLog(message: CompactLog): void {
    this.enqueue(message);
  }

  protected onReadSnapshotChunk(message: ReadSnapshotChunk): void {
    if (this.failure !== null) return;
    this.ensureOpen()
      .then(() => this.readChunk(message))
      .catch((error: unknown) => this.fail(error));
  }

  private enqueue(write: Write): void {
    if (this.failure !== null) return;
    this.queue.push(write);
    if (this.flushing === null) this.flushing = this.flush();
  }

  /** Answer chunk `message.chunk` of the current snapshot, checksum verified; one chunk in memory at a time. */
  private async readChunk(message: ReadSnapshotChunk): Promise<void> {
    const current = this.current;
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

  protected override onStop(): Promise<void> {
    // Writes already sent still become durable; their acknowledgements are dropped with the node that asked. The
    // node's stop() waits for the close and reports it if it fails.
    return this.close();
  }

  /** Write queued groups, one synced batch per group, until the queue is empty. */
  private async flush(): Promise<void> {
    try {
      await this.ensureOpen();
      while (this.queue.length > 0 && this.failure === null) {
        const group = this.queue;
        this.queue = [];
        await this.writeGroup(group);
        this.acknowledge(group);
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.flushing = null;
    }
  }

  /** Acknowledge a durable group in write order: one `LogSaved` per run of `SaveLog`s, one reply per chunk. */
  private acknowledge(group: readonly Write[]): void {
    let unacknowledged: number | null = null;
    for (const write of group) {
      if (write.type === 'SaveLog') {
        unacknowledged = write.writeId;
      } else if (write.type === 'WriteSnapshotChunk') {
        if (unacknowledged !== null) this.saved(unacknowledged);
        unacknowledged = null;
        this.chunkStored(write);
      }
    }
    if (unacknowledged !== null) this.saved(unacknowledged);
  }

  private async writeGroup(group: readonly Write[]): Promise<void> {
    // A chained batch: measured about a third cheaper per entry than batch(array) with per-operation sublevels.
    const batch = this.db.batch();
    // What the batch changes, applied to the fields only once it is durable.
    let { lastIndex, firstIndex, current, nextGeneration } = this;
    let pending = this.pendingSnapshot;
    let hardState: HardState | null = null;
    let appended = 0;
    let saveLogs = 0;
    let chunks = 0;
    let compacted = 0;
    let swaps = false;
    try {
      for (const write of group) {
        switch (write.type) {
          case 'SaveLog': {
            const snapshotIndex = current?.meta.index ?? 0;
            // A log that ended before the snapshot (a follower that installed the leader's) continues right after it.
            let next = Math.max(lastIndex, snapshotIndex) + 1;
            if (write.truncateFrom !== null) {
              if (write.truncateFrom < 1) throw new InvalidWrite(`write ${write.writeId} truncates from ${write.truncateFrom}`);
              for (let index = Math.max(write.truncateFrom, firstIndex); index <= lastIndex; index++) {
                batch.del<Bytes>(entryKey(index), { sublevel: this.entries });
              }
              lastIndex = Math.min(lastIndex, write.truncateFrom - 1);
              next = Math.min(write.truncateFrom, Math.max(lastIndex, snapshotIndex) + 1);
            }
            for (const entry of write.entries) {
              if (entry.index !== next) {
                throw new InvalidWrite(`write ${write.writeId} appends entry ${entry.index} where entry ${next} belongs`);
              }
              batch.put<Bytes, Bytes>(entryKey(entry.index), encodeEntry(entry), { sublevel: this.entries });
              lastIndex = entry.index;
              next++;
            }
            appended += write.entries.length;
            hardState = write.hardState;
            saveLogs++;
            break;
          }
          case 'WriteSnapshotChunk': {
            checkChunk(write);
            if (write.chunk === 0) {
              // A new snapshot discards the pending one: its chunks are dropped with this batch.
              if (pending !== null) this.chunks.drop(batch, pending.generation, pending.nextChunk);
              pending = { meta: write.meta, generation: nextGeneration++, nextChunk: 0 };
            } else if (pending === null || pending.nextChunk !== write.chunk || !sameSnapshot(pending.meta, write.meta)) {
              const expected = pending === null ? 'no snapshot is being written' : `expected chunk ${pending.nextChunk} of the snapshot at index ${pending.meta.index}`;
              throw new InvalidWrite(`snapshot chunk ${write.chunk} at index ${write.meta.index} does not continue the pending snapshot: ${expected}`);
            }
            await this.chunks.stage(batch, pending.generation, write.chunk, write.data);
            pending = { ...pending, nextChunk: write.chunk + 1 };
            chunks++;
            if (write.done) {
              // The swap: point the meta record at the new generation and drop the old one's chunks, atomically.
              await this.chunks.seal(pending.generation);
              const made: CurrentSnapshot = { meta: pending.meta, generation: pending.generation, chunks: pending.nextChunk };
              batch.put<Bytes, Bytes>(SNAPSHOT_META_KEY, encodeRecord(made), { sublevel: this.snapshot });
              if (current !== null) this.chunks.drop(batch, current.generation, current.chunks);
              current = made;
              pending = null;
              swaps = true;
            }
            break;
          }
          case 'CompactLog': {
            // Only what the current snapshot covers, so that Load always finds the log contiguous after it.
            const through = Math.min(write.through, current?.meta.index ?? 0, lastIndex);
            for (let index = firstIndex; index <= through; index++) batch.del<Bytes>(entryKey(index), { sublevel: this.entries });
            if (through >= firstIndex) {
              compacted += through - firstIndex + 1;
              firstIndex = through + 1;
            }
            break;
          }
        }
      }
      // Only the newest hard state of the group matters: it replaces the others in the same atomic batch.
      if (hardState !== null) batch.put<Bytes, Bytes>(HARD_STATE_KEY, encodeRecord(hardState), { sublevel: this.hard });
    } catch (error) {
      await batch.close();
      throw error;
    }
    if (swaps) this.swapsStarted++;
    // Chunks of a pending snapshot matter only once its last chunk makes it current, and that synced write makes every
    // earlier write durable too (LevelDB's log is sequential): a group of such chunks alone skips the fsync.
    const needsSync = group.some((write) => write.type === 'SaveLog' || (write.type === 'WriteSnapshotChunk' && write.done));
    try {
      await batch.write(needsSync ? syncWrite : unsyncedWrite);
      this.lastIndex = lastIndex;
      this.firstIndex = firstIndex;
      this.current = current;
      this.pendingSnapshot = pending;
      this.nextGeneration = nextGeneration;
      // Only now drop what the batch replaced: a read that finds the old generation gone, and asks again, must find
      // the new one current, not the old one still named.
      await this.chunks.written();
    } finally {
      if (swaps) this.swapsFinished++;
    }
    this.counters.writes += saveLogs;
    this.counters.batches += 1;
    this.counters.entries += appended;
    this.counters.snapshotChunks += chunks;
    this.counters.compacted += compacted;
  }

  private ensureOpen(): Promise<void> {
    this.opening ??= this.openAndCheckIdentity();
    return this.opening;
  }

  private async openAndCheckIdentity(): Promise<void> {
    if (this.closing !== null) await this.closing;
    if (this.db.status !== 'open') await this.db.open();
    const stored = await this.meta.get(IDENTITY_KEY);
    const last = await this.entries.keys({ reverse: true, limit: 1 }).all();
    const lastKey = last[0];
    if (stored === undefined) {
      const hardState = await this.hard.get(HARD_STATE_KEY);
      if (lastKey !== undefined || hardState !== undefined) {
        throw new StoreCorruptedError({
          code: 'STORE_CORRUPTED',
          reason: 'IDENTITY_MISMATCH',
          key: 'meta/identity',
          message: 'the store holds Raft state but no identity: refusing to guess which cluster and node it belongs to',
        });
      }
      const operations: BatchOperation[] = [
        { type: 'put', sublevel: this.meta, key: IDENTITY_KEY, value: encodeRecord({ clusterId: this.identity.clusterId, nodeId: this.identity.nodeId }) },
      ];
      if (this.identity.members !== undefined) {
        operations.push({ type: 'put', sublevel: this.membership, key: VOTERS_KEY, value: encodeRecord({ voters: this.identity.members }) });
      }
      await this.db.batch<Bytes, Bytes>(operations, syncWrite);
      await this.chunks.recover(null);
      this.lastIndex = 0;
      this.firstIndex = 1;
      this.current = null;
      this.pendingSnapshot = null;
      this.nextGeneration = 1;
      return;
    }
    const identity = decodeOrCorrupt('meta/identity', undefined, () => decodeRecord(stored, acceptIdentity));
    if (identity.clusterId !== this.identity.clusterId || identity.nodeId !== this.identity.nodeId) {
      throw new StoreCorruptedError({
        code: 'STORE_CORRUPTED',
        reason: 'IDENTITY_MISMATCH',
        key: 'meta/identity',
        message:
          `the store belongs to node ${JSON.stringify(identity.nodeId)} of cluster ${JSON.stringify(identity.clusterId)}, ` +
          `not node ${JSON.stringify(this.identity.nodeId)} of cluster ${JSON.stringify(this.identity.clusterId)}`,
      });
    }
    this.lastIndex = lastKey === undefined ? 0 : decodeOrCorrupt(`entries/${toHex(lastKey)}`, undefined, () => decodeEntryKey(lastKey));
    const firstKey = (await this.entries.keys({ limit: 1 }).all())[0];
    this.firstIndex = firstKey === undefined ? this.lastIndex + 1 : decodeOrCorrupt(`entries/${toHex(firstKey)}`, undefined, () => decodeEntryKey(firstKey));
    const metaValue = await this.snapshot.get(SNAPSHOT_META_KEY);
    const current = metaValue === undefined ? null : decodeOrCorrupt('snapshot/meta', undefined, () => decodeRecord(metaValue, acceptCurrentSnapshot));
    // Chunks of any other generation belong to a pending snapshot that a crash interrupted: forget it.
    await this.chunks.recover(current);
    this.current = current;
    this.pendingSnapshot = null;
    this.nextGeneration = (current?.generation ?? 0) + 1;
  }

  /** The voters recorded when the store was created, or null when none were given. */
  async storedMembers(): Promise<readonly NodeId[] | null> {
    await this.ensureOpen();
    const value = await this.membership.get(VOTERS_KEY);
    if (value === undefined) return null;
    return decodeOrCorrupt('membership/voters', undefined, () => decodeRecord(value, acceptVoters)).voters;
  }

  /**
   * Read and verify everything durable: hard state, the current snapshot's meta (read on open), then every entry after
   * the snapshot in key order. Entries at or before the snapshot's index (left by a crash before `CompactLog`, or by a
   * log that the installed snapshot overtook) are not read: the snapshot stands for them.
   */
  private async readState(): Promise<RecoveredState> {
    const hardValue = await this.hard.get(HARD_STATE_KEY);
    const hardState = hardValue === undefined ? ZERO_HARD_STATE : decodeOrCorrupt('hard/state', undefined, () => decodeRecord(hardValue, acceptHardState));
    const snapshot = this.current?.meta ?? null;
    const snapshotIndex = snapshot?.index ?? 0;
    const entries: Entry[] = [];
    let expected = snapshotIndex + 1;
    const iterator = this.entries.iterator({ gt: entryKey(snapshotIndex) });
    try {
      for (;;) {
        const page = await iterator.nextv(1024);
        if (page.length === 0) break;
        for (const [key, value] of page) {
          const keyName = `entries/${toHex(key)}`;
          const index = decodeOrCorrupt(keyName, undefined, () => decodeEntryKey(key));
          if (index !== expected) {
            throw new StoreCorruptedError({
              code: 'STORE_CORRUPTED',
              reason: 'INDEX_GAP',
              key: keyName,
              index: expected,
              message: `entry ${expected} is missing: the next stored entry is ${index} (key ${keyName})`,
            });
          }
          const entry = decodeOrCorrupt(keyName, index, () => decodeEntry(value));
          if (entry.index !== index) {
            throw new StoreCorruptedError({
              code: 'STORE_CORRUPTED',
              reason: 'MISPLACED_ENTRY',
              key: keyName,
              index,
              message: `entry ${index} (key ${keyName}) says it is entry ${entry.index}`,
            });
          }
          entries.push(entry);
          expected++;
        }
      }
    } finally {
      await iterator.close();
    }
    const lastIndex = expected - 1;
    if (hardState.commit > lastIndex) {
      const end = entries.length === 0 && snapshot !== null ? `the log is empty after the snapshot at ${snapshotIndex}` : `the log ends at ${lastIndex}`;
      throw new StoreCorruptedError({
        code: 'STORE_CORRUPTED',
        reason: 'COMMIT_BEYOND_LOG',
        key: 'hard/state',
        message: `the hard state commits index ${hardState.commit} but ${end}`,
      });
    }
    return { hardState, snapshot, entries };
  }

  private fail(error: unknown): void {
    const cause = toCause(error);
    this.failure ??= cause;
    this.queue = [];
    this.failed(cause);
  }
}

/** classic-level's `sync`: fsync before the write resolves. Other abstract-level implementations ignore it. */
const syncWrite: AbstractBatchOptions<Bytes, Bytes> & { readonly sync: boolean } = { sync: true };
const unsyncedWrite: AbstractBatchOptions<Bytes, Bytes> & { readonly sync: boolean } = { sync: false };

class InvalidWrite extends Error {}

function toCause(error: unknown): StoreFailureCause {
  if (error instanceof StoreCorruptedError) return error.toCause();
  if (error instanceof InvalidWrite) return { code: 'INVALID_WRITE', message: error.message };
  return { code: 'IO_ERROR', message: error instanceof Error ? error.message : String(error) };
}

function decodeOrCorrupt<T>(key: string, index: number | undefined, decode: () => T, what?: string): T {
  try {
    return decode();
  } catch (error) {
    throw corruption(error, key, index, what);
  }
}

/** A `DecodeFailure` as the `StoreCorruptedError` that names where it was found; any other error as it is. */
function corruption(error: unknown, key: string, index: number | undefined, what?: string): unknown {
  if (!(error instanceof DecodeFailure)) return error;
  const where = what ?? (index === undefined ? `key ${key}` : `entry ${index} (key ${key})`);
  const cause = { code: 'STORE_CORRUPTED' as const, reason: error.reason, key, message: `${where}: ${error.message}` };
  return new StoreCorruptedError(index === undefined ? cause : { ...cause, index });
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function acceptHardState(value: unknown): HardState | null {
  if (!isRecord(value) || !isCount(value.term) || !isCount(value.commit)) return null;
  if (value.votedFor !== null && typeof value.votedFor !== 'string') return null;
  return { term: value.term, votedFor: value.votedFor, commit: value.commit };
}

function acceptSnapshotMeta(value: unknown): SnapshotMeta | null {
  if (!isRecord(value) || !isCount(value.index) || !isCount(value.term)) return null;
  const names = (list: unknown): list is string[] => Array.isArray(list) && list.every((name) => typeof name === 'string');
  if (!names(value.voters) || !names(value.learners)) return null;
  return { index: value.index, term: value.term, voters: value.voters, learners: value.learners };
}

function acceptCurrentSnapshot(value: unknown): CurrentSnapshot | null {
  if (!isRecord(value) || !isCount(value.generation) || value.generation < 1 || !isCount(value.chunks) || value.chunks < 1) return null;
  const meta = acceptSnapshotMeta(value.meta);
  return meta === null ? null : { meta, generation: value.generation, chunks: value.chunks };
}

function sameSnapshot(a: SnapshotMeta, b: SnapshotMeta): boolean {
  return a.index === b.index && a.term === b.term;
}

/** A chunk the contract cannot store: refused as INVALID_WRITE before anything of its batch is written. */
function checkChunk(write: WriteSnapshotChunk): void {
  if (!Number.isSafeInteger(write.chunk) || write.chunk < 0) throw new InvalidWrite(`snapshot chunk number ${write.chunk} is not a count`);
  if (acceptSnapshotMeta(write.meta) === null) throw new InvalidWrite(`snapshot chunk ${write.chunk} carries malformed meta ${JSON.stringify(write.meta)}`);
  if (!(write.data instanceof Uint8Array)) throw new InvalidWrite(`snapshot chunk ${write.chunk} data is not bytes`);
}

function acceptIdentity(value: unknown): { clusterId: string; nodeId: string } | null {
  if (!isRecord(value) || typeof value.clusterId !== 'string' || typeof value.nodeId !== 'string') return null;
  return { clusterId: value.clusterId, nodeId: value.nodeId };
}

function acceptVoters(value: unknown): { voters: readonly NodeId[] } | null {
  if (!isRecord(value) || !Array.isArray(value.voters) || !value.voters.every((voter) => typeof voter === 'string')) return null;
  return { voters: value.voters as NodeId[] };
}
