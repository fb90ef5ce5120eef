/**
 * An in-process network for test clusters that can say whether anything is still on the wire. It behaves like the
 * shipped `MemoryNetworkHub` (delivery in batches on a later turn of the event loop, one-way cuts, a delivered count)
 * and adds `inFlight`, which the clusters use to tell when they are idle. (`MemoryNetworkHub` keeps its queue private;
 * if it exposes its own count one day, this file can go.)
 */
import { NetworkActor, type NodeId, type RaftMessage, type Send } from '../../src/index.js';

interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: RaftMessage;
}

export class TestNetworkHub {
  private readonly endpoints = new Map<NodeId, TestNetwork>();
  /** Directed links that drop everything: "from->to". */
  private readonly cut = new Set<string>();
  private queue: InFlight[] = [];
  /** Messages handed to a live endpoint. */
  delivered = 0;

  /** Messages sent and not yet delivered or dropped. Invariant: 0 exactly when no delivery is scheduled. */
  get inFlight(): number {
    return this.queue.length;
  }

  endpoint(id: NodeId): TestNetwork {
    const endpoint = new TestNetwork(this, id);
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

  heal(): void {
    this.cut.clear();
  }

  /** @internal */
  post(from: NodeId, to: NodeId, message: RaftMessage): boolean {
    if (!this.endpoints.has(to)) return false;
    this.queue.push({ from, to, message });
    if (this.queue.length === 1) setImmediate(() => this.flush());
    return true;
  }

  private flush(): void {
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

export class TestNetwork extends NetworkActor {
  constructor(
    private readonly hub: TestNetworkHub,
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
