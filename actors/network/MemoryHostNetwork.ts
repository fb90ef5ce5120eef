/**
 * An in-process `HostNetwork` for several hosts in one process, with fault injection for tests, demos and benchmarks.
 *
 * Like MemoryNetwork, delivery happens on a later turn of the event loop (never synchronously), in batches: one
 * `setImmediate` flushes everything sent in the meantime, messages and signals in the order they were sent. Links are
 * cut per host pair, so a fault hits every group the two hosts share.
 */
import type { NodeId, RaftMessage } from '../../src/core/index.js';
import { HostNetwork, type GroupId, type HostSignal } from './HostNetwork.js';

type InFlight =
  | { readonly kind: 'message'; readonly from: NodeId; readonly to: NodeId; readonly group: GroupId; readonly message: RaftMessage }
  | { readonly kind: 'signal'; readonly from: NodeId; readonly to: NodeId; readonly signal: HostSignal };

export class MemoryHostNetworkHub {
  private readonly endpoints = new Map<NodeId, MemoryHostNetwork>();
  /** Directed links that drop everything: "from->to". */
  private readonly cut = new Set<string>();
  private queue: InFlight[] = [];
  private flushScheduled = false;
  /** Raft messages and signals handed to a live endpoint, for tests and benchmarks. */
  delivered = { messages: 0, signals: 0 };

  /** Messages and signals sent and not yet delivered or dropped. */
  get inFlight(): number {
    return this.queue.length;
  }

  /** The transport of host `id` (a new one replaces a closed one, as a restarted process would). */
  endpoint(id: NodeId): MemoryHostNetwork {
    const endpoint = new MemoryHostNetwork(this, id);
    this.endpoints.set(id, endpoint);
    return endpoint;
  }

  /** Drop everything from `from` to `to` (one way). */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  /** Separate `hosts` from every other host, both ways. */
  isolate(...hosts: NodeId[]): void {
    for (const a of hosts) {
      for (const b of this.endpoints.keys()) {
        if (hosts.includes(b)) continue;
        this.cutLink(a, b);
        this.cutLink(b, a);
      }
    }
  }

  /** Restore every link. */
  heal(): void {
    this.cut.clear();
  }

  /** @internal */
  post(item: InFlight): boolean {
    if (!this.endpoints.has(item.to)) return false;
    // Checked when sent and again when delivered: a link cut in between drops what was in flight.
    if (this.cut.has(`${item.from}->${item.to}`)) return true;
    this.queue.push(item);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** @internal A closed endpoint leaves the hub (only if it is still the one registered under its id). */
  remove(endpoint: MemoryHostNetwork): void {
    if (this.endpoints.get(endpoint.id) === endpoint) this.endpoints.delete(endpoint.id);
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const item of batch) {
      if (this.cut.has(`${item.from}->${item.to}`)) continue;
      const endpoint = this.endpoints.get(item.to);
      if (endpoint === undefined) continue;
      if (item.kind === 'message') {
        this.delivered.messages++;
        endpoint.arrive(item.from, item.group, item.message);
      } else {
        this.delivered.signals++;
        endpoint.arriveSignal(item.from, item.signal);
      }
    }
  }
}

export class MemoryHostNetwork extends HostNetwork {
  constructor(
    private readonly hub: MemoryHostNetworkHub,
    readonly id: NodeId,
  ) {
    super();
  }

  send(to: NodeId, group: GroupId, message: RaftMessage): void {
    if (!this.hub.post({ kind: 'message', from: this.id, to, group, message })) this.unreachable(to);
  }

  signal(to: NodeId, signal: HostSignal): void {
    if (!this.hub.post({ kind: 'signal', from: this.id, to, signal })) this.unreachable(to);
  }

  override close(): Promise<void> {
    this.hub.remove(this);
    return super.close();
  }

  /** @internal */
  arrive(from: NodeId, group: GroupId, message: RaftMessage): void {
    this.received(from, group, message);
  }

  /** @internal */
  arriveSignal(from: NodeId, signal: HostSignal): void {
    this.signalled(from, signal);
  }
}
