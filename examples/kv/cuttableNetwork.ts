/**
 * A test and demo control of the key-value example: an Http2Network whose links to chosen peers can be cut (messages
 * to them are dropped, as a partition drops them) and healed. The dashboard cuts a link on both of its ends (`POST
 * /admin/test/link` on each node's HTTP port, loopback only), so that neither side hears the other.
 */
import { Http2Network } from '../../actors/network/Http2Network.js';
import type { Send } from '../../actors/network/NetworkActor.js';
import type { NodeId } from '../../src/index.js';

export class CuttableNetwork extends Http2Network {
  private readonly cut = new Set<NodeId>();

  /** Drop (`cut`) or deliver again (heal) everything this node sends to `peer`. */
  setLinkCut(peer: NodeId, cut: boolean): void {
    if (cut) this.cut.add(peer);
    else this.cut.delete(peer);
  }

  cutLinks(): NodeId[] {
    return [...this.cut];
  }

  protected override onSend(send: Send): void {
    if (this.cut.has(send.to)) return;
    super.onSend(send);
  }
}
