/**
 * The Raft protocol as a pure, synchronous, deterministic object: every input method returns the effects it asks its
 * driver to perform. No I/O, no timers, no promises; time arrives as timer events and randomness from the injected
 * source, so the same inputs always give the same effects.
 *
 * This file is the public face and the dispatch: `RaftCore` holds one `CoreState` (state.ts) and hands each input to
 * the file of its concept, the way etcd-raft splits raft.go, log.go, tracker/, quorum/ and read_only.go:
 *
 * - terms.ts: the term rules every message passes first
 * - election.ts: pre-vote, votes, check-quorum, the leader lease voters honour, removal notices (`removedAt`)
 * - roles.ts: role changes and the transitions allowed between them
 * - leaderReplication.ts, followerReplication.ts, commit.ts: AppendEntries on both sides; commit and apply
 * - proposals.ts: proposing, forwarding to the leader, deciding forwarded proposals once
 * - readIndex.ts: ReadIndex by heartbeat rounds, and leases
 * - snapshotSend.ts, snapshotReceive.ts, compaction.ts: snapshots sent, installed, taken; log compaction
 * - transfer.ts: leadership transfer (TimeoutNow)
 * - membershipChanges.ts: configuration entries, promotion, removal and hand-over (membership.ts: the pure rules)
 * - durability.ts: writes, the durable index, and replies held until what they say is durable
 * - messageChecks.ts, contradictions.ts: messages refused whole, by shape and against what this node knows
 *
 * Durability rule (Raft paper, Figure 2; lolraft's "Persistent States"): a message whose meaning depends on durable
 * state (a granted vote, an append acknowledgement, a vote request carrying our own vote) is held back until every
 * write issued before it has been reported durable. A leader sends AppendEntries in parallel with its own write but
 * counts itself in the commit quorum only up to its durable index.
 */
import { maybeApply, maybeCommit } from './commit.js';
import { appliedThrough, compactThrough, snapshotFailed, startSnapshot } from './compaction.js';
import { contradiction } from './contradictions.js';
import { writesDurable } from './durability.js';
import { answerRemovedCandidate, checkQuorum, handleRequestVote, handleVoteResponse, leaderUnreachable, learnRemoval, ownVoteDurable, startElection, waitForLeader } from './election.js';
import { handleAppendEntries, learnCommit } from './followerReplication.js';
import { handleAppendResponse } from './leaderReplication.js';
import type { Membership, MembershipChange } from './membership.js';
import { membershipFromLog, proposeChange } from './membershipChanges.js';
import { messageProblem } from './messageChecks.js';
import { handleForwardProposals, handleForwardProposalsResponse, propose, refuseAsNotLeader } from './proposals.js';
import { broadcastHeartbeat, handleReadIndexRequest, handleReadIndexResponse, readLocally } from './readIndex.js';
import { setRole } from './roles.js';
import { chunkWritten, handleInstallSnapshot, restored } from './snapshotReceive.js';
import { chunkMissing, chunkRead, handleInstallSnapshotResponse } from './snapshotSend.js';
import { CoreState, type CoreStatus, type RaftCoreOptions } from './state.js';
import { termAllowsStep } from './terms.js';
import { abortTransfer, handleTimeoutNow, transferLeadership } from './transfer.js';
import type { Effect, Entry, NodeId, Proposal, RaftConfig, RaftMessage, Role, SnapshotMeta } from './types.js';

export type { CoreStatus, RaftCoreOptions } from './state.js';

export class RaftCore {
  readonly id: NodeId;
  readonly config: RaftConfig;
  /** Everything this node knows; the concept files operate on it. */
  private readonly state: CoreState;

  constructor(options: RaftCoreOptions) {
    // The Figure 8 rule is reached through this instance, so that a prototype override takes effect (see below).
    this.state = new CoreState(options, (index) => this.commitsByCounting(index));
    this.id = this.state.id;
    this.config = this.state.config;
    membershipFromLog(this.state);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Read-only views

  get role(): Role {
    return this.state.currentRole;
  }
  get term(): number {
    return this.state.currentTerm;
  }
  get leader(): NodeId | null {
    return this.state.leaderId;
  }
  get commitIndex(): number {
    return this.state.commit;
  }
  get appliedIndex(): number {
    return this.state.applied;
  }
  get lastIndex(): number {
    return this.state.log.lastIndex;
  }
  get stableIndex(): number {
    return this.state.stable;
  }
  /** Index of the latest snapshot stored on this node (0 without one). */
  get snapshotIndex(): number {
    return this.state.snapshotMeta?.index ?? 0;
  }
  /** The configuration in force (the latest in the log). */
  get members(): Membership {
    return this.state.membership;
  }

  termAt(index: number): number | undefined {
    return this.state.log.termAt(index);
  }

  entryAt(index: number): Entry | undefined {
    return this.state.log.entryAt(index);
  }

  /** Entries in [from, to], inclusive. */
  entries(from: number, to: number): Entry[] {
    return this.state.log.slice(from, to);
  }

  status(): CoreStatus {
    const state = this.state;
    return {
      id: state.id,
      role: state.currentRole,
      term: state.currentTerm,
      votedFor: state.votedFor,
      leader: state.leaderId,
      commitIndex: state.commit,
      appliedIndex: state.applied,
      lastIndex: state.log.lastIndex,
      lastTerm: state.log.lastTerm,
      stableIndex: state.stable,
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Inputs

  /**
   * Begin operating: arm the election timer and apply what the recovered log already knows to be committed.
   */
  start(): Effect[] {
    this.state.resetElectionTimer();
    maybeApply(this.state);
    // The only voter needs nobody's vote: a bootstrapped single-node cluster leads at once (lolraft's
    // "immediate self-vote after init_cluster").
    if (this.state.isVoter && this.state.voters.length === 1) startElection(this.state, false);
    return this.state.flush();
  }

  /** Campaign now instead of waiting for the election timer (a single-node bootstrap, or a forced election). */
  campaign(): Effect[] {
    if (this.state.currentRole !== 'leader' && this.state.currentRole !== 'removed') startElection(this.state, false);
    return this.state.flush();
  }

  /** The election timer fired. */
  electionTimeout(): Effect[] {
    const state = this.state;
    state.restartedRecently = false;
    if (state.currentRole === 'removed') return [];
    if (state.currentRole === 'leader') {
      abortTransfer(state, 'the target did not take over within an election timeout');
      checkQuorum(state);
    } else if (state.isVoter) {
      startElection(state, state.config.preVote);
    } else {
      waitForLeader(state);
    }
    return state.flush();
  }

  /**
   * The transport cannot reach `peer` now (its connection broke, or could not be made). A follower that loses its
   * leader this way campaigns (pre-vote first) within a heartbeat interval instead of an election timeout.
   */
  peerUnreachable(peer: NodeId): Effect[] {
    leaderUnreachable(this.state, peer);
    return this.state.flush();
  }

  /**
   * Propose a membership change (one server at a time). Throws MembershipError when the change is invalid or another
   * change is still uncommitted; on a non-leader the proposal fails with NOT_LEADER. Resolves, like a proposal, when
   * its entry is applied. With `promoteWhenCaughtUp`, a learner added here becomes a voter once it has caught up.
   */
  changeMembership(id: string, change: MembershipChange, options: { readonly promoteWhenCaughtUp?: boolean } = {}): Effect[] {
    if (this.state.currentRole !== 'leader' || this.state.transferTarget !== null) refuseAsNotLeader(this.state, id);
    else proposeChange(this.state, id, change, options.promoteWhenCaughtUp === true);
    return this.state.flush();
  }

  /**
   * Hand leadership to `target` (or the most up-to-date voter): bring it up to date, then tell it to campaign at
   * once (TimeoutNow). Proposals fail with NOT_LEADER naming the target meanwhile. Aborted with `transferAborted`
   * when it has not happened within an election timeout.
   */
  transferLeadership(target?: NodeId): Effect[] {
    transferLeadership(this.state, target);
    return this.state.flush();
  }

  /** The heartbeat timer fired. `now` is the driver's clock in ms, needed only for lease reads. */
  heartbeatDue(now?: number): Effect[] {
    if (this.state.currentRole === 'leader') {
      broadcastHeartbeat(this.state, now, true);
      this.state.effects.push({ type: 'resetHeartbeatTimer', afterMs: this.state.config.heartbeatIntervalMs });
    }
    return this.state.flush();
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
    readLocally(this.state, ids, options.lease === true, options.now);
    return this.state.flush();
  }

  /**
   * Append proposals to the leader's log as one batch and start replicating them. On a non-leader every proposal
   * fails at once with NOT_LEADER (or is forwarded to the leader, when forwarding is on and a leader is known).
   */
  propose(proposals: readonly Proposal[]): Effect[] {
    if (proposals.length === 0) return [];
    propose(this.state, proposals);
    return this.state.flush();
  }

  /** A write issued as `persist(writeId)` (and every write before it) is now durable. */
  persisted(writeId: number): Effect[] {
    writesDurable(this.state, writeId);
    ownVoteDurable(this.state, writeId);
    if (this.state.currentRole === 'leader') maybeCommit(this.state);
    return this.state.flush();
  }

  /**
   * The leader `from` says everything through `commit` is committed in `term` (a multi-Raft host's quiesce notice):
   * a follower of it commits through what its appends confirmed here. Ignored otherwise.
   */
  commitNotice(from: NodeId, term: number, commit: number): Effect[] {
    learnCommit(this.state, from, term, commit);
    return this.state.flush();
  }

  /** The state machine has applied every entry up to `index`. */
  appliedTo(index: number): Effect[] {
    appliedThrough(this.state, index);
    return this.state.flush();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Snapshots (paper section 7)

  /** Take a snapshot now (if one is not under way and there is something new to cover). */
  snapshotNow(): Effect[] {
    startSnapshot(this.state);
    return this.state.flush();
  }

  /** The snapshot asked for by `takeSnapshot` is durable: compact the log behind it. */
  snapshotSaved(meta: SnapshotMeta): Effect[] {
    const state = this.state;
    state.snapshotting = false;
    if (meta.index > (state.snapshotMeta?.index ?? 0)) state.snapshotMeta = meta;
    compactThrough(state, meta.index - state.config.snapshotTrailingEntries);
    return state.flush();
  }

  /** Taking or storing the snapshot failed; another threshold's worth of applied entries later, it is tried again. */
  snapshotFailed(): Effect[] {
    snapshotFailed(this.state);
    return this.state.flush();
  }

  /** Leader: a chunk of the stored snapshot, read for follower `to` (answering `readSnapshotChunk`). */
  snapshotChunkRead(to: NodeId, meta: SnapshotMeta, chunk: number, data: Uint8Array, done: boolean): Effect[] {
    return chunkRead(this.state, to, meta, chunk, data, done);
  }

  /**
   * Leader: chunk `chunk` does not exist. Beyond the chunk the follower needs next, that is the window reading past
   * the end (reads may be answered out of order); the very chunk it needs missing means the stored snapshot was
   * replaced: send the current one from the start. If this core does not know of a newer snapshot yet, the store is
   * still replacing it, and would give the same answer to a question asked at once (without I/O, in a loop that
   * never yields to the event loop): the next heartbeat asks again.
   */
  snapshotChunkMissing(to: NodeId, chunk: number): Effect[] {
    return chunkMissing(this.state, to, chunk);
  }

  /**
   * Follower: a chunk of the leader's snapshot is stored. After the last one the core starts over from the snapshot:
   * it asks for the state machine to be restored (`restoreSnapshot`) and reports `snapshotRestored` when done.
   */
  snapshotChunkWritten(meta: SnapshotMeta, chunk: number, done: boolean): Effect[] {
    return chunkWritten(this.state, meta, chunk, done);
  }

  /** Follower: the state machine now holds the installed snapshot's state. */
  snapshotRestored(meta: SnapshotMeta): Effect[] {
    return restored(this.state, meta);
  }

  /**
   * A message from a peer. One that breaks a protocol invariant is refused whole (a `refused` effect names the sender
   * and the reason) and changes nothing: no message from the network may stop or wedge a node.
   */
  receive(from: NodeId, message: RaftMessage): Effect[] {
    // Who may talk to this node is decided at the network boundary; a node joining a cluster hears from a leader
    // that is not (yet) in its configuration.
    if (from === this.state.id || this.state.currentRole === 'removed') return [];
    const problem = messageProblem(message) ?? contradiction(this.state, from, message);
    if (problem !== null) {
      this.state.effects.push({ type: 'refused', from, messageType: message.type, reason: problem });
      return this.state.flush();
    }
    this.step(from, message);
    return this.state.flush();
  }

  /**
   * Figure 8 (paper 5.4.2): a leader commits by counting replicas only an entry of its own term; older entries commit
   * with it. @internal A method of its own, the single place the rule is decided (commit.ts calls it through this
   * instance), so that a test can break the rule on purpose and see the checks catch it.
   */
  commitsByCounting(index: number): boolean {
    return this.state.log.termAt(index) === this.state.currentTerm;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Message handling

  /**
   * One checked message: client work (forwards, reads) first, whatever the sender's term; then a removed candidate
   * is told so; then the term rules of the paper (5.1: a newer term makes us follow it, an older one is answered so
   * that its sender learns ours); then the message's own concept.
   */
  private step(from: NodeId, message: RaftMessage): void {
    const state = this.state;
    switch (message.type) {
      case 'ForwardProposals':
        handleForwardProposals(state, from, message);
        return;
      case 'ForwardProposalsResponse':
        handleForwardProposalsResponse(state, message);
        return;
      case 'ReadIndexRequest':
        handleReadIndexRequest(state, from, message);
        return;
      case 'ReadIndexResponse':
        handleReadIndexResponse(state, message);
        return;
      case 'RequestVote':
        if (answerRemovedCandidate(state, from, message)) return;
        break;
      case 'RequestVoteResponse':
        if (message.removedAt !== undefined) {
          learnRemoval(state, from, message.removedAt);
          return;
        }
        break;
    }
    if (!termAllowsStep(state, from, message)) return;

    switch (message.type) {
      case 'RequestVote':
        handleRequestVote(state, from, message);
        return;
      case 'RequestVoteResponse':
        handleVoteResponse(state, from, message);
        return;
      case 'AppendEntries':
        handleAppendEntries(state, from, message);
        return;
      case 'AppendEntriesResponse':
        handleAppendResponse(state, from, message);
        return;
      case 'InstallSnapshot':
        handleInstallSnapshot(state, from, message);
        return;
      case 'InstallSnapshotResponse':
        handleInstallSnapshotResponse(state, from, message);
        return;
      case 'TimeoutNow':
        handleTimeoutNow(state);
        return;
    }
  }

  /** The guard on role changes, reached directly by a unit test: no public input asks for a forbidden transition. */
  private setRole(role: Role): void {
    setRole(this.state, role);
  }
}
