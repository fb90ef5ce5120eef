/**
 * Spreading leaders over the hosts: each group prefers one member, chosen by a hash of its id, and that member gets a
 * high `electionPriority` (its election timer falls in [T, T + T/10) instead of [T, 2T)), so it usually times out and
 * wins first. A preference, not a rule: any member can still lead, and the core's election is unchanged.
 */
import type { NodeId } from '../core/index.js';

/** The priority of a group's preferred member; the others keep the default 1. */
export const PREFERRED_PRIORITY = 10;

/** FNV-1a, 32 bits: stable across processes and versions, so every host agrees on the preference. */
export function hashGroupId(group: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < group.length; i++) {
    hash ^= group.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The member that `group` prefers as its leader. */
export function preferredLeader(group: string, members: readonly NodeId[]): NodeId | undefined {
  if (members.length === 0) return undefined;
  const sorted = [...members].sort();
  return sorted[hashGroupId(group) % sorted.length];
}
