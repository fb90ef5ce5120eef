/**
 * Failure detection (issue 15): a follower suspects a silent leader after a time learned from the leader's own
 * rhythm (φ accrual), never later than the core's fixed timeout; a dead leader whose connection was reset is noticed
 * at once; election priority only shortens the random part of the timeout.
 */
import { describe, expect, it } from 'vitest';
import { FixedTimeout, ManualTimer, PhiAccrualDetector } from '../../src/index.js';
import { CoreCluster } from './coreCluster.js';

describe('the φ accrual failure detector', () => {
  it('keeps the fallback until it has seen a few gaps', () => {
    const detector = new PhiAccrualDetector();
    detector.heartbeat(0);
    detector.heartbeat(100);
    expect(detector.suspectAfterMs(1000)).toBe(1000);
  });

  it('suspects a steady leader a few intervals after its last message: mean + acceptable pause + z·σ', () => {
    const detector = new PhiAccrualDetector({ threshold: 8, minStdDeviationMs: 25, acceptablePauseMs: 150 });
    for (let i = 0; i <= 20; i++) detector.heartbeat(i * 100);
    // z(φ = 8) = 5.612: 100 + 150 + 5.612 × 25
    expect(detector.suspectAfterMs(1000)).toBeCloseTo(390.3, 0);
    expect(detector.phi(100)).toBeLessThan(0.01);
    expect(detector.phi(390)).toBeCloseTo(8, 0);
    expect(detector.phi(600)).toBeGreaterThan(30);
  });

  it('gives an irregular leader proportionally more time, and never more than the fallback', () => {
    const steady = new PhiAccrualDetector();
    const jittery = new PhiAccrualDetector();
    let at = 0;
    for (let i = 0; i <= 40; i++) {
      steady.heartbeat(i * 100);
      at += i % 2 === 0 ? 20 : 180;
      jittery.heartbeat(at);
    }
    expect(jittery.suspectAfterMs(5000)).toBeGreaterThan(steady.suspectAfterMs(5000) + 300);
    expect(jittery.suspectAfterMs(500)).toBe(500);
  });

  it('forgets the rhythm when reset', () => {
    const detector = new PhiAccrualDetector();
    for (let i = 0; i <= 10; i++) detector.heartbeat(i * 100);
    detector.reset();
    expect(detector.suspectAfterMs(1000)).toBe(1000);
  });
});

describe('the election timer', () => {
  const arm = (timer: ManualTimer, message: { afterMs: number; baseMs?: number; leaderHeard?: boolean }) =>
    timer.receive({ type: 'StartElectionTimer', ...message });

  it("fires after the detector's estimate, spread by the core's random factor, once the leader's rhythm is known", () => {
    const timer = new ManualTimer({ failureDetector: new PhiAccrualDetector() });
    timer.attach(() => {});
    for (let i = 0; i < 10; i++) {
      arm(timer, { afterMs: 1500, baseMs: 1000, leaderHeard: true });
      timer.advance(100);
    }
    arm(timer, { afterMs: 1500, baseMs: 1000, leaderHeard: true });
    expect(timer.deadline('election')! - timer.time).toBe(Math.round(390.3 * 1.5));
  });

  it("keeps the core's timeout with the fixed detector, and whenever the leader was not just heard", () => {
    const fixed = new ManualTimer({ failureDetector: new FixedTimeout() });
    fixed.attach(() => {});
    for (let i = 0; i < 10; i++) {
      arm(fixed, { afterMs: 1500, baseMs: 1000, leaderHeard: true });
      fixed.advance(100);
    }
    arm(fixed, { afterMs: 1500, baseMs: 1000, leaderHeard: true });
    expect(fixed.deadline('election')! - fixed.time).toBe(1500);
    const phi = new ManualTimer({ failureDetector: new PhiAccrualDetector() });
    phi.attach(() => {});
    arm(phi, { afterMs: 1700 });
    expect(phi.deadline('election')! - phi.time).toBe(1700);
  });
});

describe('a follower whose connection to the leader is reset', () => {
  it('forgets the leader and campaigns within a heartbeat interval, the survivors taking turns so as not to split the vote', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.clearSeen();
    cluster.input('n2', (core) => core.peerUnreachable('n1'));
    cluster.input('n3', (core) => core.peerUnreachable('n1'));
    expect(cluster.core('n2').leader).toBeNull();
    // Half a heartbeat interval (100 ms) apart, in the order of their ids, plus a little jitter.
    expect(cluster.effectsOf('n2', 'resetElectionTimer').at(-1)!.afterMs).toBeLessThanOrEqual(26);
    expect(cluster.effectsOf('n3', 'resetElectionTimer').at(-1)!.afterMs).toBeGreaterThanOrEqual(51);
    expect(cluster.effectsOf('n3', 'resetElectionTimer').at(-1)!.afterMs).toBeLessThanOrEqual(76);
  });

  it('does not disturb a leader that is alive after all: the followers that still hear it refuse the pre-vote', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.input('n2', (core) => core.peerUnreachable('n1'));
    cluster.input('n2', (core) => core.electionTimeout());
    cluster.deliver((message) => message.to !== 'n1');
    expect(cluster.core('n3').term).toBe(cluster.core('n1').term);
    expect(cluster.core('n2').term).toBe(cluster.core('n1').term);
    cluster.input('n1', (core) => core.heartbeatDue());
    cluster.deliver();
    expect(cluster.core('n2').leader).toBe('n1');
  });

  it('elects a new leader at once when the leader really died and every follower noticed', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.drop(() => true);
    for (const id of ['n2', 'n3']) cluster.input(id, (core) => core.peerUnreachable('n1'));
    cluster.input('n3', (core) => core.electionTimeout());
    cluster.deliver((message) => message.to !== 'n1');
    expect(cluster.core('n3').role).toBe('leader');
  });

  it('ignores an unreachable peer that is not its leader, and waits a whole timeout with lease reads on', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3'], { leaseReads: true });
    cluster.elect('n1');
    expect(cluster.input('n2', (core) => core.peerUnreachable('n3'))).toEqual([]);
    expect(cluster.input('n2', (core) => core.peerUnreachable('n1'))).toEqual([]);
    expect(cluster.core('n2').leader).toBe('n1');
  });
});

describe('election priority', () => {
  it('draws the timeout from [T, T + T / priority): never below T', () => {
    for (const [priority, upper] of [[4, 1250], [1, 2000], [0.5, 3000]] as const) {
      const cluster = new CoreCluster(['n1', 'n2', 'n3'], { electionPriority: priority });
      const armed = cluster.effectsOf('n1', 'resetElectionTimer').map((effect) => effect.afterMs);
      for (let i = 0; i < 30; i++) {
        cluster.input('n2', (core) => core.electionTimeout());
        armed.push(...cluster.effectsOf('n2', 'resetElectionTimer').map((effect) => effect.afterMs));
        cluster.clearSeen();
      }
      expect(Math.min(...armed)).toBeGreaterThanOrEqual(1000);
      expect(Math.max(...armed)).toBeLessThan(upper);
    }
  });
});
