/**
 * Which group of the sharded store holds a key: the same stable 32-bit hash (FNV-1a) that spreads groups' leaders,
 * modulo the number of groups. Every node computes the same, so any node routes any key.
 */
import { hashGroupId } from '../../src/host/leaderSpread.js';

export function groupOfKey(key: string, groups: number): number {
  return hashGroupId(key) % groups;
}
