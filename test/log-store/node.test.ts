/**
 * Log stores under real nodes (createRaftNode): LevelLogStore recovers a node's term, vote and log and the node
 * re-applies and rejoins; a corrupted store stops the node before it serves anything; a LogStore subclass written in
 * a test runs a cluster.
 */
import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, test } from 'vitest';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { entryKey } from '../../actors/log-store/levelCodec.js';
import { MemoryLogStore, StoppedError, type NodeId } from '../../src/index.js';
import { CountingLogStore } from './CountingLogStore.js';
import { StoreCluster } from './storeCluster.js';

const members = ['n1', 'n2', 'n3'];
let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

/** A cluster on LevelLogStores over memory-level databases that outlive the nodes (the "disks"). */
async function levelCluster(): Promise<{ cluster: StoreCluster<LevelLogStore>; disks: Map<NodeId, MemoryLevel> }> {
  const disks = new Map(members.map((id) => [id, new MemoryLevel()] as const));
  const cluster = new StoreCluster<LevelLogStore>(
    members,
    (id) => new LevelLogStore({ db: disks.get(id)!, identity: { clusterId: 'test', nodeId: id, members } }),
    (store) => store.close(),
  );
  await cluster.start();
  cleanup = () => cluster.stop();
  return { cluster, disks };
}

describe('a node on LevelLogStore', () => {
  test('restarted on its data, a follower restores term, vote and log, re-applies committed entries and rejoins', async () => {
    const { cluster } = await levelCluster();
    const leader = await cluster.electLeader();
    for (const by of [1, 2, 3, 4]) await cluster.within(leader.node.propose({ op: 'add', by }));
    const follower = cluster.nodes.find(({ id }) => id !== leader.id)!;
    await cluster.until(() => follower.stateMachine.state === 10, 1000, 'follower applied');
    const before = follower.node.status();

    const restarted = await cluster.restart(follower.id);
    expect(restarted.stateMachine.state).toBe(0);
    const recovered = await restarted.store.open();
    expect(recovered.hardState.term).toBe(before.term);
    expect(recovered.hardState.votedFor).toBe(leader.id);
    expect(recovered.entries.length).toBe(before.lastIndex);
    await cluster.until(() => restarted.stateMachine.state === 10, 2000, 'restarted node re-applied');
    expect(await cluster.within(leader.node.propose({ op: 'add', by: 5 }))).toBe(15);
    await cluster.until(() => restarted.stateMachine.state === 15, 2000, 'restarted node follows new entries');
  });

  test('a whole cluster restarted on its data keeps every committed entry and goes on', async () => {
    const { cluster } = await levelCluster();
    const leader = await cluster.electLeader();
    const results = await cluster.within(Promise.all([10, 20, 30].map((by) => leader.node.propose({ op: 'add', by }))));
    expect(results).toEqual([10, 30, 60]);
    for (const id of members) await cluster.restart(id);
    const next = await cluster.electLeader();
    expect(await cluster.within(next.node.propose({ op: 'add', by: 1 }))).toBe(61);
    await cluster.until(() => cluster.nodes.every(({ stateMachine }) => stateMachine.state === 61), 2000, 'all re-applied');
  });

  test('refuses to start on a store with a flipped byte: it stops with StoreCorrupted naming the entry', async () => {
    const { cluster, disks } = await levelCluster();
    const leader = await cluster.electLeader();
    for (const by of [1, 2, 3]) await cluster.within(leader.node.propose({ op: 'add', by }));
    const follower = cluster.nodes.find(({ id }) => id !== leader.id)!;
    await cluster.until(() => follower.stateMachine.state === 6, 1000, 'follower applied');
    await follower.node.stop();
    await follower.store.close();
    const raw = disks.get(follower.id)!.sublevel<Buffer, Buffer>('entries', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    const value = (await raw.get(entryKey(3)))!;
    value[25] = value[25]! ^ 0x20;
    await raw.put(entryKey(3), value);

    const stopped: (string | null)[] = [];
    const restarted = await cluster.restart(follower.id);
    restarted.node.on('stopped', ({ error }) => stopped.push(error));
    await cluster.until(() => restarted.node.status().role === 'stopped', 1000, 'the node to refuse');
    expect(stopped).toHaveLength(1);
    expect(stopped[0]).toContain('STORE_CORRUPTED');
    expect(stopped[0]).toContain('entry 3 (key entries/0000000000000003): checksum mismatch');
    expect(restarted.stateMachine.state).toBe(0);
    await expect(restarted.node.propose({ op: 'add', by: 1 })).rejects.toBeInstanceOf(StoppedError);
  });

  test('refuses to start on another node\'s data', async () => {
    const disk = new MemoryLevel();
    await new LevelLogStore({ db: disk, identity: { clusterId: 'test', nodeId: 'n2' } }).open();
    const cluster = new StoreCluster<LevelLogStore>(['n1'], (id) => new LevelLogStore({ db: disk, identity: { clusterId: 'test', nodeId: id } }), (store) => store.close());
    await cluster.start();
    cleanup = () => cluster.stop();
    const solo = cluster.get('n1');
    await cluster.until(() => solo.node.status().role === 'stopped', 1000, 'the node to refuse');
    expect(solo.node.status().role).toBe('stopped');
  });
});

describe('a LogStore subclass written by a user', () => {
  test('runs a three-node cluster under createRaftNode, sees every write, and recovers a restarted node', async () => {
    const disks = new Map(members.map((id) => [id, new MemoryLogStore()] as const));
    const cluster = new StoreCluster<CountingLogStore>(members, (id) => new CountingLogStore(disks.get(id)!));
    await cluster.start();
    cleanup = () => cluster.stop();
    const leader = await cluster.electLeader();
    const results = await cluster.within(Promise.all([1, 2, 3].map((by) => leader.node.propose({ op: 'add', by }))));
    expect(results).toEqual([1, 3, 6]);
    await cluster.until(() => cluster.nodes.every(({ stateMachine }) => stateMachine.state === 6), 1000, 'all applied');
    for (const { store, node } of cluster.nodes) {
      expect(store.loads).toBe(1);
      expect(store.entriesWritten).toBe(node.status().lastIndex);
      expect(store.acknowledgements).toBeGreaterThan(0);
      expect(store.acknowledgements).toBeLessThanOrEqual(store.writes);
    }
    const follower = cluster.nodes.find(({ id }) => id !== leader.id)!;
    const restarted = await cluster.restart(follower.id);
    await cluster.until(() => restarted.stateMachine.state === 6, 2000, 'restarted node re-applied');
    expect(restarted.store.loads).toBe(1);
  });
});
