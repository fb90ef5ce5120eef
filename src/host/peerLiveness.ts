/**
 * The host's failure detector for peer hosts: it stands in for the heartbeats of quiesced groups. Every host beats to
 * every peer once per heartbeat interval (one signal per peer, whatever the number of groups); anything heard from a
 * peer (a beat, a Raft message) counts. A peer not heard from for an election timeout, reported unreachable by the
 * transport, or seen with a new incarnation (it restarted, and its groups forgot what they led) is *suspected*: the
 * host wakes the groups it concerns. A suspicion is reported once, until the peer is heard again.
 */
import type { NodeId } from '../core/index.js';

export class PeerLiveness {
  private readonly lastHeard = new Map<NodeId, number>();
  private readonly incarnations = new Map<NodeId, string>();
  private readonly suspected = new Set<NodeId>();

  constructor(private readonly timeoutMs: number) {}

  /** Start watching `peer` as if just heard (a new peer gets a full timeout). */
  watch(peer: NodeId, now: number): void {
    if (!this.lastHeard.has(peer)) this.lastHeard.set(peer, now);
  }

  peers(): NodeId[] {
    return [...this.lastHeard.keys()];
  }

  /** Something arrived from `peer`. */
  heard(peer: NodeId, now: number): void {
    this.lastHeard.set(peer, now);
    this.suspected.delete(peer);
  }

  /** A beat from `peer`: true when its incarnation changed (it restarted since its last beat). */
  beat(peer: NodeId, incarnation: string, now: number): boolean {
    this.heard(peer, now);
    const known = this.incarnations.get(peer);
    this.incarnations.set(peer, incarnation);
    return known !== undefined && known !== incarnation;
  }

  /** The transport cannot reach `peer`: true when this is news. */
  unreachable(peer: NodeId): boolean {
    if (this.suspected.has(peer)) return false;
    this.suspected.add(peer);
    return true;
  }

  /**
   * This process was stalled for `ms` (a long GC, a slow synchronous step): nobody could be heard meanwhile, so the
   * stall does not count as the peers' silence.
   */
  excuse(ms: number, now: number): void {
    if (ms <= 0) return;
    for (const [peer, at] of this.lastHeard) this.lastHeard.set(peer, Math.min(now, at + ms));
  }

  /** Peers silent for the timeout and not yet reported. */
  newlySilent(now: number): NodeId[] {
    const silent: NodeId[] = [];
    for (const [peer, at] of this.lastHeard) {
      if (now - at >= this.timeoutMs && !this.suspected.has(peer)) {
        this.suspected.add(peer);
        silent.push(peer);
      }
    }
    return silent;
  }

  isSuspected(peer: NodeId): boolean {
    return this.suspected.has(peer);
  }
}
