/**
 * How a node's operations and its life end (issue 13, points 3, 4 and 6): every leadership transfer settles, every
 * stop says why, `stop()` waits for the actors to close and reports a close that failed, and a message the core
 * refuses reaches observers with its sender.
 */
import { afterEach, describe, expect, test } from 'vitest';
import {
  CloseFailedError,
  createRaftNode,
  ManualTimer,
  MemoryLogStore,
  MemoryNetwork,
  MemoryNetworkHub,
  NotLeaderError,
  seededRandom,
  StoppedError,
  TransferAbortedError,
  type NodeId,
  type RaftMessage,
  type RaftNodeEvent,
  type Send,
} from '../../src/index.js';
import { TransferTracker } from '../../src/node/transferTracker.js';
import { counterCommand, counterMachine, testConfig, type CounterNode } from '../support/cluster.js';
import { settledWithin, waitFor } from '../support/waitFor.js';

interface LiveNode {
  readonly id: NodeId;
  readonly node: CounterNode;
  readonly timer: ManualTimer;
}

let running: LiveNode[] = [];
afterEach(async () => {
  for (const { node } of running) await node.stop().catch(() => undefined);
  running = [];
});

function start(
  hub: MemoryNetworkHub,
  id: NodeId,
  members: readonly NodeId[],
  parts: { readonly logStore?: MemoryLogStore; readonly network?: MemoryNetwork } = {},
): LiveNode {
  const timer = new ManualTimer();
  const node = createRaftNode({
    id,
    members,
    commandSchema: counterCommand,
    stateMachine: counterMachine(),
    network: parts.network ?? hub.endpoint(id),
    logStore: parts.logStore ?? new MemoryLogStore(),
    timer,
    config: testConfig,
    random: seededRandom(id.length * 7919 + id.charCodeAt(id.length - 1)),
  });
  const live = { id, node, timer };
  running.push(live);
  return live;
}

/** Every `refused` event of `target`, as it comes. */
function refusalsOf(target: LiveNode): Extract<RaftNodeEvent, { type: 'refused' }>[] {
  const refused: Extract<RaftNodeEvent, { type: 'refused' }>[] = [];
  target.node.on('refused', (event) => refused.push(event));
  return refused;
}

/** Deliver `message` to `to` as if peer `from` had sent it (a forgery: `from` is no node). */
function forge(hub: MemoryNetworkHub, from: NodeId, to: NodeId, message: RaftMessage): void {
  hub.endpoint(from).receive({ type: 'Send', to, message });
}

/** A single-voter node, leading (it elects itself at start). */
async function soloLeader(logStore?: MemoryLogStore): Promise<LiveNode['node']> {
  const { node } = start(new MemoryNetworkHub(), 'solo', ['solo'], logStore === undefined ? {} : { logStore });
  await waitFor(() => node.status().role === 'leader', { what: 'solo to lead' });
  return node;
}

/** Three nodes with n1 elected (on demand, so no clock has moved) and known as leader by all. */
async function threeNodes(): Promise<{ hub: MemoryNetworkHub; nodes: LiveNode[] }> {
  const hub = new MemoryNetworkHub();
  const ids = ['n1', 'n2', 'n3'];
  const nodes = ids.map((id) => start(hub, id, ids));
  await waitFor(() => nodes.every(({ node }) => node.status().role === 'follower'), { what: 'every node to recover' });
  await settledWithin(nodes[0]!.node.campaign(), { what: 'n1 to win the election it started' });
  await waitFor(() => nodes.every(({ node }) => node.status().leader === 'n1'), { what: 'every node to know n1 leads' });
  return { hub, nodes };
}

/**
 * Move every node's clock on 5 ms at a time until `condition` holds, letting messages and writes through between
 * steps; fail once `maxMs` of virtual time have passed without it.
 */
async function advanceUntil(nodes: readonly LiveNode[], condition: () => boolean, maxMs: number, what: string): Promise<void> {
  let elapsed = 0;
  await waitFor(
    () => {
      if (condition()) return true;
      if (elapsed > maxMs) throw new Error(`${what} did not happen within ${maxMs} ms of virtual time`);
      for (const { timer } of nodes) timer.advance(5);
      elapsed += 5;
      return false;
    },
    { what },
  );
}

/** A store whose medium can be broken, and whose close the test controls. */
class ControlledStore extends MemoryLogStore {
  /** What `onStop` returns: a graceful close by default. */
  closing: () => Promise<void> = () => Promise.resolve();
  stopCalls = 0;

  breakMedium(message: string): void {
    this.failed({ code: 'IO_ERROR', message });
  }

  protected override onStop(): Promise<void> {
    this.stopCalls++;
    super.onStop();
    return this.closing();
  }
}

describe('leadership transfer settles', () => {
  test('on a follower it rejects with NotLeader naming the leader', async () => {
    const { nodes } = await threeNodes();
    const outcome = await settledWithin(nodes[1]!.node.transferLeadership('n3'), { what: 'the transfer to settle' }).catch((error: unknown) => error);
    expect(outcome).toBeInstanceOf(NotLeaderError);
    expect(outcome).toMatchObject({ code: 'NOT_LEADER', leaderHint: 'n1', outcome: 'not-appended' });
    // Nothing is left under way: the leader can still transfer.
    expect(nodes[0]!.node.status().role).toBe('leader');
  });

  test('a target that never takes over: TRANSFER_ABORTED within two election timeouts of the leader clock', async () => {
    const { hub, nodes } = await threeNodes();
    const [leader] = nodes;
    hub.isolate('n3');
    const startedAt = leader!.timer.time;
    let outcome: unknown = null;
    leader!.node.transferLeadership('n3').then(
      () => (outcome = 'resolved'),
      (error: unknown) => (outcome = error),
    );
    await advanceUntil(nodes, () => outcome !== null, 10 * testConfig.electionTimeoutMs!, 'the transfer to settle');
    expect(outcome).toBeInstanceOf(TransferAbortedError);
    expect(outcome).toMatchObject({ code: 'TRANSFER_ABORTED' });
    expect(leader!.timer.time - startedAt).toBeLessThanOrEqual(2 * testConfig.electionTimeoutMs! + 5);
    // The transfer is over: another one may start.
    hub.heal();
    expect(leader!.node.status().role).toBe('leader');
  });

  test('the tracker is the backstop: a transfer the core never settles is aborted at its deadline', () => {
    const tracker = new TransferTracker('n1', 200);
    let outcome: unknown = null;
    tracker.track('n3', 1000, () => (outcome = 'resolved'), (error) => (outcome = error));
    tracker.sweep(1199);
    expect(outcome).toBeNull();
    tracker.sweep(1200);
    expect(outcome).toBeInstanceOf(TransferAbortedError);
    expect(tracker.active).toBe(false);
  });

  test('the tracker: success only when another node leads (the target, when one was named); this node or another leading again is a failure', () => {
    const tracker = new TransferTracker('n1', 200);
    let outcome: unknown = null;
    const track = (target: string | null) => {
      outcome = null;
      tracker.track(target, 0, () => (outcome = 'resolved'), (error) => (outcome = error));
    };
    track(null);
    tracker.leaderChanged(null); // nobody leads yet: undecided
    expect(outcome).toBeNull();
    tracker.leaderChanged('n2');
    expect(outcome).toBe('resolved');

    track(null);
    tracker.leaderChanged('n1'); // the old leader won again
    expect(outcome).toBeInstanceOf(TransferAbortedError);

    track('n3');
    tracker.leaderChanged('n3');
    expect(outcome).toBe('resolved');

    track('n3');
    tracker.leaderChanged('n2'); // not the target
    expect(outcome).toBeInstanceOf(TransferAbortedError);
    expect((outcome as Error).message).toMatch(/n2 leads, not n3/);
  });
});

describe('stops are explained', () => {
  test('a store failure: status() says stopped with the reason, the stopped event carries it, callers get it', async () => {
    const store = new ControlledStore();
    const node = await soloLeader(store);
    const stopped: (string | null)[] = [];
    node.on('stopped', ({ error }) => stopped.push(error));
    store.breakMedium('disk on fire');
    await waitFor(() => node.status().role === 'stopped', { what: 'the node to stop' });
    expect(node.status().stopReason).toMatch(/log store failed \(IO_ERROR\): disk on fire/);
    expect(stopped).toEqual([node.status().stopReason]);
    const error = await node.propose({ op: 'add', by: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoppedError);
    expect((error as Error).message).toMatch(/disk on fire/);
  });

  test('a graceful stop has no reason', async () => {
    const node = await soloLeader();
    await node.stop();
    expect(node.status()).toMatchObject({ role: 'stopped', stopReason: null });
  });

  test('an exception thrown by the core stops the node with that error as the reason', async () => {
    const { nodes } = await threeNodes();
    const follower = nodes[1]!;
    const core = follower.node.actor.getSnapshot().context.runtime.core!;
    core.receive = () => {
      throw new Error('invariant broken on purpose');
    };
    await advanceUntil(nodes, () => follower.node.status().role === 'stopped', 500, 'the follower to stop');
    expect(follower.node.status().stopReason).toMatch(/the core threw Error: invariant broken on purpose/);
    // The others go on.
    expect(nodes[0]!.node.status().role).toBe('leader');
  });

  test('a failed child actor stops the node with a reason naming it', async () => {
    class BrokenNetwork extends MemoryNetwork {
      protected override onSend(_message: Send): void {
        throw new Error('socket exploded');
      }
    }
    const hub = new MemoryNetworkHub();
    const ids = ['n1', 'n2'];
    const n1 = start(hub, 'n1', ids, { network: new BrokenNetwork(hub, 'n1') });
    start(hub, 'n2', ids);
    await waitFor(() => n1.node.status().role === 'follower', { what: 'n1 to recover' });
    const campaign = n1.node.campaign().catch((error: unknown) => error);
    await waitFor(() => n1.node.status().role === 'stopped', { what: 'n1 to stop' });
    expect(await campaign).toBeInstanceOf(StoppedError);
    expect(n1.node.status().stopReason).toMatch(/the network actor failed: socket exploded/);
  });

  test("an error of the node's own actor is a stop with a reason too, not a silent dead actor", async () => {
    const store = new ControlledStore();
    const node = await soloLeader(store);
    const stopped: (string | null)[] = [];
    node.on('stopped', ({ error }) => stopped.push(error));
    const runtime = node.actor.getSnapshot().context.runtime;
    const pending = node.propose({ op: 'add', by: 1 }, { timeoutMs: 60_000 }).catch((error: unknown) => error);
    runtime.afterEvent = () => {
      throw new Error('a bug outside the core');
    };
    await waitFor(() => node.status().role === 'stopped', { what: 'the node to report a stop' });
    expect(node.status().stopReason).toMatch(/a bug outside the core/);
    expect(stopped).toHaveLength(1);
    expect(stopped[0]).toMatch(/a bug outside the core/);
    expect(await settledWithin(pending, { what: 'the proposal to settle' })).toBeInstanceOf(StoppedError);
    // The actors were released although xstate left them running.
    expect(store.stopCalls).toBe(1);
    await node.stop();
  });
});

describe('stop() waits for the actors to close', () => {
  test("it resolves only once the store's close has finished", async () => {
    const store = new ControlledStore();
    let finishClose: () => void = () => undefined;
    store.closing = () => new Promise<void>((resolve) => (finishClose = resolve));
    const node = await soloLeader(store);
    let stopped = false;
    const stopping = node.stop().then(() => (stopped = true));
    await waitFor(() => store.stopCalls === 1, { what: 'the store to be told to stop' });
    expect(node.status().role).toBe('stopped');
    expect(stopped).toBe(false);
    finishClose();
    await settledWithin(stopping, { what: 'stop() to resolve' });
    expect(stopped).toBe(true);
  });

  test('it rejects with CloseFailedError naming the actor whose close failed', async () => {
    const store = new ControlledStore();
    store.closing = () => Promise.reject(new Error('fsync failed'));
    const node = await soloLeader(store);
    const error = await settledWithin(node.stop(), { what: 'stop() to settle' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloseFailedError);
    expect(error).toMatchObject({ code: 'CLOSE_FAILED', actors: ['logStore'] });
    expect((error as Error).message).toMatch(/logStore \(fsync failed\)/);
    expect(node.status().role).toBe('stopped');
  });
});

describe('refused messages', () => {
  test('a forged AppendEntries with entries that are not contiguous is refused, reported with its sender, and changes nothing', async () => {
    const { hub, nodes } = await threeNodes();
    const follower = nodes[1]!;
    const refused = refusalsOf(follower);
    const before = follower.node.status();
    forge(hub, 'mallory', follower.id, {
      type: 'AppendEntries',
      term: before.term,
      prevLogIndex: before.lastIndex,
      prevLogTerm: before.term,
      entries: [
        { index: before.lastIndex + 1, term: before.term, kind: 'noop', data: '' },
        { index: before.lastIndex + 3, term: before.term, kind: 'noop', data: '' },
      ],
      leaderCommit: before.commitIndex,
      round: 1,
    });
    await waitFor(() => refused.length > 0, { what: 'the refusal' });
    expect(refused[0]).toMatchObject({ type: 'refused', from: 'mallory', messageType: 'AppendEntries' });
    expect(refused[0]!.reason).toMatch(/not contiguous/);
    expect(follower.node.status()).toMatchObject({ role: 'follower', lastIndex: before.lastIndex, leader: 'n1' });
    // It keeps replicating.
    const result = await settledWithin(nodes[0]!.node.propose({ op: 'add', by: 2 }), { what: 'a proposal after the forgery' });
    expect(result).toBe(2);
    await waitFor(() => follower.node.status().appliedIndex === nodes[0]!.node.status().commitIndex, { what: 'the follower to apply it' });
  });

  test("a command entry that does not decode with the node's schema is refused before the core stores it", async () => {
    const { nodes, hub } = await threeNodes();
    const follower = nodes[1]!;
    const refused = refusalsOf(follower);
    const before = follower.node.status();
    // In the leader's term, continuing the follower's log exactly: the command is what is checked first.
    forge(hub, 'n1-forged', follower.id, {
      type: 'AppendEntries',
      term: before.term,
      prevLogIndex: before.lastIndex,
      prevLogTerm: before.term,
      entries: [{ index: before.lastIndex + 1, term: before.term, kind: 'command', data: '{"json":{"op":"explode"}}' }],
      leaderCommit: before.commitIndex,
      round: 0,
    });
    await waitFor(() => refused.length > 0, { what: 'the refusal' });
    expect(refused[0]).toMatchObject({ from: 'n1-forged', messageType: 'AppendEntries' });
    expect(refused[0]!.reason).toMatch(/command entry \d+ does not decode/);
    expect(follower.node.status().lastIndex).toBe(before.lastIndex);
    expect(await settledWithin(nodes[0]!.node.propose({ op: 'add', by: 3 }), { what: 'a proposal after the forgery' })).toBe(3);
  });
});

describe('a removed node', () => {
  test('enters the removed state, says so in status(), and refuses operations naming the leader it knew', async () => {
    const { nodes } = await threeNodes();
    const [leader, , removed] = nodes;
    await advanceUntil(nodes, () => leader!.node.status().commitIndex === leader!.node.status().lastIndex, 500, 'the election entry to commit');
    const removal = leader!.node.removeMember('n3');
    await advanceUntil(nodes, () => removed!.node.status().role === 'removed', 1000, 'n3 to learn it was removed');
    await settledWithin(removal, { what: 'the removal to apply' });
    expect(removed!.node.actor.getSnapshot().value).toBe('removed');
    expect(removed!.node.status()).toMatchObject({ role: 'removed', stopReason: null });
    const proposal = await settledWithin(removed!.node.propose({ op: 'add', by: 1 }), { what: 'the proposal' }).catch((e: unknown) => e);
    expect(proposal).toBeInstanceOf(NotLeaderError);
    expect(proposal).toMatchObject({ leaderHint: 'n1', outcome: 'not-appended' });
    const read = await settledWithin(removed!.node.read((count) => count.state), { what: 'the read' }).catch((e: unknown) => e);
    expect(read).toMatchObject({ code: 'NOT_LEADER', leaderHint: 'n1' });
    // It never campaigns again: ten election timeouts pass and it stays removed while the others go on.
    const from = removed!.timer.time;
    await advanceUntil(nodes, () => removed!.timer.time - from >= 10 * testConfig.electionTimeoutMs!, 2000, 'ten election timeouts');
    expect(removed!.node.status().role).toBe('removed');
    expect(leader!.node.status().role).toBe('leader');
  });
});
