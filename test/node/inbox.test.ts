/**
 * The node's inbox (src/node/inbox.ts): every event reaches the node through it, one at a time; data-path events skip
 * the statechart when they cannot move it, and the statechart still shows every change of role, term and leader.
 */
import type { InspectionEvent } from 'xstate';
import { afterEach, describe, expect, test } from 'vitest';
import { createRaftNode, ManualTimer, MemoryLogStore, MemoryNetworkHub, seededRandom, type SaveLog } from '../../src/index.js';
import { counterCommand, counterMachine, TestCluster, testConfig, within, type CounterNode } from '../support/cluster.js';
import { waitFor } from '../support/waitFor.js';

/**
 * A store whose writes are durable the moment they are made: it answers SaveLog inside `receive`, while the node is
 * still handling the event that asked, and notes how far the node had committed right after answering.
 */
class SynchronousStore extends MemoryLogStore {
  probe: () => number = () => 0;
  readonly committedAfterAnswer: { readonly written: number; readonly committed: number }[] = [];

  constructor() {
    super({ autoSync: false });
  }

  protected override onSaveLog(message: SaveLog): void {
    super.onSaveLog(message);
    this.sync();
    const written = message.entries.at(-1)?.index;
    if (written !== undefined) this.committedAfterAnswer.push({ written, committed: this.probe() });
  }
}

const statechartRole = (node: CounterNode): unknown => node.actor.getSnapshot().value;

/** A lone voter on manual time, with `extra` options (its store, an inspector). */
function soloNode(extra: Pick<Parameters<typeof createRaftNode>[0], 'logStore' | 'inspect'>): CounterNode {
  return createRaftNode({
    id: 'solo',
    members: ['solo'],
    commandSchema: counterCommand,
    stateMachine: counterMachine(),
    network: new MemoryNetworkHub().endpoint('solo'),
    timer: new ManualTimer(),
    config: testConfig,
    random: seededRandom(3),
    ...extra,
  });
}

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe('the statechart shows every change the data path makes', () => {
  test('after elections, writes and a new leader, each node’s statechart state, term and leader are its core’s', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const first = await cluster.electLeader();
    for (let i = 0; i < 5; i++) await within(cluster, first.node.propose({ op: 'add', by: 1 }));
    const agree = (): void => {
      for (const { node } of cluster!.nodes) {
        const status = node.status();
        if (status.role === 'stopped') continue;
        expect(statechartRole(node)).toEqual({ running: status.role });
        const core = node.actor.getSnapshot().context.runtime.core!;
        expect([status.term, status.leader, status.role]).toEqual([core.term, core.leader, core.role]);
        expect(status.commitIndex).toBe(core.commitIndex);
      }
    };
    agree();
    // The leader goes silent: a follower's election timeout on the data path makes it a candidate, then the leader.
    cluster.hub.isolate(first.id);
    await cluster.until(() => cluster!.nodes.some(({ id, node }) => id !== first.id && node.status().role === 'leader'), 5000, 'a new leader');
    agree();
    cluster.hub.heal();
    await cluster.until(() => first.node.status().role === 'follower' && first.node.status().leader !== null, 5000, 'the old leader to follow');
    agree();
  });
});

describe('one event at a time', () => {
  test('a store that answers inside SaveLog: its answer waits until the event that asked is handled, and every write commits and applies in order', async () => {
    const store = new SynchronousStore();
    const node = soloNode({ logStore: store });
    store.probe = () => node.status().commitIndex;
    const applied: number[] = [];
    node.on('applied', ({ index }) => applied.push(index));
    await node.campaign();
    const results = await Promise.all(Array.from({ length: 20 }, () => node.propose({ op: 'add', by: 1 })));
    // Every caller is answered once, with the counter after its own entry.
    expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await waitFor(() => node.status().appliedIndex === node.status().lastIndex, { what: 'everything applied' });
    // `applied` is heard once per applied batch, in index order, up to the last entry.
    expect(applied.length).toBeGreaterThan(0);
    expect(applied.every((index, i) => i === 0 || index > applied[i - 1]!)).toBe(true);
    expect(applied.at(-1)).toBe(node.status().lastIndex);
    // A lone voter commits an entry once it is durable, yet never inside the event that wrote it: the store's
    // answer waited its turn in the inbox.
    expect(store.committedAfterAnswer.length).toBeGreaterThan(0);
    for (const { written, committed } of store.committedAfterAnswer) expect(committed).toBeLessThan(written);
    await node.stop();
  });
});

describe('with an inspector attached', () => {
  test('every event goes through the statechart, the data path’s included', async () => {
    const events: InspectionEvent[] = [];
    const node = soloNode({ inspect: (event) => events.push(event) });
    await node.campaign();
    await node.propose({ op: 'add', by: 2 });
    const seen = new Set(events.filter((event) => event.type === '@xstate.event' && event.actorRef === node.actor).map((event) => (event as { event: { type: string } }).event.type));
    for (const type of ['xraft.propose', 'LogSaved', 'Applied']) expect(seen).toContain(type);
    // Nothing was stepped outside the statechart.
    expect(seen).not.toContain('xraft.stepped');
    await node.stop();
  });
});
