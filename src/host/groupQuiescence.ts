/**
 * When one group's node may sleep, and what wakes it (multi-Raft quiescing, in the spirit of CockroachDB's quiesced
 * ranges and dragonboat's quiesce). It decides only about timers (see QuiescingTimer): nothing here changes what the
 * core decides, so safety is the core's as always; only liveness depends on it, and every path below ends awake.
 *
 * Leader: the group sleeps as soon as it is settled (commit = last index = applied), nobody waits on this node, and
 * every member acknowledged the whole log since the group last woke (checked when it applies, on each answer, and at
 * each heartbeat; a member that answered a notice with `wake` must first be sent a heartbeat, or leader and follower
 * would trade notices for ever). It tells each member with a `quiesce`
 * notice (term, commit), which also carries the commit index: the host turns the core's commit heartbeats off
 * (`RaftConfig.commitHeartbeats`), so a write to an idle group costs its append and the answers, then one notice.
 * Follower: a notice from its current leader, at its term, matching its last index, commits through it (the core's
 * `commitNotice`: what that leader's appends confirmed here) and puts it to sleep, once nobody waits on it (a write
 * forwarded from here waits for this node to apply it: the decision then waits for that apply); any mismatch answers
 * `wake`, so the leader resumes heartbeats instead of the follower timing out. Nobody may wait on a sleeping node:
 * its callers' deadlines are swept only when it handles an event.
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
  /** Hand the core a leader's commit notice (`RaftCore.commitNotice`). */
  commitNotice(from: NodeId, term: number, commit: number): void;
}

/** Per member: its latest acknowledgement (a successful append answer): the index it holds, in which term, and when. */
interface Ack {
  readonly term: number;
  readonly index: number;
  /** In `GroupQuiescence.clock` ticks. */
  readonly at: number;
}

export class GroupQuiescence {
  private readonly acked = new Map<NodeId, Ack>();
  /** Orders answers and wakes. */
  private clock = 0;
  /** When the group last woke: sleeping again takes answers from after it. */
  private wokeAt = 0;
  /** A notice taken, whose commit this follower is applying before it decides (see `applied`). */
  private pending: { readonly from: NodeId; readonly notice: QuiesceNotice } | null = null;
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
      heartbeatDue: () => this.quiesceIfSettled(),
      // Only a follower's timeout starts a campaign; a leader's is its check-quorum, a candidate's a retry.
      electionDelay: () => (this.node.status().role === 'follower' ? this.campaignDelay() : 0),
      wokeByCore: () => this.woke(),
    });
  }

  get asleep(): boolean {
    return this.timer.asleep;
  }

  /**
   * A Raft message for the group arrived from `from`: wake first, then the node hears it. A follower woken by its
   * leader's own message does not tell that leader it woke: the leader was awake to send it, and a `wake` arriving
   * after the leader went back to sleep (on this follower's answer) would wake it again, round after round. (Only a
   * transport that reorders could deliver such a message after the notice that followed it; the follower then times
   * out, and its campaign wakes the leader.)
   */
  arrived(from: NodeId, message: RaftMessage): void {
    if (message.type === 'AppendEntriesResponse' && message.success) {
      this.acked.set(from, { term: message.term, index: message.index, at: ++this.clock });
    }
    if (!this.timer.wake()) return;
    const status = this.node.status();
    if (status.role === 'follower' && status.leader === from && status.term === message.term) this.wokeQuietly();
    else this.woke();
  }

  /**
   * The node heard `message` (after `arrived`): a leader whose last member just acknowledged its settled log sleeps
   * at once, as at `applied`.
   */
  heard(message: RaftMessage): void {
    if (message.type === 'AppendEntriesResponse') this.sleepIfSettled();
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
    if (concerned && this.timer.wake()) this.wokeQuietly();
  }

  /** A quiesce or wake notice for this group from host `from`. */
  notice(from: NodeId, signal: Exclude<HostSignal, { type: 'beat' }>): void {
    if (signal.type === 'wake') {
      this.wakeLocally();
      return;
    }
    this.pending = null;
    if (this.follows(from, signal)) {
      const status = this.node.status();
      if (status.commitIndex < signal.commit) this.node.commitNotice(from, signal.term, signal.commit);
      if (this.node.status().commitIndex === signal.commit) {
        if (this.node.waiting() === 0) return this.sleepNow();
        // Callers wait here for what this commit applies: decide once it is applied.
        if (this.node.status().appliedIndex < signal.commit) return void (this.pending = { from, notice: signal });
      }
    }
    this.signal(from, { type: 'wake', group: this.group, term: this.node.status().term });
  }

  /**
   * The node applied entries. A leader whose write is now applied everywhere it needs sleeps at once, without waiting
   * for its next heartbeat: the notice carries the commit to the followers, so a follower that forwarded the write
   * learns it as soon as it would have from a commit heartbeat. A follower decides a notice that waited for this.
   */
  applied(index: number): void {
    // `index`, not status(): the node reports its apply before its status shows it.
    if (this.node.status().role === 'leader') return this.sleepIfSettled(index);
    const pending = this.pending;
    if (pending === null || index < pending.notice.commit) return;
    this.pending = null;
    const { from, notice } = pending;
    if (this.follows(from, notice) && this.node.status().commitIndex === notice.commit && this.node.waiting() === 0) this.sleepNow();
    else this.signal(from, { type: 'wake', group: this.group, term: this.node.status().term });
  }

  private sleepNow(): void {
    this.timer.sleep();
    this.sleeps++;
  }

  /** Whether this node follows `from` in the notice's term and holds exactly the log it commits. */
  private follows(from: NodeId, notice: QuiesceNotice): boolean {
    const status = this.node.status();
    return status.role === 'follower' && status.leader === from && status.term === notice.term && status.lastIndex === notice.commit;
  }

  /** Leader, awake between heartbeats: go to sleep now if settled (see `quiesceIfSettled`). */
  private sleepIfSettled(appliedIndex?: number): void {
    if (!this.timer.asleep && this.quiesceIfSettled(appliedIndex)) this.timer.sleep();
  }

  /**
   * Leader: when settled with every member's acknowledgement, count a sleep and send the notices, and return true;
   * the caller puts the timer to sleep (the heartbeat hook by returning true, the others with `timer.sleep()`).
   */
  private quiesceIfSettled(appliedIndex = this.node.status().appliedIndex): boolean {
    const status = this.node.status();
    if (status.role !== 'leader' || status.commitIndex !== status.lastIndex || appliedIndex !== status.lastIndex) return false;
    if (this.node.waiting() > 0) return false;
    const peers = this.node.peers();
    for (const peer of peers) {
      const ack = this.acked.get(peer);
      if (ack === undefined || ack.term !== status.term || ack.index !== status.lastIndex || ack.at < this.wokeAt) return false;
    }
    this.sleeps++;
    for (const peer of peers) this.signal(peer, { type: 'quiesce', group: this.group, term: status.term, commit: status.commitIndex });
    return true;
  }

  /** Woken, without telling the leader (see `arrived`). */
  private wokeQuietly(): void {
    this.wokeAt = ++this.clock;
    this.pending = null;
  }

  /**
   * The group woke: a follower tells its leader, so that a sleeping leader heartbeats again before this follower's
   * election timer runs out.
   */
  private woke(): void {
    this.wokeQuietly();
    const status = this.node.status();
    if (status.role !== 'leader' && status.leader !== null && status.leader !== this.self) {
      this.signal(status.leader, { type: 'wake', group: this.group, term: status.term });
    }
  }
}
