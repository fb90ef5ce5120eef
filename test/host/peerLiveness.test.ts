import { describe, expect, it } from 'vitest';
import { PeerLiveness } from '../../src/host/peerLiveness.js';
import { hashGroupId, preferredLeader } from '../../src/host/leaderSpread.js';

describe('PeerLiveness (the host failure detector that stands in for quiesced groups\' heartbeats)', () => {
  it('suspects a peer silent for the timeout once, until it is heard again', () => {
    const liveness = new PeerLiveness(1000);
    liveness.watch('n2', 0);
    liveness.watch('n3', 0);
    liveness.heard('n3', 900);
    expect(liveness.newlySilent(999)).toEqual([]);
    expect(liveness.newlySilent(1000)).toEqual(['n2']);
    expect(liveness.newlySilent(1500)).toEqual([]);
    expect(liveness.isSuspected('n2')).toBe(true);
    liveness.heard('n2', 1600);
    expect(liveness.isSuspected('n2')).toBe(false);
    expect(liveness.newlySilent(1900)).toEqual(['n3']);
  });

  it('notices a peer that restarted by its new incarnation', () => {
    const liveness = new PeerLiveness(1000);
    expect(liveness.beat('n2', 'a', 0)).toBe(false);
    expect(liveness.beat('n2', 'a', 100)).toBe(false);
    expect(liveness.beat('n2', 'b', 200)).toBe(true);
  });

  it('does not count a stall of this process as its peers\' silence', () => {
    const liveness = new PeerLiveness(1000);
    liveness.watch('n2', 0);
    // This process was stalled from 100 to 1600: the peer's beats could not be read meanwhile.
    liveness.excuse(1500, 1600);
    expect(liveness.newlySilent(1600)).toEqual([]);
    expect(liveness.newlySilent(2600)).toEqual(['n2']);
  });

  it('reports an unreachable peer once', () => {
    const liveness = new PeerLiveness(1000);
    liveness.watch('n2', 0);
    expect(liveness.unreachable('n2')).toBe(true);
    expect(liveness.unreachable('n2')).toBe(false);
  });
});

describe('leader preference', () => {
  it('is the same on every host, whatever the order of the members, and spreads groups over them', () => {
    expect(preferredLeader('orders-17', ['n3', 'n1', 'n2'])).toBe(preferredLeader('orders-17', ['n1', 'n2', 'n3']));
    expect(hashGroupId('a')).not.toBe(hashGroupId('b'));
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const host = preferredLeader(`g${i}`, ['n1', 'n2', 'n3'])!;
      counts.set(host, (counts.get(host) ?? 0) + 1);
    }
    for (const count of counts.values()) expect(count).toBeGreaterThan(900);
  });
});
