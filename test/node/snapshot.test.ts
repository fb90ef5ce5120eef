/**
 * Snapshots and log compaction on real nodes (issue 5): the paper's section 7 claims.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { createRaftNode, ManualTimer } from '../../src/index.js';
import { busyReasons, counterCommand, leaderCanServe, counterMachine, TestCluster, within } from '../support/cluster.js';
import { MemoryNetworkHub } from '../../actors/network/MemoryNetwork.js';
import { ObservedLogStore } from '../support/ObservedLogStore.js';
import { waitFor } from '../support/waitFor.js';

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.stop();
});

const compacting = { snapshotThreshold: 20, snapshotTrailingEntries: 5 };

async function write(count: number, leader = cluster.leaders()[0]!): Promise<void> {
  for (let i = 0; i < count; i += 10) {
    await within(cluster, Promise.all(Array.from({ length: Math.min(10, count - i) }, () => leader.node.propose({ op: 'add', by: 1 }))));
  }
}

describe('log compaction', () => {
  test('each node snapshots its state machine and drops the log behind the snapshot', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: compacting });
    const leader = await cluster.electLeader();
    const taken: { how: string; index: number }[] = [];
    leader.node.on('snapshot', ({ how, index }) => taken.push({ how, index }));
    await write(100);
    await cluster.until(() => cluster.nodes.every(({ store }) => (store.durableState().snapshot?.index ?? 0) >= 80), 2000, 'snapshots everywhere');
    // Observers hear of each one, with the index it covers.
    expect(taken.length).toBeGreaterThanOrEqual(4);
    expect(taken.every(({ how }) => how === 'taken')).toBe(true);
    expect(taken.map(({ index }) => index)).toEqual([...taken.map(({ index }) => index)].sort((a, b) => a - b));
    for (const { node, store } of cluster.nodes) {
      // What the store keeps continues the snapshot without a gap, up to the node's last entry.
      const { snapshot, entries } = store.durableState();
      expect(entries.map(({ index }) => index)).toEqual(Array.from({ length: entries.length }, (_, i) => snapshot!.index + 1 + i));
      expect(entries.at(-1)?.index ?? snapshot!.index).toBe(node.status().lastIndex);
    }
    expect(leader.stateMachine.state).toBe(100);
  });

  test('a snapshot is also taken once the commands applied since the last one reach snapshotThresholdBytes', async () => {
    const commandLength = JSON.stringify({ json: { op: 'add', by: 1 } }).length;
    // By entries never; by size every 20 commands or so.
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: { snapshotThreshold: 0, snapshotThresholdBytes: 20 * commandLength, snapshotTrailingEntries: 0 } });
    const leader = await cluster.electLeader();
    await write(100);
    await cluster.until(() => (leader.store.durableState().snapshot?.index ?? 0) >= 80, 2000, 'a snapshot by size');
    await cluster.stop();
    // The same load under a size threshold it never reaches takes none.
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: { snapshotThreshold: 0, snapshotThresholdBytes: 1000 * commandLength } });
    const second = await cluster.electLeader();
    await write(100);
    expect(second.store.durableState().snapshot).toBeNull();
  });

  test('a follower that fell behind the compaction point is caught up by InstallSnapshot', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: compacting });
    const leader = await cluster.electLeader();
    const behind = cluster.nodes.find(({ id }) => id !== leader.id)!;
    cluster.hub.isolate(behind.id);
    await write(100);
    await cluster.until(() => (leader.store.durableState().snapshot?.index ?? 0) >= 80, 2000, 'leader compacted');
    expect(behind.stateMachine.state).toBe(0);
    const installed: { how: string; index: number }[] = [];
    behind.node.on('snapshot', ({ how, index }) => installed.push({ how, index }));
    cluster.hub.heal();
    await cluster.until(() => behind.stateMachine.state === 100, 5000, 'the follower caught up');
    expect(installed).toContainEqual({ how: 'installed', index: leader.store.durableState().snapshot!.index });
    expect(behind.store.durableState().snapshot).not.toBeNull();
    await write(10);
    await cluster.until(() => behind.stateMachine.state === 110, 2000, 'replication resumed after the snapshot');
  });

  test('a node restarts from its snapshot plus the log tail', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: compacting });
    const leader = await cluster.electLeader();
    await write(57);
    const follower = cluster.nodes.find(({ id }) => id !== leader.id)!;
    await cluster.until(() => follower.stateMachine.state === 57 && follower.store.durableState().snapshot !== null, 2000, 'applied');
    const restarted = await cluster.restart(follower.id);
    await cluster.until(() => restarted.stateMachine.state === 57, 2000, 'restored');
    expect(restarted.node.status().appliedIndex).toBe(leader.node.status().commitIndex);
  });

  test('a node with an empty log joins a cluster whose log was compacted and ends with the same state', async () => {
    cluster = new TestCluster(['n1'], { config: compacting });
    const leader = cluster.get('n1');
    await cluster.waitFor(() => leaderCanServe(leader.node), 'n1 to lead at bootstrap and commit its first entry');
    await write(100, leader);
    await cluster.until(() => (leader.store.durableState().snapshot?.index ?? 0) >= 80, 2000, 'compacted');
    const fresh = cluster.join('n2');
    await within(cluster, leader.node.addLearner('n2', { promote: true }));
    await cluster.until(() => fresh.stateMachine.state === 100 && leader.node.members().voters.includes('n2'), 5000, 'joined');
    await write(5, leader);
    await cluster.until(() => fresh.stateMachine.state === 105, 2000, 'replicating');
  });

  test('client sessions are part of the snapshot: they survive a restart from it', async () => {
    cluster = new TestCluster(['n1'], { config: compacting });
    const leader = cluster.get('n1');
    await cluster.waitFor(() => leaderCanServe(leader.node), 'n1 to lead at bootstrap and commit its first entry');
    const session = await within(cluster, leader.node.openSession());
    expect(await within(cluster, session.propose({ op: 'add', by: 2 }))).toBe(2);
    await write(60, leader);
    await cluster.until(() => (leader.store.durableState().snapshot?.index ?? 0) > 3, 2000, 'compacted past the session');
    const restarted = await cluster.restart('n1');
    await cluster.waitFor(() => restarted.stateMachine.state === 62, 'the restarted node to restore its snapshot and replay its log');
    expect(restarted.stateMachine.sessionCount).toBe(1);
    expect(restarted.stateMachine.state).toBe(62);
  });
});

describe('on disk', () => {
  test('a node with an empty data directory joins a compacted cluster through InstallSnapshot and ends with the same state', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'xraft-snapshot-join-'));
    const hub = new MemoryNetworkHub();
    const timers = { n1: new ManualTimer(), n2: new ManualTimer() };
    const machines = { n1: counterMachine(), n2: counterMachine() };
    const stores = {
      n1: new ObservedLogStore(new LevelLogStore({ location: join(directory, 'n1'), identity: { clusterId: 'test', nodeId: 'n1' } })),
      n2: new ObservedLogStore(new LevelLogStore({ location: join(directory, 'n2'), identity: { clusterId: 'test', nodeId: 'n2' } })),
    };
    const start = (id: 'n1' | 'n2', members: string[]) =>
      createRaftNode({
        id,
        members,
        commandSchema: counterCommand,
        stateMachine: machines[id],
        network: hub.endpoint(id),
        timer: timers[id],
        logStore: stores[id],
        config: { ...compacting, electionTimeoutMs: 100, heartbeatIntervalMs: 20 },
      });
    const leader = start('n1', ['n1']);
    const joiner = start('n2', []);
    // Real disk writes take real time: advance the manual clocks in 5 ms steps, and after each wait (bounded) until
    // nothing is on the wire and every write the step caused is durable and applied.
    const nodes = [{ id: 'n1', node: leader, observedStore: stores.n1 }, { id: 'n2', node: joiner, observedStore: stores.n2 }];
    const idle = () => waitFor(() => busyReasons(hub, nodes).length === 0, { what: () => `idle (${busyReasons(hub, nodes).join('; ')})`, timeoutMs: 10_000 });
    const until = async (condition: () => boolean, what: string): Promise<void> => {
      await idle();
      for (let elapsedMs = 0; elapsedMs < 100_000 && !condition(); elapsedMs += 5) {
        timers.n1.advance(5);
        timers.n2.advance(5);
        await idle();
      }
      if (!condition()) throw new Error(`${what} did not happen within 100 s of virtual time`);
    };
    try {
      await until(() => leader.status().role === 'leader', 'leader');
      for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 10 }, () => leader.propose({ op: 'add', by: 1 })));
      await until(() => leader.status().snapshotIndex >= 80, 'compaction');
      await leader.addLearner('n2', { promote: true });
      await until(() => machines.n2.state === 100 && joiner.status().snapshotIndex > 0, 'install');
      expect(leader.members().voters).toContain('n2');
      expect(joiner.status().snapshotIndex).toBeGreaterThanOrEqual(80);
    } finally {
      await leader.stop();
      await joiner.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
