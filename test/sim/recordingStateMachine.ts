/**
 * The simulated application's log of what it applied: every applied entry in order, since the snapshot it last
 * started from. A restarted node starts from its stored snapshot (or empty) and rebuilds the rest as the core
 * re-applies its committed log; an installed snapshot starts it over at the snapshot's index.
 */
import type { Entry } from '../../src/core/types.js';
import { SafetyViolation } from './safetyViolation.js';

export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  readonly data: string;
}

export class RecordingStateMachine {
  /** Entries applied one by one since `snapshotIndex`, in order. */
  readonly applied: AppliedEntry[] = [];

  /** @param snapshotIndex The index of the snapshot the state was restored from (0: none). */
  constructor(readonly snapshotIndex = 0) {}

  get lastApplied(): number {
    return this.snapshotIndex + this.applied.length;
  }

  /** Entries must arrive in index order without gaps; anything else is a violation of the `apply` contract. */
  apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index !== this.lastApplied + 1) {
        throw new SafetyViolation('Apply Order', `applied up to ${this.lastApplied}, got index ${entry.index}`);
      }
      this.applied.push({ index: entry.index, term: entry.term, data: entry.data });
    }
  }

  has(data: string): boolean {
    return this.applied.some((entry) => entry.data === data);
  }
}
