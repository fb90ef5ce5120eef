/**
 * A node's volatile log as the simulator sees it: rebuilt from the `persist` effects the core emits, with a hash
 * chain over the prefix ending at every index.
 *
 * The chain makes the prefix checks of the safety invariants O(1): two logs that hold the same chain hash at an index
 * hold identical prefixes up to it (Log Matching), and a leader whose chain hash at a remembered index is unchanged has
 * not rewritten anything before it (Leader Append-Only). After every step the simulator also compares the mirror's
 * last index and term with the core's, so a log change the core forgot to ask to persist is caught too.
 */
import type { Entry } from '../../src/core/types.js';

export class LogMirror {
  /** terms[i - 1] is the term of the entry at index i. */
  private readonly terms: number[] = [];
  private readonly datas: string[] = [];
  private readonly kinds: Entry['kind'][] = [];
  /** chain[i - 1] is the hash of the prefix [1, i]; the empty prefix hashes to 0. */
  private readonly chain: number[] = [];

  static fromEntries(entries: readonly Entry[]): LogMirror {
    const mirror = new LogMirror();
    mirror.apply(null, entries);
    return mirror;
  }

  get lastIndex(): number {
    return this.terms.length;
  }

  termAt(index: number): number | undefined {
    if (index === 0) return 0;
    return this.terms[index - 1];
  }

  dataAt(index: number): string | undefined {
    return this.datas[index - 1];
  }

  kindAt(index: number): Entry['kind'] | undefined {
    return this.kinds[index - 1];
  }

  /** The hash of the prefix [1, index]; undefined beyond the end of the log. */
  chainAt(index: number): number | undefined {
    if (index === 0) return 0;
    return this.chain[index - 1];
  }

  /** Apply one write: truncate from `truncateFrom` (when given), then append `entries`, which must be contiguous. */
  apply(truncateFrom: number | null, entries: readonly Entry[]): void {
    if (truncateFrom !== null) {
      if (truncateFrom < 1) throw new Error(`truncation at ${truncateFrom}`);
      const keep = Math.min(this.terms.length, truncateFrom - 1);
      this.terms.length = keep;
      this.datas.length = keep;
      this.kinds.length = keep;
      this.chain.length = keep;
    }
    for (const entry of entries) {
      if (entry.index !== this.terms.length + 1) {
        throw new Error(`non-contiguous write: log ends at ${this.terms.length}, entry has index ${entry.index}`);
      }
      const previous = this.terms.length === 0 ? 0 : this.chain[this.terms.length - 1]!;
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
