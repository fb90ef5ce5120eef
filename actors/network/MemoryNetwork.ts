/**
 * An in-process network for several nodes in one process, with fault injection for tests and demos.
 *
 * Messages are delivered on a later turn of the event loop (never synchronously, as a real network would not),
 * in batches: one `setImmediate` flushes everything sent in the meantime.
 */
import type { NodeId, RaftMessage } from '../../src/core/index.js';
import { NetworkActor, type Send } from './NetworkActor.js';

interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: RaftMessage;
}

export class MemoryNetworkHub {
  private readonly endpoints = new Map<NodeId, MemoryNetwork>();
  /** Directed links that drop everything: "from->to". */
  private readonly cut = new Set<string>();
  private queue: InFlight[] = [];
  private flushScheduled = false;
  /** Counts of messages handed to a live endpoint, for tests and benchmarks. */
  delivered = 0;

  /**
   * Messages sent and not yet delivered or dropped: tests wait for 0 to know the cluster is idle. Invariant: 0 exactly
   * when no delivery is scheduled.
   */
  get inFlight(): number {
    return this.queue.length;
  }

  /** The network actor for node `id` (made by `make`, for a subclass of MemoryNetwork). */
  endpoint(id: NodeId): MemoryNetwork;
  endpoint<Endpoint extends MemoryNetwork>(id: NodeId, make: (hub: MemoryNetworkHub, id: NodeId) => Endpoint): Endpoint;
  endpoint(id: NodeId, make?: (hub: MemoryNetworkHub, id: NodeId) => MemoryNetwork): MemoryNetwork {
    const endpoint = make === undefined ? new MemoryNetwork(this, id) : make(this, id);
    this.endpoints.set(id, endpoint);
    return endpoint;
  }

  /** Drop every message from `from` to `to` (one way). */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  /** Separate `group` from every other node, both ways. */
  isolate(...group: NodeId[]): void {
    for (const a of group) {
      for (const b of this.endpoints.keys()) {
        if (group.includes(b)) continue;
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
  post(from: NodeId, to: NodeId, message: RaftMessage): boolean {
    if (!this.endpoints.has(to)) return false;
    this.queue.push({ from, to, message });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const { from, to, message } of batch) {
      if (this.cut.has(`${from}->${to}`)) continue;
      const endpoint = this.endpoints.get(to);
      if (endpoint === undefined) continue;
      this.delivered++;
      endpoint.arrive(from, message);
    }
  }
}

export class MemoryNetwork extends NetworkActor {
  constructor(
    private readonly hub: MemoryNetworkHub,
    readonly id: NodeId,
  ) {
    super();
  }

  protected onSend(message: Send): void {
    if (!this.hub.post(this.id, message.to, message.message)) this.unreachable(message.to);
  }

  /** @internal */
  arrive(from: NodeId, message: RaftMessage): void {
    if (this.attached) this.delivered(from, message);
  }
}
