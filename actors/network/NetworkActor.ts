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
/**
 * Where the members of the configuration in force can be reached, as the log says (a configuration entry or a
 * snapshot carries its members' addresses): a transport that dials its peers learns new ones from it.
 */
export interface SetPeerAddresses {
  readonly type: 'SetPeerAddresses';
  readonly addresses: Readonly<Record<NodeId, string>>;
}
export type NetworkMessage = Send | SetPeerAddresses;

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
    if (message.type === 'Send') this.onSend(message);
    else this.onSetPeerAddresses(message);
  }

  /** Learn peers' addresses from the configuration. The default ignores them (a transport that needs none). */
  protected onSetPeerAddresses(_message: SetPeerAddresses): void {}

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
