/**
 * An in-process cluster of real nodes (statechart + actors) for tests: memory network, memory log stores that
 * outlive their nodes, and manual timers, so that time only passes when the test says so.
 */
import { z } from 'zod';
import {
  createRaftNode,
  ManualTimer,
  MemoryLogStore,
  MemoryNetworkHub,
  ReducerStateMachine,
  seededRandom,
  type NodeId,
  type RaftConfig,
  type RaftNode,
} from '../../src/index.js';


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
}

export interface TestNode {
  readonly id: NodeId;
  node: CounterNode;
  timer: ManualTimer;
  stateMachine: ReturnType<typeof counterMachine>;
  readonly store: MemoryLogStore;
}

export const testConfig: Partial<RaftConfig> = { electionTimeoutMs: 100, heartbeatIntervalMs: 20 };

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
    const node = createRaftNode({
      id,
      members,
      commandSchema: counterCommand,
      stateMachine,
      network: this.hub.endpoint(id),
      logStore: store,
      timer,
      config: { ...testConfig, ...this.options.config },
      maxPending: this.options.maxPending,
      random: seededRandom(Math.floor(this.random() * 2 ** 32)),
    });
    return { id, node, timer, stateMachine, store };
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

  /** Let every queued message, write and apply happen (a few turns of the event loop). */
  async settle(): Promise<void> {
    for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Advance every node's clock by `ms` in small steps, letting the network deliver between steps. */
  async advance(ms: number, stepMs = 5): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += stepMs) {
      for (const { timer } of this.nodes) timer.advance(stepMs);
      await this.settle();
    }
  }

  /** Advance time until `condition` holds; fail after `maxMs` of virtual time. */
  async until(condition: () => boolean, maxMs = 5000, what = 'condition'): Promise<void> {
    for (let elapsed = 0; elapsed <= maxMs; elapsed += 5) {
      if (condition()) return;
      await this.advance(5);
    }
    throw new Error(`${what} did not hold within ${maxMs} ms of virtual time`);
  }

  leaders(): TestNode[] {
    return this.nodes.filter(({ node }) => node.status().role === 'leader');
  }

  async electLeader(): Promise<TestNode> {
    await this.until(() => this.leaders().length === 1 && this.nodes.every(({ node }) => node.status().leader !== null), 5000, 'a leader');
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
