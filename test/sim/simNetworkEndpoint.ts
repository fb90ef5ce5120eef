/**
 * A node's simulated network endpoint: a real `NetworkActor`. `onSend` hands the message to the simulation, which
 * decides its fate on the simulated network (loss, duplication, delays and reordering, partitions, one-way links);
 * a delivery comes back through `deliver`, which hands it to the node like any transport does.
 */
import { NetworkActor, type Send } from '../../actors/network/NetworkActor.js';
import type { NodeId, RaftMessage } from '../../src/core/types.js';

export class SimNetworkEndpoint extends NetworkActor {
  constructor(private readonly send: (to: NodeId, message: RaftMessage) => void) {
    super();
  }

  protected onSend(message: Send): void {
    this.send(message.to, message.message);
  }

  /** A message from `from` arrived; false when the node is no longer listening (stopped). */
  deliver(from: NodeId, message: RaftMessage): boolean {
    if (!this.attached) return false;
    this.delivered(from, message);
    return true;
  }
}
