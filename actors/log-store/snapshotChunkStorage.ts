/**
 * Where a `LevelLogStore` keeps the bytes of its snapshots: inside its database (`DatabaseChunks`, for any
 * abstract-level such as memory-level) or in files beside it (`FileChunks` in snapshotChunkFiles.ts, the default for
 * a store on disk).
 *
 * Either way the store's own database holds the `snapshot/meta` record that says which generation is current, and a
 * generation becomes current only in the synced batch that rewrites that record, so a crash leaves the old snapshot
 * whole or the new one whole. The storage only has to (1) keep a generation's chunks until it is dropped, (2) have
 * them durable when `seal` resolves, and (3) give chunk `k` of a generation back, checksum verified.
 */
import type { GroupBatch } from './levelBatch.js';
import type { KeySpace } from './levelKeySpace.js';
import { decodeSnapshotChunk, encodeSnapshotChunk, snapshotChunkKey, snapshotChunkRange } from './levelCodec.js';

type Bytes = Buffer;

/** A snapshot's chunks as the meta record promises them. */
export interface StoredGeneration {
  readonly generation: number;
  readonly chunks: number;
}

/** What a stored chunk turned out to be when read. */
export type ChunkRead = { readonly found: true; readonly data: Uint8Array } | { readonly found: false };

export interface SnapshotChunkStorage {
  /**
   * On open: delete every generation but `keep` (a pending snapshot that a crash interrupted is garbage), and check
   * what can be checked cheaply of `keep`: throws `StoreCorruptedError` when it is not whole.
   */
  recover(keep: StoredGeneration | null): Promise<void>;
  /** Add chunk `chunk` of `generation` (chunks arrive in order from 0): into `batch`, or written out at once. */
  stage(batch: GroupBatch, generation: number, chunk: number, data: Uint8Array): Promise<void>;
  /** Before the batch that makes `generation` current is written: its chunks must be durable once this resolves. */
  seal(generation: number): Promise<void>;
  /** Forget `generation` (its `chunks` chunks): with the batch, or once the batch is durable (`written`). */
  drop(batch: GroupBatch, generation: number, chunks: number): void;
  /**
   * The batch that `stage`, `seal` and `drop` prepared is durable, and the store already names what it made current:
   * a read that misses a dropped generation and asks again finds the new one.
   */
  written(): Promise<void>;
  /**
   * Chunk `chunk` of `generation`, checksum verified (a mismatch throws `DecodeFailure`); not found when a swap
   * dropped the generation meanwhile, or when the chunk is lost (the store tells which).
   */
  read(generation: number, chunk: number): Promise<ChunkRead>;
  /** The key or file that holds a chunk, in the store's notation for error messages. */
  nameOf(generation: number, chunk: number): string;
  close(): Promise<void>;
}

/** Chunks as values of the store's `snapshot` sublevel, one key per chunk; written in the store's own batches. */
export class DatabaseChunks implements SnapshotChunkStorage {
  /** `prefix`: the sublevel's prefix as a key of the database the store's batches go to (levelBatch.ts). */
  constructor(
    private readonly sublevel: KeySpace,
    private readonly prefix: Bytes,
  ) {}

  async recover(keep: StoredGeneration | null): Promise<void> {
    const generation = keep?.generation ?? 0;
    await this.sublevel.clear(snapshotChunkRange(0, generation));
    await this.sublevel.clear(snapshotChunkRange(generation + 1));
  }

  async stage(batch: GroupBatch, generation: number, chunk: number, data: Uint8Array): Promise<void> {
    const key = snapshotChunkKey(generation, chunk);
    batch.put(Buffer.concat([this.prefix, key]), encodeSnapshotChunk(key, data));
  }

  async seal(): Promise<void> {
    // The batch that makes the generation current is synced, and LevelDB's log is sequential: every earlier chunk
    // becomes durable with it.
  }

  drop(batch: GroupBatch, generation: number, chunks: number): void {
    for (let chunk = 0; chunk < chunks; chunk++) batch.del(Buffer.concat([this.prefix, snapshotChunkKey(generation, chunk)]));
  }

  async written(): Promise<void> {}

  async read(generation: number, chunk: number): Promise<ChunkRead> {
    const key = snapshotChunkKey(generation, chunk);
    const value = await this.sublevel.get(key);
    return value === undefined ? { found: false } : { found: true, data: decodeSnapshotChunk(key, value) };
  }

  nameOf(generation: number, chunk: number): string {
    return `snapshot/${snapshotChunkKey(generation, chunk).toString('hex')}`;
  }

  async close(): Promise<void> {}
}
