/**
 * The simulated application: it records every applied entry in order. A restarted node starts from an empty
 * machine and rebuilds it as the core re-applies its committed log, like an application without snapshots.
 */
import type { Entry } from '../../src/core/types.js';
import { SafetyViolation } from './safetyViolation.js';

export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  readonly data: string;
}

export class RecordingStateMachine {
  readonly applied: AppliedEntry[] = [];

  get lastApplied(): number {
    return this.applied.length;
  }

  /** Entries must arrive in index order without gaps; anything else is a violation of the `apply` contract. */
  apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index !== this.applied.length + 1) {
        throw new SafetyViolation('Apply Order', `applied up to ${this.applied.length}, got index ${entry.index}`);
      }
      this.applied.push({ index: entry.index, term: entry.term, data: entry.data });
    }
  }

  has(data: string): boolean {
    return this.applied.some((entry) => entry.data === data);
  }
}
