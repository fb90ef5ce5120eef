/**
 * Which runs a `LevelLogStore` holds (levelCodec.ts: the entries of one `SaveLog` under one key), in log order, so
 * that the store knows which keys a truncation or a compaction touches without reading the database: a truncation
 * deletes the runs after its index and cuts the run it falls in; a compaction drops the runs wholly at or below its
 * index, and keeps the one it falls in (its earlier entries are skipped when read back).
 *
 * Runs never overlap and lie in ascending order; between two runs there may be a gap (a log that ended before an
 * installed snapshot continues right after the snapshot). Built from the keys on open; the store moves it on as it
 * prepares each group (levelGroupCommit.ts), ahead of the durable position: a group that fails to be written fails
 * the store, whose index is rebuilt from the keys when it is opened again.
 */
import type { RunBounds } from './levelCodec.js';

export class RunIndex {
  private readonly firsts: number[] = [];
  private readonly lasts: number[] = [];

  /** The runs `bounds`, in key order (the order the database returns them). */
  static of(bounds: Iterable<RunBounds>): RunIndex {
    const index = new RunIndex();
    for (const { first, last } of bounds) index.append(first, last);
    return index;
  }

  get size(): number {
    return this.firsts.length;
  }

  /** The first run, or null when the store holds no entries. */
  get firstRun(): RunBounds | null {
    return this.firsts.length === 0 ? null : { first: this.firsts[0]!, last: this.lasts[0]! };
  }

  /** The last run, or null when the store holds no entries. */
  get lastRun(): RunBounds | null {
    const at = this.firsts.length - 1;
    return at < 0 ? null : { first: this.firsts[at]!, last: this.lasts[at]! };
  }

  /** Add the run `first..last` after every other. */
  append(first: number, last: number): void {
    const previous = this.lasts[this.lasts.length - 1];
    if (last < first || (previous !== undefined && first <= previous)) {
      throw new RangeError(`run ${first}..${last} does not follow the runs stored (the last ends at ${previous})`);
    }
    this.firsts.push(first);
    this.lasts.push(last);
  }

  /**
   * Forget every entry from `from` on: the runs that start there or later are returned in `removed`, and the run
   * that `from` falls inside, if any, in `cut` (as it was: its key changes, see levelCodec.ts), now ending at
   * `from - 1`.
   */
  truncate(from: number): { readonly removed: readonly RunBounds[]; readonly cut: RunBounds | null } {
    const removed: RunBounds[] = [];
    while (this.firsts.length > 0 && this.firsts[this.firsts.length - 1]! >= from) {
      removed.push({ first: this.firsts.pop()!, last: this.lasts.pop()! });
    }
    const at = this.lasts.length - 1;
    if (at < 0 || this.lasts[at]! < from) return { removed, cut: null };
    const cut = { first: this.firsts[at]!, last: this.lasts[at]! };
    this.lasts[at] = from - 1;
    return { removed, cut };
  }

  /**
   * Forget the runs that lie wholly at or below `through`. Returns the first index of the first run kept, under
   * which every key is now dead (null when no run was dropped).
   */
  compact(through: number): { readonly keptFrom: number } | null {
    let dropped = 0;
    while (dropped < this.lasts.length && this.lasts[dropped]! <= through) dropped++;
    if (dropped === 0) return null;
    this.firsts.splice(0, dropped);
    this.lasts.splice(0, dropped);
    return { keptFrom: this.firsts[0] ?? through + 1 };
  }
}
