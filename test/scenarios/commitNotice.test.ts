/**
 * A multi-Raft host turns the commit heartbeat off (`commitHeartbeats: false`) and carries the commit index in the
 * notice that puts a group to sleep (RaftCore.commitNotice). Raft's commit rule for a follower (paper, Figure 2,
 * AppendEntries: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)") must
 * hold for the notice too: a follower commits only what its current leader's appends confirmed in its log.
 */
import { describe, expect, it } from 'vitest';
import { Harness } from '../sim/harness.js';

const withoutCommitHeartbeats = { config: { commitHeartbeats: false } };

/** Three nodes without commit heartbeats, led by n1, which has proposed 'x' (delivered everywhere when `settle`). */
function proposedOnN1(settle: boolean): Harness {
  const cluster = new Harness({ nodes: 3, ...withoutCommitHeartbeats });
  cluster.campaign('n1');
  cluster.stabilize();
  cluster.propose('n1', 'x');
  if (settle) cluster.stabilize();
  return cluster;
}

describe('a commit notice', () => {
  it('with commit heartbeats off, a follower learns a commit from the notice instead of an append', () => {
    const cluster = proposedOnN1(true);
    // Committed on the leader; no message told the followers.
    expect(cluster.core('n1').commitIndex).toBe(2);
    expect(cluster.core('n2').commitIndex).toBe(1);

    cluster.node('n2').commitNotice('n1', cluster.core('n1').term, 2);
    expect(cluster.core('n2').commitIndex).toBe(2);
    cluster.stabilize();
    expect(cluster.appliedCommands('n2')).toEqual(['x']);
  });

  it('commits nothing of a longer log that the leader has not confirmed, even at indexes it has committed', () => {
    // n2 holds entries of term 2 where the leader's log has entries of term 3 (paper, Figure 7's follower (f)).
    const term3 = { term: 3 };
    const cluster = new Harness({
      nodes: 3,
      logs: { n1: [1, 3], n2: [1, 2, 2], n3: [1, 3] },
      hardStates: { n1: term3, n2: term3, n3: term3 },
      config: { commitHeartbeats: false, preVote: false },
    });
    cluster.campaign('n1');
    cluster.deliver({ type: 'RequestVote' });
    cluster.deliver({ type: 'RequestVoteResponse' });
    expect(cluster.core('n1').role).toBe('leader');
    // The leader's no-op at 3 commits with n3; n2 refuses the append (its entry 2 is of term 2), and so learns who leads.
    cluster.deliver({ to: 'n3', type: 'AppendEntries' });
    cluster.deliver({ to: 'n1', from: 'n3' });
    expect(cluster.core('n1').commitIndex).toBe(3);
    cluster.deliver({ to: 'n2', type: 'AppendEntries' });
    expect(cluster.core('n2').leader).toBe('n1');
    expect(cluster.core('n2').lastIndex).toBe(3);

    // Commit index 3 is the leader's entry, not n2's: nothing of n2's log was confirmed, so nothing is committed.
    cluster.node('n2').commitNotice('n1', cluster.core('n1').term, 3);
    expect(cluster.core('n2').commitIndex).toBe(0);

    cluster.stabilize();
    expect(cluster.terms('n2')).toEqual(cluster.terms('n1'));
  });

  it('commits no further than the log it holds, whatever the notice says', () => {
    const cluster = proposedOnN1(false);
    // Only n3 gets the entry (its answer is lost): n1 confirmed index 2 in n3's log, and nothing beyond 1 in n2's.
    cluster.deliver({ to: 'n3', type: 'AppendEntries' });
    cluster.drop(() => true);
    expect(cluster.core('n3').lastIndex).toBe(2);

    const term = cluster.core('n1').term;
    cluster.node('n2').commitNotice('n1', term, 2);
    expect(cluster.core('n2').commitIndex).toBe(1); // n2 holds only index 1

    cluster.node('n3').commitNotice('n1', term, 5);
    expect(cluster.core('n3').commitIndex).toBe(2); // confirmed through 2, not 5
  });

  it('is ignored from a node that is not the leader, and for another term', () => {
    const cluster = proposedOnN1(true);
    const term = cluster.core('n1').term;

    cluster.node('n2').commitNotice('n3', term, 2);
    cluster.node('n2').commitNotice('n1', term + 1, 2);
    cluster.node('n2').commitNotice('n1', term - 1, 2);
    expect(cluster.core('n2').commitIndex).toBe(1);
  });
});
