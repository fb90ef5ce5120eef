/**
 * A small in-process cluster whose nodes run on log stores the test chooses (level on memory-level, a LogStore
 * subclass, ...), with manual timers so that time passes only when the test says so. Restarting a node stops it,
 * lets its store close, and starts a fresh node (with a fresh state machine) on a store over the same data.
 */
import {
  createRaftNode,
  ManualTimer,
  MemoryNetworkHub,
  seededRandom,
  type LogStore,
  type NodeId,
} from '../../src/index.js';
import { counterCommand, counterMachine, testConfig } from '../support/cluster.js';

export interface StoreNode<Store extends LogStore> {
  readonly id: NodeId;
  readonly node: ReturnType<typeof startNode>;
  readonly timer: ManualTimer;
  readonly stateMachine: ReturnType<typeof counterMachine>;
  readonly store: Store;
}

function startNode(hub: MemoryNetworkHub, id: NodeId, members: readonly NodeId[], store: LogStore, timer: ManualTimer, seed: number, stateMachine: ReturnType<typeof counterMachine>) {
  return createRaftNode({
    id,
    members,
    commandSchema: counterCommand,
    stateMachine,
    network: hub.endpoint(id),
    logStore: store,
    timer,
    config: testConfig,
    random: seededRandom(seed),
  });
}

export class StoreCluster<Store extends LogStore> {
  readonly hub = new MemoryNetworkHub();
  readonly nodes: StoreNode<Store>[] = [];
  private seed = 11;

  constructor(
    readonly ids: readonly NodeId[],
    /** A store for node `id`; `previous` is the store of the node being restarted (already stopped). */
    private readonly storeFor: (id: NodeId, previous: Store | null) => Store | Promise<Store>,
    /** Release a stopped node's store before a new one opens its data (e.g. `store.close()`). */
    private readonly release: (store: Store) => Promise<void> = async () => undefined,
  ) {}

  async start(): Promise<this> {
    for (const id of this.ids) this.nodes.push(this.launch(id, await this.storeFor(id, null)));
    return this;
  }

  private launch(id: NodeId, store: Store): StoreNode<Store> {
    const timer = new ManualTimer();
    const stateMachine = counterMachine();
    const node = startNode(this.hub, id, this.ids, store, timer, this.seed++, stateMachine);
    return { id, node, timer, stateMachine, store };
  }

  get(id: NodeId): StoreNode<Store> {
    const found = this.nodes.find((node) => node.id === id);
    if (found === undefined) throw new Error(`no node ${id}`);
    return found;
  }

  async restart(id: NodeId): Promise<StoreNode<Store>> {
    const old = this.get(id);
    await old.node.stop();
    await this.release(old.store);
    const fresh = this.launch(id, await this.storeFor(id, old.store));
    this.nodes[this.nodes.indexOf(old)] = fresh;
    return fresh;
  }

  /** Let queued messages, writes and applies happen: a few turns of the event loop, not time. */
  async settle(): Promise<void> {
    for (let i = 0; i < 6; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  async until(condition: () => boolean, maxMs = 5000, what = 'condition'): Promise<void> {
    for (let elapsed = 0; elapsed <= maxMs; elapsed += 5) {
      if (condition()) return;
      for (const { timer } of this.nodes) timer.advance(5);
      await this.settle();
    }
    throw new Error(`${what} did not hold within ${maxMs} ms of virtual time`);
  }

  leader(): StoreNode<Store> | undefined {
    const leaders = this.nodes.filter(({ node }) => node.status().role === 'leader');
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  async electLeader(): Promise<StoreNode<Store>> {
    await this.until(() => this.leader() !== undefined && this.nodes.every(({ node }) => node.status().leader !== null), 5000, 'a leader');
    return this.leader()!;
  }

  /** Await `promise` while virtual time moves on. */
  async within<T>(promise: Promise<T>, maxMs = 5000): Promise<T> {
    let settled = false;
    const observed = promise.finally(() => (settled = true));
    observed.catch(() => undefined);
    await this.until(() => settled, maxMs, 'the operation to settle');
    return observed;
  }

  async stop(): Promise<void> {
    for (const { node, store } of this.nodes) {
      await node.stop();
      await this.release(store);
    }
  }
}
