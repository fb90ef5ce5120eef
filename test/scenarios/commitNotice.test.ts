/**
 * A multi-Raft host turns the commit heartbeat off (`commitHeartbeats: false`) and carries the commit index in the
 * notice that puts a group to sleep (RaftCore.commitNotice). Raft's commit rule for a follower (paper, Figure 2,
 * AppendEntries: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)") must
 * hold for the notice too: a follower commits only what its current leader's appends confirmed in its log.
 */
import { describe, expect, it } from 'vitest';
import { Harness } from '../sim/harness.js';

const withoutCommitHeartbeats = { config: { commitHeartbeats: false } };

describe('a commit notice', () => {
  it('with commit heartbeats off, a follower learns a commit from the notice instead of an append', () => {
    const cluster = new Harness({ nodes: 3, ...withoutCommitHeartbeats });
    cluster.campaign('n1');
    cluster.stabilize();
    cluster.propose('n1', 'x');
    cluster.stabilize();
    // Committed on the leader; no message told the followers.
    expect(cluster.core('n1').commitIndex).toBe(2);
    expect(cluster.core('n2').commitIndex).toBe(1);

    cluster.node('n2').commitNotice('n1', cluster.core('n1').term, 2);
    expect(cluster.core('n2').commitIndex).toBe(2);
    cluster.stabilize();
    expect(cluster.appliedCommands('n2')).toEqual(['x']);
  });

  it('commits no further than the log the leader confirmed here, whatever the notice says', () => {
    const cluster = new Harness({ nodes: 3, ...withoutCommitHeartbeats });
    cluster.campaign('n1');
    cluster.stabilize();
    cluster.propose('n1', 'x');
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
    const cluster = new Harness({ nodes: 3, ...withoutCommitHeartbeats });
    cluster.campaign('n1');
    cluster.stabilize();
    cluster.propose('n1', 'x');
    cluster.stabilize();
    const term = cluster.core('n1').term;

    cluster.node('n2').commitNotice('n3', term, 2);
    cluster.node('n2').commitNotice('n1', term + 1, 2);
    cluster.node('n2').commitNotice('n1', term - 1, 2);
    expect(cluster.core('n2').commitIndex).toBe(1);
  });
});
