/**
 * Leadership transfer (Raft thesis 3.10). Found by review: a leader that stepped down mid-transfer forgot the target
 * without reporting the transfer aborted (its caller waited forever); and a TimeoutNow delivered after the transfer
 * was aborted still elected the target inside the old leader's renewed lease, so a lease read could be stale.
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

  it('is reported aborted when the leader steps down before the target takes over', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    // n2 lags behind, so the transfer waits for it to catch up.
    cluster.input('n1', (core) => core.propose([{ id: 'p1', data: 'x' }]));
    cluster.drop(isType('AppendEntries', 'n2'));
    cluster.deliver();
    cluster.input('n1', (core) => core.transferLeadership('n2'));
    cluster.drop(() => true);
    // A newer term reaches the leader: it steps down.
    cluster.input('n1', (core) => core.receive('n3', { type: 'AppendEntriesResponse', term: 5, success: false, index: 0, hintIndex: 0, hintTerm: 0, round: 0 }));
    expect(cluster.core('n1').role).toBe('follower');
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
