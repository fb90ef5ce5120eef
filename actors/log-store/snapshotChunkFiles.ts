/**
 * Snapshot chunks in files beside the database, the default for a `LevelLogStore` on disk: one append-only file per
 * generation, `<generation>.chunks`, each chunk a record `[u32 length][bytes][u32 CRC-32 over chunk key and bytes]`
 * (the value format of levelCodec's `encodeSnapshotChunk`, so a chunk is checked the same way wherever it lives).
 *
 * Why not the database: LevelDB memory-maps the table files it reads, its own compactions included, so a GiB snapshot
 * that passes through it (written once, compacted, read back to send or to restore) leaves the process with tens of
 * MiB of resident file-backed memory that grows with the snapshot. Files written with `writev` and read with `pread`
 * go through the page cache only, which the kernel manages outside the process; and nothing rewrites them.
 *
 * A file is written without fsync chunk by chunk, and synced (with its directory) by `seal`, before the batch whose
 * meta record makes its generation current. A dropped generation's file is closed and removed once that batch is
 * durable; files of any generation but the current one found on open are what a crash left behind, and are removed.
 */
import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreCorruptedError } from './LogStore.js';
import { crc32, decodeSnapshotChunk, snapshotChunkKey } from './levelCodec.js';
import type { ChunkRead, SnapshotChunkStorage, StoredGeneration } from './snapshotChunkStorage.js';

const LENGTH_BYTES = 4;
const CRC_BYTES = 4;
const FILE_NAME = /^(\d{16})\.chunks$/;

/** One generation's file, open. */
interface GenerationFile {
  readonly handle: FileHandle;
  /** Where each record starts; the last element is where the next record goes (the file's length). */
  readonly offsets: number[];
}

export class FileChunks implements SnapshotChunkStorage {
  private readonly files = new Map<number, GenerationFile>();
  /** Generations dropped by the batch being prepared: removed once it is durable. */
  private dropped: number[] = [];

  constructor(readonly directory: string) {}

  async recover(keep: StoredGeneration | null): Promise<void> {
    await this.close();
    await mkdir(this.directory, { recursive: true });
    for (const name of await readdir(this.directory)) {
      const generation = FILE_NAME.exec(name)?.[1];
      if (generation !== undefined && Number(generation) !== keep?.generation) await unlink(join(this.directory, name));
    }
    if (keep !== null) this.files.set(keep.generation, await this.index(keep));
  }

  /** Open the current generation's file and find its records (lengths only: checksums are verified on read). */
  private async index(keep: StoredGeneration): Promise<GenerationFile> {
    const name = this.fileName(keep.generation);
    const corrupt = (reason: 'INDEX_GAP' | 'UNDECODABLE', message: string): StoreCorruptedError =>
      new StoreCorruptedError({ code: 'STORE_CORRUPTED', reason, key: name, message: `snapshot file ${name}: ${message}` });
    let handle: FileHandle;
    try {
      handle = await open(join(this.directory, name), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt('INDEX_GAP', `missing; the current snapshot (${keep.chunks} chunks) is stored there`);
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const offsets: number[] = [];
      const length = Buffer.alloc(LENGTH_BYTES);
      let at = 0;
      while (at < size && offsets.length < keep.chunks) {
        offsets.push(at);
        const { bytesRead } = await handle.read(length, 0, LENGTH_BYTES, at);
        const end = at + LENGTH_BYTES + length.readUInt32BE(0);
        if (bytesRead < LENGTH_BYTES || end > size) throw corrupt('UNDECODABLE', `chunk ${offsets.length - 1} at byte ${at} runs past the end of the file (${size} bytes)`);
        at = end;
      }
      if (offsets.length < keep.chunks) throw corrupt('INDEX_GAP', `holds ${offsets.length} chunks; the current snapshot has ${keep.chunks}`);
      if (at !== size) throw corrupt('UNDECODABLE', `${size - at} bytes follow the snapshot's ${keep.chunks} chunks`);
      offsets.push(at);
      return { handle, offsets };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async stage(_batch: unknown, generation: number, chunk: number, data: Uint8Array): Promise<void> {
    let file = this.files.get(generation);
    if (chunk === 0 && file === undefined) {
      file = { handle: await open(join(this.directory, this.fileName(generation)), 'w+'), offsets: [0] };
      this.files.set(generation, file);
    }
    if (file === undefined || file.offsets.length !== chunk + 1) throw new Error(`snapshot chunk ${chunk} does not continue generation ${generation}`);
    const header = Buffer.allocUnsafe(LENGTH_BYTES);
    header.writeUInt32BE(data.length + CRC_BYTES, 0);
    const crc = Buffer.allocUnsafe(CRC_BYTES);
    const key = snapshotChunkKey(generation, chunk);
    crc.writeUInt32BE(crc32(data, 0, data.length, crc32(key)), 0);
    const at = file.offsets[chunk]!;
    const total = LENGTH_BYTES + data.length + CRC_BYTES;
    const { bytesWritten } = await file.handle.writev([header, data, crc], at);
    if (bytesWritten !== total) throw new Error(`snapshot file ${this.fileName(generation)}: wrote ${bytesWritten} of ${total} bytes at ${at}`);
    file.offsets.push(at + total);
  }

  async seal(generation: number): Promise<void> {
    await this.files.get(generation)?.handle.datasync();
    // The file's name must survive a crash too.
    const directory = await open(this.directory, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  drop(_batch: unknown, generation: number): void {
    this.dropped.push(generation);
  }

  async written(): Promise<void> {
    const dropped = this.dropped;
    this.dropped = [];
    for (const generation of dropped) {
      const file = this.files.get(generation);
      this.files.delete(generation);
      // Waits for reads in flight on the handle; later reads of this generation find nothing.
      await file?.handle.close();
      await unlink(join(this.directory, this.fileName(generation))).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
  }

  async read(generation: number, chunk: number): Promise<ChunkRead> {
    const file = this.files.get(generation);
    const start = file?.offsets[chunk];
    const end = file?.offsets[chunk + 1];
    if (file === undefined || start === undefined || end === undefined) return { found: false };
    const value = Buffer.allocUnsafe(end - start - LENGTH_BYTES);
    let bytesRead: number;
    try {
      ({ bytesRead } = await file.handle.read(value, 0, value.length, start + LENGTH_BYTES));
    } catch (error) {
      // Dropped by a swap between the lookup and the read.
      if (this.files.get(generation) !== file) return { found: false };
      throw error;
    }
    if (bytesRead !== value.length) {
      throw new StoreCorruptedError({
        code: 'STORE_CORRUPTED',
        reason: 'UNDECODABLE',
        key: this.nameOf(generation, chunk),
        message: `snapshot chunk ${chunk} (${this.nameOf(generation, chunk)}): the file ends ${value.length - bytesRead} bytes short`,
      });
    }
    return { found: true, data: decodeSnapshotChunk(snapshotChunkKey(generation, chunk), value) };
  }

  nameOf(generation: number, chunk: number): string {
    return `${this.fileName(generation)}#${chunk}`;
  }

  async close(): Promise<void> {
    const files = [...this.files.values()];
    this.files.clear();
    this.dropped = [];
    for (const file of files) await file.handle.close();
  }

  private fileName(generation: number): string {
    return `${String(generation).padStart(16, '0')}.chunks`;
  }
}
