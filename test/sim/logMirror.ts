/**
 * A node's volatile log as the simulator sees it: rebuilt from the `persist` effects the core emits, with a hash
 * chain over the prefix ending at every index.
 *
 * The chain makes the prefix checks of the safety invariants O(1): two logs that hold the same chain hash at an index
 * hold identical prefixes up to it (Log Matching), and a leader whose chain hash at a remembered index is unchanged has
 * not rewritten anything before it (Leader Append-Only). After every step the simulator also compares the mirror's
 * last index and term with the core's, so a log change the core forgot to ask to persist is caught too.
 *
 * Compaction does not shrink the mirror (it is instrumentation, and the checks want the chain of a leader's whole
 * term); an installed snapshot or a restart from one rebases it on the snapshot's last entry.
 */
import type { Entry } from '../../src/core/types.js';

export class LogMirror {
  /**
   * The log's starting point: the last entry covered by a snapshot (index, term, and the chain hash of the prefix it
   * ends, which the safety checker vouches for), or (0, 0, 0) for a log kept from index 1.
   */
  private baseIndex = 0;
  private baseTerm = 0;
  private baseChain = 0;
  /** terms[i] is the term of the entry at index baseIndex + 1 + i; likewise for the other arrays. */
  private terms: number[] = [];
  private datas: string[] = [];
  private kinds: Entry['kind'][] = [];
  /** chain[i] is the hash of the prefix [1, baseIndex + 1 + i]; the empty prefix hashes to 0. */
  private chain: number[] = [];

  static fromEntries(entries: readonly Entry[]): LogMirror {
    const mirror = new LogMirror();
    mirror.apply(null, entries);
    return mirror;
  }

  /** A log starting after a snapshot ending at (index, term) whose prefix hashes to `chain`. */
  static fromSnapshot(index: number, term: number, chain: number, entries: readonly Entry[]): LogMirror {
    const mirror = new LogMirror();
    mirror.baseIndex = index;
    mirror.baseTerm = term;
    mirror.baseChain = chain;
    mirror.apply(null, entries);
    return mirror;
  }

  /** The index before the first entry the mirror knows (the snapshot it started from, or 0). */
  get firstKnownIndex(): number {
    return this.baseIndex;
  }

  get lastIndex(): number {
    return this.baseIndex + this.terms.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex) return undefined;
    return this.terms[index - this.baseIndex - 1];
  }

  dataAt(index: number): string | undefined {
    return index <= this.baseIndex ? undefined : this.datas[index - this.baseIndex - 1];
  }

  kindAt(index: number): Entry['kind'] | undefined {
    return index <= this.baseIndex ? undefined : this.kinds[index - this.baseIndex - 1];
  }

  /** The hash of the prefix [1, index]; undefined beyond the end of the log or before its starting point. */
  chainAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseChain;
    if (index < this.baseIndex) return undefined;
    return this.chain[index - this.baseIndex - 1];
  }

  /**
   * Start over from an installed snapshot ending at (index, term) with prefix hash `chain`: entries after it stay
   * only if the log holds the snapshot's last entry (the core's RaftLog.restartAt rule).
   */
  rebase(index: number, term: number, chain: number): void {
    const keepsSuffix = index >= this.baseIndex && index <= this.lastIndex && this.termAt(index) === term;
    const drop = keepsSuffix ? index - this.baseIndex : this.terms.length;
    this.terms = this.terms.slice(drop);
    this.datas = this.datas.slice(drop);
    this.kinds = this.kinds.slice(drop);
    this.chain = this.chain.slice(drop);
    this.baseIndex = index;
    this.baseTerm = term;
    this.baseChain = chain;
  }

  /** Apply one write: truncate from `truncateFrom` (when given), then append `entries`, which must be contiguous. */
  apply(truncateFrom: number | null, entries: readonly Entry[]): void {
    if (truncateFrom !== null) {
      if (truncateFrom <= this.baseIndex) throw new Error(`truncation at ${truncateFrom}, at or before the log start ${this.baseIndex}`);
      const keep = Math.min(this.terms.length, truncateFrom - 1 - this.baseIndex);
      this.terms.length = keep;
      this.datas.length = keep;
      this.kinds.length = keep;
      this.chain.length = keep;
    }
    for (const entry of entries) {
      if (entry.index !== this.lastIndex + 1) {
        throw new Error(`non-contiguous write: log ends at ${this.lastIndex}, entry has index ${entry.index}`);
      }
      const previous = this.chainAt(this.lastIndex)!;
      this.terms.push(entry.term);
      this.datas.push(entry.data);
      this.kinds.push(entry.kind);
      this.chain.push(chainHash(previous, entry));
    }
  }
}

/**
 * Hash of a prefix extended by one entry: two independent 32-bit FNV-1a lanes folded into 53 bits, so that an
 * accidental collision (which could only hide a violation, never invent one) is out of reach in a test run.
 */
export function chainHash(previous: number, entry: Entry): number {
  let high = (Math.floor(previous / 0x200000) ^ 0x811c9dc5) >>> 0;
  let low = ((previous % 0x200000) ^ 0x01000193) >>> 0;
  const mix = (value: number): void => {
    high = Math.imul(high ^ value, 0x01000193) >>> 0;
    low = Math.imul(low ^ value, 0x5bd1e995) >>> 0;
    low ^= low >>> 13;
  };
  mix(entry.index);
  mix(entry.term);
  mix(entry.kind === 'noop' ? 1 : 2);
  for (let i = 0; i < entry.data.length; i++) mix(entry.data.charCodeAt(i));
  return high * 0x200000 + (low & 0x1fffff);
}
