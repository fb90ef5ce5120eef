/**
 * Raft paper, section 5.3/5.4 and 6.824's TestFailNoAgree/TestRejoin: a leader cut off in a minority keeps accepting
 * proposals but can never commit them; when it learns of the newer term it steps down and its uncommitted suffix is
 * overwritten by the new leader's log. Its proposals wait until it applies the new leader's entries: an entry of a
 * later term, committed without them, proves they never commit, so they fail as 'not-appended' (safe to retry).
 */
import { describe, expect, it } from 'vitest';
import { Harness } from '../sim/harness.js';

describe('a stale leader in a minority partition cannot commit', () => {
  it('accepts proposals it never commits, loses its suffix, and fails them as never committed once it applies the new term', () => {
    const cluster = new Harness({ nodes: 5 });
    cluster.campaign('n1');
    cluster.stabilize();
    expect(cluster.leader()).toBe('n1');

    cluster.partition(['n1', 'n2'], ['n3', 'n4', 'n5']);
    const stale = [cluster.propose('n1', 'a'), cluster.propose('n1', 'b')];
    cluster.heartbeat('n1');
    cluster.stabilize();
    // Stored on n1 and n2 only: two of five.
    expect(cluster.terms('n2')).toEqual([1, 1, 1]);
    expect(cluster.core('n1').commitIndex).toBe(1);
    expect(cluster.core('n1').role).toBe('leader');

    // The majority stops hearing from n1 and elects n3, which commits a command of its own.
    for (const id of ['n4', 'n5']) cluster.electionTimeout(id);
    cluster.drop(() => true);
    cluster.electionTimeout('n3');
    cluster.stabilize();
    expect(cluster.leader()).toBe('n3');
    expect(cluster.core('n3').term).toBe(2);
    cluster.propose('n3', 'c');
    cluster.stabilize();
    expect(cluster.core('n3').commitIndex).toBe(3);
    // Still nothing committed on the old leader's side.
    expect(cluster.core('n1').commitIndex).toBe(1);
    expect(cluster.failures.size).toBe(0);

    cluster.heal();
    cluster.heartbeat('n3');
    cluster.stabilize();
    expect(cluster.core('n1').role).toBe('follower');
    expect(cluster.core('n1').leader).toBe('n3');
    for (const id of stale) {
      expect(cluster.failures.get(id)).toEqual({ code: 'NOT_LEADER', leaderHint: 'n3', outcome: 'not-appended' });
    }
    for (const id of cluster.ids) {
      expect(cluster.terms(id)).toEqual([1, 2, 2]);
      expect(cluster.appliedCommands(id)).toEqual(['c']);
    }
  });
});
