/**
 * Raft thesis 6.2 (check-quorum) and etcd's TestLeaderStepdownWhenQuorumLost: a leader that has not heard from a
 * majority within an election timeout steps down, so clients stop waiting on a leader that cannot commit.
 */
import { describe, expect, it } from 'vitest';
import { Harness } from '../sim/harness.js';

describe('an isolated leader steps down by check-quorum', () => {
  it('keeps leading while a majority answers, and steps down one election timeout after losing it', () => {
    const cluster = new Harness({ nodes: 3 });
    cluster.campaign('n1');
    cluster.stabilize();

    // Connected: heartbeats are answered and every check-quorum round passes.
    for (let i = 0; i < 3; i++) {
      cluster.heartbeat('n1');
      cluster.stabilize();
      cluster.electionTimeout('n1');
      expect(cluster.core('n1').role).toBe('leader');
    }

    cluster.isolate('n1');
    cluster.heartbeat('n1');
    cluster.stabilize();
    // The heartbeats of this round went unanswered: at the end of the round n1 has heard from nobody.
    cluster.electionTimeout('n1');
    expect(cluster.core('n1').role).toBe('follower');
    expect(cluster.core('n1').leader).toBeNull();
    expect(cluster.core('n1').term).toBe(1);
  });
});
