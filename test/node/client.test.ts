/**
 * What clients can rely on (issue 4): forwarding, linearizable and lease reads, exactly-once sessions, deadlines and
 * backpressure, on real nodes with manual clocks.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { NotLeaderError, OverloadedError, TimeoutError } from '../../src/index.js';
import { TestCluster, within, withoutTime } from '../support/cluster.js';

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.stop();
});

const followerOf = (leaderId: string) => cluster.nodes.find(({ id }) => id !== leaderId)!;

describe('forwarding', () => {
  test('a proposal made on a follower reaches the leader and resolves with the result on the follower', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    const follower = followerOf(leader.id);
    expect(await within(cluster, follower.node.propose({ op: 'add', by: 7 }))).toBe(7);
    expect(leader.stateMachine.state).toBe(7);
  });
});

describe('linearizable reads (ReadIndex)', () => {
  test('a read on the leader or on a follower sees every write acknowledged before it began', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    await within(cluster, leader.node.propose({ op: 'add', by: 3 }));
    const follower = followerOf(leader.id);
    expect(await within(cluster, leader.node.read((counter) => counter.state))).toBe(3);
    expect(await within(cluster, follower.node.read((counter) => counter.state))).toBe(3);
  });

  test('a partitioned old leader cannot serve a stale read, with ReadIndex or with a lease', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: { leaseReads: true } });
    const oldLeader = await cluster.electLeader();
    await within(cluster, oldLeader.node.propose({ op: 'add', by: 1 }));
    await cluster.advance(40); // heartbeat rounds answered: the old leader holds a lease
    cluster.hub.isolate(oldLeader.id);
    // While its lease holds no other leader can exist yet, so answering 1 is still linearizable.
    expect(await within(cluster, oldLeader.node.read((counter) => counter.state, { consistency: 'lease' }))).toBe(1);
    expect(cluster.leaders().map(({ id }) => id)).toEqual([oldLeader.id]);
    // ReadIndex needs a majority to confirm leadership: it never answers from the cut-off leader.
    // (failFast: answer NOT_LEADER rather than wait for a leader the cut-off node will not hear of.)
    const readIndex = oldLeader.node.read((counter) => counter.state, { failFast: true }).catch((error: unknown) => error);
    const others = cluster.nodes.filter(({ id }) => id !== oldLeader.id);
    await cluster.until(() => others.some(({ node }) => node.status().role === 'leader'), 5000, 'a new leader');
    const newLeader = others.find(({ node }) => node.status().role === 'leader')!;
    await within(cluster, newLeader.node.propose({ op: 'add', by: 10 }));
    expect(await within(cluster, readIndex)).toBeInstanceOf(NotLeaderError);
    // Once the majority has moved on, neither kind of read on the old leader returns the stale value.
    for (const consistency of ['linearizable', 'lease'] as const) {
      const late = await within(cluster, oldLeader.node.read((counter) => counter.state, { consistency, failFast: true })).catch((error: unknown) => error);
      expect(late).toBeInstanceOf(NotLeaderError);
    }
    expect(await within(cluster, newLeader.node.read((counter) => counter.state))).toBe(11);
  });

  test('a lease read on a healthy leader needs no round trip, and a stale read is served from local state', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: { leaseReads: true } });
    const leader = await cluster.electLeader();
    await within(cluster, leader.node.propose({ op: 'add', by: 2 }));
    await cluster.advance(40); // a heartbeat round answered by the followers starts the lease
    const delivered = cluster.hub.delivered;
    const read = leader.node.read((counter) => counter.state, { consistency: 'lease' });
    expect(await withoutTime(read, 'the lease read to answer with no time passing')).toBe(2);
    expect(cluster.hub.delivered).toBe(delivered);
    const follower = followerOf(leader.id);
    expect(await follower.node.read((counter) => counter.state, { consistency: 'stale' })).toBeLessThanOrEqual(2);
  });
});

describe('leases across restarts', () => {
  test('with lease reads on, a restarted node grants no vote until an election timeout has passed', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: { leaseReads: true, electionTimeoutMs: 1000, heartbeatIntervalMs: 20 } });
    const leader = await cluster.electLeader();
    await within(cluster, leader.node.propose({ op: 'add', by: 1 }));
    const others = cluster.nodes.filter(({ id }) => id !== leader.id);
    // Both followers restart; the leader is cut off from them, as if it still held its lease.
    for (const { id } of others) await cluster.restart(id);
    cluster.hub.isolate(leader.id);
    const [a, b] = cluster.nodes.filter(({ id }) => id !== leader.id);
    // A campaign it cannot win yet: its promise settles later (with the leader elected once the timers fire).
    void a!.node.campaign().catch(() => undefined);
    await cluster.advance(300);
    expect(a!.node.status().role).not.toBe('leader');
    // Once their election timers have fired (at least 1000 ms), they elect a leader among themselves.
    await cluster.until(() => a!.node.status().role === 'leader' || b!.node.status().role === 'leader', 5000, 'a new leader');
  });
});

describe('exactly-once proposals through sessions', () => {
  test('a retried proposal whose first attempt timed out is applied exactly once', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: { electionTimeoutMs: 1000, heartbeatIntervalMs: 20 } });
    const leader = await cluster.electLeader();
    const session = await within(cluster, leader.node.openSession({ timeoutMs: 2000, attemptTimeoutMs: 100, retryDelayMs: 10 }));
    // Cut the leader off so that the first attempt cannot commit and times out; heal before check-quorum fires.
    cluster.hub.isolate(leader.id);
    let applies = 0;
    const counting = leader.stateMachine.apply.bind(leader.stateMachine);
    leader.stateMachine.apply = (command, context) => {
      applies++;
      return counting(command, context);
    };
    const result = session.propose({ op: 'add', by: 5 });
    await cluster.advance(150); // the first attempt's deadline passes; a retry appends a second copy
    // noop, session registration, first attempt, retry: the same request is in the log twice.
    expect(leader.node.status().lastIndex).toBeGreaterThanOrEqual(4);
    cluster.hub.heal();
    expect(await within(cluster, result)).toBe(5);
    await cluster.until(() => cluster.nodes.every(({ node }) => node.status().appliedIndex === leader.node.status().commitIndex), 2000, 'all applied');
    expect(applies).toBe(1);
    for (const { stateMachine } of cluster.nodes) expect(stateMachine.state).toBe(5);
  });

  test('an unknown session is refused with SessionExpired and nothing is applied', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    const { stateMachine } = leader;
    expect(stateMachine.sessionCount).toBe(0);
    const session = await within(cluster, leader.node.openSession());
    expect(stateMachine.sessionCount).toBe(1);
    expect(await within(cluster, session.propose({ op: 'add', by: 1 }))).toBe(1);
    expect(await within(cluster, session.propose({ op: 'add', by: 1 }))).toBe(2);
  });
});

describe('deadlines and backpressure', () => {
  test('a proposal that cannot commit in time fails with Timeout', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: { electionTimeoutMs: 1000, heartbeatIntervalMs: 20 } });
    const leader = await cluster.electLeader();
    cluster.hub.isolate(leader.id);
    const error = await within(cluster, leader.node.propose({ op: 'add', by: 1 }, { timeoutMs: 100 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
  });

  test('under a flood far above capacity, waiting operations stay bounded and the rest get Overloaded at once', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { maxPending: 200 });
    const leader = await cluster.electLeader();
    const outcomes = Array.from({ length: 20_000 }, () => leader.node.propose({ op: 'add', by: 1 }).then(() => 'ok', (e: unknown) => e));
    const settled = await within(cluster, Promise.all(outcomes));
    const overloaded = settled.filter((outcome) => outcome instanceof OverloadedError).length;
    const ok = settled.filter((outcome) => outcome === 'ok').length;
    expect(ok).toBe(200);
    expect(overloaded).toBe(20_000 - 200);
    expect(leader.stateMachine.state).toBe(200);
  });
});
