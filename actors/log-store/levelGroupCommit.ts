/**
 * Group commit for a `LevelLogStore`: every write (`SaveLog`, `WriteSnapshotChunk`, `CompactLog`) that arrives while a
 * batch is being written joins the next group, in arrival order, and a group becomes one atomic batch. One fsync
 * then makes a whole group durable, so durable throughput grows with load instead of being capped by the disk's
 * fsync rate. Acknowledgements go out in write order, so an acknowledgement always implies every earlier write is
 * durable.
 *
 * This file turns a group into the operations of its batch (checking that each write continues the log or the pending
 * snapshot: one that does not is an `InvalidWrite`, and nothing of its group is written) and says in which order to
 * acknowledge it. The store runs the queue, has the batch written (by itself, or with other stores' in one shared
 * batch: levelBatch.ts), and applies the new `LogPosition` once it is durable.
 */
import type { HardState } from '../../src/core/index.js';
import type { CompactLog, SaveLog, WriteSnapshotChunk } from './LogStore.js';
import type { GroupBatch, StoreKeys } from './levelBatch.js';
import { encodeEntry, encodeRecord, entryKey } from './levelCodec.js';
import { acceptSnapshotMeta, type CurrentSnapshot, type PendingSnapshot } from './levelLayout.js';
import type { SnapshotChunkStorage } from './snapshotChunkStorage.js';

export type Write = SaveLog | WriteSnapshotChunk | CompactLog;

/** A write the contract cannot store (it does not continue the log or the pending snapshot): `INVALID_WRITE`. */
export class InvalidWrite extends Error {}

/** Where the log and the snapshots stand, as of the last durable batch. */
export interface LogPosition {
  /** Last index of the log as written. */
  readonly lastIndex: number;
  /** Invariant: no entry is stored below this index (compaction and the first key on open move it up). */
  readonly firstIndex: number;
  /** The current snapshot. */
  readonly current: CurrentSnapshot | null;
  /** The snapshot being written. */
  readonly pending: PendingSnapshot | null;
  /** The generation the next pending snapshot writes its chunks under (never reused). */
  readonly nextGeneration: number;
}

/** A group as the operations of one batch, not yet written. */
export interface PreparedGroup {
  /** The position once the batch is durable. */
  readonly next: LogPosition;
  /** False for a group of pending snapshot chunks alone (see below). */
  readonly needsSync: boolean;
  /** Whether the batch replaces the current snapshot. */
  readonly swaps: boolean;
  /** Entries that `CompactLog`s of the group drop, to delete once the batch is durable (see `prepareGroup`). */
  readonly compaction: { readonly from: number; readonly through: number } | null;
  readonly counts: { readonly writes: number; readonly entries: number; readonly snapshotChunks: number; readonly compacted: number };
}

/**
 * Put into `batch` the operations that write `group` after `position`, every key as `keys` says (see levelBatch.ts).
 * Throws `InvalidWrite` when a write does not continue the log or the pending snapshot: the caller then discards the
 * batch, and nothing of the group is written.
 */
export async function prepareGroup(
  batch: GroupBatch,
  keys: StoreKeys,
  storage: SnapshotChunkStorage,
  position: LogPosition,
  group: readonly Write[],
): Promise<PreparedGroup> {
  const prefix = keys.entries;
  // What the batch changes, applied to the store only once it is durable.
  let { lastIndex, firstIndex, current, pending, nextGeneration } = position;
  let hardState: HardState | null = null;
  let appended = 0;
  let saveLogs = 0;
  let chunksWritten = 0;
  let compacted = 0;
  let compactFrom: number | null = null; // the first entry the group's CompactLogs drop
  let compactThrough = 0;
  let swaps = false;
  for (const write of group) {
    switch (write.type) {
      case 'SaveLog': {
        const snapshotIndex = current?.meta.index ?? 0;
        // A log that ended before the snapshot (a follower that installed the leader's) continues right after it.
        let next = Math.max(lastIndex, snapshotIndex) + 1;
        if (write.truncateFrom !== null) {
          if (write.truncateFrom < 1) throw new InvalidWrite(`write ${write.writeId} truncates from ${write.truncateFrom}`);
          for (let index = Math.max(write.truncateFrom, firstIndex); index <= lastIndex; index++) {
            batch.del(entryKey(index, prefix));
          }
          lastIndex = Math.min(lastIndex, write.truncateFrom - 1);
          next = Math.min(write.truncateFrom, Math.max(lastIndex, snapshotIndex) + 1);
        }
        for (const entry of write.entries) {
          if (entry.index !== next) {
            throw new InvalidWrite(`write ${write.writeId} appends entry ${entry.index} where entry ${next} belongs`);
          }
          batch.put(entryKey(entry.index, prefix), encodeEntry(entry));
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
          if (pending !== null) storage.drop(batch, pending.generation, pending.nextChunk);
          pending = { meta: write.meta, generation: nextGeneration++, nextChunk: 0 };
        } else if (pending === null || pending.nextChunk !== write.chunk || !sameSnapshot(pending.meta, write.meta)) {
          const expected = pending === null ? 'no snapshot is being written' : `expected chunk ${pending.nextChunk} of the snapshot at index ${pending.meta.index}`;
          throw new InvalidWrite(`snapshot chunk ${write.chunk} at index ${write.meta.index} does not continue the pending snapshot: ${expected}`);
        }
        await storage.stage(batch, pending.generation, write.chunk, write.data);
        pending = { ...pending, nextChunk: write.chunk + 1 };
        chunksWritten++;
        if (write.done) {
          // The swap: point the meta record at the new generation and drop the old one's chunks, atomically.
          await storage.seal(pending.generation);
          const made: CurrentSnapshot = { meta: pending.meta, generation: pending.generation, chunks: pending.nextChunk };
          batch.put(keys.snapshotMeta, encodeRecord(made));
          if (current !== null) storage.drop(batch, current.generation, current.chunks);
          current = made;
          pending = null;
          swaps = true;
        }
        break;
      }
      case 'CompactLog': {
        // Only what the current snapshot covers, so that Load always finds the log contiguous after it.
        // Not deleted in this batch: thousands of per-key deletes would hold the event loop for tens of ms. The
        // range is dead once the batch is durable (nothing is written at or below a durable snapshot's index again,
        // and Load skips what lies there), so the store clears it then, on LevelDB's thread (`clear`).
        const through = Math.min(write.through, current?.meta.index ?? 0, lastIndex);
        if (through >= firstIndex) {
          compacted += through - firstIndex + 1;
          compactFrom ??= firstIndex;
          compactThrough = through;
          firstIndex = through + 1;
        }
        break;
      }
    }
  }
  // Only the newest hard state of the group matters: it replaces the others in the same atomic batch.
  if (hardState !== null) batch.put(keys.hardState, encodeRecord(hardState));
  // Chunks of a pending snapshot matter only once its last chunk makes it current, and that synced write makes every
  // earlier write durable too (LevelDB's log is sequential): a group of such chunks alone skips the fsync.
  const needsSync = group.some((write) => write.type === 'SaveLog' || (write.type === 'WriteSnapshotChunk' && write.done));
  return {
    next: { lastIndex, firstIndex, current, pending, nextGeneration },
    needsSync,
    swaps,
    compaction: compactFrom === null ? null : { from: compactFrom, through: compactThrough },
    counts: { writes: saveLogs, entries: appended, snapshotChunks: chunksWritten, compacted },
  };
}

/** Acknowledge a durable group in write order: one `LogSaved` per run of `SaveLog`s, one reply per chunk. */
export function acknowledgeInOrder(group: readonly Write[], saved: (writeId: number) => void, chunkStored: (write: WriteSnapshotChunk) => void): void {
  let unacknowledged: number | null = null;
  for (const write of group) {
    if (write.type === 'SaveLog') {
      unacknowledged = write.writeId;
    } else if (write.type === 'WriteSnapshotChunk') {
      if (unacknowledged !== null) saved(unacknowledged);
      unacknowledged = null;
      chunkStored(write);
    }
  }
  if (unacknowledged !== null) saved(unacknowledged);
}

function sameSnapshot(a: { readonly index: number; readonly term: number }, b: { readonly index: number; readonly term: number }): boolean {
  return a.index === b.index && a.term === b.term;
}

/** A chunk the contract cannot store: refused as INVALID_WRITE before anything of its batch is written. */
function checkChunk(write: WriteSnapshotChunk): void {
  if (!Number.isSafeInteger(write.chunk) || write.chunk < 0) throw new InvalidWrite(`snapshot chunk number ${write.chunk} is not a count`);
  if (acceptSnapshotMeta(write.meta) === null) throw new InvalidWrite(`snapshot chunk ${write.chunk} carries malformed meta ${JSON.stringify(write.meta)}`);
  if (!(write.data instanceof Uint8Array)) throw new InvalidWrite(`snapshot chunk ${write.chunk} data is not bytes`);
}
