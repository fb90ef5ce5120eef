/**
 * Leadership transfer (Raft thesis 3.10). Found by review: a leader that stepped down mid-transfer forgot the target
 * and its caller waited forever (now the node settles every transfer: see test/node/lifecycle.test.ts); and a
 * TimeoutNow delivered after the transfer was aborted still elected the target inside the old leader's renewed lease,
 * so a lease read could be stale.
 */
import { describe, expect, it } from 'vitest';
import { CoreCluster, isType } from './coreCluster.js';

describe('leadership transfer', () => {
  it('hands over: the target campaigns at once, wins, and the old leader reports nothing aborted', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    const term = cluster.core('n1').term;
    cluster.input('n1', (core) => core.transferLeadership('n2'));
    cluster.deliver();
    expect(cluster.core('n2').role).toBe('leader');
    expect(cluster.core('n2').term).toBe(term + 1);
    expect(cluster.core('n1').role).toBe('follower');
    expect(cluster.effectsOf('n1', 'transferAborted')).toEqual([]);
  });

  it('leaves the outcome to whoever leads next when a newer term makes the leader step down (it may be the target)', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.input('n1', (core) => core.transferLeadership('n2'));
    cluster.drop(() => true);
    // A newer term reaches the leader before anything of the target's: it steps down, and reports nothing yet (the
    // node's runtime settles the caller when a leader is known, or at its deadline).
    cluster.input('n1', (core) => core.receive('n3', { type: 'AppendEntriesResponse', term: 5, success: false, index: 0, hintIndex: 0, hintTerm: 0, round: 0 }));
    expect(cluster.core('n1').role).toBe('follower');
    expect(cluster.effectsOf('n1', 'transferAborted')).toEqual([]);
  });

  it('is reported aborted when the target does not take over within an election timeout', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.input('n1', (core) => core.propose([{ id: 'p1', data: 'x' }]));
    cluster.drop(isType('AppendEntries', 'n2'));
    cluster.deliver();
    cluster.input('n1', (core) => core.transferLeadership('n2'));
    cluster.drop(() => true);
    cluster.input('n1', (core) => core.electionTimeout());
    expect(cluster.effectsOf('n1', 'transferAborted').map((effect) => effect.target)).toEqual(['n2']);
  });

  it('revokes the leader lease for good once TimeoutNow is sent: a late TimeoutNow cannot make a lease read stale', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3'], { leaseReads: true });
    cluster.elect('n1');
    const renewLease = () => {
      cluster.input('n1', (core) => core.heartbeatDue(cluster.now));
      cluster.deliver((message) => message.message.type !== 'TimeoutNow');
    };
    renewLease();
    cluster.input('n1', (core) => core.transferLeadership('n2'));
    // The TimeoutNow is slow. The transfer times out and the old leader renews its lease.
    const [timeoutNow] = cluster.drop(isType('TimeoutNow'));
    expect(timeoutNow).toBeDefined();
    cluster.now += 1000;
    cluster.input('n1', (core) => core.electionTimeout());
    expect(cluster.effectsOf('n1', 'transferAborted')).toHaveLength(1);
    renewLease();
    // Now the TimeoutNow arrives: n2 campaigns and wins with n3, which grants a transfer vote inside n1's lease.
    cluster.inFlight.push(timeoutNow!);
    cluster.deliver((message) => message.to !== 'n1');
    expect(cluster.core('n2').role).toBe('leader');
    cluster.input('n2', (core) => core.propose([{ id: 'new-write', data: 'y' }]));
    cluster.deliver((message) => message.to !== 'n1');
    // n1 has not heard of it. Its lease must not answer a read.
    cluster.clearSeen();
    cluster.input('n1', (core) => core.readIndex(['lease-read'], { lease: true, now: cluster.now + 10 }));
    expect(cluster.effectsOf('n1', 'readReady')).toEqual([]);
  });
});
