/**
 * Everything one Raft node knows, in one object that the concept files (election.ts, leaderReplication.ts,
 * readIndex.ts, ...) operate on through plain functions, the way etcd-raft's files all work on one `raft` struct.
 * `RaftCore` (raft.ts) holds it and dispatches; it is internal to the core and never exported from index.ts.
 *
 * Besides the fields, only the helpers every concept needs live here: sending, arming the election timer, collecting
 * and flushing effects, and who the peers are. Writing and waiting for durability are in durability.ts.
 */
import { RaftLog } from './log.js';
import { decodeMembership, isMember, membershipOf, type Membership } from './membership.js';
import type { Progress } from './progress.js';
import { defaultRaftConfig, type Effect, type InstallSnapshot, type NodeId, type RaftConfig, type RaftMessage, type RandomSource, type RecoveredState, type Role, type SnapshotMeta } from './types.js';

export interface PendingWrite {
  readonly writeId: number;
  /** The log index this write makes durable; lowered when a later write truncates below it. */
  durableIndex: number;
}

export interface HeldMessage {
  readonly afterWriteId: number;
  readonly to: NodeId;
  readonly message: RaftMessage;
}

/** A read this leader confirms with a heartbeat round; `from` is the follower that asked, or null for local reads. */
export interface PendingRead {
  readonly ids: readonly string[];
  readonly index: number;
  readonly round: number;
  readonly from: NodeId | null;
}

/** A snapshot arriving from the leader: the chunk expected next, and whether the last one has been handed out. */
export interface ReceivingSnapshot {
  readonly meta: SnapshotMeta;
  nextChunk: number;
  done: boolean;
  /** Chunks that arrived ahead of `nextChunk` (the network reorders), at most a window of them. */
  readonly early: Map<number, InstallSnapshot>;
}

export interface RaftCoreOptions {
  readonly id: NodeId;
  /**
   * The configuration before any `config` entry in the log: every voting member of a bootstrapped cluster (this node
   * included), or, for a node that will join an existing cluster, an empty list (it never campaigns until a
   * configuration in its log makes it a voter).
   */
  readonly voters: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  /** Where the initial members are reached, if known: the first configuration entry records them for later joiners. */
  readonly addresses?: Readonly<Record<NodeId, string>>;
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


export class CoreState {
  readonly id: NodeId;
  readonly config: RaftConfig;
  /**
   * The Figure 8 rule, decided by `RaftCore.commitsByCounting` and called through the core instance, so that a test
   * that replaces the method on the prototype (to break the rule on purpose) changes the one place it is decided.
   */
  readonly commitsByCounting: (index: number) => boolean;
  /** The configuration from the options, in force until the log holds a `config` entry. */
  readonly initialMembership: Membership;
  /** The latest configuration in the log (committed or not); it is the one in force. */
  membership: Membership;
  /**
   * Index of the entry that set `membership`; where the log starts (0, or the snapshot's index) for the one in force
   * there. Invariant: no configuration entry in the log follows it.
   */
  membershipIndex = 0;
  readonly random: RandomSource;
  readonly log: RaftLog;

  currentTerm: number;
  votedFor: NodeId | null;
  currentRole: Role = 'follower';
  leaderId: NodeId | null = null;
  /** Invariant: appliedIndex <= handedToApply <= commitIndex <= lastIndex. */
  commit: number;
  handedToApply: number;
  /** Encoded length of the commands handed to apply since the last snapshot started (for `snapshotThresholdBytes`). */
  bytesSinceSnapshot = 0;
  applied: number;

  /** Invariant: stableIndex <= lastIndex; the log up to stableIndex is durable in the log store. */
  stable: number;
  nextWriteId = 1;
  readonly pendingWrites: PendingWrite[] = [];
  readonly heldMessages: HeldMessage[] = [];

  /** Votes received in the current (pre-)election, by voter. */
  readonly votes = new Map<NodeId, boolean>();
  /** The write that makes our own vote durable; our vote counts once it completes. */
  selfVoteWriteId = 0;

  readonly progress = new Map<NodeId, Progress>();
  /**
   * Proposals made on this node (as leader, or forwarded to the leader) whose entries have not been applied yet, each
   * with the only term its entry can have: a leader appends proposals in its own term, and a forwarded one only in
   * the term it was forwarded in. Each is decided by what this node applies (`maybeApply`): its entry, or an entry of
   * a later term without it, after which it can never commit. A leader that steps down with no other leader in view
   * fails them at once with outcome 'unknown' (`setLeader`); an installed snapshot, whose entries this node never sees,
   * fails them with 'unknown' too. Added only through `awaitProposal`, so that insertion order is term order.
   */
  readonly pendingProposals = new Map<string, number>();
  proposalsWentTo: NodeId | null = null;

  /**
   * Wait for proposal `id`'s entry, of the current term. Terms never decrease, and an id proposed again goes to the
   * end, so `pendingProposals` stays in ascending term order: `maybeApply` stops at the first one still undecided.
   */
  awaitProposal(id: string): void {
    this.pendingProposals.delete(id);
    this.pendingProposals.set(id, this.currentTerm);
  }

  /** Heartbeat round of this leader; every broadcast starts a new one. */
  round = 0;
  /** When (driver clock) recent rounds were started, ascending by round, for leases. */
  readonly roundStarts: { readonly round: number; readonly at: number }[] = [];
  /** Reads waiting for a majority to answer `round`. */
  readonly pendingReads: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its own term (thesis 6.4: it must first). */
  readonly readsAwaitingCommit: { readonly ids: readonly string[]; readonly from: NodeId | null }[] = [];
  /** On a follower: reads sent to the leader for a read index. */
  readonly forwardedReads = new Set<string>();
  /**
   * Ids of forwarded proposals this node has decided (appended or rejected), most recent last, bounded: a network
   * that duplicates a forward must not make a leader append a proposal twice, or after rejecting it.
   */
  readonly decidedForwards = new Set<string>();
  /** Learners this leader promotes to voters once they have caught up. */
  readonly promoteWhenCaughtUp = new Set<NodeId>();
  /** The voter this leader is handing leadership to, if any. */
  transferTarget: NodeId | null = null;
  /** Restarted with state and no election timeout has passed since: still bound by leases it may have granted. */
  restartedRecently: boolean;
  /**
   * This leader sent TimeoutNow in its term: the target may campaign at any later moment (the message can be slow),
   * and voters grant a transfer vote inside a lease, so no lease of this term can be trusted any more.
   */
  leaseRevoked = false;
  /** This node has been a member of a configuration it knew (a node joining a cluster is not, at first). */
  everMember: boolean;
  /** Voters that said our removal is committed (`removedAt`), since our configuration last changed. */
  readonly removalNotices = new Set<NodeId>();
  /**
   * The heartbeat round of the latest message from the current leader, echoed in answers that are not direct replies
   * (a snapshot stored or restored later). The latest, not the highest: one forged round must not poison every answer.
   */
  leaderRound = 0;
  /**
   * The last index the current leader's appends confirmed this log matches its own (log matching), in its term:
   * what a `commitNotice` from that leader may commit. Null until an append from the current leader succeeds.
   */
  leaderConfirmed: { readonly term: number; readonly leader: NodeId; readonly index: number } | null = null;
  /**
   * A received snapshot whose last chunk is being stored (`stored` false) or is stored and being restored, with its
   * chunk count. Until `stored`, a crash loses it: answers say the last chunk is still to be taken.
   */
  installing: { readonly meta: SnapshotMeta; readonly chunks: number; stored: boolean } | null = null;

  /** The configuration in force at the log's starting point (before its first retained entry). */
  baseMembership: Membership;
  /** The latest snapshot stored on this node (taken here or installed from a leader). */
  snapshotMeta: SnapshotMeta | null;
  /** After a failed snapshot: the handed-to-apply index from which an automatic one may be tried again. */
  snapshotRetryAt = 0;
  /** This member's snapshot phase (compaction.ts) and the membership it was worked out for: asked on most applies. */
  snapshotPhase: { readonly membership: Membership; readonly phase: number } | null = null;
  /** A `takeSnapshot` is under way. */
  snapshotting = false;
  /** A snapshot arriving from the leader, until its last chunk is stored. */
  receiving: ReceivingSnapshot | null = null;

  /** Effects collected during the current input, handed to the driver by `flush`. */
  effects: Effect[] = [];

  constructor(options: RaftCoreOptions, commitsByCounting: (index: number) => boolean) {
    this.id = options.id;
    this.config = { ...defaultRaftConfig, ...options.config };
    if (this.config.heartbeatIntervalMs >= this.config.electionTimeoutMs) {
      throw new RangeError('heartbeatIntervalMs must be smaller than electionTimeoutMs');
    }
    this.commitsByCounting = commitsByCounting;
    this.initialMembership = membershipOf({ voters: [...options.voters], learners: [...(options.learners ?? [])], ...(options.addresses === undefined ? {} : { addresses: { ...options.addresses } }) });
    this.random = options.random;
    const recovered = options.recovered ?? { hardState: { term: 0, votedFor: null, commit: 0 }, entries: [] };
    const snapshot = recovered.snapshot ?? null;
    this.snapshotMeta = snapshot;
    this.baseMembership = snapshot === null ? this.initialMembership : membershipOf(snapshot);
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
    // The caller (RaftCore) then reads the configuration in force from the log (membershipChanges.membershipFromLog).
  }

  get voters(): readonly NodeId[] {
    return this.membership.voters;
  }

  get isVoter(): boolean {
    return this.membership.voters.includes(this.id);
  }

  /** Every other member: the nodes a leader replicates to. */
  peers(): NodeId[] {
    return [...this.membership.voters, ...this.membership.learners].filter((id) => id !== this.id);
  }

  /** Every other voter: the nodes a candidate asks for votes. */
  voterPeers(): NodeId[] {
    return this.membership.voters.filter((id) => id !== this.id);
  }

  /** Send now (see durability.reply for messages that must wait for durable state). */
  send(to: NodeId, message: RaftMessage): void {
    this.effects.push({ type: 'send', to, message });
  }

  /** Arm the election timer at a random time in [T, 2T), so that candidates rarely collide (paper 5.2). */
  /**
   * Arm the election timer for a random time in [T, T + T / priority). `leaderHeard`: we just heard from the current
   * leader, so the timer's failure detector may fire sooner once it knows the leader's rhythm (not with lease reads).
   */
  resetElectionTimer(leaderHeard = false): void {
    const base = this.config.electionTimeoutMs;
    const afterMs = base + Math.floor((this.random() * base) / this.config.electionPriority);
    if (leaderHeard && !this.config.leaseReads) this.effects.push({ type: 'resetElectionTimer', afterMs, leaderHeard });
    else this.effects.push({ type: 'resetElectionTimer', afterMs });
  }

  /** The effects collected since the last flush, in order; collection starts over. */
  flush(): Effect[] {
    const out = this.effects;
    this.effects = [];
    return out;
  }
}
