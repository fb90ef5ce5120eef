/**
 * An in-process cluster of real nodes (statechart + actors) for tests: an in-memory network, memory log stores that
 * outlive their nodes, and manual timers, so that time only passes when the test says so.
 *
 * Time passes in small steps, and each step waits until the cluster is idle (nothing on the wire, every write
 * durable, every committed entry applied) before the next: what a node does in reaction to a message happens before
 * the clock moves on, whatever the number of event-loop turns it takes.
 */
import { z } from 'zod';
import {
  createRaftNode,
  ManualTimer,
  MemoryLogStore,
  ReducerStateMachine,
  seededRandom,
  type NodeId,
  type RaftConfig,
  type RaftNode,
} from '../../src/index.js';
import { MemoryNetworkHub } from '../../actors/network/MemoryNetwork.js';
import { ObservedLogStore } from './ObservedLogStore.js';
import { settledWithin, waitFor } from './waitFor.js';


export const counterCommand = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add'), by: z.number().int() }),
  z.object({ op: z.literal('fail'), reason: z.string() }),
]);
export type CounterCommand = z.infer<typeof counterCommand>;

export class CounterRejection extends Error {
  readonly code = 'COUNTER_REJECTED';
}

/** A counter whose `fail` command is rejected deterministically. */
export function counterMachine(): ReducerStateMachine<number, CounterCommand, number, CounterRejection> {
  return new ReducerStateMachine<number, CounterCommand, number, CounterRejection>(0, (count, command) => {
    if (command.op === 'fail') throw new CounterRejection(command.reason);
    return [count + command.by, count + command.by];
  });
}

export type CounterNode = RaftNode<CounterCommand, number, ReturnType<typeof counterMachine>>;

export interface TestClusterOptions {
  readonly config?: Partial<RaftConfig>;
  readonly maxPending?: number;
  readonly maxCommandBytes?: number;
}

export interface TestNode {
  readonly id: NodeId;
  node: CounterNode;
  timer: ManualTimer;
  stateMachine: ReturnType<typeof counterMachine>;
  readonly store: MemoryLogStore;
  /** The store as the node sees it: `store`, observed so that the cluster knows when it has nothing pending. */
  readonly observedStore: ObservedLogStore;
}

export const testConfig: Partial<RaftConfig> = { electionTimeoutMs: 100, heartbeatIntervalMs: 20 };

/** Wall-clock bound on one wait for idleness: generous, since idleness normally takes microseconds. */
const idleTimeoutMs = 5000;

/** A node of a test cluster as the idleness check sees it: its store is observed (see `ObservedLogStore`). */
export interface ObservedNode {
  readonly id: NodeId;
  readonly node: Pick<RaftNode<never, unknown>, 'status'>;
  readonly observedStore: ObservedLogStore;
}

/**
 * What a node still has to do before time passes: answers its store owes it (recovery, writes, snapshot chunks) and
 * committed entries its state machine has not applied. Null when it has nothing left (or has stopped).
 */
export function pendingWork({ id, node, observedStore }: ObservedNode): string | null {
  const status = node.status();
  if (status.role === 'stopped') return null;
  if (status.queued > 0) return `${id} has ${status.queued} operations to hand over at the end of the turn`;
  const storeWork = observedStore.pendingWork();
  if (storeWork !== null) return `${id}'s store: ${storeWork}`;
  if (status.appliedIndex < status.commitIndex) return `${id} has applied ${status.appliedIndex} of ${status.commitIndex} committed`;
  return null;
}

/** Why a cluster is busy: messages on the wire and each node's pending work; empty when idle. */
export function busyReasons(hub: MemoryNetworkHub, nodes: readonly ObservedNode[]): string[] {
  const reasons = nodes.map(pendingWork).filter((reason): reason is string => reason !== null);
  if (hub.inFlight > 0) reasons.unshift(`${hub.inFlight} messages in flight`);
  return reasons;
}

/** A leader has committed the entry it appended on election (and everything before it). */
export function leaderCanServe(node: Pick<RaftNode<never, unknown>, 'status'>): boolean {
  const status = node.status();
  return status.role === 'leader' && status.commitIndex === status.lastIndex;
}

export class TestCluster {
  readonly hub = new MemoryNetworkHub();
  readonly nodes: TestNode[] = [];
  private readonly random = seededRandom(7);

  constructor(
    readonly ids: readonly NodeId[],
    private readonly options: TestClusterOptions = {},
  ) {
    for (const id of ids) this.nodes.push(this.startNode(id, new MemoryLogStore()));
  }

  /** Start a node that is not in the initial configuration: it waits for a leader to add it. */
  join(id: NodeId): TestNode {
    const joining = this.startNode(id, new MemoryLogStore(), []);
    this.nodes.push(joining);
    return joining;
  }

  private startNode(id: NodeId, store: MemoryLogStore, members: readonly NodeId[] = this.ids): TestNode {
    const timer = new ManualTimer();
    const stateMachine = counterMachine();
    const observedStore = new ObservedLogStore(store);
    const node = createRaftNode({
      id,
      members,
      commandSchema: counterCommand,
      stateMachine,
      network: this.hub.endpoint(id),
      logStore: observedStore,
      timer,
      config: { ...testConfig, ...this.options.config },
      maxPending: this.options.maxPending,
      maxCommandBytes: this.options.maxCommandBytes,
      random: seededRandom(Math.floor(this.random() * 2 ** 32)),
    });
    return { id, node, timer, stateMachine, store, observedStore };
  }

  get(id: NodeId): TestNode {
    const found = this.nodes.find((node) => node.id === id);
    if (found === undefined) throw new Error(`no node ${id}`);
    return found;
  }

  /** Stop a node and start a fresh one on the same log store (what survives is what the store made durable). */
  async restart(id: NodeId, options: { crash?: boolean } = {}): Promise<TestNode> {
    const old = this.get(id);
    if (options.crash === true) old.store.crash();
    await old.node.stop();
    const fresh = this.startNode(id, old.store);
    this.nodes[this.nodes.indexOf(old)] = fresh;
    return fresh;
  }

  /** Wait, without moving the clocks, until nothing is on the wire and no node has a write or an apply pending. */
  async idle(): Promise<void> {
    await waitFor(() => busyReasons(this.hub, this.nodes).length === 0, {
      what: () => `the cluster to go idle (${busyReasons(this.hub, this.nodes).join('; ')})`,
      timeoutMs: idleTimeoutMs,
    });
  }

  /** Wait, without moving the clocks, until `condition` holds: for what needs no time, only delivery and I/O. */
  async waitFor(condition: () => boolean, what: string, timeoutMs = idleTimeoutMs): Promise<void> {
    await waitFor(condition, { what, timeoutMs });
  }

  /** Advance every node's clock by `ms` in steps of `stepMs`, letting the cluster go idle after each step. */
  async advance(ms: number, stepMs = 5): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += stepMs) {
      for (const { timer } of this.nodes) timer.advance(stepMs);
      await this.idle();
    }
  }

  /** Advance time until `condition` holds; fail after `maxMs` of virtual time. */
  async until(condition: () => boolean, maxMs = 5000, what = 'condition'): Promise<void> {
    await this.idle();
    for (let elapsed = 0; elapsed <= maxMs; elapsed += 5) {
      if (condition()) return;
      await this.advance(5);
    }
    throw new Error(`${what} did not hold within ${maxMs} ms of virtual time`);
  }

  leaders(): TestNode[] {
    return this.nodes.filter(({ node }) => node.status().role === 'leader');
  }

  /** Wait for one leader that every node knows and that has committed an entry of its term (so it can serve). */
  async electLeader(): Promise<TestNode> {
    await this.until(() => this.leaders().length === 1 && this.nodes.every(({ node }) => node.status().leader !== null) && leaderCanServe(this.leaders()[0]!.node), 5000, 'a leader');
    return this.leaders()[0]!;
  }

  async stop(): Promise<void> {
    for (const { node } of this.nodes) await node.stop();
  }
}

/** Await `promise` while the cluster's virtual time moves on, so that timers and replication can make progress. */
export async function within<T>(cluster: TestCluster, promise: Promise<T>, maxMs = 5000): Promise<T> {
  let settled = false;
  const observed = promise.finally(() => (settled = true));
  observed.catch(() => undefined);
  await cluster.until(() => settled, maxMs, 'the operation to settle');
  return observed;
}

/** Await `promise` without moving the cluster's clocks (for what must answer with no time passing). */
export async function withoutTime<T>(promise: Promise<T>, what: string, timeoutMs = idleTimeoutMs): Promise<T> {
  return settledWithin(promise, { what, timeoutMs });
}
