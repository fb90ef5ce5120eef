/**
 * Raft paper, section 5.3 and Figure 7: when a leader comes to power, followers may be missing entries, have extra
 * uncommitted entries, or both. The leader forces their logs to duplicate its own, and the optimisation at the end of
 * 5.3 (etcd's fast backtracking) lets it "bypass all of the conflicting entries in that term" with one rejection per
 * term instead of one per entry.
 */
import { describe, expect, it } from 'vitest';
import { Harness } from '../sim/harness.js';

// Figure 7: the leader for term 8 (n1) and followers (a)..(f) (n2..n7); the figure draws each log as its terms.
const figure7 = {
  n1: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6],
  n2: [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a) missing an entry
  n3: [1, 1, 1, 4], // (b) missing many
  n4: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c) one extra uncommitted entry
  n5: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) extra entries of a later term
  n6: [1, 1, 1, 4, 4, 4, 4], // (e) missing and extra
  n7: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f) a long divergent suffix over terms 2 and 3
};

describe('Figure 7: a new leader repairs every kind of divergent follower log', () => {
  it('brings all six followers to the leader log, with at most one rejection per divergent term', () => {
    const hardStates = Object.fromEntries(Object.keys(figure7).map((id) => [id, { term: 7, commit: 3 }]));
    const cluster = new Harness({ nodes: 7, logs: figure7, hardStates });
    // n1 is elected for term 8 by (a), (b), (e) and (f); (c) and (d) have more up-to-date logs and refuse.
    cluster.campaign('n1');
    cluster.stabilize();
    expect(cluster.leader()).toBe('n1');
    expect(cluster.core('n1').term).toBe(8);

    const leaderLog = [...figure7.n1, 8];
    for (const id of cluster.ids) expect(cluster.terms(id)).toEqual(leaderLog);
    expect(cluster.core('n1').commitIndex).toBe(11);

    const rejections = (id: string) =>
      cluster.deliveredMessages.filter((m) => m.from === id && m.message.type === 'AppendEntriesResponse' && !m.message.success).length;
    // (f) diverges over 8 entries (indexes 4..11) of terms 2 and 3: one probe per entry would take 8 rejections.
    // (f) diverges over 8 entries (indexes 4..11) of terms 2 and 3: backing up one entry per rejection would take 7
    // rejections; the hint (its last entry of a term <= 6 is index 11, term 3) sends the leader straight to index 3.
    expect(rejections('n7')).toBe(1);
    // (e) ends in term-4 entries the leader lacks: one rejection, then the leader resumes after its own last term-4 entry.
    expect(rejections('n6')).toBe(1);
    // (a) and (b) are merely short: one rejection each. (c) and (d) hold the leader's prefix: none; their extra
    // entries are truncated by the first append.
    expect(rejections('n2')).toBe(1);
    expect(rejections('n3')).toBe(1);
    expect(rejections('n4')).toBe(0);
    expect(rejections('n5')).toBe(0);
  });
});
