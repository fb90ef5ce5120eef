/**
 * A log store in one append-only file, written synchronously on the event loop: each turn's writes become one frame
 * (fileLogFormat.ts), written with one `write` and made durable with one `fdatasync` before they are acknowledged.
 *
 * Why synchronous: `LevelLogStore` hands every batch to libuv's thread pool and hears back through the event loop,
 * two thread wake-ups per write on every node. On a small machine shared by the nodes and their clients those hops
 * wait for a CPU (about 0.2 ms each under load on a 2-vCPU VM) and cost more CPU than the write itself. Blocking the
 * loop for the fsync (a fraction of a millisecond on an SSD) is cheaper there, and the writes that arrive meanwhile
 * form the next turn's frame. On a disk whose fsync takes milliseconds the loop would stall that long: use
 * `LevelLogStore` there.
 *
 * The exception is a leader's own append of several new entries (`SaveLog.background`, a loaded leader's turn): its
 * followers have the entries already and their acknowledgements can commit them, so the frame is written on the loop
 * and synced on libuv's thread pool, one sync at a time, while the loop goes on serving. It is still acknowledged only
 * once durable. A leader's frame of one entry (nothing else to do) is synced on the loop: the hop would only add to
 * that write's latency. Alternated against syncing every frame on the loop, the KV benchmark at 64 clients gained in
 * six pairs of six (BENCHMARKS.md, the eighth session).
 *
 * Snapshots are chunk files beside the log (`snapshots/`, as `LevelLogStore` keeps them: snapshotChunkFiles.ts),
 * written without blocking; the frame that makes one current follows the sealed file. The log file is rewritten
 * without what the current snapshot covers once it grows past `compactionBytes` (on `CompactLog`): a new file is
 * written and synced beside it, then renamed over it, so a crash leaves one or the other.
 *
 * Memory: the store keeps the entries after the current snapshot (the same objects the node holds), to rewrite them.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeId, RecoveredState } from '../../src/core/index.js';
import { corrupt, FrameBuilder, type FileIdentity } from './fileLogFormat.js';
import { LOG_FILE, recoverFileLog, REWRITE_FILE, syncDirectory, writeFully, writeNewFile } from './fileLogRecovery.js';
import { FileLogState } from './fileLogState.js';
import { InvalidWrite, type Write } from './levelGroupCommit.js';
import { acceptSnapshotMeta, type CurrentSnapshot, type PendingSnapshot } from './levelLayout.js';
import type { LevelLogStoreObserver, StoreIdentity } from './levelLogStoreOptions.js';
import type { ReadSnapshotChunk, SaveLog, WriteSnapshotChunk } from './LogStore.js';
import { QueuedLogStore } from './QueuedLogStore.js';
import { FileChunks } from './snapshotChunkFiles.js';

export interface FileLogStoreOptions {
  /** Directory of the store (`log`, and `snapshots/`), created when missing. */
  readonly location: string;
  readonly identity: StoreIdentity;
  /** Told of every synced frame (the node metrics' `logStoreObserver`). */
  readonly observer?: LevelLogStoreObserver;
  /** Rewrite the log without what the snapshot covers once the file is this large, in bytes. Default 8 MiB. */
  readonly compactionBytes?: number;
}

const EMPTY = new Uint8Array(0);

export class FileLogStore extends QueuedLogStore {
  readonly location: string;
  private readonly identity: StoreIdentity;
  private readonly observer: LevelLogStoreObserver | undefined;
  private readonly compactionBytes: number;
  private readonly chunks: FileChunks;
  private state = new FileLogState();
  private voters: readonly NodeId[] | null = null;
  private fd: number | null = null;
  private fileBytes = 0;
  private pending: PendingSnapshot | null = null;
  private nextGeneration = 1;
  /** The writes of this turn, as the next frame; the last `SaveLog` among them, to acknowledge. */
  private frame = new FrameBuilder();
  private frameCounts = { writes: 0, entries: 0 };
  private unacknowledged: number | null = null;
  /** Whether every write of the frame is a leader's background append (see `SaveLog.background`). */
  private frameInBackground = true;
  private flushScheduled = false;
  /** The last write in the file, and the last one acknowledged. */
  private writtenThrough: number | null = null;
  private acknowledgedThrough = Number.NEGATIVE_INFINITY;
  /** The sync on libuv's thread pool, when one is under way: the file it syncs, and when it is done. */
  private backgroundSync: { readonly fd: number; readonly done: Promise<void> } | null = null;
  /** Opening, or a snapshot chunk being stored: later writes wait in `waiting`, in order. */
  private busy: Promise<void> | null = null;
  private waiting: Write[] = [];
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private swaps = 0;

  constructor(options: FileLogStoreOptions) {
    super();
    this.location = options.location;
    this.identity = options.identity;
    this.observer = options.observer;
    this.compactionBytes = options.compactionBytes ?? 8 * 2 ** 20;
    this.chunks = new FileChunks(join(options.location, 'snapshots'));
  }

  /**
   * Open the file, check (or, on a new store, record) the identity, and read back the durable state. Rejects with
   * `StoreCorruptedError` when the contents cannot be trusted, or with the file system's error.
   */
  async open(): Promise<RecoveredState> {
    await this.ensureOpen();
    return { hardState: this.state.hardState, snapshot: this.state.current?.meta ?? null, entries: this.state.entries.slice() };
  }

  /** The voters recorded when the store was created, or null when none were given. */
  async storedMembers(): Promise<readonly NodeId[] | null> {
    await this.ensureOpen();
    return this.voters;
  }

  /** Make the writes already sent durable, then close the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.opening?.catch(() => undefined);
      while (this.busy !== null || this.backgroundSync !== null) await (this.busy ?? this.backgroundSync!.done);
      this.flush(false);
      this.opening = null;
      if (this.fd !== null) closeSync(this.fd);
      this.fd = null;
      await this.chunks.close();
    })().finally(() => {
      this.closing = null;
    });
    return this.closing;
  }

  protected enqueue(write: Write): void {
    if (this.fd === null && this.busy === null) this.busy = this.drain(this.ensureOpen());
    if (this.busy !== null) this.waiting.push(write);
    else this.take(write);
  }

  /** Once `done` settles, take the waiting writes in order, until one starts storing a snapshot chunk. */
  private async drain(done: Promise<void>): Promise<void> {
    try {
      await done;
    } catch (error) {
      this.fail(error);
    }
    this.busy = null;
    while (this.waiting.length > 0 && this.busy === null && this.failure === null) this.take(this.waiting.shift()!);
  }

  private take(write: Write): void {
    try {
      if (write.type === 'SaveLog') this.save(write);
      else if (!this.flush()) return;
      else if (write.type === 'CompactLog') this.compact();
      else this.busy = this.drain(this.storeChunk(write));
    } catch (error) {
      this.fail(error);
    }
  }

  private save(write: SaveLog): void {
    const refusal = this.state.refusal(write.truncateFrom, write.entries);
    if (refusal !== null) throw new InvalidWrite(`write ${write.writeId} ${refusal}`);
    this.state.save(write.hardState, write.truncateFrom, write.entries);
    this.frame.save(write.hardState, write.truncateFrom, write.entries);
    this.frameCounts.writes++;
    this.frameCounts.entries += write.entries.length;
    this.unacknowledged = write.writeId;
    if (write.background !== true) this.frameInBackground = false;
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Not in this turn's check phase but the next one: the writes of a turn share a frame and an fsync, and the
    // messages the turn sent are on their sockets by then (the network flushes at setImmediate, and node's HTTP/2
    // session writes its bytes out in an immediate of its own after that), so a leader's followers write their
    // copies while it syncs its own instead of after (the parallel append of Ongaro's thesis, 10.2.1). Syncing in
    // the same phase held every append back by the leader's fsync: BENCHMARKS.md, the sixth session.
    setImmediate(() =>
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      }),
    );
  }

  /**
   * Write this turn's frame and sync it, then acknowledge its writes. False once the store has failed. A frame of
   * background writes alone, of more than one entry, is synced on libuv's thread pool instead, one sync at a time (the
   * frames written while one is under way wait for the next): a leader's loop then goes on serving while its disk
   * syncs, and its followers' acknowledgements commit the entries meanwhile. Any other frame is synced here, which
   * makes every earlier one durable too.
   */
  private flush(inBackground = true): boolean {
    if (this.failure !== null) return false;
    if (this.frame.empty) return true;
    const frame = this.frame.build();
    const counts = this.frameCounts;
    const writeId = this.unacknowledged;
    const background = inBackground && this.frameInBackground && counts.entries > 1;
    this.frame = new FrameBuilder();
    this.frameCounts = { writes: 0, entries: 0 };
    this.unacknowledged = null;
    this.frameInBackground = true;
    const started = performance.now();
    try {
      this.append(frame, !background);
    } catch (error) {
      this.fail(error);
      return false;
    }
    if (writeId !== null) this.writtenThrough = writeId;
    if (background) {
      this.observe({ entries: counts.entries, writes: counts.writes, snapshotChunks: 0, snapshotBytes: 0, synced: false, durationMs: 0 });
      this.syncInBackground();
      return true;
    }
    this.observe({ entries: counts.entries, writes: counts.writes, snapshotChunks: 0, snapshotBytes: 0, synced: true, durationMs: performance.now() - started });
    this.acknowledgeWritten();
    return true;
  }

  /** Start a sync on the thread pool of what is written and not yet durable, unless one is under way. */
  private syncInBackground(): void {
    if (this.backgroundSync !== null || this.writtenThrough === null || this.writtenThrough <= this.acknowledgedThrough) return;
    const through = this.writtenThrough;
    const fd = this.fd!;
    const started = performance.now();
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    this.backgroundSync = { fd, done };
    fdatasync(fd, (error) => {
      this.backgroundSync = null;
      // A compaction meanwhile replaced the file: the old one was kept open for this sync.
      if (fd !== this.fd) closeSync(fd);
      finished();
      if (this.failure !== null) return;
      if (error !== null) return this.fail(error);
      this.observe({ entries: 0, writes: 0, snapshotChunks: 0, snapshotBytes: 0, synced: true, durationMs: performance.now() - started });
      this.acknowledge(through);
      this.syncInBackground();
    });
  }

  /** Everything written is durable (a sync on the loop, or a rewrite of the file). */
  private acknowledgeWritten(): void {
    if (this.writtenThrough !== null) this.acknowledge(this.writtenThrough);
  }

  /** Writes are acknowledged in order, never twice. */
  private acknowledge(writeId: number): void {
    if (writeId <= this.acknowledgedThrough) return;
    this.acknowledgedThrough = writeId;
    this.saved(writeId);
  }

  /** Write `bytes` at the end of the log file, and sync it here unless `sync` is false. */
  private append(bytes: Buffer, sync = true): void {
    writeFully(this.fd!, bytes);
    if (sync) fdatasyncSync(this.fd!);
    this.fileBytes += bytes.length;
  }

  private async storeChunk(write: WriteSnapshotChunk): Promise<void> {
    const { chunk, meta, data } = write;
    if (!Number.isSafeInteger(chunk) || chunk < 0) throw new InvalidWrite(`snapshot chunk number ${chunk} is not a count`);
    if (acceptSnapshotMeta(meta) === null) throw new InvalidWrite(`snapshot chunk ${chunk} carries malformed meta ${JSON.stringify(meta)}`);
    if (!(data instanceof Uint8Array)) throw new InvalidWrite(`snapshot chunk ${chunk} data is not bytes`);
    if (chunk === 0) {
      // A new snapshot discards the pending one.
      if (this.pending !== null) this.chunks.drop(null, this.pending.generation);
      this.pending = { meta, generation: this.nextGeneration++, nextChunk: 0 };
    } else if (this.pending === null || this.pending.nextChunk !== chunk || this.pending.meta.index !== meta.index || this.pending.meta.term !== meta.term) {
      const expected = this.pending === null ? 'no snapshot is being written' : `expected chunk ${this.pending.nextChunk} of the snapshot at index ${this.pending.meta.index}`;
      throw new InvalidWrite(`snapshot chunk ${chunk} at index ${meta.index} does not continue the pending snapshot: ${expected}`);
    }
    const pending = this.pending;
    await this.chunks.stage(null, pending.generation, chunk, data);
    this.pending = { ...pending, nextChunk: chunk + 1 };
    let syncedMs: number | null = null;
    if (write.done) {
      await this.chunks.seal(pending.generation);
      const made: CurrentSnapshot = { meta: pending.meta, generation: pending.generation, chunks: chunk + 1 };
      if (this.failure !== null) return;
      const started = performance.now();
      this.append(new FrameBuilder().snapshot(made).build());
      syncedMs = performance.now() - started;
      this.acknowledgeWritten();
      if (this.state.current !== null) this.chunks.drop(null, this.state.current.generation);
      this.state.swap(made);
      this.pending = null;
      this.swaps++;
    }
    await this.chunks.written();
    this.observe({ entries: 0, writes: 0, snapshotChunks: 1, snapshotBytes: data.byteLength, synced: syncedMs !== null, durationMs: syncedMs ?? 0 });
    if (this.failure === null) this.chunkStored(write);
  }

  /** Rewrite the log without what the snapshot covers, once the file has grown enough to be worth it. */
  private compact(): void {
    if (this.fileBytes < this.compactionBytes || this.state.current === null) return;
    const { hardState, entries, current } = this.state;
    const bytes = new FrameBuilder().identity(this.fileIdentity()).snapshot(current).save(hardState, null, entries).build();
    const path = join(this.location, REWRITE_FILE);
    writeNewFile(path, bytes);
    renameSync(path, join(this.location, LOG_FILE));
    syncDirectory(this.location);
    // A sync under way on the old file keeps it open until it completes (see syncInBackground).
    if (this.backgroundSync?.fd !== this.fd) closeSync(this.fd!);
    this.fd = openSync(join(this.location, LOG_FILE), 'a');
    this.fileBytes = bytes.length;
    // The new file holds every write so far, synced.
    this.acknowledgeWritten();
  }

  protected async readChunk(message: ReadSnapshotChunk): Promise<void> {
    const current = this.state.current;
    const { ref, chunk } = message;
    if (current === null || !Number.isSafeInteger(chunk) || chunk < 0 || chunk >= current.chunks) return this.chunkLoaded(ref, null, chunk, EMPTY, true);
    const swaps = this.swaps;
    const read = await this.chunks.read(current.generation, chunk);
    if (this.failure !== null) return;
    if (!read.found) {
      // A snapshot that replaced this one deleted the chunk meanwhile: as if asked after the swap.
      if (this.swaps !== swaps) return this.chunkLoaded(ref, null, chunk, EMPTY, true);
      const name = this.chunks.nameOf(current.generation, chunk);
      throw corrupt('INDEX_GAP', name, `chunk ${chunk} of the current snapshot (generation ${current.generation}, ${current.chunks} chunks) is missing (${name})`);
    }
    this.chunkLoaded(ref, current.meta, chunk, read.data, chunk === current.chunks - 1);
  }

  protected ensureOpen(): Promise<void> {
    this.opening ??= this.recover();
    return this.opening;
  }

  /** Read the file back (fileLogRecovery.ts), and the snapshot files beside it. */
  private async recover(): Promise<void> {
    if (this.closing !== null) await this.closing;
    const { state, voters, fileBytes } = recoverFileLog(this.location, this.identity);
    await this.chunks.recover(state.current === null ? null : { generation: state.current.generation, chunks: state.current.chunks });
    this.state = state;
    this.voters = voters;
    this.fileBytes = fileBytes;
    // Write ids are the node's: a node opening the store again counts from its start.
    this.writtenThrough = null;
    this.acknowledgedThrough = Number.NEGATIVE_INFINITY;
    this.nextGeneration = (state.current?.generation ?? 0) + 1;
    this.fd = openSync(join(this.location, LOG_FILE), 'a');
  }

  private fileIdentity(): FileIdentity {
    return { clusterId: this.identity.clusterId, nodeId: this.identity.nodeId, ...(this.voters === null ? {} : { voters: this.voters }) };
  }

  private observe(batch: Parameters<LevelLogStoreObserver['batchWritten']>[0]): void {
    try {
      this.observer?.batchWritten(batch);
    } catch {
      // An observer's failure is its own; the store goes on.
    }
  }

  protected dropQueued(): void {
    this.waiting = [];
    this.frame = new FrameBuilder();
    this.unacknowledged = null;
    this.frameInBackground = true;
  }
}
