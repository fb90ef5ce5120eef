/**
 * When one group's node may sleep, and what wakes it (multi-Raft quiescing, in the spirit of CockroachDB's quiesced
 * ranges and dragonboat's quiesce). It decides only about timers (see QuiescingTimer): nothing here changes what the
 * core decides, so safety is the core's as always; only liveness depends on it, and every path below ends awake.
 *
 * Leader: at a heartbeat, the group sleeps when nothing changed since an earlier heartbeat (same term, last index
 * and commit, with commit = last index = applied), nobody waits on this node, and every member answered a heartbeat
 * round sent since then with the whole log (so each follower has seen this commit).
 * It tells each member with a `quiesce` notice (term, commit).
 * Follower: a notice from its current leader, at its term, matching its commit and last index, puts it to sleep;
 * any mismatch answers `wake`, so the leader resumes heartbeats instead of the follower timing out.
 * Waking: any Raft message for the group, a local operation (the host calls `wakeLocally`), a `wake` notice, a timer
 * request from the core, and the host's failure detector: a silent peer host wakes the groups it leads (followers
 * then elect after a full election timeout) and the groups led here that it is a member of (check-quorum).
 */
import type { GroupId, HostSignal, QuiesceNotice } from '../../actors/network/HostNetwork.js';
import type { NodeId, RaftMessage } from '../core/index.js';
import type { QuiescingTimer } from './QuiescingTimer.js';

/** What quiescing reads of the group's node. */
export interface QuiescentNode {
  /** Role, term, leader and indexes, as `RaftNode.status()` gives them. */
  status(): {
    readonly role: string;
    readonly term: number;
    readonly leader: NodeId | null;
    readonly commitIndex: number;
    readonly lastIndex: number;
    readonly appliedIndex: number;
  };
  /** Every other member (voters and learners). */
  peers(): readonly NodeId[];
  /** Callers waiting on this node (proposals, reads). */
  waiting(): number;
}

interface Quiet {
  readonly term: number;
  readonly lastIndex: number;
  readonly commit: number;
  /** The highest heartbeat round sent when this state was first observed. */
  readonly round: number;
}

export class GroupQuiescence {
  /** Per member: the highest round it acknowledged with the whole log, in `ackTerm`. */
  private readonly acked = new Map<NodeId, { term: number; index: number; round: number }>();
  private roundSent = 0;
  /** The state as first seen at a heartbeat, and the last round sent by then; null once it changed or the group slept. */
  private stable: Quiet | null = null;
  /** Times this group went to sleep, for status and tests. */
  sleeps = 0;

  constructor(
    readonly group: GroupId,
    readonly self: NodeId,
    private readonly node: QuiescentNode,
    readonly timer: QuiescingTimer,
    private readonly signal: (to: NodeId, signal: HostSignal) => void,
    /** How long to hold back this follower's election (0: campaign now); see RaftHost's campaign admission. */
    private readonly campaignDelay: () => number = () => 0,
  ) {
    timer.setHooks({
      heartbeatDue: () => this.heartbeatDue(),
      // Only a follower's timeout starts a campaign; a leader's is its check-quorum, a candidate's a retry.
      electionDelay: () => (this.node.status().role === 'follower' ? this.campaignDelay() : 0),
      wokeByCore: () => this.woke(),
    });
  }

  get asleep(): boolean {
    return this.timer.asleep;
  }

  /** The node sent `message` to `to` (watching the heartbeat rounds it starts). */
  sent(_to: NodeId, message: RaftMessage): void {
    if (message.type === 'AppendEntries' && message.round > this.roundSent) this.roundSent = message.round;
  }

  /** A Raft message for the group arrived from `from`: wake first, then the node hears it. */
  arrived(from: NodeId, message: RaftMessage): void {
    if (message.type === 'AppendEntriesResponse' && message.success) {
      const known = this.acked.get(from);
      if (known === undefined || known.term !== message.term || message.round >= known.round) {
        this.acked.set(from, { term: message.term, index: message.index, round: message.round });
      }
    }
    if (this.timer.wake()) this.woke();
  }

  /** A local proposal, read or membership change: wake, and wake the leader so it heartbeats again. */
  wakeLocally(): void {
    if (this.timer.wake()) this.woke();
  }

  /** Host `peer` fell silent (or restarted): wake if it leads this group, or if this node leads and it is a member. */
  peerSilent(peer: NodeId): void {
    if (!this.timer.asleep) return;
    const status = this.node.status();
    const concerned = status.leader === peer || (status.role === 'leader' && this.node.peers().includes(peer));
    if (concerned) this.timer.wake();
  }

  /** A quiesce or wake notice for this group from host `from`. */
  notice(from: NodeId, signal: Exclude<HostSignal, { type: 'beat' }>): void {
    if (signal.type === 'wake') {
      this.wakeLocally();
      return;
    }
    if (this.matches(from, signal)) {
      this.timer.sleep();
      this.sleeps++;
    } else {
      const status = this.node.status();
      this.signal(from, { type: 'wake', group: this.group, term: status.term });
    }
  }

  private matches(from: NodeId, notice: QuiesceNotice): boolean {
    const status = this.node.status();
    return (
      status.role === 'follower' &&
      status.leader === from &&
      status.term === notice.term &&
      status.commitIndex === notice.commit &&
      status.lastIndex === notice.commit &&
      this.node.waiting() === 0
    );
  }

  /**
   * The leader's heartbeat is due: sleep (true) when idle, with every member told. Idle: the state has not changed
   * since it was first seen at an earlier heartbeat, and every member acknowledged the whole log in a round sent after
   * that (such a round carried this commit index). Any later round counts, not only the latest: on a busy process
   * answers may lag more than a heartbeat interval.
   */
  private heartbeatDue(): boolean {
    const status = this.node.status();
    const stable = this.stable;
    if (stable === null || stable.term !== status.term || stable.lastIndex !== status.lastIndex || stable.commit !== status.commitIndex) {
      this.stable = { term: status.term, lastIndex: status.lastIndex, commit: status.commitIndex, round: this.roundSent };
      return false;
    }
    if (status.role !== 'leader' || status.commitIndex !== status.lastIndex || status.appliedIndex !== status.lastIndex) return false;
    if (this.node.waiting() > 0) return false;
    const peers = this.node.peers();
    for (const peer of peers) {
      const ack = this.acked.get(peer);
      if (ack === undefined || ack.term !== stable.term || ack.index !== stable.lastIndex || ack.round <= stable.round) return false;
    }
    this.stable = null;
    this.sleeps++;
    for (const peer of peers) this.signal(peer, { type: 'quiesce', group: this.group, term: stable.term, commit: stable.commit });
    return true;
  }

  /**
   * The group woke: a follower tells its leader, so that a sleeping leader heartbeats again before this follower's
   * election timer runs out. Even when the leader's own message woke it: that may be a late or duplicated heartbeat
   * from before the leader slept.
   */
  private woke(): void {
    this.stable = null;
    const status = this.node.status();
    if (status.role !== 'leader' && status.leader !== null && status.leader !== this.self) {
      this.signal(status.leader, { type: 'wake', group: this.group, term: status.term });
    }
  }
}
