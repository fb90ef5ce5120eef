/**
 * A group's `NetworkActor` on its host's shared `HostNetwork`: what the group's node sends goes out tagged with the
 * group id (the host watches it on the way, for quiescing), and what the host routes to the group is delivered to
 * the node like any transport would. Peer addresses are the host's business, not the group's.
 */
import { NetworkActor, type Send } from '../../actors/network/NetworkActor.js';
import type { NodeId, RaftMessage } from '../core/index.js';

export class GroupNetwork extends NetworkActor {
  constructor(private readonly send: (to: NodeId, message: RaftMessage) => void) {
    super();
  }

  protected onSend({ to, message }: Send): void {
    this.send(to, message);
  }

  /** A message for this group arrived from host `from`; false once the group's node stopped listening. */
  deliver(from: NodeId, message: RaftMessage): boolean {
    if (!this.attached) return false;
    this.delivered(from, message);
    return true;
  }

  /** The host's transport cannot reach `peer`. */
  peerUnreachable(peer: NodeId): void {
    if (this.attached) this.unreachable(peer);
  }
}
