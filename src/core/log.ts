/**
 * The core's view of the replicated log: a contiguous run of entries after `firstIndex - 1`.
 *
 * It mirrors what the log store holds (durable or on its way there); the log store is the source of truth after a
 * crash. Index 0 with term 0 is the empty prefix every log shares.
 */
import type { Entry } from './types.js';

export class RaftLog {
  /** Index and term of the entry just before `entries[0]`: 0 for a full log, the snapshot's last entry after compaction. */
  private prevIndex: number;
  private prevTerm: number;
  private entries: Entry[];

  constructor(entries: readonly Entry[] = [], prevIndex = 0, prevTerm = 0) {
    this.prevIndex = prevIndex;
    this.prevTerm = prevTerm;
    this.entries = [...entries];
    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.index !== prevIndex + 1 + i) {
        throw new Error(`log is not contiguous: expected index ${prevIndex + 1 + i}, found ${entry.index}`);
      }
    }
  }

  get firstIndex(): number {
    return this.prevIndex + 1;
  }

  get lastIndex(): number {
    return this.prevIndex + this.entries.length;
  }

  get lastTerm(): number {
    return this.entries.length === 0 ? this.prevTerm : this.entries[this.entries.length - 1]!.term;
  }

  /** The term of the entry at `index`, or undefined when the index is outside the log. */
  termAt(index: number): number | undefined {
    if (index === this.prevIndex) return this.prevTerm;
    if (index < this.prevIndex || index > this.lastIndex) return undefined;
    return this.entries[index - this.prevIndex - 1]!.term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.prevIndex || index > this.lastIndex) return undefined;
    return this.entries[index - this.prevIndex - 1];
  }

  /** Entries in [from, to] (inclusive), at most `limit` of them. */
  slice(from: number, to: number, limit = Number.POSITIVE_INFINITY): Entry[] {
    const start = Math.max(from, this.firstIndex);
    const end = Math.min(to, this.lastIndex, start + limit - 1);
    if (end < start) return [];
    return this.entries.slice(start - this.prevIndex - 1, end - this.prevIndex);
  }

  /** Whether a log ending at (lastIndex, lastTerm) is at least as up-to-date as this one (Raft paper 5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /**
   * The largest index at or below `index` whose term is at most `term` (etcd's findConflictByTerm). Used on both
   * sides of fast backtracking. Term 0 when `index` lies before the log's start, where terms are not known.
   */
  lastIndexWithTermAtMost(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex);
    // Below the compacted prefix nothing is known: answer `index` itself (a leader then sends from there, which
    // takes its snapshot), never the start of the log, which would make the leader probe the same place forever.
    if (i < this.prevIndex) return { index: i, term: 0 };
    while (i > this.prevIndex) {
      const t = this.entries[i - this.prevIndex - 1]!.term;
      if (t <= term) return { index: i, term: t };
      i--;
    }
    return { index: this.prevIndex, term: this.prevTerm };
  }

  append(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index !== this.lastIndex + 1) {
        throw new Error(`append out of order: log ends at ${this.lastIndex}, entry has index ${entry.index}`);
      }
      this.entries.push(entry);
    }
  }

  /** Index and term of the last entry covered by the snapshot (0, 0 without one). */
  get snapshotIndex(): number {
    return this.prevIndex;
  }

  get snapshotTerm(): number {
    return this.prevTerm;
  }

  /** Drop every entry up to and including `index`, which must be in the log (it becomes the new starting point). */
  compact(index: number): void {
    if (index <= this.prevIndex) return;
    const term = this.termAt(index);
    if (term === undefined) throw new Error(`cannot compact through ${index}: the log ends at ${this.lastIndex}`);
    this.entries = this.entries.slice(index - this.prevIndex);
    this.prevIndex = index;
    this.prevTerm = term;
  }

  /**
   * Start the log over at a snapshot ending at (index, term): entries after it are kept only when the log already
   * has that entry (Raft paper, InstallSnapshot receiver step 6); otherwise the whole log is discarded.
   * Returns whether a suffix was kept.
   */
  restartAt(index: number, term: number): boolean {
    const keepsSuffix = index >= this.prevIndex && this.termAt(index) === term;
    this.entries = keepsSuffix ? this.entries.slice(index - this.prevIndex) : [];
    this.prevIndex = index;
    this.prevTerm = term;
    return keepsSuffix;
  }

  /** Drop every entry at or after `index`. */
  truncateFrom(index: number): void {
    if (index <= this.prevIndex) throw new Error(`cannot truncate at ${index}: at or before the log start ${this.prevIndex}`);
    this.entries.length = Math.max(0, index - this.prevIndex - 1);
  }
}
