/**
 * When members take snapshots (paper section 7 leaves it to each server): at most `snapshotThreshold` entries apart,
 * and not all at the same index. Members applying one log at one pace would otherwise all stop for a snapshot at
 * once, and the leader would wait for a quorum that is busy snapshotting.
 */
import { describe, expect, it } from 'vitest';
import { CoreCluster } from './coreCluster.js';

const ids = ['n1', 'n2', 'n3'];

/** Commit `count` entries one at a time on a three-member group; the snapshot indexes each member took, in order. */
function snapshotsTaken(threshold: number, count: number): Map<string, number[]> {
  const cluster = new CoreCluster(ids, { snapshotThreshold: threshold, snapshotTrailingEntries: 0, snapshotThresholdBytes: 0 });
  cluster.elect('n1');
  const taken = new Map(ids.map((id) => [id, [] as number[]]));
  for (let n = 0; n < count; n++) {
    cluster.input('n1', (core) => core.propose([{ id: `p${n}`, data: `"${n}"` }]));
    cluster.deliver();
    // The followers learn the commit index from the next message.
    cluster.input('n1', (core) => core.heartbeatDue());
    cluster.deliver();
    for (const id of ids) {
      const index = cluster.core(id).snapshotIndex;
      const list = taken.get(id)!;
      if (index > (list.at(-1) ?? 0)) list.push(index);
    }
  }
  return taken;
}

describe('when members take snapshots', () => {
  it('members of a group take theirs at different points of each run of snapshotThreshold entries', () => {
    const taken = snapshotsTaken(30, 200);
    // The leader's entry of its term is index 1: every member has applied index n + 1 after the n-th proposal.
    const lastSnapshots = ids.map((id) => taken.get(id)!.at(-1)!);
    expect(new Set(lastSnapshots.map((index) => index % 30)).size).toBe(3);
    for (const id of ids) {
      const indexes = taken.get(id)!;
      // In phase after the first run: one snapshot every 30 entries, each at the same point of its run.
      expect(indexes.length).toBeGreaterThanOrEqual(6);
      const steady = indexes.slice(1);
      for (let i = 1; i < steady.length; i++) expect(steady[i]! - steady[i - 1]!).toBe(30);
    }
  });

  it('no member goes more than snapshotThreshold entries without one, nor takes two less than half of it apart', () => {
    for (const threshold of [7, 10, 64]) {
      const taken = snapshotsTaken(threshold, 5 * threshold);
      for (const indexes of taken.values()) {
        const gaps = indexes.map((index, i) => index - (indexes[i - 1] ?? 0));
        for (const gap of gaps) {
          expect(gap).toBeLessThanOrEqual(threshold);
          expect(2 * gap).toBeGreaterThanOrEqual(threshold);
        }
      }
    }
  });
});
