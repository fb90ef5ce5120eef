/**
 * A node's simulated log store: a real `LogStore` over a `SimulatedDisk`, behaving like `LevelLogStore`.
 *
 * - Writes (`SaveLog`, snapshot chunks, compactions) are queued on the disk in issue order and become durable one at a
 *   time, when the simulation says so (`completeNext`); `LogSaved` and `SnapshotChunkStored` are answered then. A
 *   crash loses everything not yet durable; the disk (durable state) outlives the store, and a restarted node gets a
 *   new store on the same disk.
 * - A write that does not continue the log (or the snapshot) is refused as `StoreFailed` INVALID_WRITE, as
 *   LevelLogStore refuses it, and the store then acknowledges nothing more.
 * - Reads (`Load`, `ReadSnapshotChunk`) are answered at once or after simulated I/O, as the simulation decides
 *   (`StoreHost.read`); a snapshot chunk is read from whatever snapshot is current when the read completes.
 *
 * The store also keeps the node's volatile log mirror in step with the writes it is sent (the log the core holds),
 * which the safety checks compare with the core after every step.
 */
import { LogStore, type CompactLog, type Load, type ReadSnapshotChunk, type SaveLog, type WriteSnapshotChunk } from '../../actors/log-store/LogStore.js';
import type { NodeId } from '../../src/core/types.js';
import type { CompletedOperation, DiskOperation, PersistEffect, SimulatedDisk } from './simulatedDisk.js';

/** What the store needs from the node host and the simulation. */
export interface StoreHost {
  readonly disk: SimulatedDisk;
  /** A write was accepted (queued); the log mirror and the checks see it now. */
  logWritten(write: PersistEffect): void;
  /** An operation was queued on the disk; the simulation calls `completeNext` when it is durable. */
  diskQueued(operation: DiskOperation): void;
  /** Run `answer` now or after simulated I/O (never after this incarnation crashed). */
  read(answer: () => void): void;
  /** A leader asked for a chunk to send to `to`. */
  snapshotReadFor(to: NodeId): void;
}

export class SimLogStore extends LogStore {
  /** The log as it will be once every queued write is durable: where the next write must continue. */
  private lastIndex: number;
  private snapshotIndex: number;
  /** The pending snapshot being written as issued: its index and the next chunk it expects. */
  private issuingSnapshot: { index: number; term: number; nextChunk: number } | null = null;
  /** Set after a refused write: the store acknowledges nothing more. */
  private broken = false;

  constructor(private readonly host: StoreHost) {
    super();
    this.lastIndex = host.disk.lastEntryIndex;
    this.snapshotIndex = host.disk.snapshot?.meta.index ?? 0;
  }

  protected onLoad(_message: Load): void {
    this.host.read(() => this.loaded(this.host.disk.recovered()));
  }

  protected onSaveLog(message: SaveLog): void {
    if (this.broken) return;
    let next = Math.max(this.lastIndex, this.snapshotIndex) + 1;
    if (message.truncateFrom !== null) {
      if (message.truncateFrom < 1) return this.refuse(`write ${message.writeId} truncates from ${message.truncateFrom}`);
      this.lastIndex = Math.min(this.lastIndex, message.truncateFrom - 1);
      next = Math.min(message.truncateFrom, Math.max(this.lastIndex, this.snapshotIndex) + 1);
    }
    for (const entry of message.entries) {
      if (entry.index !== next) return this.refuse(`write ${message.writeId} appends entry ${entry.index} where entry ${next} belongs`);
      next++;
    }
    if (message.entries.length > 0) this.lastIndex = next - 1;
    const write: PersistEffect = { writeId: message.writeId, hardState: message.hardState, truncateFrom: message.truncateFrom, entries: message.entries };
    this.host.logWritten(write);
    this.host.diskQueued(this.host.disk.write(write));
  }

  protected onWriteSnapshotChunk(message: WriteSnapshotChunk): void {
    if (this.broken) return;
    const pending = this.issuingSnapshot;
    if (message.chunk === 0) this.issuingSnapshot = { index: message.meta.index, term: message.meta.term, nextChunk: 1 };
    else if (pending === null || pending.nextChunk !== message.chunk || pending.index !== message.meta.index || pending.term !== message.meta.term) {
      return this.refuse(`snapshot chunk ${message.chunk} at index ${message.meta.index} does not continue the pending snapshot`);
    } else pending.nextChunk++;
    if (message.done) {
      this.snapshotIndex = message.meta.index;
      this.issuingSnapshot = null;
    }
    this.host.diskQueued(
      this.host.disk.enqueue({ kind: 'chunk', source: message.ref === 'take' ? 'take' : 'install', meta: message.meta, chunk: message.chunk, data: message.data, done: message.done, ref: message.ref }),
    );
  }

  protected onReadSnapshotChunk(message: ReadSnapshotChunk): void {
    if (message.ref.startsWith('send:')) this.host.snapshotReadFor(message.ref.slice('send:'.length));
    this.host.read(() => {
      const stored = this.host.disk.snapshot;
      const data = stored?.chunks[message.chunk];
      if (stored === null || data === undefined) this.chunkLoaded(message.ref, null, message.chunk, new Uint8Array(0), false);
      else this.chunkLoaded(message.ref, stored.meta, message.chunk, data, message.chunk === stored.chunks.length - 1);
    });
  }

  protected override onCompactLog(message: CompactLog): void {
    if (this.broken) return;
    this.host.diskQueued(this.host.disk.enqueue({ kind: 'compact', through: message.through }));
  }

  /**
   * The oldest queued operation is durable: `durable` hears first (the checks), then the node (the caller has checked
   * the operation is this incarnation's).
   */
  completeNext(durable: (completed: CompletedOperation) => void): CompletedOperation {
    const completed = this.host.disk.completeNext();
    durable(completed);
    if (this.broken) return completed;
    if (completed.kind === 'persist') this.saved(completed.write.writeId);
    else if (completed.kind === 'chunk') {
      const { ref, meta, chunk, done, data } = completed.operation;
      this.chunkStored({ type: 'WriteSnapshotChunk', ref, meta, chunk, data, done });
    }
    return completed;
  }

  private refuse(message: string): void {
    this.broken = true;
    this.failed({ code: 'INVALID_WRITE', message });
  }
}
