/**
 * A node's simulated log store. Writes are queued in issue order and become durable one at a time, oldest first (the
 * FIFO completion the core's `persist` effect promises); a crash discards every write that is not durable yet. What
 * survives is exactly what a restarted node recovers.
 */
import type { Effect, Entry, HardState, RecoveredState } from '../../src/core/types.js';

export type PersistEffect = Extract<Effect, { type: 'persist' }>;

export class SimulatedDisk {
  private durableHardState: HardState = { term: 0, votedFor: null, commit: 0 };
  private readonly durableEntries: Entry[] = [];
  private readonly pending: PersistEffect[] = [];

  get hardState(): HardState {
    return this.durableHardState;
  }

  get lastIndex(): number {
    return this.durableEntries.length;
  }

  /** The term of the durable entry at `index`, if the durable log reaches it. */
  durableTermAt(index: number): number | undefined {
    return this.durableEntries[index - 1]?.term;
  }

  get pendingWrites(): number {
    return this.pending.length;
  }

  /** The writeIds of the writes not yet durable, oldest first. */
  pendingWriteIds(): number[] {
    return this.pending.map((write) => write.writeId);
  }

  /** The writeId of the oldest write not yet durable. */
  get nextWriteId(): number | undefined {
    return this.pending[0]?.writeId;
  }

  write(effect: PersistEffect): void {
    this.pending.push(effect);
  }

  /**
   * Make the oldest pending write durable and return it with the hard state it replaced, so that the caller can check
   * the durable state only moves forward.
   */
  completeNext(): { write: PersistEffect; previous: HardState } {
    const write = this.pending.shift();
    if (write === undefined) throw new Error('no pending write to complete');
    const previous = this.durableHardState;
    if (write.truncateFrom !== null) this.durableEntries.length = Math.min(this.durableEntries.length, write.truncateFrom - 1);
    for (const entry of write.entries) {
      if (entry.index !== this.durableEntries.length + 1) {
        throw new Error(`durable log ends at ${this.durableEntries.length}, write ${write.writeId} appends index ${entry.index}`);
      }
      this.durableEntries.push(entry);
    }
    this.durableHardState = write.hardState;
    return { write, previous };
  }

  /** Power loss: everything not yet durable is gone. Returns how many writes were lost. */
  crash(): number {
    const lost = this.pending.length;
    this.pending.length = 0;
    return lost;
  }

  recovered(): RecoveredState {
    return { hardState: this.durableHardState, entries: this.durableEntries.slice() };
  }
}
