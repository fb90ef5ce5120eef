/**
 * Moving leadership to where it is preferred (leaderSpread.ts). Elections usually pick a group's preferred member,
 * but not always (a busy process at cold start, a host that was down); a group led here whose preferred member is
 * another host is *misplaced*. Once it has led for a while (`settleMs`), the host transfers its leadership to the
 * preferred member, a few groups per tick so that a cold start does not become a storm of transfers, and never to a
 * host its failure detector suspects. A failed transfer is retried later; nothing here affects safety (a transfer is
 * the core's).
 */
import type { GroupId } from '../../actors/network/HostNetwork.js';
import type { NodeId } from '../core/index.js';

export interface Misplaced {
  readonly group: GroupId;
  readonly target: NodeId;
}

export class LeaderBalancer {
  /** Misplaced groups led here: the preferred member, and the earliest time to try moving the leadership. */
  private readonly misplaced = new Map<GroupId, { target: NodeId; at: number }>();

  constructor(
    private readonly self: NodeId,
    private readonly settleMs: number,
    private readonly perTick: number,
  ) {}

  /** Group `group` now has `leader`; `preferred` is the member it prefers. */
  leaderChanged(group: GroupId, leader: NodeId | null, preferred: NodeId | undefined, now: number): void {
    if (leader === this.self && preferred !== undefined && preferred !== this.self) this.misplaced.set(group, { target: preferred, at: now + this.settleMs });
    else this.misplaced.delete(group);
  }

  forget(group: GroupId): void {
    this.misplaced.delete(group);
  }

  /** Up to `perTick` groups whose leadership should move now (each is retried later unless its leader changes). */
  due(now: number, suspected: (peer: NodeId) => boolean): Misplaced[] {
    const due: Misplaced[] = [];
    for (const [group, entry] of this.misplaced) {
      if (due.length >= this.perTick) break;
      if (entry.at > now || suspected(entry.target)) continue;
      entry.at = now + 4 * this.settleMs;
      due.push({ group, target: entry.target });
    }
    return due;
  }
}
