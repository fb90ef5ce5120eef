import { afterEach, describe, expect, test } from 'vitest';
import { createActor, setup, type ActorRefFrom, type InspectionEvent } from 'xstate';
import {
  InvalidCommandError,
  NotLeaderError,
  RejectedError,
  StoppedError,
  createRaftNode,
  MemoryNetworkHub,
  ManualTimer,
  MemoryLogStore,
  createCommandCodec,
  createNodeMachine,
} from '../../src/index.js';
import { CounterRejection, TestCluster, counterCommand, counterMachine, within, type CounterCommand } from '../support/cluster.js';
import { waitFor } from '../support/waitFor.js';

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.stop();
});

describe('a node of a three-node cluster', () => {
  test('elects exactly one leader and every node learns who it is', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    for (const { node } of cluster.nodes) expect(node.status().leader).toBe(leader.id);
    expect(cluster.leaders()).toHaveLength(1);
  });

  test('resolves a proposal with the state machine result once it is committed, and every node applies it', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    expect(await within(cluster, leader.node.propose({ op: 'add', by: 5 }))).toBe(5);
    const results = await within(cluster, Promise.all([1, 2, 3].map((by) => leader.node.propose({ op: 'add', by }))));
    expect(results).toEqual([6, 8, 11]);
    await cluster.until(() => cluster.nodes.every(({ stateMachine }) => stateMachine.state === 11), 1000, 'all applied');
    const commit = leader.node.status().commitIndex;
    for (const { node } of cluster.nodes) expect(node.status().appliedIndex).toBe(commit);
  });

  test('a follower configured not to forward refuses a proposal with NotLeader naming the leader', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { config: { forwardToLeader: false } });
    const leader = await cluster.electLeader();
    const follower = cluster.nodes.find(({ id }) => id !== leader.id)!;
    const before = follower.node.status().lastIndex;
    const error = await within(cluster, follower.node.propose({ op: 'add', by: 1 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotLeaderError);
    expect(error).toMatchObject({ code: 'NOT_LEADER', leaderHint: leader.id, outcome: 'not-appended' });
    expect(follower.node.status().lastIndex).toBe(before);
  });

  test('a command that fails the schema is refused with InvalidCommand and never reaches the log', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    const before = leader.node.status().lastIndex;
    // @ts-expect-error: deliberately not a CounterCommand
    const error = await leader.node.propose({ op: 'add', by: 'one' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidCommandError);
    expect((error as InvalidCommandError).issues[0]?.path).toEqual(['by']);
    await cluster.advance(50);
    expect(leader.node.status().lastIndex).toBe(before);
  });

  test('a command longer than maxCommandBytes is refused with InvalidCommand and never reaches the log', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3'], { maxCommandBytes: 200 });
    const leader = await cluster.electLeader();
    const before = leader.node.status().lastIndex;
    // {"json":{"op":"fail","reason":"…"}}: 34 characters around the reason, 100 é of 2 bytes each.
    const error = await leader.node.propose({ op: 'fail', reason: 'é'.repeat(100) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidCommandError);
    expect((error as Error).message).toMatch(/takes 234 bytes encoded, more than maxCommandBytes \(200\)/);
    await cluster.advance(50);
    expect(leader.node.status().lastIndex).toBe(before);
    // One that fits goes through to the state machine (which rejects `fail` commands by design).
    const fits = await within(cluster, leader.node.propose({ op: 'fail', reason: 'e'.repeat(160) })).catch((e: unknown) => e);
    expect(fits).toBeInstanceOf(RejectedError);
  });

  test('a command the state machine throws on is rejected with the thrown error, and the node goes on', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    const error = await within(cluster, leader.node.propose({ op: 'fail', reason: 'no' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RejectedError);
    expect((error as RejectedError<CounterRejection>).cause).toBeInstanceOf(CounterRejection);
    expect(await within(cluster, leader.node.propose({ op: 'add', by: 2 }))).toBe(2);
  });

  test('a leader cut off from the majority fails its uncommitted proposals with NotLeader, outcome unknown', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    cluster.hub.isolate(leader.id);
    const pending = leader.node.propose({ op: 'add', by: 1 });
    const error = await within(cluster, pending).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'NOT_LEADER', outcome: 'unknown' });
    expect(leader.node.status().role).not.toBe('leader');
  });

  test('a restarted node recovers its durable log and re-applies the committed entries', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    await within(cluster, Promise.all([leader.node.propose({ op: 'add', by: 4 }), leader.node.propose({ op: 'add', by: 6 })]));
    const follower = cluster.nodes.find(({ id }) => id !== leader.id)!;
    await cluster.until(() => follower.stateMachine.state === 10, 1000, 'follower applied');
    const restarted = await cluster.restart(follower.id, { crash: true });
    expect(restarted.stateMachine.state).toBe(0);
    await cluster.until(() => restarted.stateMachine.state === 10, 2000, 'restarted node re-applied');
    expect(restarted.node.status().term).toBe(leader.node.status().term);
  });

  test('stopping a node rejects its waiting proposals and later ones with Stopped', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    cluster.hub.isolate(leader.id);
    const before = leader.node.status().lastIndex;
    const pending = leader.node.propose({ op: 'add', by: 1 });
    await cluster.waitFor(() => leader.node.status().lastIndex > before, 'the proposal to be appended to the leader\'s log');
    await leader.node.stop();
    await expect(pending).rejects.toBeInstanceOf(StoppedError);
    await expect(leader.node.propose({ op: 'add', by: 1 })).rejects.toBeInstanceOf(StoppedError);
    expect(leader.node.status().role).toBe('stopped');
  });

  test('emits role, leader and applied events', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const seen: string[] = [];
    for (const { id, node } of cluster.nodes) {
      node.on('roleChanged', (event) => seen.push(`${id} ${event.role}`));
      node.on('leaderChanged', (event) => seen.push(`${id} leader=${event.leader}`));
    }
    const leader = await cluster.electLeader();
    const applied: number[] = [];
    leader.node.on('applied', (event) => applied.push(event.index));
    await within(cluster, leader.node.propose({ op: 'add', by: 1 }));
    expect(seen).toContain(`${leader.id} leader`);
    for (const { id } of cluster.nodes) expect(seen).toContain(`${id} leader=${leader.id}`);
    expect(applied.at(-1)).toBe(leader.node.status().appliedIndex);
  });
});

describe('elections on demand', () => {
  test('a single-node cluster commits on its own once its write is durable', async () => {
    cluster = new TestCluster(['solo']);
    const solo = await cluster.electLeader();
    expect(await within(cluster, solo.node.propose({ op: 'add', by: 3 }))).toBe(3);
  });

  test('campaign() makes a chosen node of three leader without waiting for the election timeout', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const chosen = cluster.get('n2');
    await cluster.waitFor(() => cluster.nodes.every(({ node }) => node.status().role === 'follower'), 'every node to recover as a follower');
    const campaign = chosen.node.campaign();
    await cluster.waitFor(() => chosen.node.status().role === 'leader', 'n2 to win the election it started');
    await campaign;
    expect(chosen.timer.time).toBe(0);
  });
});

describe('the node statechart', () => {
  test('passes the inspect option through: the inspector sees the events and the move from recovering to leader', async () => {
    const events: InspectionEvent[] = [];
    const hub = new MemoryNetworkHub();
    const timer = new ManualTimer();
    const node = createRaftNode({
      id: 'solo',
      members: ['solo'],
      commandSchema: counterCommand,
      stateMachine: counterMachine(),
      network: hub.endpoint('solo'),
      timer,
      inspect: (event) => events.push(event),
    });
    await waitFor(() => node.status().role === 'leader', { what: 'the only voter to lead once recovered' });
    const values = events
      .filter((event): event is Extract<InspectionEvent, { type: '@xstate.snapshot' }> => event.type === '@xstate.snapshot')
      .filter((event) => event.actorRef === node.actor)
      .map((event) => JSON.stringify((event.snapshot as unknown as { value: unknown }).value));
    expect(values[0]).toBe('"recovering"');
    expect(values.at(-1)).toBe('{"running":"leader"}');
    // Every event the node handled is visible too, e.g. the log store's answer to Load.
    expect(events.some((event) => event.type === '@xstate.event' && event.actorRef === node.actor && event.event.type === 'Loaded')).toBe(true);
    // The log stays out of the inspected context: the runtime serializes to a small summary.
    const last = events.filter((event) => event.type === '@xstate.snapshot').at(-1) as unknown as { snapshot: { context: unknown } };
    expect(JSON.stringify(last.snapshot.context).length).toBeLessThan(1000);
    await node.stop();
  });

  test('is actor logic that a parent machine can invoke, observing its role as the child snapshot', async () => {
    const hub = new MemoryNetworkHub();
    const nodeLogic = createNodeMachine<CounterCommand, number, CounterRejection>();
    const supervisor = setup({ actors: { node: nodeLogic } }).createMachine({
      invoke: {
        id: 'solo',
        systemId: 'node-solo',
        src: 'node',
        input: {
          id: 'solo',
          members: ['solo'],
          codec: createCommandCodec(counterCommand),
          actors: { timer: new ManualTimer(), network: hub.endpoint('solo'), logStore: new MemoryLogStore(), stateMachine: counterMachine() },
        },
      },
    });
    const parent = createActor(supervisor).start();
    const child = parent.system.get('node-solo') as ActorRefFrom<typeof nodeLogic>;
    await waitFor(() => child.getSnapshot().context.role !== 'recovering', { what: 'the invoked node to recover' });
    child.send({ type: 'xraft.campaign' });
    await waitFor(() => child.getSnapshot().matches({ running: 'leader' }), { what: 'the invoked node to lead' });
    expect(child.getSnapshot().value).toEqual({ running: 'leader' });
    parent.stop();
  });
});
