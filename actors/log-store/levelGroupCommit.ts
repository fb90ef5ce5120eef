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
import type { Entry, HardState } from '../../src/core/index.js';
import { nextAppendIndex, type CompactLog, type SaveLog, type WriteSnapshotChunk } from './LogStore.js';
import type { GroupBatch, StoreKeys } from './levelBatch.js';
import { encodeEntry, encodeRecord, encodeRun, runKey, type RunBounds } from './levelCodec.js';
import { acceptSnapshotMeta, type CurrentSnapshot, type PendingSnapshot } from './levelLayout.js';
import type { RunIndex } from './levelRunIndex.js';
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
  /** Runs that `CompactLog`s of the group drop: every key below the run starting at `keptFrom`, to delete once the
   * batch is durable (see `prepareGroup`). */
  readonly compaction: { readonly keptFrom: number } | null;
  readonly counts: { readonly writes: number; readonly entries: number; readonly snapshotChunks: number; readonly compacted: number };
}

/** Where `prepareGroup` finds what it needs besides the writes. */
export interface GroupContext {
  readonly keys: StoreKeys;
  readonly storage: SnapshotChunkStorage;
  /** The runs stored (moved on here as the group is prepared, see levelRunIndex.ts). */
  readonly runs: RunIndex;
  /** The entries of a durable run, read back and verified (to cut it when a truncation falls inside it). */
  readonly readRun: (run: RunBounds) => Promise<readonly Entry[]>;
}

/**
 * Put into `batch` the operations that write `group` after `position`, every key as `keys` says (see levelBatch.ts):
 * the entries of each `SaveLog` as one run (levelCodec.ts). Throws `InvalidWrite` when a write does not continue the
 * log or the pending snapshot: the caller then discards the batch, and nothing of the group is written.
 */
export async function prepareGroup(batch: GroupBatch, context: GroupContext, position: LogPosition, group: readonly Write[]): Promise<PreparedGroup> {
  const { keys, storage, runs } = context;
  const prefix = keys.entries;
  /** Runs this group writes, by first index: a truncation later in the group may cut one that is not durable yet. */
  const fresh = new Map<number, readonly Entry[]>();
  const putRun = (entries: readonly Entry[]): void => {
    const first = entries[0]!.index;
    const last = entries[entries.length - 1]!.index;
    batch.put(runKey(first, last, prefix), entries.length === 1 ? encodeEntry(entries[0]!) : encodeRun(entries));
    fresh.set(first, entries);
  };
  // What the batch changes, applied to the store only once it is durable.
  let { lastIndex, firstIndex, current, pending, nextGeneration } = position;
  let hardState: HardState | null = null;
  let appended = 0;
  let saveLogs = 0;
  let chunksWritten = 0;
  let compacted = 0;
  let keptFrom: number | null = null; // every run key below this one is dead once the batch is durable
  let swaps = false;
  for (const write of group) {
    switch (write.type) {
      case 'SaveLog': {
        let next = nextAppendIndex(lastIndex, current?.meta.index ?? 0, write.truncateFrom);
        if (write.truncateFrom !== null) {
          if (write.truncateFrom < 1) throw new InvalidWrite(`write ${write.writeId} truncates from ${write.truncateFrom}`);
          const { removed, cut } = runs.truncate(write.truncateFrom);
          for (const run of removed) {
            batch.del(runKey(run.first, run.last, prefix));
            fresh.delete(run.first);
          }
          if (cut !== null) {
            // The truncation falls inside a run: its entries before `truncateFrom` go back under their new key.
            const entries = fresh.get(cut.first) ?? (await context.readRun(cut));
            batch.del(runKey(cut.first, cut.last, prefix));
            putRun(entries.slice(0, write.truncateFrom - cut.first));
          }
          lastIndex = Math.min(lastIndex, write.truncateFrom - 1);
        }
        for (const entry of write.entries) {
          if (entry.index !== next) {
            throw new InvalidWrite(`write ${write.writeId} appends entry ${entry.index} where entry ${next} belongs`);
          }
          lastIndex = entry.index;
          next++;
        }
        if (write.entries.length > 0) {
          putRun(write.entries);
          runs.append(write.entries[0]!.index, lastIndex);
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
        // Only what the current snapshot covers, so that Load always finds the log contiguous after it; a run that
        // the index falls inside stays whole (Load skips its earlier entries).
        // Not deleted in this batch: thousands of per-key deletes would hold the event loop for tens of ms. The
        // runs are dead once the batch is durable (nothing is written at or below a durable snapshot's index again,
        // and Load skips what lies there), so the store clears them then, on LevelDB's thread (`clear`).
        const through = Math.min(write.through, current?.meta.index ?? 0, lastIndex);
        if (through >= firstIndex) {
          compacted += through - firstIndex + 1;
          keptFrom = runs.compact(through)?.keptFrom ?? keptFrom;
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
    compaction: keptFrom === null ? null : { keptFrom },
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
