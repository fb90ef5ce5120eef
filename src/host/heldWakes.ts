/**
 * A host's `wake` notices, held until the end of the turn (multi-Raft quiescing, see groupQuiescence.ts).
 *
 * A follower that wakes tells its leader with a `wake` notice, so that a sleeping leader heartbeats again before the
 * follower's election timer runs out. Most often the follower woke for a write or a read that it is about to send to
 * that leader anyway (a forwarded proposal, a ReadIndex), and the arrival of any Raft message of the group wakes the
 * group there exactly as the notice does (`GroupQuiescence.arrived`: a leader just wakes; a node that is not the
 * leader also tells its own leader). So a notice waits until the end of the turn, and a Raft message of the same group
 * to the same host in that turn cancels it: one signal fewer per forwarded write. A notice that nothing cancels goes
 * out as before, a turn later at most. Only timers (liveness) depend on it; what the cores decide does not.
 */
import type { WakeNotice } from '../../actors/network/HostNetwork.js';
import type { GroupId } from '../groupId.js';
import type { NodeId } from '../core/index.js';

export class HeldWakes {
  /** Held notices by group, then by the host they are for. */
  private readonly held = new Map<GroupId, Map<NodeId, WakeNotice>>();

  constructor(private readonly send: (to: NodeId, notice: WakeNotice) => void) {}

  /** Notices held, for tests. */
  get size(): number {
    let size = 0;
    for (const notices of this.held.values()) size += notices.size;
    return size;
  }

  /** Hold `notice` for host `to` until `flush`. Returns true when nothing was held before (the caller arranges a flush). */
  hold(to: NodeId, notice: WakeNotice): boolean {
    const first = this.held.size === 0;
    let notices = this.held.get(notice.group);
    if (notices === undefined) {
      notices = new Map();
      this.held.set(notice.group, notices);
    }
    notices.set(to, notice);
    return first;
  }

  /** Group `group` sends host `to` a Raft message: its arrival wakes the group there, so a held notice is not needed. */
  sending(group: GroupId, to: NodeId): void {
    if (this.held.size === 0) return;
    const notices = this.held.get(group);
    if (notices === undefined || !notices.delete(to)) return;
    if (notices.size === 0) this.held.delete(group);
  }

  /** Send every notice still held. */
  flush(): void {
    if (this.held.size === 0) return;
    const held = [...this.held.values()];
    this.held.clear();
    for (const notices of held) for (const [to, notice] of notices) this.send(to, notice);
  }

  /** Drop every held notice (the host is closing, or crashed). */
  clear(): void {
    this.held.clear();
  }
}
