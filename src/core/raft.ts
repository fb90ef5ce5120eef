/**
 * The Raft protocol as a pure, synchronous, deterministic object: every input method returns the effects it asks its
 * driver to perform. No I/O, no timers, no promises; time arrives as timer events and randomness from the injected
 * source, so the same inputs always give the same effects.
 *
 * Durability rule (Raft paper, Figure 2; lolraft's "Persistent States"): a message whose meaning depends on durable
 * state (a granted vote, an append acknowledgement, a vote request carrying our own vote) is held back until every
 * write issued before it has been reported durable. A leader sends AppendEntries in parallel with its own write but
 * counts itself in the commit quorum only up to its durable index.
 */
import { RaftLog } from './log.js';
import { messageProblem } from './messageChecks.js';
import { applyChange, decodeMembership, encodeMembership, isMember, MembershipError, type Membership, type MembershipChange } from './membership.js';
import { Progress } from './progress.js';
import { committedIndex, voteResult } from './quorum.js';
import {
  defaultRaftConfig,
  type AppendEntries,
  type AppendEntriesResponse,
  type Effect,
  type Entry,
  type HardState,
  type NodeId,
  type Proposal,
  type RaftConfig,
  type RaftMessage,
  type RandomSource,
  type RecoveredState,
  type RequestVote,
  type RequestVoteResponse,
  type Role,
  type InstallSnapshot,
  type InstallSnapshotResponse,
  type SnapshotMeta,
} from './types.js';

export interface RaftCoreOptions {
  readonly id: NodeId;
  /**
   * The configuration before any `config` entry in the log: every voting member of a bootstrapped cluster (this node
   * included), or, for a node that will join an existing cluster, an empty list (it never campaigns until a
   * configuration in its log makes it a voter).
   */
  readonly voters: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  readonly config?: Partial<RaftConfig>;
  readonly random: RandomSource;
  /** Durable state read back from the log store; an empty log and term 0 when absent. */
  readonly recovered?: RecoveredState;
}

/** A read-only summary of the core, for status APIs and invariant checks. */
export interface CoreStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly stableIndex: number;
}

interface PendingWrite {
  readonly writeId: number;
  /** The log index this write makes durable; lowered when a later write truncates below it. */
  durableIndex: number;
}

interface HeldMessage {
  readonly afterWriteId: number;
  readonly to: NodeId;
  readonly message: RaftMessage;
}

export class RaftCore {
  readonly id: NodeId;
  readonly config: RaftConfig;
  /** The configuration from the options, in force until the log holds a `config` entry. */
  private readonly initialMembership: Membership;
  /** The latest configuration in the log (committed or not); it is the one in force. */
  private membership: Membership;
  /** Index of the entry that set `membership`, 0 for the initial one. */
  private membershipIndex = 0;
  private readonly random: RandomSource;
  private readonly log: RaftLog;

  private currentTerm: number;
  private votedFor: NodeId | null;
  private currentRole: Role = 'follower';
  private leaderId: NodeId | null = null;
  /** Invariant: appliedIndex <= handedToApply <= commitIndex <= lastIndex. */
  private commit: number;
  private handedToApply: number;
  /** Encoded length of the commands handed to apply since the last snapshot started (for `snapshotThresholdBytes`). */
  private bytesSinceSnapshot = 0;
  private applied: number;

  /** Invariant: stableIndex <= lastIndex; the log up to stableIndex is durable in the log store. */
  private stable: number;
  private nextWriteId = 1;
  private readonly pendingWrites: PendingWrite[] = [];
  private readonly heldMessages: HeldMessage[] = [];

  /** Votes received in the current (pre-)election, by voter. */
  private readonly votes = new Map<NodeId, boolean>();
  /** The write that makes our own vote durable; our vote counts once it completes. */
  private selfVoteWriteId = 0;

  private readonly progress = new Map<NodeId, Progress>();
  /**
   * Proposals made on this node (as leader, or forwarded to the leader) whose entries have not been applied yet.
   * They fail with outcome 'unknown' when the leader they went to is no longer our leader.
   */
  private readonly pendingProposals = new Set<string>();

  /** Heartbeat round of this leader; every broadcast starts a new one. */
  private round = 0;
  /** When (driver clock) recent rounds were started, ascending by round, for leases. */
  private readonly roundStarts: { readonly round: number; readonly at: number }[] = [];
  /** Reads waiting for a majority to answer `round`; `from` is the follower that asked, or null for local reads. */
  private readonly pendingReads: { readonly ids: readonly string[]; readonly index: number; readonly round: number; readonly from: NodeId | null }[] = [];
  /** Reads that arrived before this leader committed an entry of its own term (thesis 6.4: it must first). */
  private readonly readsAwaitingCommit: { readonly ids: readonly string[]; readonly from: NodeId | null }[] = [];
  /** On a follower: reads sent to the leader for a read index. */
  private readonly forwardedReads = new Set<string>();
  /**
   * Ids of forwarded proposals this node has decided (appended or rejected), most recent last, bounded: a network
   * that duplicates a forward must not make a leader append a proposal twice, or after rejecting it.
   */
  private readonly decidedForwards = new Set<string>();
  /** Learners this leader promotes to voters once they have caught up. */
  private readonly promoteWhenCaughtUp = new Set<NodeId>();
  /** The voter this leader is handing leadership to, if any. */
  private transferTarget: NodeId | null = null;
  /** Restarted with state and no election timeout has passed since: still bound by leases it may have granted. */
  private restartedRecently: boolean;
  /**
   * This leader sent TimeoutNow in its term: the target may campaign at any later moment (the message can be slow),
   * and voters grant a transfer vote inside a lease, so no lease of this term can be trusted any more.
   */
  private leaseRevoked = false;
  /** This node has been a member of a configuration it knew (a node joining a cluster is not, at first). */
  private everMember: boolean;
  /** The latest heartbeat round heard from the current leader, echoed in snapshot answers (reads and leases). */
  private leaderRound = 0;
  /** A received snapshot whose last chunk is stored (or being stored) and that is not restored yet: its chunk count. */
  private installing: { readonly meta: SnapshotMeta; readonly chunks: number } | null = null;

  /** The configuration in force at the log's starting point (before its first retained entry). */
  private baseMembership: Membership;
  /** The latest snapshot stored on this node (taken here or installed from a leader). */
  private snapshotMeta: SnapshotMeta | null;
  /** A `takeSnapshot` is under way. */
  private snapshotting = false;
  /** A snapshot arriving from the leader: the chunk expected next, and whether the last one has been handed out. */
  private receiving: {
    readonly meta: SnapshotMeta;
    nextChunk: number;
    done: boolean;
    /** Chunks that arrived ahead of `nextChunk` (the network reorders), at most a window of them. */
    readonly early: Map<number, InstallSnapshot>;
  } | null = null;

  private effects: Effect[] = [];

  constructor(options: RaftCoreOptions) {
    this.id = options.id;
    this.config = { ...defaultRaftConfig, ...options.config };
    if (this.config.heartbeatIntervalMs >= this.config.electionTimeoutMs) {
      throw new RangeError('heartbeatIntervalMs must be smaller than electionTimeoutMs');
    }
    this.initialMembership = { voters: [...options.voters], learners: [...(options.learners ?? [])] };
    this.random = options.random;
    const recovered = options.recovered ?? { hardState: { term: 0, votedFor: null, commit: 0 }, entries: [] };
    const snapshot = recovered.snapshot ?? null;
    this.snapshotMeta = snapshot;
    this.baseMembership = snapshot === null ? this.initialMembership : { voters: snapshot.voters, learners: snapshot.learners };
    this.membership = this.baseMembership;
    this.log = new RaftLog(recovered.entries, snapshot?.index ?? 0, snapshot?.term ?? 0);
    this.currentTerm = recovered.hardState.term;
    this.votedFor = recovered.hardState.votedFor;
    // The state machine was restored from the snapshot before this core was built.
    this.handedToApply = snapshot?.index ?? 0;
    this.applied = this.handedToApply;
    this.commit = Math.max(Math.min(recovered.hardState.commit, this.log.lastIndex), this.handedToApply);
    this.stable = this.log.lastIndex;
    this.restartedRecently = this.config.leaseReads && recovered.hardState.term > 0;
    this.everMember =
      isMember(this.baseMembership, this.id) ||
      recovered.entries.some((entry) => entry.kind === 'config' && isMember(decodeMembership(entry.data), this.id));
    this.membershipFromLog();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Read-only views

  get role(): Role {
    return this.currentRole;
  }
  get term(): number {
    return this.currentTerm;
  }
  get leader(): NodeId | null {
    return this.leaderId;
  }
  get commitIndex(): number {
    return this.commit;
  }
  get appliedIndex(): number {
    return this.applied;
  }
  get lastIndex(): number {
    return this.log.lastIndex;
  }
  get stableIndex(): number {
    return this.stable;
  }
  /** Index of the latest snapshot stored on this node (0 without one). */
  get snapshotIndex(): number {
    return this.snapshotMeta?.index ?? 0;
  }
  /** The configuration in force (the latest in the log). */
  get members(): Membership {
    return this.membership;
  }

  private get voters(): readonly NodeId[] {
    return this.membership.voters;
  }

  private get isVoter(): boolean {
    return this.membership.voters.includes(this.id);
  }

  termAt(index: number): number | undefined {
    return this.log.termAt(index);
  }

  entryAt(index: number): Entry | undefined {
    return this.log.entryAt(index);
  }

  /** Entries in [from, to], inclusive. */
  entries(from: number, to: number): Entry[] {
    return this.log.slice(from, to);
  }

  status(): CoreStatus {
    return {
      id: this.id,
      role: this.currentRole,
      term: this.currentTerm,
      votedFor: this.votedFor,
      leader: this.leaderId,
      commitIndex: this.commit,
      appliedIndex: this.applied,
      lastIndex: this.log.lastIndex,
      lastTerm: this.log.lastTerm,
      stableIndex: this.stable,
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Inputs

  /**
   * Begin operating: arm the election timer and apply what the recovered log already knows to be committed.
   */
  start(): Effect[] {
    this.resetElectionTimer();
    this.maybeApply();
    // The only voter needs nobody's vote: a bootstrapped single-node cluster leads at once (lolraft's
    // "immediate self-vote after init_cluster").
    if (this.isVoter && this.voters.length === 1) this.startElection(false);
    return this.flush();
  }

  /** Campaign now instead of waiting for the election timer (a single-node bootstrap, or a forced election). */
  campaign(): Effect[] {
    if (this.currentRole !== 'leader' && this.currentRole !== 'removed') this.startElection(false);
    return this.flush();
  }

  /** The election timer fired. */
  electionTimeout(): Effect[] {
    this.restartedRecently = false;
    if (this.currentRole === 'removed') return [];
    if (this.currentRole === 'leader') {
      this.abortTransfer('the target did not take over within an election timeout');
      this.checkQuorum();
    } else if (this.isVoter) {
      this.startElection(this.config.preVote);
    } else {
      // Learners and nodes outside the configuration never campaign; they wait for a leader. They did not hear from
      // it for an election timeout, though, so its lease is over: forget it, or this node would refuse (pre-)votes
      // forever, and a lagging new voter that still believes it is a learner could block every election.
      this.setLeader(null);
      this.resetElectionTimer();
      if (this.everMember && this.membershipIndex > 0 && !isMember(this.membership, this.id)) {
        // Our latest configuration leaves us out, and nobody told us whether it committed (a leader stops
        // replicating to a node as soon as it appends its removal). Ask the voters: one whose committed
        // configuration leaves us out answers `removedAt`. A pre-vote changes nothing at the voters.
        const probe: RequestVote = { type: 'RequestVote', term: this.currentTerm + 1, lastLogIndex: this.log.lastIndex, lastLogTerm: this.log.lastTerm, preVote: true };
        for (const peer of this.voterPeers()) this.send(peer, probe);
      }
    }
    return this.flush();
  }

  /**
   * Propose a membership change (one server at a time). Throws MembershipError when the change is invalid or another
   * change is still uncommitted; on a non-leader the proposal fails with NOT_LEADER. Resolves, like a proposal, when
   * its entry is applied. With `promoteWhenCaughtUp`, a learner added here becomes a voter once it has caught up.
   */
  changeMembership(id: string, change: MembershipChange, options: { readonly promoteWhenCaughtUp?: boolean } = {}): Effect[] {
    if (this.currentRole !== 'leader' || this.transferTarget !== null) {
      this.effects.push({
        type: 'proposalFailed',
        id,
        failure: { code: 'NOT_LEADER', leaderHint: this.transferTarget ?? this.leaderId, outcome: 'not-appended' },
      });
      return this.flush();
    }
    this.checkCanChangeMembership();
    const next = applyChange(this.membership, change);
    if (options.promoteWhenCaughtUp === true && change.type === 'addLearner') this.promoteWhenCaughtUp.add(change.id);
    this.pendingProposals.add(id);
    this.appendAsLeader([{ index: this.log.lastIndex + 1, term: this.currentTerm, kind: 'config', data: encodeMembership(next), id }]);
    return this.flush();
  }

  /**
   * Hand leadership to `target` (or the most up-to-date voter): bring it up to date, then tell it to campaign at
   * once (TimeoutNow). Proposals fail with NOT_LEADER naming the target meanwhile. Aborted with `transferAborted`
   * when it has not happened within an election timeout.
   */
  transferLeadership(target?: NodeId): Effect[] {
    if (this.currentRole !== 'leader') throw new MembershipError('NOT_A_MEMBER', `${this.id} is not the leader`);
    const chosen = target ?? this.bestTransferTarget();
    if (chosen === undefined || chosen === this.id || !this.voters.includes(chosen)) {
      throw new MembershipError('NOT_A_MEMBER', `cannot transfer leadership to ${String(chosen)}: not another voter`);
    }
    this.transferTarget = chosen;
    // A lease must not outlive the decision to hand over: the target campaigns without waiting for it to expire.
    this.roundStarts.length = 0;
    this.effects.push({ type: 'resetElectionTimer', afterMs: this.config.electionTimeoutMs });
    const progress = this.progress.get(chosen)!;
    if (progress.matchIndex === this.log.lastIndex) this.sendTimeoutNow(chosen);
    else this.sendAppendWhileAllowed(chosen, progress);
    return this.flush();
  }

  /** The heartbeat timer fired. `now` is the driver's clock in ms, needed only for lease reads. */
  heartbeatDue(now?: number): Effect[] {
    if (this.currentRole === 'leader') {
      this.broadcastHeartbeat(now, true);
      this.effects.push({ type: 'resetHeartbeatTimer', afterMs: this.config.heartbeatIntervalMs });
    }
    return this.flush();
  }

  /**
   * Linearizable reads (Raft thesis 6.4, ReadIndex). The leader records its commit index, confirms it is still
   * leader with a heartbeat round answered by a majority, and answers `readReady(index)`: the reads may be served
   * once the state machine has applied `index`. A follower asks the leader for the index (when forwarding is on).
   *
   * With `lease`, a leader whose lease holds at `now` answers at once (see RaftConfig.leaseClockDrift).
   */
  readIndex(ids: readonly string[], options: { readonly lease?: boolean; readonly now?: number } = {}): Effect[] {
    if (ids.length === 0) return [];
    if (this.currentRole === 'leader') {
      if (this.log.termAt(this.commit) !== this.currentTerm) {
        this.readsAwaitingCommit.push({ ids, from: null });
      } else if (options.lease === true && this.leaseHolds(options.now)) {
        this.effects.push({ type: 'readReady', ids, index: this.commit });
      } else {
        this.confirmLeadershipFor(ids, null, options.now);
      }
    } else if (this.config.forwardToLeader && this.leaderId !== null && this.currentRole === 'follower') {
      for (const id of ids) this.forwardedReads.add(id);
      this.send(this.leaderId, { type: 'ReadIndexRequest', term: this.currentTerm, requestIds: ids });
    } else {
      this.effects.push({ type: 'readFailed', ids, leaderHint: this.leaderId });
    }
    return this.flush();
  }

  /**
   * Append proposals to the leader's log as one batch and start replicating them. On a non-leader every proposal
   * fails at once with NOT_LEADER.
   */
  propose(proposals: readonly Proposal[]): Effect[] {
    if (proposals.length === 0) return [];
    if (this.currentRole !== 'leader' && this.config.forwardToLeader && this.leaderId !== null && this.currentRole === 'follower') {
      for (const proposal of proposals) this.pendingProposals.add(proposal.id);
      this.send(this.leaderId, { type: 'ForwardProposals', term: this.currentTerm, proposals });
      return this.flush();
    }
    if (this.currentRole !== 'leader' || this.transferTarget !== null) {
      for (const proposal of proposals) {
        this.effects.push({
          type: 'proposalFailed',
          id: proposal.id,
          failure: { code: 'NOT_LEADER', leaderHint: this.transferTarget ?? this.leaderId, outcome: 'not-appended' },
        });
      }
      return this.flush();
    }
    for (const proposal of proposals) this.pendingProposals.add(proposal.id);
    this.appendProposals(proposals);
    return this.flush();
  }

  /** A write issued as `persist(writeId)` (and every write before it) is now durable. */
  persisted(writeId: number): Effect[] {
    while (this.pendingWrites.length > 0 && this.pendingWrites[0]!.writeId <= writeId) {
      const write = this.pendingWrites.shift()!;
      this.stable = Math.max(this.stable, Math.min(write.durableIndex, this.log.lastIndex));
    }
    while (this.heldMessages.length > 0 && this.heldMessages[0]!.afterWriteId <= writeId) {
      const held = this.heldMessages.shift()!;
      this.effects.push({ type: 'send', to: held.to, message: held.message });
    }
    if (this.currentRole === 'candidate' && this.selfVoteWriteId !== 0 && this.selfVoteWriteId <= writeId) {
      this.selfVoteWriteId = 0;
      this.votes.set(this.id, true);
      this.tallyVotes(false);
    }
    if (this.currentRole === 'leader') this.maybeCommit();
    return this.flush();
  }

  /** The state machine has applied every entry up to `index`. */
  appliedTo(index: number): Effect[] {
    if (index > this.handedToApply) throw new Error(`applied ${index} but only ${this.handedToApply} was handed out`);
    this.applied = Math.max(this.applied, index);
    const { snapshotThreshold, snapshotThresholdBytes } = this.config;
    const entriesDue = snapshotThreshold > 0 && this.handedToApply - (this.snapshotMeta?.index ?? 0) >= snapshotThreshold;
    const bytesDue = snapshotThresholdBytes > 0 && this.bytesSinceSnapshot >= snapshotThresholdBytes;
    if (entriesDue || bytesDue) this.startSnapshot();
    return this.flush();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Snapshots (paper section 7)

  /** Take a snapshot now (if one is not under way and there is something new to cover). */
  snapshotNow(): Effect[] {
    this.startSnapshot();
    return this.flush();
  }

  /** The snapshot asked for by `takeSnapshot` is durable: compact the log behind it. */
  snapshotSaved(meta: SnapshotMeta): Effect[] {
    this.snapshotting = false;
    if (meta.index > (this.snapshotMeta?.index ?? 0)) this.snapshotMeta = meta;
    this.compactThrough(meta.index - this.config.snapshotTrailingEntries);
    return this.flush();
  }

  /** Taking or storing the snapshot failed; a later threshold crossing tries again. */
  snapshotFailed(): Effect[] {
    this.snapshotting = false;
    return [];
  }

  /** Leader: a chunk of the stored snapshot, read for follower `to` (answering `readSnapshotChunk`). */
  snapshotChunkRead(to: NodeId, meta: SnapshotMeta, chunk: number, data: Uint8Array, done: boolean): Effect[] {
    const progress = this.currentRole === 'leader' ? this.progress.get(to) : undefined;
    const transfer = progress?.snapshot;
    // Only chunks of the current window: a read answered after a go-back (or already acknowledged) is dropped.
    if (progress === undefined || transfer === undefined || transfer === null || chunk < transfer.acked || chunk >= transfer.requested) return [];
    if (meta.index !== transfer.meta.index || meta.term !== transfer.meta.term) {
      // A newer snapshot replaced the one being sent: start over with it.
      progress.becomeSnapshot(meta);
      this.requestChunks(to, progress);
      return this.flush();
    }
    if (done) transfer.lastChunk = chunk;
    this.send(to, { type: 'InstallSnapshot', term: this.currentTerm, round: this.round, meta, chunk, data, done });
    return this.flush();
  }

  /**
   * Leader: chunk `chunk` does not exist. Beyond the chunk the follower needs next, that is the window reading past
   * the end (reads may be answered out of order); the very chunk it needs missing means the stored snapshot was
   * replaced: send the current one from the start. If this core does not know of a newer snapshot yet, the store is
   * still replacing it, and would give the same answer to a question asked at once (without I/O, in a loop that
   * never yields to the event loop): the next heartbeat asks again.
   */
  snapshotChunkMissing(to: NodeId, chunk: number): Effect[] {
    const progress = this.currentRole === 'leader' ? this.progress.get(to) : undefined;
    const transfer = progress?.snapshot;
    if (progress === undefined || transfer === undefined || transfer === null || this.snapshotMeta === null) return [];
    if (chunk !== transfer.acked) return [];
    if (sameSnapshot(transfer.meta, this.snapshotMeta)) {
      transfer.requested = transfer.acked;
      transfer.acknowledged = false;
      return [];
    }
    progress.becomeSnapshot(this.snapshotMeta);
    this.requestChunks(to, progress);
    return this.flush();
  }

  /**
   * Follower: a chunk of the leader's snapshot is stored. After the last one the core starts over from the snapshot:
   * it asks for the state machine to be restored (`restoreSnapshot`) and reports `snapshotRestored` when done.
   */
  snapshotChunkWritten(meta: SnapshotMeta, chunk: number, done: boolean): Effect[] {
    const receiving = this.receiving;
    if (receiving === null || !sameSnapshot(receiving.meta, meta)) return [];
    if (!done) {
      if (this.leaderId !== null) this.reply(this.leaderId, this.snapshotResponse(meta.index, chunk + 1, false));
      return this.flush();
    }
    // The snapshot is current in the store now: install it even if the leader is gone meanwhile (no one else will).
    this.receiving = null;
    this.installSnapshot(meta);
    return this.flush();
  }

  /** Follower: the state machine now holds the installed snapshot's state. */
  snapshotRestored(meta: SnapshotMeta): Effect[] {
    this.installing = null;
    this.applied = Math.max(this.applied, meta.index);
    if (this.leaderId !== null) this.reply(this.leaderId, this.snapshotResponse(meta.index, 0, true));
    this.checkRemoved();
    return this.flush();
  }

  /**
   * A message from a peer. One that breaks a protocol invariant is refused whole (a `refused` effect names the sender
   * and the reason) and changes nothing: no message from the network may stop or wedge a node.
   */
  receive(from: NodeId, message: RaftMessage): Effect[] {
    // Who may talk to this node is decided at the network boundary; a node joining a cluster hears from a leader
    // that is not (yet) in its configuration.
    if (from === this.id || this.currentRole === 'removed') return [];
    const problem = messageProblem(message) ?? this.contradiction(from, message);
    if (problem !== null) {
      this.effects.push({ type: 'refused', from, messageType: message.type, reason: problem });
      return this.flush();
    }
    this.step(from, message);
    return this.flush();
  }

  /**
   * Why a well-formed message cannot come from a correct peer given what this node knows, or null. Checked before
   * anything changes, so that a refused message leaves no trace.
   */
  private contradiction(from: NodeId, message: RaftMessage): string | null {
    switch (message.type) {
      case 'AppendEntries':
      case 'InstallSnapshot':
      case 'TimeoutNow': {
        if (message.term !== this.currentTerm) break;
        // Election Safety: one leader per term.
        if (this.currentRole === 'leader') return `${from} claims to lead term ${message.term}, which this node leads`;
        if (this.leaderId !== null && this.leaderId !== from) return `${from} claims to lead term ${message.term}, led by ${this.leaderId}`;
        if (message.type === 'TimeoutNow' && this.leaderId !== from) return `TimeoutNow from ${from}, who is not the leader`;
        break;
      }
      case 'AppendEntriesResponse':
      case 'InstallSnapshotResponse':
        if (message.term !== this.currentTerm || this.currentRole !== 'leader') break;
        if (message.round > this.round) return `answers round ${message.round}, but this leader is at round ${this.round}`;
        if (message.index > this.log.lastIndex) return `answers index ${message.index}, beyond this leader's log (${this.log.lastIndex})`;
        break;
      case 'RequestVoteResponse':
        if (message.granted && !message.preVote && message.term === this.currentTerm && this.votedFor !== this.id) {
          return `a vote for term ${message.term}, in which this node never campaigned`;
        }
        break;
    }
    if (message.type === 'AppendEntries' && message.term >= this.currentTerm) {
      // Leader Completeness: a leader's log holds every committed entry, so it never contradicts ours up to commit.
      if (message.prevLogIndex <= this.commit) {
        const local = this.log.termAt(message.prevLogIndex);
        if (local !== undefined && local !== message.prevLogTerm) return `prevLogTerm ${message.prevLogTerm} at ${message.prevLogIndex} contradicts committed term ${local}`;
      }
      for (const entry of message.entries) {
        if (entry.index > this.commit) break;
        const local = this.log.termAt(entry.index);
        if (local !== undefined && local !== entry.term) return `entry ${entry.index} (term ${entry.term}) contradicts committed term ${local}`;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Message handling

  private step(from: NodeId, message: RaftMessage): void {
    // Forwarded client work is answered by whoever is leader now, whatever the sender's term: it carries no Raft
    // state, and a stale sender learns the term from replication soon enough.
    switch (message.type) {
      case 'ForwardProposals': {
        // Each forwarded id is decided once, appended or rejected: a duplicate arriving later (after this node
        // became leader, say) must not contradict a rejection the proposer already reported as not-appended.
        const fresh = this.firstSightings(message.proposals);
        if (this.currentRole === 'leader' && this.transferTarget === null) {
          // Only forwards addressed to this term: one sent to an earlier life of this node may have been appended
          // then, before a crash erased `decidedForwards`. Dropped in silence, it fails at its caller's deadline.
          if (message.term === this.currentTerm) this.appendProposals(fresh);
        } else if (fresh.length > 0 && (!this.mayHaveLedIn(message.term) || (this.currentRole === 'leader' && message.term === this.currentTerm))) {
          // Rejected as never appended only when that is certain. `decidedForwards` does not survive a restart: a
          // network duplicate reaching a restarted ex-leader must not be rejected as not-appended when its first copy
          // was appended before the crash (and may commit). A leader (transferring) is sure only for its own term, which
          // it leads in this life only. When unsure, say nothing: the forwarder fails the proposal as 'unknown' when it
          // learns of another leader, or its caller times out.
          this.send(from, { type: 'ForwardProposalsResponse', term: this.currentTerm, rejected: fresh.map((p) => p.id), leaderHint: this.transferTarget ?? this.leaderId });
        }
        return;
      }
      case 'ForwardProposalsResponse':
        for (const id of message.rejected) {
          if (!this.pendingProposals.delete(id)) continue;
          this.effects.push({ type: 'proposalFailed', id, failure: { code: 'NOT_LEADER', leaderHint: message.leaderHint, outcome: 'not-appended' } });
        }
        return;
      case 'ReadIndexRequest':
        if (this.currentRole !== 'leader') {
          this.send(from, { type: 'ReadIndexResponse', term: this.currentTerm, requestIds: message.requestIds, index: null, leaderHint: this.leaderId });
        } else if (this.log.termAt(this.commit) !== this.currentTerm) {
          this.readsAwaitingCommit.push({ ids: message.requestIds, from });
        } else {
          this.confirmLeadershipFor(message.requestIds, from, undefined);
        }
        return;
      case 'ReadIndexResponse': {
        const ids = message.requestIds.filter((id) => this.forwardedReads.delete(id));
        if (ids.length === 0) return;
        if (message.index === null) this.effects.push({ type: 'readFailed', ids, leaderHint: message.leaderHint });
        else this.effects.push({ type: 'readReady', ids, index: message.index });
        return;
      }
      case 'RequestVote':
        if (this.membershipIndex > 0 && this.membershipIndex <= this.commit && !isMember(this.membership, from)) {
          // Our committed configuration leaves the candidate out: tell it, and let it disturb nothing (no new term).
          this.send(from, { type: 'RequestVoteResponse', term: this.currentTerm, granted: false, preVote: message.preVote, removedAt: this.membershipIndex });
          return;
        }
        break;
      case 'RequestVoteResponse':
        if (message.removedAt !== undefined) {
          this.learnRemoval(message.removedAt);
          return;
        }
        break;
    }
    if (message.term > this.currentTerm) {
      if (message.type === 'RequestVote') {
        // A follower that hears from a live leader ignores candidates (thesis 4.2.3, disruptive servers): pre-vote
        // and check-quorum together keep a partitioned node from deposing a healthy leader when it comes back.
        if (this.inLeaderLease() && message.transfer !== true) {
          if (message.preVote) this.send(from, this.voteResponse(false, true));
          return;
        }
        if (message.preVote) {
          this.handleRequestVote(from, message);
          return;
        }
        this.becomeFollower(message.term, null);
      } else if (message.type === 'RequestVoteResponse' && message.preVote && message.granted) {
        // A granted pre-vote echoes the term we would campaign in; it is not a newer term.
      } else {
        const leader = message.type === 'AppendEntries' || message.type === 'InstallSnapshot' ? from : null;
        this.becomeFollower(message.term, leader);
      }
    } else if (message.term < this.currentTerm) {
      if (message.type === 'AppendEntries') {
        // Tell a stale leader about the newer term so it steps down (needed with check-quorum and pre-vote, where
        // it might otherwise never see a higher term).
        this.send(from, this.appendResponse(false, message.prevLogIndex, 0, 0, message.round));
      } else if (message.type === 'RequestVote') {
        this.send(from, this.voteResponse(false, message.preVote));
      } else if (message.type === 'InstallSnapshot') {
        this.send(from, this.snapshotResponse(message.meta.index, 0, false));
      }
      return;
    }

    switch (message.type) {
      case 'RequestVote':
        this.handleRequestVote(from, message);
        return;
      case 'RequestVoteResponse':
        this.handleVoteResponse(from, message);
        return;
      case 'AppendEntries':
        this.handleAppendEntries(from, message);
        return;
      case 'AppendEntriesResponse':
        this.handleAppendResponse(from, message);
        return;
      case 'InstallSnapshot':
        this.handleInstallSnapshot(from, message);
        return;
      case 'InstallSnapshotResponse':
        this.handleInstallSnapshotResponse(from, message);
        return;
      case 'TimeoutNow':
        // The leader handed over: campaign at once, without pre-vote, asking voters to ignore their leader lease.
        if (this.isVoter && this.currentRole === 'follower') this.startElection(false, true);
        return;
    }
  }

  /**
   * A voter says its committed configuration at `removedAt` leaves us out. We believe it unless our own latest
   * configuration is a later one, which that voter has not caught up with. (A removed id does not come back: a node
   * joining again takes a new id.)
   */
  private learnRemoval(removedAt: number): void {
    const asked = this.currentRole === 'preCandidate' || this.currentRole === 'candidate' || !isMember(this.membership, this.id);
    if (!asked || !this.everMember) return;
    if (removedAt > this.membershipIndex || (removedAt === this.membershipIndex && !isMember(this.membership, this.id))) {
      if (this.currentRole !== 'follower') this.becomeFollower(this.currentTerm, null);
      this.becomeRemoved();
    }
  }

  /**
   * Whether this node may have led in `term` (or a later term), in this life or an earlier one: only a node that has
   * not voted for itself in `term` and is still in it is sure that it never led in it.
   */
  private mayHaveLedIn(term: number): boolean {
    return this.currentTerm !== term || this.votedFor === this.id;
  }

  private handleRequestVote(from: NodeId, request: RequestVote): void {
    const upToDate = this.log.isUpToDate(request.lastLogIndex, request.lastLogTerm);
    if (request.preVote) {
      // Grant a pre-vote for a future term to any up-to-date log; nothing is recorded.
      const granted = request.term > this.currentTerm && upToDate;
      this.send(from, { type: 'RequestVoteResponse', term: granted ? request.term : this.currentTerm, granted, preVote: true });
      return;
    }
    const canVote = this.votedFor === null || this.votedFor === from;
    if (canVote && upToDate && (this.currentRole === 'follower' || this.currentRole === 'preCandidate')) {
      if (this.currentRole === 'preCandidate') this.becomeFollower(this.currentTerm, null);
      this.votedFor = from;
      this.saveHardState();
      this.resetElectionTimer();
      this.reply(from, this.voteResponse(true, false));
    } else {
      this.reply(from, this.voteResponse(false, false));
    }
  }

  private handleVoteResponse(from: NodeId, response: RequestVoteResponse): void {
    const campaigning = response.preVote ? this.currentRole === 'preCandidate' : this.currentRole === 'candidate';
    if (!campaigning) return;
    if (response.preVote && response.granted && response.term !== this.currentTerm + 1) return;
    this.votes.set(from, response.granted);
    this.tallyVotes(response.preVote);
  }

  private handleAppendEntries(from: NodeId, request: AppendEntries): void {
    this.becomeFollower(this.currentTerm, from);
    this.leaderRound = Math.max(this.leaderRound, request.round);
    if (this.installing !== null) {
      // The write that makes a snapshot current is queued, or the state machine is being restored from it: the log
      // restarts after it. An append sent before the leader switched to the snapshot would land in the store behind
      // that write, out of place; drop its entries (the leader sends again once the snapshot is installed), but
      // answer its round, so that reads, leases and check-quorum still count this follower.
      this.send(from, this.snapshotResponse(this.installing.meta.index, this.installing.chunks, false));
      return;
    }
    if (request.prevLogIndex < this.commit) {
      // Everything up to our commit index is known to match any leader's log; acknowledge what we have.
      const skip = this.commit - request.prevLogIndex;
      if (skip >= request.entries.length) {
        this.reply(from, this.appendResponse(true, this.commit, 0, 0, request.round));
        return;
      }
      this.acceptEntries(from, {
        ...request,
        prevLogIndex: this.commit,
        prevLogTerm: this.log.termAt(this.commit)!,
        entries: request.entries.slice(skip),
      });
      return;
    }
    const localTerm = this.log.termAt(request.prevLogIndex);
    if (localTerm !== request.prevLogTerm) {
      const hint = this.log.lastIndexWithTermAtMost(Math.min(request.prevLogIndex, this.log.lastIndex), request.prevLogTerm);
      this.reply(from, this.appendResponse(false, request.prevLogIndex, hint.index, hint.term, request.round));
      return;
    }
    this.acceptEntries(from, request);
  }

  /** The consistency check passed at `request.prevLogIndex`: append what is new, truncating a conflicting suffix. */
  private acceptEntries(from: NodeId, request: AppendEntries): void {
    let firstNew = request.entries.length;
    let truncateFrom: number | null = null;
    for (let i = 0; i < request.entries.length; i++) {
      const entry = request.entries[i]!;
      const localTerm = this.log.termAt(entry.index);
      if (localTerm === undefined) {
        firstNew = i;
        break;
      }
      if (localTerm !== entry.term) {
        if (entry.index <= this.commit) {
          throw new Error(`entry ${entry.index} conflicts with a committed entry (commit ${this.commit})`);
        }
        truncateFrom = entry.index;
        firstNew = i;
        break;
      }
    }
    const newEntries = request.entries.slice(firstNew);
    if (truncateFrom !== null) this.log.truncateFrom(truncateFrom);
    if (newEntries.length > 0) {
      this.log.append(newEntries);
      this.persist(truncateFrom, newEntries);
    }
    if (truncateFrom !== null && truncateFrom <= this.membershipIndex) this.membershipFromLog();
    else this.adoptConfigEntries(newEntries);
    const matched = request.prevLogIndex + request.entries.length;
    const newCommit = Math.min(request.leaderCommit, matched);
    if (newCommit > this.commit) {
      this.commit = newCommit;
      this.maybeApply();
    }
    this.reply(from, this.appendResponse(true, matched, 0, 0, request.round));
    this.checkRemoved();
  }

  private handleAppendResponse(from: NodeId, response: AppendEntriesResponse): void {
    if (this.currentRole !== 'leader') return;
    const progress = this.progress.get(from);
    if (progress === undefined) return;
    progress.recentActive = true;
    if (response.round > progress.ackedRound) {
      progress.ackedRound = response.round;
      this.confirmReads();
    }
    if (response.success) {
      const inflightBefore = progress.inflight.length;
      const advanced = progress.acknowledge(response.index);
      if (progress.mode === 'snapshot' && this.log.termAt(progress.matchIndex) !== undefined) {
        // Appends sent before the transfer began brought the follower within reach of the log again (etcd does the
        // same): replicate instead. Staying in snapshot mode would ignore the transfer's `installed` answer, whose
        // index is now at or below matchIndex, and ask for chunks forever.
        progress.becomeProbe();
      }
      if (advanced) {
        this.maybeCommit();
        if (this.currentRole !== 'leader') return;
        if (from === this.transferTarget && progress.matchIndex === this.log.lastIndex) this.sendTimeoutNow(from);
        this.maybePromote(from, progress);
      }
      if (progress.mode === 'replicate' && progress.inflight.length === inflightBefore && inflightBefore >= this.config.maxInflightMessages) {
        // A response that frees nothing while the window is full means messages were lost: let one more through so
        // that a gap is detected and the follower falls back to probing (etcd frees one slot the same way).
        progress.inflight.shift();
      }
      this.sendAppendWhileAllowed(from, progress);
      return;
    }
    // Fast backtracking: jump to the end of the last term the follower's hint and our log have in common.
    let nextProbe = response.hintIndex + 1;
    if (response.hintTerm > 0) {
      nextProbe = this.log.lastIndexWithTermAtMost(response.hintIndex, response.hintTerm).index + 1;
    }
    if (progress.reject(response.index, nextProbe)) this.sendAppend(from, progress);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Elections

  private startElection(preVote: boolean, transfer = false): void {
    if (!this.isVoter) return;
    this.votes.clear();
    this.selfVoteWriteId = 0;
    if (preVote) {
      this.setRole('preCandidate');
      this.setLeader(null);
      this.votes.set(this.id, true);
      this.resetElectionTimer();
      const request: RequestVote = {
        type: 'RequestVote',
        term: this.currentTerm + 1,
        lastLogIndex: this.log.lastIndex,
        lastLogTerm: this.log.lastTerm,
        preVote: true,
      };
      for (const peer of this.voterPeers()) this.send(peer, request);
      this.tallyVotes(true);
      return;
    }
    this.currentTerm++;
    this.votedFor = this.id;
    this.setRole('candidate');
    this.setLeader(null);
    this.resetElectionTimer();
    this.selfVoteWriteId = this.saveHardState();
    const request: RequestVote = {
      type: 'RequestVote',
      term: this.currentTerm,
      lastLogIndex: this.log.lastIndex,
      lastLogTerm: this.log.lastTerm,
      preVote: false,
      ...(transfer ? { transfer: true } : {}),
    };
    // Held until our own vote is durable: we must not be able to vote twice in this term after a crash.
    for (const peer of this.voterPeers()) this.reply(peer, request);
  }

  private tallyVotes(preVote: boolean): void {
    const result = voteResult(this.voters, this.votes);
    if (result === 'won') {
      if (preVote) this.startElection(false);
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.currentTerm, null);
    }
  }

  /**
   * A follower that knows a leader and whose election timer has not fired since it last heard from it, or a leader
   * (which steps down by check-quorum once it loses its majority), or a node restarted less than an election timeout
   * ago when lease reads are on: it may have promised a leader its lease before the crash, and lease reads rely on it.
   */
  private inLeaderLease(): boolean {
    if (!this.config.checkQuorum) return false;
    return this.restartedRecently || (this.leaderId !== null && this.currentRole !== 'candidate');
  }

  private checkQuorum(): void {
    if (this.config.checkQuorum) {
      let active = this.isVoter ? 1 : 0;
      for (const [peer, progress] of this.progress) {
        if (progress.recentActive && this.voters.includes(peer)) active++;
        progress.recentActive = false;
      }
      if (active < Math.floor(this.voters.length / 2) + 1) {
        this.becomeFollower(this.currentTerm, null);
        return;
      }
    }
    this.effects.push({ type: 'resetElectionTimer', afterMs: this.config.electionTimeoutMs });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Role changes

  private becomeFollower(term: number, leader: NodeId | null): void {
    const wasLeader = this.currentRole === 'leader';
    if (term > this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = null;
      this.saveHardState();
    }
    if (wasLeader) {
      this.effects.push({ type: 'cancelHeartbeatTimer' });
      this.progress.clear();
      this.failLeaderReads(leader);
      this.abortTransfer('the leader stepped down');
      this.promoteWhenCaughtUp.clear();
    }
    this.votes.clear();
    this.selfVoteWriteId = 0;
    this.setRole('follower');
    this.setLeader(leader);
    this.resetElectionTimer();
  }

  /** A committed configuration leaves this node out: it never campaigns, votes or leads again. */
  private becomeRemoved(): void {
    if (this.currentRole === 'leader') {
      this.effects.push({ type: 'cancelHeartbeatTimer' });
      this.progress.clear();
      this.failLeaderReads(null);
      this.abortTransfer('the leader was removed');
      this.promoteWhenCaughtUp.clear();
    }
    this.votes.clear();
    this.selfVoteWriteId = 0;
    this.setRole('removed');
    this.setLeader(null);
  }

  /** A follower learns that the configuration leaving it out is committed. */
  private checkRemoved(): void {
    if (this.currentRole === 'follower' && this.everMember && this.membershipIndex > 0 && this.membershipIndex <= this.commit && !isMember(this.membership, this.id)) {
      this.becomeRemoved();
    }
  }

  private becomeLeader(): void {
    this.setRole('leader');
    this.leaseRevoked = false;
    this.setLeader(this.id);
    this.votes.clear();
    this.progress.clear();
    this.roundStarts.length = 0;
    for (const peer of this.peers()) this.progress.set(peer, new Progress(this.log.lastIndex + 1));
    // Check quorum once per election timeout; heartbeats at their own pace.
    this.effects.push({ type: 'resetElectionTimer', afterMs: this.config.electionTimeoutMs });
    this.effects.push({ type: 'resetHeartbeatTimer', afterMs: this.config.heartbeatIntervalMs });
    // A new leader commits an entry of its own term at once, which commits everything before it (paper 5.4.2).
    this.appendAsLeader([{ index: this.log.lastIndex + 1, term: this.currentTerm, kind: 'noop', data: '' }]);
  }

  private setRole(role: Role): void {
    if (role === this.currentRole) return;
    if (!allowedTransitions[this.currentRole].includes(role)) {
      // etcd-raft's habit: a transition the protocol forbids is a bug; stop rather than limp on.
      throw new Error(`invalid transition [${this.currentRole} -> ${role}] on ${this.id} in term ${this.currentTerm}`);
    }
    this.currentRole = role;
    this.effects.push({ type: 'roleChanged', role, term: this.currentTerm });
  }

  private setLeader(leader: NodeId | null): void {
    if (leader === this.leaderId) return;
    this.leaderId = leader;
    this.leaderRound = 0;
    // A snapshot half received from the previous leader will not be finished; a new one starts at chunk 0.
    if (this.receiving !== null && !this.receiving.done) this.receiving = null;
    this.effects.push({ type: 'leaderChanged', leader, term: this.currentTerm });
    // Whatever went to the previous leader may or may not commit; its callers must not wait on a leader that is gone.
    for (const id of this.pendingProposals) {
      this.effects.push({ type: 'proposalFailed', id, failure: { code: 'NOT_LEADER', leaderHint: leader, outcome: 'unknown' } });
    }
    this.pendingProposals.clear();
    if (this.forwardedReads.size > 0) {
      this.effects.push({ type: 'readFailed', ids: [...this.forwardedReads], leaderHint: leader });
      this.forwardedReads.clear();
    }
  }

  private failLeaderReads(leaderHint: NodeId | null): void {
    for (const read of [...this.readsAwaitingCommit, ...this.pendingReads]) {
      if (read.from === null) this.effects.push({ type: 'readFailed', ids: read.ids, leaderHint });
      else this.send(read.from, { type: 'ReadIndexResponse', term: this.currentTerm, requestIds: read.ids, index: null, leaderHint });
    }
    this.readsAwaitingCommit.length = 0;
    this.pendingReads.length = 0;
    this.roundStarts.length = 0;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Reads

  /** Start a heartbeat round for these reads; they are ready once a majority answers it. */
  private confirmLeadershipFor(ids: readonly string[], from: NodeId | null, now: number | undefined): void {
    if (this.voters.length === 1 && this.isVoter) {
      this.readReady(ids, this.commit, from);
      return;
    }
    this.pendingReads.push({ ids, index: this.commit, round: this.round + 1, from });
    // A plain round: loss detection belongs to the heartbeat tick (a read must not make the leader resend data).
    this.broadcastHeartbeat(now, false);
  }

  private readReady(ids: readonly string[], index: number, from: NodeId | null): void {
    if (from === null) this.effects.push({ type: 'readReady', ids, index });
    else this.send(from, { type: 'ReadIndexResponse', term: this.currentTerm, requestIds: ids, index, leaderHint: this.id });
  }

  /** The highest round a majority of voters (this leader included) has answered. */
  private quorumRound(): number {
    return committedIndex(this.voters, (id) => (id === this.id ? this.round : (this.progress.get(id)?.ackedRound ?? 0)));
  }

  private confirmReads(): void {
    if (this.pendingReads.length === 0) return;
    const confirmed = this.quorumRound();
    while (this.pendingReads.length > 0 && this.pendingReads[0]!.round <= confirmed) {
      const read = this.pendingReads.shift()!;
      this.readReady(read.ids, read.index, read.from);
    }
  }

  /**
   * Whether a majority answered a round started less than a lease ago. Followers ignore candidates for at least an
   * election timeout after hearing from us (inLeaderLease), so no other leader can exist before then, clock drift
   * allowed for.
   */
  private leaseHolds(now: number | undefined): boolean {
    if (now === undefined || !this.config.leaseReads || !this.config.checkQuorum || this.transferTarget !== null || this.leaseRevoked) return false;
    const confirmed = this.quorumRound();
    let startedAt: number | undefined;
    for (const start of this.roundStarts) {
      if (start.round > confirmed) break;
      startedAt = start.at;
    }
    return startedAt !== undefined && now < startedAt + this.config.electionTimeoutMs * (1 - this.config.leaseClockDrift);
  }

  /** Start a new round: a heartbeat to every follower; `detectLoss` on the heartbeat tick only (see sendHeartbeat). */
  private broadcastHeartbeat(now: number | undefined, detectLoss: boolean): void {
    this.round++;
    if (now !== undefined) {
      this.roundStarts.push({ round: this.round, at: now });
      // Keep only what a lease can still use: the newest start at or below the confirmed round, and later ones.
      const confirmed = this.quorumRound();
      while (this.roundStarts.length > 1 && this.roundStarts[1]!.round <= confirmed) this.roundStarts.shift();
    }
    for (const peer of this.peers()) this.sendHeartbeat(peer, detectLoss);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Replication and commit

  /** Forwarded proposals not decided before; remembers them as decided. */
  private firstSightings(proposals: readonly Proposal[]): Proposal[] {
    const fresh = proposals.filter((proposal) => !this.decidedForwards.has(proposal.id));
    for (const proposal of fresh) this.decidedForwards.add(proposal.id);
    for (const id of this.decidedForwards) {
      if (this.decidedForwards.size <= 65_536) break;
      this.decidedForwards.delete(id);
    }
    return fresh;
  }

  private appendProposals(proposals: readonly Proposal[]): void {
    if (proposals.length === 0) return;
    const entries: Entry[] = [];
    let index = this.log.lastIndex;
    for (const proposal of proposals) {
      const entry: Entry = { index: ++index, term: this.currentTerm, kind: 'command', data: proposal.data, id: proposal.id };
      entries.push(proposal.session === undefined ? entry : { ...entry, session: proposal.session });
    }
    this.appendAsLeader(entries);
  }

  private appendAsLeader(entries: readonly Entry[]): void {
    this.log.append(entries);
    this.persist(null, entries);
    this.adoptConfigEntries(entries);
    for (const [peer, progress] of this.progress) this.sendAppendWhileAllowed(peer, progress);
    // A single-voter cluster commits as soon as its own write is durable (see persisted()).
  }

  private sendAppendWhileAllowed(peer: NodeId, progress: Progress): void {
    while (progress.nextIndex <= this.log.lastIndex && progress.canSend(this.config.maxInflightMessages)) {
      this.sendAppend(peer, progress);
    }
  }

  /** Send entries from the follower's nextIndex (possibly none, as a probe). */
  private sendAppend(peer: NodeId, progress: Progress): void {
    const prevLogIndex = progress.nextIndex - 1;
    const prevLogTerm = this.log.termAt(prevLogIndex);
    if (prevLogTerm === undefined) {
      // The entries this follower needs were compacted away: send the snapshot instead.
      if (prevLogIndex > this.log.lastIndex) throw new Error(`nextIndex ${progress.nextIndex} of ${peer} is beyond the log`);
      this.startSnapshotTransfer(peer, progress);
      return;
    }
    const entries = this.log.slice(progress.nextIndex, this.log.lastIndex, this.config.maxEntriesPerMessage);
    this.send(peer, {
      type: 'AppendEntries',
      term: this.currentTerm,
      prevLogIndex,
      prevLogTerm,
      entries,
      leaderCommit: this.commit,
      round: this.round,
    });
    progress.sent(prevLogIndex + entries.length, entries.length);
  }

  /**
   * A heartbeat to one follower, carrying the current round and commit index. `detectLoss` (the heartbeat tick, never
   * a read's round): no progress since the previous tick means messages were lost, so send again.
   */
  private sendHeartbeat(peer: NodeId, detectLoss: boolean): void {
    const progress = this.progress.get(peer)!;
    if (progress.mode === 'snapshot') {
      const transfer = progress.snapshot!;
      if (detectLoss) {
        // No progress for a whole heartbeat interval: a chunk or its answer was lost; go back to the first unanswered.
        if (!transfer.acknowledged) {
          transfer.requested = transfer.acked;
          this.requestChunks(peer, progress);
        }
        transfer.acknowledged = false;
      }
      // The round still goes out, at the start of our log: a follower busy with the snapshot answers it, so reads,
      // leases and check-quorum keep counting it (its entries past the snapshot are not asked for meanwhile).
      this.send(peer, {
        type: 'AppendEntries',
        term: this.currentTerm,
        prevLogIndex: this.log.snapshotIndex,
        prevLogTerm: this.log.snapshotTerm,
        entries: [],
        leaderCommit: this.commit,
        round: this.round,
      });
      return;
    }
    if (!detectLoss) {
      // A read's round: an empty append where the follower is known to match (or the probe point); its answer counts.
      const prevLogIndex = progress.mode === 'replicate' ? progress.matchIndex : progress.nextIndex - 1;
      const prevLogTerm = this.log.termAt(prevLogIndex);
      if (prevLogTerm !== undefined) {
        this.send(peer, { type: 'AppendEntries', term: this.currentTerm, prevLogIndex, prevLogTerm, entries: [], leaderCommit: this.commit, round: this.round });
        return;
      }
    }
    if (progress.mode === 'probe') {
      // The heartbeat doubles as the retransmission of a lost probe.
      progress.probeSent = false;
      this.sendAppend(peer, progress);
      return;
    }
    const lost = progress.matchIndex < this.log.lastIndex && progress.matchIndex === progress.matchAtLastHeartbeat;
    if (lost || this.log.termAt(progress.matchIndex) === undefined) {
      // Entries are outstanding but the follower acknowledged nothing for a whole heartbeat interval: the messages
      // carrying them were lost. An idle leader would otherwise never send them again (the empty heartbeat below
      // succeeds at matchIndex), leaving the follower behind and the last proposals uncommitted. Probe again. So too
      // when the log was compacted past matchIndex: there is no term to send there, and the probe finds the snapshot.
      progress.becomeProbe();
      this.sendAppend(peer, progress);
      return;
    }
    progress.matchAtLastHeartbeat = progress.matchIndex;
    // In replicate mode the follower is known to match up to matchIndex, so an empty append there always succeeds
    // and carries the commit index.
    this.send(peer, {
      type: 'AppendEntries',
      term: this.currentTerm,
      prevLogIndex: progress.matchIndex,
      prevLogTerm: this.log.termAt(progress.matchIndex)!,
      entries: [],
      leaderCommit: this.commit,
      round: this.round,
    });
  }

  private maybeCommit(): void {
    const quorumIndex = committedIndex(this.voters, (id) =>
      id === this.id ? this.stable : (this.progress.get(id)?.matchIndex ?? 0),
    );
    if (quorumIndex > this.commit && this.commitsByCounting(quorumIndex)) {
      this.commit = quorumIndex;
      this.maybeApply();
      if (!this.isVoter && this.membershipIndex <= this.commit) {
        this.handOverAfterRemoval();
        return;
      }
      for (const read of this.readsAwaitingCommit.splice(0)) this.confirmLeadershipFor(read.ids, read.from, undefined);
      // Followers learn the new commit index with the next append or heartbeat.
      for (const [peer, progress] of this.progress) {
        if (progress.mode === 'replicate' && progress.matchIndex === this.log.lastIndex && progress.inflight.length === 0) {
          this.sendHeartbeat(peer, false);
        }
      }
    }
  }

  /**
   * Figure 8 (paper 5.4.2): a leader commits by counting replicas only an entry of its own term; older entries commit
   * with it. @internal A method of its own so that a test can break the rule on purpose and see the checks catch it.
   */
  commitsByCounting(index: number): boolean {
    return this.log.termAt(index) === this.currentTerm;
  }

  /**
   * This leader's removal (or demotion) is committed: tell the followers the commit index, hand leadership at once to
   * the most up-to-date voter (TimeoutNow) instead of leaving the cluster leaderless for an election timeout, and step
   * aside (thesis 4.2.2).
   */
  private handOverAfterRemoval(): void {
    for (const peer of this.peers()) this.sendHeartbeat(peer, false);
    const target = this.bestTransferTarget();
    if (target !== undefined && this.progress.get(target)!.matchIndex === this.log.lastIndex) this.sendTimeoutNow(target);
    if (isMember(this.membership, this.id)) this.becomeFollower(this.currentTerm, null);
    else this.becomeRemoved();
  }

  private sendTimeoutNow(target: NodeId): void {
    this.leaseRevoked = true;
    this.send(target, { type: 'TimeoutNow', term: this.currentTerm });
  }

  private maybeApply(): void {
    if (this.commit <= this.handedToApply) return;
    const entries = this.log.slice(this.handedToApply + 1, this.commit);
    const proposals = new Map<number, string>();
    for (const entry of entries) {
      if (entry.id !== undefined && this.pendingProposals.delete(entry.id)) proposals.set(entry.index, entry.id);
      this.bytesSinceSnapshot += entry.data.length;
    }
    this.handedToApply = this.commit;
    this.effects.push({ type: 'apply', entries, proposals });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Persistence and sending

  private saveHardState(): number {
    return this.persist(null, []);
  }

  private hardState(): HardState {
    return { term: this.currentTerm, votedFor: this.votedFor, commit: this.commit };
  }

  /** Issue one atomic write of the current hard state, an optional truncation and new entries. */
  private persist(truncateFrom: number | null, entries: readonly Entry[]): number {
    const writeId = this.nextWriteId++;
    if (truncateFrom !== null) {
      // The durable log beyond truncateFrom-1 no longer matches ours, whatever earlier writes report.
      this.stable = Math.min(this.stable, truncateFrom - 1);
      for (const write of this.pendingWrites) write.durableIndex = Math.min(write.durableIndex, truncateFrom - 1);
    }
    const durableIndex = entries.length > 0 ? entries[entries.length - 1]!.index : Math.min(this.stable, this.log.lastIndex);
    this.pendingWrites.push({ writeId, durableIndex });
    this.effects.push({ type: 'persist', writeId, hardState: this.hardState(), truncateFrom, entries });
    return writeId;
  }

  /** Send now. */
  private send(to: NodeId, message: RaftMessage): void {
    this.effects.push({ type: 'send', to, message });
  }

  /** Send once every write issued so far is durable. */
  private reply(to: NodeId, message: RaftMessage): void {
    const last = this.pendingWrites[this.pendingWrites.length - 1];
    if (last === undefined) this.send(to, message);
    else this.heldMessages.push({ afterWriteId: last.writeId, to, message });
  }

  private voteResponse(granted: boolean, preVote: boolean): RequestVoteResponse {
    return { type: 'RequestVoteResponse', term: this.currentTerm, granted, preVote };
  }

  private appendResponse(success: boolean, index: number, hintIndex: number, hintTerm: number, round: number): AppendEntriesResponse {
    return { type: 'AppendEntriesResponse', term: this.currentTerm, success, index, hintIndex, hintTerm, round };
  }

  private resetElectionTimer(): void {
    const base = this.config.electionTimeoutMs;
    this.effects.push({ type: 'resetElectionTimer', afterMs: base + Math.floor(this.random() * base) });
  }

  /** Every other member: the nodes a leader replicates to. */
  private peers(): NodeId[] {
    return [...this.membership.voters, ...this.membership.learners].filter((id) => id !== this.id);
  }

  /** Every other voter: the nodes a candidate asks for votes. */
  private voterPeers(): NodeId[] {
    return this.membership.voters.filter((id) => id !== this.id);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Snapshot transfer and installation

  private startSnapshot(): void {
    if (this.snapshotting || this.receiving !== null) return;
    const index = this.handedToApply;
    if (index <= (this.snapshotMeta?.index ?? 0)) return;
    const membership = this.membershipAt(index);
    this.snapshotting = true;
    this.bytesSinceSnapshot = 0;
    this.effects.push({
      type: 'takeSnapshot',
      meta: { index, term: this.log.termAt(index)!, voters: membership.voters, learners: membership.learners },
    });
  }

  private compactThrough(through: number): void {
    const limit = Math.min(through, this.snapshotMeta?.index ?? 0, this.applied);
    if (limit <= this.log.snapshotIndex) return;
    this.baseMembership = this.membershipAt(limit);
    this.log.compact(limit);
    this.effects.push({ type: 'compactLog', through: limit });
  }

  private startSnapshotTransfer(peer: NodeId, progress: Progress): void {
    if (this.snapshotMeta === null) throw new Error(`entries for ${peer} were compacted but there is no snapshot`);
    progress.becomeSnapshot(this.snapshotMeta);
    this.requestChunks(peer, progress);
  }

  /** Read chunks from the store until `snapshotWindow` of them are unacknowledged (or the last one is out). */
  private requestChunks(peer: NodeId, progress: Progress): void {
    const transfer = progress.snapshot!;
    while (transfer.requested < transfer.acked + this.config.snapshotWindow && (transfer.lastChunk === null || transfer.requested <= transfer.lastChunk)) {
      this.effects.push({ type: 'readSnapshotChunk', to: peer, meta: transfer.meta, chunk: transfer.requested++ });
    }
  }

  private handleInstallSnapshotResponse(from: NodeId, response: InstallSnapshotResponse): void {
    if (this.currentRole !== 'leader') return;
    const progress = this.progress.get(from);
    if (progress === undefined) return;
    progress.recentActive = true;
    if (response.round > progress.ackedRound) {
      progress.ackedRound = response.round;
      this.confirmReads();
    }
    if (response.installed) {
      if (response.index <= progress.matchIndex) return;
      progress.snapshotInstalled(response.index);
      this.maybeCommit();
      if (this.currentRole !== 'leader') return;
      // A learner caught up by the snapshot is promoted now: on an idle log no later acknowledgement would advance.
      this.maybePromote(from, progress);
      this.sendAppendWhileAllowed(from, progress);
      return;
    }
    const transfer = progress.snapshot;
    if (progress.mode !== 'snapshot' || transfer === null || transfer.meta.index !== response.index) return;
    // The follower's answer says which chunk it takes next: ahead of what we knew is progress; behind it means it
    // started over (a restart, a chunk 0 resent) or the answer is old: either way, continue from there.
    if (response.nextChunk !== transfer.acked) {
      transfer.acknowledged = true;
      if (response.nextChunk < transfer.acked) transfer.requested = response.nextChunk;
      transfer.acked = response.nextChunk;
      transfer.requested = Math.max(transfer.requested, transfer.acked);
      this.requestChunks(from, progress);
    }
    // The same answer again (a duplicate, or an out-of-order chunk refused) changes nothing; a lost chunk is sent
    // again from `acked` when a heartbeat finds no progress.
  }

  private handleInstallSnapshot(from: NodeId, request: InstallSnapshot): void {
    this.becomeFollower(this.currentTerm, from);
    this.leaderRound = Math.max(this.leaderRound, request.round);
    const { meta } = request;
    if (this.installing !== null) {
      // The last chunk of a snapshot is being written, and that write makes it current in the store: until it is
      // installed here too, nothing else may replace or clear `receiving`, or the core would no longer know the
      // snapshot its store holds. Then, until the state machine is restored from it, no newer snapshot may replace it
      // in the store under the reads of the restore. The same snapshot's `installed` answer follows; another
      // snapshot's chunks are sent again by the leader once this one is restored.
      return;
    }
    if (meta.index <= this.commit) {
      // Everything it covers is committed here already, hence matches the leader's log.
      this.receiving = null;
      this.reply(from, this.snapshotResponse(meta.index, 0, true));
      return;
    }
    if (this.snapshotting) {
      // Our own snapshot is being stored; the leader tries again with its next heartbeat.
      this.send(from, this.snapshotResponse(meta.index, 0, false));
      return;
    }
    const current = this.receiving !== null && sameSnapshot(this.receiving.meta, meta) ? this.receiving : null;
    if (request.chunk === 0 && (current === null || current.nextChunk > 0)) {
      this.receiving = { meta, nextChunk: 0, done: false, early: new Map() };
    } else if (current !== null && request.chunk > current.nextChunk && request.chunk < current.nextChunk + this.config.snapshotWindow) {
      // Ahead of its turn: keep it until the chunks before it arrive (they are in flight in the same window), and say
      // which chunk we take next: if the leader believes us further along (we started over), it goes back.
      current.early.set(request.chunk, request);
      this.send(from, this.snapshotResponse(meta.index, current.nextChunk, false));
      return;
    } else if (current === null || request.chunk !== current.nextChunk) {
      this.send(from, this.snapshotResponse(meta.index, current?.nextChunk ?? 0, false));
      return;
    }
    this.storeChunk(request);
    const receiving = this.receiving!;
    for (let next = receiving.early.get(receiving.nextChunk); next !== undefined && !receiving.done; next = receiving.early.get(receiving.nextChunk)) {
      receiving.early.delete(next.chunk);
      this.storeChunk(next);
    }
  }

  /** Write the chunk the receiving snapshot expects next. */
  private storeChunk(request: InstallSnapshot): void {
    const { meta } = request;
    const receiving = this.receiving!;
    receiving.nextChunk = request.chunk + 1;
    receiving.done = request.done;
    if (request.done) {
      receiving.early.clear();
      this.installing = { meta, chunks: receiving.nextChunk };
    }
    if (request.done && this.log.termAt(meta.index) !== meta.term && this.log.lastIndex > meta.index) {
      // Our entries after the snapshot conflict with it (they are not in the leader's log, so not committed). Drop
      // them durably *before* the write that makes the snapshot current: a crash between the two must not leave
      // the new snapshot followed by entries of another history.
      const from = Math.max(meta.index + 1, this.log.firstIndex);
      this.log.truncateFrom(from);
      this.persist(from, []);
      if (from <= this.membershipIndex) this.membershipFromLog();
    }
    this.effects.push({ type: 'writeSnapshotChunk', meta, chunk: request.chunk, data: request.data, done: request.done });
  }

  /** Start over from an installed snapshot (paper section 7, receiver steps 5 to 8). */
  private installSnapshot(meta: SnapshotMeta): void {
    if (meta.index <= this.handedToApply) {
      this.installing = null;
      if (this.leaderId !== null) this.reply(this.leaderId, this.snapshotResponse(meta.index, 0, true));
      return;
    }
    const keptSuffix = this.log.restartAt(meta.index, meta.term);
    this.snapshotMeta = meta;
    this.baseMembership = { voters: meta.voters, learners: meta.learners };
    this.membershipFromLog();
    this.commit = Math.max(this.commit, meta.index);
    this.handedToApply = meta.index;
    this.bytesSinceSnapshot = 0;
    this.stable = keptSuffix ? Math.max(Math.min(this.stable, this.log.lastIndex), meta.index) : meta.index;
    for (const write of this.pendingWrites) write.durableIndex = Math.min(write.durableIndex, this.stable);
    // Entries after the snapshot that conflict with it go; entries before it are covered by it.
    this.persist(keptSuffix ? null : meta.index + 1, []);
    this.effects.push({ type: 'restoreSnapshot', meta });
    this.effects.push({ type: 'compactLog', through: meta.index });
  }

  private snapshotResponse(index: number, nextChunk: number, installed: boolean): InstallSnapshotResponse {
    return { type: 'InstallSnapshotResponse', term: this.currentTerm, index, nextChunk, installed, round: this.leaderRound };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Membership

  /** Recompute the configuration from the log: the last `config` entry, or the initial configuration. */
  private membershipFromLog(): void {
    for (let index = this.log.lastIndex; index >= this.log.firstIndex; index--) {
      const entry = this.log.entryAt(index)!;
      if (entry.kind === 'config') {
        this.setMembership(decodeMembership(entry.data), index);
        return;
      }
    }
    this.setMembership(this.baseMembership, 0);
  }

  /** The configuration in force at `index` (at or after the log's starting point). */
  private membershipAt(index: number): Membership {
    for (let i = Math.min(index, this.log.lastIndex); i >= this.log.firstIndex; i--) {
      const entry = this.log.entryAt(i)!;
      if (entry.kind === 'config') return decodeMembership(entry.data);
    }
    return this.baseMembership;
  }

  private adoptConfigEntries(entries: readonly Entry[]): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!;
      if (entry.kind === 'config') {
        this.setMembership(decodeMembership(entry.data), entry.index);
        return;
      }
    }
  }

  private setMembership(membership: Membership, index: number): void {
    const changed = index !== this.membershipIndex || membership !== this.membership;
    this.membership = membership;
    this.membershipIndex = index;
    if (isMember(membership, this.id)) this.everMember = true;
    if (!changed) return;
    this.effects.push({ type: 'membershipChanged', voters: membership.voters, learners: membership.learners });
    if (this.currentRole !== 'leader') return;
    // A leader replicates to exactly the members of the configuration in force.
    for (const peer of this.peers()) {
      if (!this.progress.has(peer)) this.progress.set(peer, new Progress(this.log.lastIndex + 1));
    }
    for (const peer of [...this.progress.keys()]) {
      if (!isMember(membership, peer)) this.progress.delete(peer);
    }
    for (const id of this.promoteWhenCaughtUp) if (!membership.learners.includes(id)) this.promoteWhenCaughtUp.delete(id);
    if (this.transferTarget !== null && !membership.voters.includes(this.transferTarget)) this.abortTransfer('the target left the configuration');
  }

  /** Thesis 4.1 and its errata: one uncommitted change at a time, and only once this leader committed in its term. */
  private checkCanChangeMembership(): void {
    if (this.membershipIndex > this.commit) {
      throw new MembershipError('CHANGE_IN_PROGRESS', 'another membership change is not committed yet');
    }
    if (this.log.termAt(this.commit) !== this.currentTerm) {
      throw new MembershipError('CHANGE_IN_PROGRESS', 'the leader has not committed an entry of its term yet');
    }
  }

  private maybePromote(peer: NodeId, progress: Progress): void {
    if (!this.promoteWhenCaughtUp.has(peer)) return;
    if (progress.matchIndex + this.config.promoteWithinEntries < this.log.lastIndex) return;
    if (this.membershipIndex > this.commit || this.log.termAt(this.commit) !== this.currentTerm) return;
    this.promoteWhenCaughtUp.delete(peer);
    const next = applyChange(this.membership, { type: 'promote', id: peer });
    this.appendAsLeader([{ index: this.log.lastIndex + 1, term: this.currentTerm, kind: 'config', data: encodeMembership(next) }]);
  }

  private bestTransferTarget(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const id of this.voterPeers()) {
      const match = this.progress.get(id)?.matchIndex ?? 0;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    return best;
  }

  private abortTransfer(reason: string): void {
    if (this.transferTarget === null) return;
    this.effects.push({ type: 'transferAborted', target: this.transferTarget, reason });
    this.transferTarget = null;
  }

  private flush(): Effect[] {
    const out = this.effects;
    this.effects = [];
    return out;
  }
}

/** The role changes Raft allows (a single voter goes follower -> candidate -> leader without pre-vote). */
const allowedTransitions: Readonly<Record<Role, readonly Role[]>> = {
  follower: ['preCandidate', 'candidate', 'removed'],
  preCandidate: ['follower', 'candidate', 'removed'],
  candidate: ['follower', 'leader', 'removed'],
  leader: ['follower', 'removed'],
  removed: [],
};

function sameSnapshot(a: SnapshotMeta, b: SnapshotMeta): boolean {
  return a.index === b.index && a.term === b.term;
}
