/**
 * A small in-process cluster whose nodes run on log stores the test chooses (level on memory-level, a LogStore
 * subclass, ...), with manual timers so that time passes only when the test says so. Restarting a node stops it,
 * lets its store close, and starts a fresh node (with a fresh state machine) on a store over the same data.
 * Like `TestCluster`, time passes in small steps and the cluster goes idle (nothing on the wire, writes durable,
 * commits applied) after each, however long the store's I/O takes.
 */
import {
  createRaftNode,
  ManualTimer,
  seededRandom,
  type LogStore,
  type NodeId,
} from '../../src/index.js';
import { busyReasons, counterCommand, leaderCanServe, counterMachine, testConfig } from '../support/cluster.js';
import { MemoryNetworkHub } from '../../actors/network/MemoryNetwork.js';
import { ObservedLogStore } from '../support/ObservedLogStore.js';
import { settledWithin, waitFor } from '../support/waitFor.js';

export interface StoreNode<Store extends LogStore> {
  readonly id: NodeId;
  readonly node: ReturnType<typeof startNode>;
  readonly timer: ManualTimer;
  readonly stateMachine: ReturnType<typeof counterMachine>;
  readonly store: Store;
  /** The store as the node sees it: `store`, observed so that the cluster knows when it has nothing pending. */
  readonly observedStore: ObservedLogStore<Store>;
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
    const observedStore = new ObservedLogStore(store);
    const node = startNode(this.hub, id, this.ids, observedStore, timer, this.seed++, stateMachine);
    return { id, node, timer, stateMachine, store, observedStore };
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

  /** Wait, without moving the clocks, until nothing is on the wire and no node has a write or an apply pending. */
  async idle(): Promise<void> {
    await waitFor(() => busyReasons(this.hub, this.nodes).length === 0, {
      what: () => `the cluster to go idle (${busyReasons(this.hub, this.nodes).join('; ')})`,
      timeoutMs: 10_000,
    });
  }

  /** Advance virtual time in 5 ms steps, idle after each, until `condition` holds; fail after `maxMs` of it. */
  async until(condition: () => boolean, maxMs = 5000, what = 'condition'): Promise<void> {
    await this.idle();
    for (let elapsed = 0; elapsed <= maxMs; elapsed += 5) {
      if (condition()) return;
      for (const { timer } of this.nodes) timer.advance(5);
      await this.idle();
    }
    throw new Error(`${what} did not hold within ${maxMs} ms of virtual time`);
  }

  leader(): StoreNode<Store> | undefined {
    const leaders = this.nodes.filter(({ node }) => node.status().role === 'leader');
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  async electLeader(): Promise<StoreNode<Store>> {
    await this.until(() => this.leader() !== undefined && this.nodes.every(({ node }) => node.status().leader !== null) && leaderCanServe(this.leader()!.node), 5000, 'a leader');
    return this.leader()!;
  }

  /** Await `promise` without moving the clocks (for what must answer with no time passing). */
  async withoutTime<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
    return settledWithin(promise, { what, timeoutMs });
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
