/**
 * Raft paper, section 5.3: "if an existing entry conflicts with a new one (same index but different terms), delete
 * the existing entry and all that follow it". A follower holding an uncommitted entry of a dead leader takes the new
 * leader's entry at that index instead; nothing committed is touched (the safety checker watches every step).
 */
import { describe, expect, it } from 'vitest';
import { Harness } from '../sim/harness.js';

describe('a conflicting uncommitted suffix is overwritten', () => {
  it('replaces an entry a crashed leader left on one follower with the new leader entry at the same index', () => {
    const cluster = new Harness({ nodes: 5 });
    cluster.campaign('n1');
    cluster.stabilize();

    // n1 replicates x to n2 only, then crashes: x is uncommitted.
    cluster.propose('n1', 'x');
    cluster.deliver({ to: 'n2' });
    cluster.drop(() => true);
    cluster.crash('n1');
    expect(cluster.terms('n2')).toEqual([1, 1]);

    // n3 is elected by n3, n4, n5 (n2's log is more up to date, it refuses) and commits y at index 2... then 3.
    for (const id of ['n2', 'n4', 'n5']) cluster.electionTimeout(id);
    cluster.drop(() => true);
    cluster.campaign('n3');
    cluster.deliver({ type: 'RequestVote' });
    cluster.deliver({ type: 'RequestVoteResponse' });
    expect(cluster.core('n3').role).toBe('leader');
    cluster.propose('n3', 'y');
    cluster.stabilize();

    // n2's index 2 (term 1, 'x') conflicted with the leader's index 2 (term 2, the no-op): deleted with what follows.
    expect(cluster.terms('n2')).toEqual([1, 2, 2]);
    expect(cluster.terms('n2')).toEqual(cluster.terms('n3'));
    expect(cluster.appliedCommands('n2')).toEqual(['y']);
    expect(cluster.core('n3').commitIndex).toBe(3);
  });

  it('an idle leader retransmits entries whose message was lost, without waiting for a new proposal', () => {
    const cluster = new Harness({ nodes: 3 });
    cluster.campaign('n1');
    cluster.stabilize();
    cluster.crash('n3');
    const id = cluster.propose('n1', 'z');
    cluster.drop(() => true); // the only copy of the entry to n2 is lost
    cluster.heartbeat('n1');
    cluster.stabilize();
    cluster.heartbeat('n1');
    cluster.stabilize();
    expect(cluster.appliedCommands('n2')).toEqual(['z']);
    expect(cluster.ledger.get(id)!.status).toBe('acknowledged');
  });
});
