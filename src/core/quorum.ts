/**
 * Quorum arithmetic for a single majority configuration (etcd's quorum/ package, in small).
 * Pure functions; membership changes (issue 6) add a joint variant beside these.
 */
import type { NodeId } from './types.js';

/** The number of votes that make a majority of `voterCount` voters. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters has durably matched: sort the match indexes descending and take the
 * one at position majority-1. A voter missing from `matchIndex` counts as 0.
 */
export function committedIndex(voters: readonly NodeId[], matchIndex: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matched = voters.map(matchIndex).sort((a, b) => b - a);
  return matched[majority(voters.length) - 1] ?? 0;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Tally of an election: won with a majority of grants, lost once a majority can no longer be reached. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const needed = majority(voters.length);
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  if (granted >= needed) return 'won';
  if (voters.length - rejected < needed) return 'lost';
  return 'pending';
}
