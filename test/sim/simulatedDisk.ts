/**
 * A node's simulated log store. Operations are queued in issue order and become durable one at a time, oldest first
 * (the FIFO completion the core's `persist` effect promises, and the one queue the LogStore contract puts snapshot
 * writes in with log writes); a crash discards every operation that is not durable yet. What survives is exactly what
 * a restarted node recovers.
 *
 * Snapshots follow the LogStore contract (actors/log-store/LogStore.ts, "Snapshots"): at most one *current* snapshot
 * and one *pending* one. A chunk 0 starts a new pending snapshot, chunks arrive in order, and the durable last chunk
 * swaps the pending snapshot in atomically with its meta. A crash forgets the pending snapshot, even the chunks of it
 * that were durable. `compactLog` deletes durable entries up to an index, in queue order; recovery returns the current
 * snapshot and only the entries after it.
 */
import type { SaveLog } from '../../actors/log-store/LogStore.js';
import type { Entry, HardState, RecoveredState, SnapshotMeta } from '../../src/core/types.js';
import { SafetyViolation } from './safetyViolation.js';

/** One atomic log write, as the node's `SaveLog` asks for it. */
export type PersistEffect = Pick<SaveLog, 'writeId' | 'hardState' | 'truncateFrom' | 'entries'>;

/** Who wrote a snapshot chunk: the node's own state machine (`take`) or the leader, through InstallSnapshot. */
export type SnapshotSource = 'take' | 'install';

/** One queued disk operation. `seq` numbers the operations of one disk, in issue order. */
export type DiskOperation =
  | { readonly kind: 'persist'; readonly seq: number; readonly write: PersistEffect }
  | {
      readonly kind: 'chunk';
      readonly seq: number;
      readonly source: SnapshotSource;
      /** The `ref` of the WriteSnapshotChunk, echoed when it is stored. */
      readonly ref: string;
      readonly meta: SnapshotMeta;
      readonly chunk: number;
      readonly data: Uint8Array;
      readonly done: boolean;
    }
  | { readonly kind: 'compact'; readonly seq: number; readonly through: number };

/** What one completed operation did, for the caller to report to the core and the checks. */
export type CompletedOperation =
  | { readonly kind: 'persist'; readonly write: PersistEffect; readonly previous: HardState }
  | { readonly kind: 'chunk'; readonly operation: Extract<DiskOperation, { kind: 'chunk' }> }
  | { readonly kind: 'compact'; readonly through: number };

export interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly chunks: readonly Uint8Array[];
}

/** Distributive Omit, so that each kind of operation keeps its own fields. */
type WithoutSeq<T> = T extends unknown ? Omit<T, 'seq'> : never;

export class SimulatedDisk {
  private durableHardState: HardState = { term: 0, votedFor: null, commit: 0 };
  /** Durable entries, contiguous, ascending. They may start after 1 (compaction) and end before the snapshot. */
  private durableEntries: Entry[] = [];
  private current: StoredSnapshot | null = null;
  /** A snapshot being written: its durable chunks so far. Forgotten by a crash. */
  private pendingSnapshot: { meta: SnapshotMeta; chunks: Uint8Array[]; source: SnapshotSource } | null = null;
  private readonly pending: DiskOperation[] = [];
  private nextSeq = 1;

  get hardState(): HardState {
    return this.durableHardState;
  }

  /** The end of the durable log: its last entry, or the current snapshot's index when that is beyond it. */
  get lastIndex(): number {
    const last = this.durableEntries[this.durableEntries.length - 1]?.index ?? 0;
    return Math.max(last, this.current?.meta.index ?? 0);
  }

  /** The index of the last durable entry (0 when none), ignoring the snapshot. */
  get lastEntryIndex(): number {
    return this.durableEntries[this.durableEntries.length - 1]?.index ?? 0;
  }

  /** The current (durable, complete) snapshot, if any. */
  get snapshot(): StoredSnapshot | null {
    return this.current;
  }

  /** Whether a snapshot is being written (chunks queued or durable, the last one not yet durable). */
  get writingSnapshot(): SnapshotSource | null {
    if (this.pendingSnapshot !== null) return this.pendingSnapshot.source;
    for (const operation of this.pending) if (operation.kind === 'chunk') return operation.source;
    return null;
  }

  /** The term of the durable entry at `index` (or of the snapshot's last entry), if the durable state has it. */
  durableTermAt(index: number): number | undefined {
    const first = this.durableEntries[0]?.index;
    if (first !== undefined && index >= first) {
      const entry = this.durableEntries[index - first];
      if (entry !== undefined) return entry.term;
    }
    return index === this.current?.meta.index ? this.current.meta.term : undefined;
  }

  get pendingWrites(): number {
    return this.pending.length;
  }

  /** The sequence numbers of the operations not yet durable, oldest first. */
  pendingSeqs(): number[] {
    return this.pending.map((operation) => operation.seq);
  }

  /** The sequence number of the oldest operation not yet durable. */
  get nextPendingSeq(): number | undefined {
    return this.pending[0]?.seq;
  }

  /** Queue an operation; returns it with its sequence number. */
  enqueue(operation: WithoutSeq<DiskOperation>): DiskOperation {
    const queued = { ...operation, seq: this.nextSeq++ } as DiskOperation;
    this.pending.push(queued);
    return queued;
  }

  write(effect: PersistEffect): DiskOperation {
    return this.enqueue({ kind: 'persist', write: effect });
  }

  /**
   * Make the oldest pending operation durable. For a log write it also returns the hard state it replaced, so that
   * the caller can check the durable state only moves forward.
   */
  completeNext(): CompletedOperation {
    const operation = this.pending.shift();
    if (operation === undefined) throw new Error('no pending disk operation to complete');
    switch (operation.kind) {
      case 'persist':
        return { kind: 'persist', write: operation.write, previous: this.completeWrite(operation.write) };
      case 'chunk':
        this.completeChunk(operation);
        return { kind: 'chunk', operation };
      case 'compact':
        this.durableEntries = this.durableEntries.filter((entry) => entry.index > operation.through);
        return { kind: 'compact', through: operation.through };
    }
  }

  private completeWrite(write: PersistEffect): HardState {
    const previous = this.durableHardState;
    if (write.truncateFrom !== null) {
      const keep = this.durableEntries.findIndex((entry) => entry.index >= write.truncateFrom!);
      if (keep !== -1) this.durableEntries.length = keep;
    }
    for (const entry of write.entries) {
      const last = this.durableEntries[this.durableEntries.length - 1]?.index ?? 0;
      const snapshotIndex = this.current?.meta.index ?? 0;
      // After an installed snapshot the log may continue at its index + 1 even if it ended before (the contract);
      // entries at or before the snapshot's index are covered by it and go.
      if (entry.index === snapshotIndex + 1 && last < snapshotIndex) this.durableEntries = [];
      else if (entry.index !== last + 1) {
        throw new SafetyViolation('Persist Contract', `durable log ends at ${last}, write ${write.writeId} appends index ${entry.index}`);
      }
      this.durableEntries.push(entry);
    }
    this.durableHardState = write.hardState;
    return previous;
  }

  private completeChunk(operation: Extract<DiskOperation, { kind: 'chunk' }>): void {
    if (operation.chunk === 0) this.pendingSnapshot = { meta: operation.meta, chunks: [], source: operation.source };
    const pending = this.pendingSnapshot;
    if (pending === null || !sameMeta(pending.meta, operation.meta) || pending.chunks.length !== operation.chunk) {
      throw new SafetyViolation(
        'Snapshot Contract',
        `chunk ${operation.chunk} of snapshot ${operation.meta.index}@${operation.meta.term} written out of order (pending: ${pending === null ? 'none' : `${pending.meta.index}@${pending.meta.term} with ${pending.chunks.length} chunks`})`,
      );
    }
    pending.chunks.push(operation.data.slice());
    if (operation.done) {
      this.current = { meta: pending.meta, chunks: pending.chunks };
      this.pendingSnapshot = null;
    }
  }

  /** Power loss: everything not yet durable is gone, and so is a snapshot not completely written. */
  crash(): number {
    const lost = this.pending.length;
    this.pending.length = 0;
    this.pendingSnapshot = null;
    return lost;
  }

  recovered(): RecoveredState {
    const snapshot = this.current?.meta ?? null;
    const after = snapshot?.index ?? 0;
    return { hardState: this.durableHardState, snapshot, entries: this.durableEntries.filter((entry) => entry.index > after) };
  }
}

export function sameMeta(a: SnapshotMeta, b: SnapshotMeta): boolean {
  return a.index === b.index && a.term === b.term;
}
