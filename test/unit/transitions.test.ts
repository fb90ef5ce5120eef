/**
 * Role transitions the protocol forbids fail loudly, naming the transition (etcd-raft's "invalid transition"), instead
 * of limping on: a leader never becomes a (pre-)candidate without stepping down, a follower never leads without an
 * election, and a removed node never comes back.
 */
import { describe, expect, it } from 'vitest';
import { RaftCore, seededRandom, type Role } from '../../src/core/index.js';
import { CoreCluster } from './coreCluster.js';

/** The core's own guard, reached directly: no public input can ask for a forbidden transition. */
const setRole = (core: RaftCore, role: Role): void => (core as unknown as { setRole(role: Role): void }).setRole(role);

describe('role transitions', () => {
  it('follower -> leader without an election is refused', () => {
    const core = new RaftCore({ id: 'n1', voters: ['n1', 'n2', 'n3'], random: seededRandom(1) });
    core.start();
    expect(() => setRole(core, 'leader')).toThrow('invalid transition [follower -> leader]');
    expect(core.role).toBe('follower');
  });

  it('leader -> preCandidate is refused', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    expect(() => setRole(cluster.core('n1'), 'preCandidate')).toThrow('invalid transition [leader -> preCandidate]');
  });

  it('removed -> follower is refused', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.input('n1', (core) => core.changeMembership('remove-n1', { type: 'remove', id: 'n1' }));
    cluster.deliver();
    expect(cluster.core('n1').role).toBe('removed');
    expect(() => setRole(cluster.core('n1'), 'follower')).toThrow('invalid transition [removed -> follower]');
  });
});

describe('an election that times out', () => {
  it('starts over: candidate -> preCandidate is a transition Raft allows', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.input('n1', (core) => core.electionTimeout());
    cluster.deliver(({ message }) => message.type === 'RequestVote' || (message.type === 'RequestVoteResponse' && message.preVote));
    expect(cluster.core('n1').role).toBe('candidate');
    cluster.drop(() => true);
    cluster.input('n1', (core) => core.electionTimeout());
    expect(cluster.core('n1').role).toBe('preCandidate');
  });
});
