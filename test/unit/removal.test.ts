/**
 * Removing members (Raft thesis 4.2.2). Found by review: a removed voter was never told and campaigned (pre-vote)
 * forever; and a leader that removed itself stepped down without handing over, leaving the cluster leaderless for
 * one or two election timeouts.
 */
import { describe, expect, it } from 'vitest';
import { CoreCluster } from './coreCluster.js';

describe('a removed member', () => {
  it('learns from the voters that it was removed, says so, and stops campaigning', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    // n3 is cut off while the change that removes it commits.
    cluster.input('n1', (core) => core.changeMembership('remove-n3', { type: 'remove', id: 'n3' }));
    cluster.deliver(({ to, from }) => to !== 'n3' && from !== 'n3');
    cluster.drop(() => true);
    expect(cluster.core('n1').members.voters).toEqual(['n1', 'n2']);
    // Back on the network, n3 misses its leader and campaigns: the voters tell it that it was removed.
    cluster.input('n3', (core) => core.electionTimeout());
    cluster.deliver();
    expect(cluster.core('n3').role).toBe('removed');
    expect(cluster.effectsOf('n3', 'roleChanged').at(-1)).toMatchObject({ role: 'removed' });
    // It never campaigns again, and nobody's term moved.
    const effects = cluster.input('n3', (core) => core.electionTimeout());
    expect(effects).toEqual([]);
    expect(cluster.inFlight).toEqual([]);
    expect(cluster.core('n1').role).toBe('leader');
    expect(cluster.core('n1').term).toBe(cluster.core('n2').term);
  });

  it('is not removed by one voter alone: a notice in the name of a single peer (perhaps forged) is not enough', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.input('n2', (core) => core.electionTimeout());
    cluster.drop(() => true);
    expect(cluster.core('n2').role).toBe('preCandidate');
    cluster.input('n2', (core) => core.receive('n3', { type: 'RequestVoteResponse', term: cluster.core('n2').term, granted: false, preVote: true, removedAt: 1e9 }));
    expect(cluster.core('n2').role).toBe('preCandidate');
  });

  it('a leader removing itself hands leadership to an up-to-date voter at once, without an election timeout', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    const term = cluster.core('n1').term;
    cluster.input('n1', (core) => core.changeMembership('remove-n1', { type: 'remove', id: 'n1' }));
    cluster.deliver();
    expect(cluster.core('n1').role).toBe('removed');
    const leaders = ['n2', 'n3'].filter((id) => cluster.core(id).role === 'leader');
    expect(leaders).toHaveLength(1);
    expect(cluster.core(leaders[0]!).term).toBe(term + 1);
    expect(cluster.core(leaders[0]!).members.voters).toEqual(['n2', 'n3']);
  });
});
