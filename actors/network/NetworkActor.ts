/**
 * The network actor: carries Raft messages between nodes. Delivery is best effort (Raft tolerates loss, duplication
 * and reordering); a transport that knows a peer is unreachable says so with `PeerUnreachable`.
 */
import { Actor } from '../../src/actor.js';
import type { NodeId, RaftMessage } from '../../src/core/index.js';

export interface Send {
  readonly type: 'Send';
  readonly to: NodeId;
  readonly message: RaftMessage;
}
export type NetworkMessage = Send;

export interface Received {
  readonly type: 'Received';
  readonly from: NodeId;
  readonly message: RaftMessage;
}
export interface PeerUnreachable {
  readonly type: 'PeerUnreachable';
  readonly peer: NodeId;
}
export type NetworkReply = Received | PeerUnreachable;

export abstract class NetworkActor extends Actor<NetworkMessage, NetworkReply> {
  receive(message: NetworkMessage): void {
    this.onSend(message);
  }

  /** Deliver `message.message` to `message.to`. Must not throw for an unreachable peer: report it instead. */
  protected abstract onSend(message: Send): void;

  /** Hand a message that arrived from a peer to the node. */
  protected delivered(from: NodeId, message: RaftMessage): void {
    this.reply({ type: 'Received', from, message });
  }

  protected unreachable(peer: NodeId): void {
    this.reply({ type: 'PeerUnreachable', peer });
  }
}
