/**
 * When one group's node may sleep, and what wakes it (multi-Raft quiescing, in the spirit of CockroachDB's quiesced
 * ranges and dragonboat's quiesce). It decides only about timers (see QuiescingTimer): nothing here changes what the
 * core decides, so safety is the core's as always; only liveness depends on it, and every path below ends awake.
 *
 * Leader: at a heartbeat, the group sleeps when it is settled (commit = last index = applied), nobody waits on this
 * node, and every member acknowledged the whole log after this commit index was sent to it (so, on an ordered link,
 * each follower has seen this commit). A write thus puts its group back to sleep at the first heartbeat after it
 * commits: its append, the commit and the answers are all the messages it costs.
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

/** Per member: something that happened to it in this term, and when (in `GroupQuiescence.clock` ticks). */
interface Seen {
  readonly term: number;
  /** The commit index sent, or the index acknowledged. */
  readonly index: number;
  readonly at: number;
}

export class GroupQuiescence {
  /** Per member: the highest commit index sent to it, first sent at `at`. */
  private readonly commitSent = new Map<NodeId, Seen>();
  /** Per member: its latest acknowledgement (a successful append answer) and the index it holds. */
  private readonly acked = new Map<NodeId, Seen>();
  /** Orders sends and answers: an answer that arrived after a send has a higher tick. */
  private clock = 0;
  /**
   * When the group last woke. Sleeping again takes answers from after it: a member that answered a notice with `wake`
   * (it had not seen the commit) must first be sent a heartbeat, or leader and follower would trade notices forever.
   */
  private wokeAt = 0;
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

  /** The node sent `message` to `to` (watching the commit index each member was sent). */
  sent(to: NodeId, message: RaftMessage): void {
    if (message.type !== 'AppendEntries') return;
    const known = this.commitSent.get(to);
    if (known === undefined || known.term !== message.term || message.leaderCommit > known.index) {
      this.commitSent.set(to, { term: message.term, index: message.leaderCommit, at: ++this.clock });
    }
  }

  /** A Raft message for the group arrived from `from`: wake first, then the node hears it. */
  arrived(from: NodeId, message: RaftMessage): void {
    if (message.type === 'AppendEntriesResponse' && message.success) {
      this.acked.set(from, { term: message.term, index: message.index, at: ++this.clock });
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
    if (concerned && this.timer.wake()) this.wokeAt = ++this.clock;
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
   * The leader's heartbeat is due: sleep (true) when settled and every member acknowledged the whole log after it was
   * sent this commit index. An answer to an earlier message may arrive after the commit was sent and count: on an
   * ordered link the commit still reaches the follower before the notice does, and where it does not, the follower
   * answers the notice with `wake`. Quiescing early can only cost a wake, never safety.
   */
  private heartbeatDue(): boolean {
    const status = this.node.status();
    if (status.role !== 'leader' || status.commitIndex !== status.lastIndex || status.appliedIndex !== status.lastIndex) return false;
    if (this.node.waiting() > 0) return false;
    const peers = this.node.peers();
    for (const peer of peers) {
      const sent = this.commitSent.get(peer);
      const ack = this.acked.get(peer);
      if (sent === undefined || sent.term !== status.term || sent.index !== status.commitIndex) return false;
      if (ack === undefined || ack.term !== status.term || ack.index !== status.lastIndex || ack.at < sent.at || ack.at < this.wokeAt) return false;
    }
    this.sleeps++;
    for (const peer of peers) this.signal(peer, { type: 'quiesce', group: this.group, term: status.term, commit: status.commitIndex });
    return true;
  }

  /**
   * The group woke: a follower tells its leader, so that a sleeping leader heartbeats again before this follower's
   * election timer runs out. Even when the leader's own message woke it: that may be a late or duplicated heartbeat
   * from before the leader slept.
   */
  private woke(): void {
    this.wokeAt = ++this.clock;
    const status = this.node.status();
    if (status.role !== 'leader' && status.leader !== null && status.leader !== this.self) {
      this.signal(status.leader, { type: 'wake', group: this.group, term: status.term });
    }
  }
}
