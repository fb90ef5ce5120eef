/**
 * Raft thesis 9.6 (pre-vote) and 4.2.3 (disruptive servers): a node partitioned away keeps timing out, but with
 * pre-vote it never increments its term, so when it rejoins it does not depose the stable leader. Without pre-vote it
 * comes back with a higher term and forces an election.
 */
import { describe, expect, it } from 'vitest';
import { Harness } from '../sim/harness.js';

function isolatedFollowerRejoins(preVote: boolean): Harness {
  const cluster = new Harness({ nodes: 3, config: { preVote } });
  cluster.campaign('n1');
  cluster.stabilize();
  cluster.isolate('n3');
  for (let i = 0; i < 5; i++) {
    cluster.electionTimeout('n3');
    cluster.heartbeat('n1');
    cluster.stabilize();
  }
  cluster.heal();
  // Back on the network, n3 times out once more before it hears from the leader.
  cluster.electionTimeout('n3');
  cluster.stabilize();
  cluster.heartbeat('n1');
  cluster.stabilize();
  return cluster;
}

describe('a partitioned node rejoining does not disturb a stable leader', () => {
  it('with pre-vote: the isolated node never raises its term and the leader keeps term 1', () => {
    const cluster = isolatedFollowerRejoins(true);
    expect(cluster.leader()).toBe('n1');
    for (const id of cluster.ids) expect(cluster.core(id).term).toBe(1);
    expect(cluster.core('n3').role).toBe('follower');
    expect(cluster.core('n3').leader).toBe('n1');
  });

  it('without pre-vote (the contrast): the rejoining node forces the cluster into a new term', () => {
    const cluster = isolatedFollowerRejoins(false);
    expect(cluster.core('n1').term).toBeGreaterThan(1);
    expect(cluster.core('n1').term).toBe(cluster.core('n3').term);
  });
});
