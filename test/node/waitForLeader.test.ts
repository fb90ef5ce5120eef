/**
 * A node that waits for its leader (issue 16): proposals and reads made while no leader is known wait for one within
 * their deadline (`failFast` keeps the old answer at once); `whenLeader()`, `campaign()` and `takeSnapshot()` return
 * promises that settle; a state machine that cannot snapshot is warned about once and not asked on every apply.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { createRaftNode, ManualTimer, MemoryNetworkHub, NotLeaderError, StateMachine, TimeoutError, type RaftNodeEvent } from '../../src/index.js';
import { counterCommand, TestCluster, within, withoutTime, type CounterCommand } from '../support/cluster.js';
import { waitFor } from '../support/waitFor.js';

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.stop();
});

/** A cluster whose leader was just cut off, and a follower that has stopped believing in it (its pre-vote began). */
async function leaderlessFollower() {
  cluster = new TestCluster(['n1', 'n2', 'n3']);
  const leader = await cluster.electLeader();
  await within(cluster, leader.node.propose({ op: 'add', by: 1 }));
  cluster.hub.isolate(leader.id);
  const follower = cluster.nodes.find(({ id }) => id !== leader.id)!;
  await cluster.until(() => follower.node.status().leader === null, 2000, 'the follower to give up on the leader');
  return { leader, follower };
}

describe('operations during an election', () => {
  test('a proposal waits for the new leader and commits there; with failFast it fails at once with NOT_LEADER', async () => {
    const { leader, follower } = await leaderlessFollower();
    const waiting = follower.node.propose({ op: 'add', by: 10 });
    const fast = await withoutTime(follower.node.propose({ op: 'add', by: 100 }, { failFast: true }).catch((error: unknown) => error), 'the fail-fast proposal');
    expect(fast).toBeInstanceOf(NotLeaderError);
    expect(fast).toMatchObject({ leaderHint: null, outcome: 'not-appended' });
    expect(await within(cluster, waiting)).toBe(11);
    expect(follower.node.status().leader).not.toBe(leader.id);
  });

  test('a linearizable read waits for the new leader too', async () => {
    const { follower } = await leaderlessFollower();
    const read = follower.node.read((counter) => counter.state);
    expect(await within(cluster, read)).toBe(1);
  });

  test('a waiting proposal still times out at its deadline when no leader comes', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    const follower = cluster.nodes.find(({ id }) => id !== leader.id)!;
    cluster.hub.isolate(follower.id);
    await cluster.until(() => follower.node.status().leader === null, 2000, 'the follower to give up on the leader');
    const outcome = await within(cluster, follower.node.propose({ op: 'add', by: 1 }, { timeoutMs: 300 }).catch((error: unknown) => error));
    expect(outcome).toBeInstanceOf(TimeoutError);
  });
});

describe('promises that settle', () => {
  test('whenLeader() resolves with the leader once one is elected, at once when one is known, and times out', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const early = await within(cluster, cluster.get('n1').node.whenLeader({ timeoutMs: 10 }).catch((error: unknown) => error));
    expect(early).toBeInstanceOf(TimeoutError);
    const elected = await within(cluster, cluster.get('n2').node.whenLeader());
    expect(cluster.get(elected).node.status().role).toBe('leader');
    expect(await withoutTime(cluster.get('n3').node.whenLeader(), 'whenLeader with a leader known')).toBe(cluster.get('n3').node.status().leader);
  });

  test('campaign() resolves once this node leads; takeSnapshot() once a snapshot covers what was applied', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const chosen = cluster.get('n3');
    await cluster.waitFor(() => cluster.nodes.every(({ node }) => node.status().role === 'follower'), 'every node to recover');
    await withoutTime(chosen.node.campaign(), 'the campaign');
    expect(chosen.node.status().role).toBe('leader');
    await within(cluster, chosen.node.propose({ op: 'add', by: 2 }));
    const { index } = await within(cluster, chosen.node.takeSnapshot());
    expect(index).toBe(chosen.node.status().appliedIndex);
    expect(chosen.node.status().snapshotIndex).toBe(index);
    // Nothing new applied: the current snapshot answers at once.
    expect(await withoutTime(chosen.node.takeSnapshot(), 'a second snapshot')).toEqual({ index });
  });

  test('campaign() on a node that loses rejects with NOT_LEADER naming the winner', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    const other = cluster.nodes.find(({ id }) => id !== leader.id)!;
    // A campaign from a node in the leader's lease is refused by the other follower; the leader stays.
    const outcome = await within(cluster, other.node.campaign({ timeoutMs: 2000 }).catch((error: unknown) => error));
    expect(outcome).toBeInstanceOf(NotLeaderError);
    expect((outcome as NotLeaderError).leaderHint).toBe(cluster.leaders()[0]!.id);
  });
});

/** A counter that implements no snapshots. */
class Unsnapshottable extends StateMachine<CounterCommand, number> {
  state = 0;
  apply(command: CounterCommand): number {
    this.state += command.op === 'add' ? command.by : 0;
    return this.state;
  }
}

describe('a state machine that cannot snapshot', () => {
  test('gets one warning and a snapshotFailed event per threshold crossed, not a retry on every apply', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void (warning.name === 'XraftWarning' && warnings.push(warning));
    process.on('warning', onWarning);
    const hub = new MemoryNetworkHub();
    const timer = new ManualTimer();
    const node = createRaftNode({ id: 'solo', members: ['solo'], commandSchema: counterCommand, stateMachine: new Unsnapshottable(), network: hub.endpoint('solo'), timer, config: { snapshotThreshold: 5 } });
    try {
      const failures: Extract<RaftNodeEvent, { type: 'snapshotFailed' }>[] = [];
      node.on('snapshotFailed', (event) => failures.push(event));
      await withoutTime(node.whenLeader(), 'solo to lead');
      for (let i = 0; i < 12; i++) await withoutTime(node.propose({ op: 'add', by: 1 }), `proposal ${i}`);
      // 13 entries (the election's no-op and 12 commands): tried at 5 and again at 10, not at 6, 7, 8, ...
      expect(failures.map((event) => event.index)).toEqual([5, 10]);
      expect(failures.every((event) => event.unsupported)).toBe(true);
      await waitFor(() => warnings.length > 0, { what: 'the process warning' });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toMatch(/solo: Unsnapshottable cannot take snapshots.*never compacted/);
    } finally {
      process.off('warning', onWarning);
      await node.stop();
    }
  });
});
