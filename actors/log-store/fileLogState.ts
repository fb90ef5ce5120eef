/**
 * What a `FileLogStore` holds, in memory: the hard state, the log after the current snapshot, and the snapshot. The
 * store moves it on with each write it accepts, and recovery replays the file's records through the same two steps,
 * so a reopened store is in exactly the state its durable writes made.
 *
 * Invariant: `entries` are consecutive and end at `lastIndex`; every entry at or below the snapshot's index is gone
 * from them (Load never answers one: the snapshot covers it).
 */
import type { Entry, HardState } from '../../src/core/index.js';
import type { CurrentSnapshot } from './levelLayout.js';
import { nextAppendIndex } from './LogStore.js';

export class FileLogState {
  hardState: HardState = { term: 0, votedFor: null, commit: 0 };
  entries: Entry[] = [];
  /** The last index as written (it may lie below the snapshot's, for a follower that installed a leader's). */
  lastIndex = 0;
  current: CurrentSnapshot | null = null;

  get snapshotIndex(): number {
    return this.current?.meta.index ?? 0;
  }

  /**
   * Why `save` would break the contract (entries that do not continue the log after the truncation), or null. Called
   * before `save`, so that a refused write changes nothing.
   */
  refusal(truncateFrom: number | null, entries: readonly Entry[]): string | null {
    if (truncateFrom !== null && !(Number.isSafeInteger(truncateFrom) && truncateFrom >= 1)) return `truncates from ${truncateFrom}`;
    let next = this.nextIndex(truncateFrom);
    for (const entry of entries) {
      if (entry.index !== next) return `appends entry ${entry.index} where entry ${next} belongs`;
      next++;
    }
    return null;
  }

  /** Truncate from `truncateFrom` (when set), append `entries`, take `hardState`; `refusal` found nothing wrong. */
  save(hardState: HardState, truncateFrom: number | null, entries: readonly Entry[]): void {
    const next = this.nextIndex(truncateFrom);
    if (truncateFrom !== null) {
      this.lastIndex = Math.min(this.lastIndex, truncateFrom - 1);
      const first = this.entries[0]?.index ?? next;
      this.entries.length = Math.max(0, Math.min(this.entries.length, truncateFrom - first));
    }
    if (entries.length > 0) {
      // A log that ended before the snapshot continues right after it: what it held is all covered.
      if (this.entries.length > 0 && this.entries.at(-1)!.index !== next - 1) this.entries = [];
      for (const entry of entries) this.entries.push(entry);
      this.lastIndex = entries.at(-1)!.index;
      // Entries rewritten at or below the snapshot (a truncation reaching under it) are covered by it all the same.
      if (this.entries[0]!.index <= this.snapshotIndex) this.entries = this.entries.filter((entry) => entry.index > this.snapshotIndex);
    }
    this.hardState = hardState;
  }

  /** A snapshot became current: the entries it covers go. */
  swap(snapshot: CurrentSnapshot): void {
    this.current = snapshot;
    const first = this.entries[0]?.index;
    if (first !== undefined && first <= snapshot.meta.index) this.entries = this.entries.slice(snapshot.meta.index - first + 1);
  }

  private nextIndex(truncateFrom: number | null): number {
    return nextAppendIndex(this.lastIndex, this.snapshotIndex, truncateFrom);
  }
}
