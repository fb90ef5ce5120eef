/**
 * The vocabulary of the pure Raft core: identifiers, log entries, wire messages, inputs and effects.
 *
 * Nothing here performs I/O. The core consumes inputs and returns effects; a driver (the node statechart in
 * production, the simulator in tests) performs the effects and feeds completions back as inputs.
 */

/** A node's stable identity inside one cluster. */
export type NodeId = string;

/**
 * What a log entry carries. `noop` is appended by every new leader so that it can commit entries of older terms;
 * `config` carries a cluster membership (plain JSON, see membership.ts) that takes effect when appended.
 */
export type EntryKind = 'command' | 'noop' | 'config';

/**
 * One log entry. `data` is the command exactly as it was encoded once at proposal time (superjson text); the core
 * never looks inside it.
 */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly kind: EntryKind;
  readonly data: string;
  /**
   * The id of the proposal that created a command entry, so that the node where it was proposed (the leader, or a
   * follower that forwarded it) can hand the result back to its caller when the entry is applied.
   */
  readonly id?: string;
  /** For commands sent through a client session: what makes a retry of the same request apply only once. */
  readonly session?: SessionTag;
}

/**
 * Identifies a request of a client session (Raft thesis 6.3). The state machine applies each (client, seq) at most
 * once and remembers its result until the client acknowledges it (`ack`: every seq below it has been answered).
 * `seq` 0 registers the session. `at` is the proposer's clock: once in the log it is replicated time, so every node
 * expires the same sessions at the same entry.
 */
export interface SessionTag {
  readonly client: string;
  readonly seq: number;
  readonly ack: number;
  readonly at: number;
}

/**
 * What must survive a crash besides the log (Raft paper, Figure 2 "Persistent state on all servers").
 * Invariant: `commit` never exceeds the last index of the durable log it was saved with.
 */
export interface HardState {
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly commit: number;
}

/** Pre-vote and vote request. A pre-vote carries the term the candidate *would* use and changes no state. */
export interface RequestVote {
  readonly type: 'RequestVote';
  readonly term: number;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly preVote: boolean;
  /** Set by a candidate campaigning on the leader's TimeoutNow: voters grant it even while they know a leader. */
  readonly transfer?: boolean;
}

/**
 * What a snapshot stands for: the state after applying every entry up to `index` (whose term is `term`), and the
 * configuration in force at that index.
 */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** The members' addresses, when the configuration has them. */
  readonly addresses?: Readonly<Record<NodeId, string>>;
}

/**
 * One chunk of the leader's snapshot for a follower whose needed entries were compacted away (paper section 7).
 * Chunks are numbered from 0; the leader keeps at most `snapshotWindow` of them unacknowledged, and the follower
 * takes them only in order, so memory stays bounded by a few chunks on both sides.
 */
export interface InstallSnapshot {
  readonly type: 'InstallSnapshot';
  readonly term: number;
  /** The leader's heartbeat round when it sent this chunk (see AppendEntries.round). */
  readonly round: number;
  readonly meta: SnapshotMeta;
  readonly chunk: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}

export interface InstallSnapshotResponse {
  readonly type: 'InstallSnapshotResponse';
  readonly term: number;
  /** The snapshot index this answers. */
  readonly index: number;
  /** The chunk the follower expects next (0 to start over). */
  readonly nextChunk: number;
  /** The snapshot is installed: the follower's log matches the leader's up to `index`. */
  readonly installed: boolean;
  /**
   * The leader's heartbeat round this answers (the `round` of the InstallSnapshot it answers, or the leader's round
   * echoed by a follower still restoring): a follower busy with a snapshot still confirms reads and leases.
   */
  readonly round: number;
}

/** Leadership transfer: the leader tells an up-to-date voter to campaign at once (thesis 3.10). */
export interface TimeoutNow {
  readonly type: 'TimeoutNow';
  readonly term: number;
}

export interface RequestVoteResponse {
  readonly type: 'RequestVoteResponse';
  /** For a granted pre-vote, the term that was asked for; otherwise the voter's current term. */
  readonly term: number;
  readonly granted: boolean;
  readonly preVote: boolean;
  /**
   * Set when the voter's committed configuration, the one at this log index, no longer holds the candidate: the
   * candidate was removed and must stop campaigning (unless its own configuration is a later one).
   */
  readonly removedAt?: number;
}

export interface AppendEntries {
  readonly type: 'AppendEntries';
  readonly term: number;
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
  /**
   * The leader's heartbeat round when this message was sent; echoed in the response. A read is confirmed once a
   * majority has answered a round started after the read arrived (ReadIndex, Raft thesis 6.4).
   */
  readonly round: number;
}

export interface AppendEntriesResponse {
  readonly type: 'AppendEntriesResponse';
  readonly term: number;
  readonly success: boolean;
  /**
   * On success: the highest index known to match the leader's log (prevLogIndex + entries.length).
   * On rejection: the prevLogIndex that was rejected, so that the leader can ignore stale rejections.
   */
  readonly index: number;
  /**
   * Fast backtracking (etcd's RejectHint/LogTerm): on rejection, the largest index at or below the rejected one whose
   * term is at most `prevLogTerm`, and that entry's term. The leader can skip a whole term per round trip.
   */
  readonly hintIndex: number;
  readonly hintTerm: number;
  /** The `round` of the AppendEntries this answers. */
  readonly round: number;
}

/** A follower asks the leader to replicate proposals made on the follower. */
export interface ForwardProposals {
  readonly type: 'ForwardProposals';
  readonly term: number;
  readonly proposals: readonly Proposal[];
}

/**
 * Sent only when the receiver could not append forwarded proposals (it is not the leader). Accepted proposals need no
 * answer: the forwarding node recognizes their entries by id when it applies them.
 */
export interface ForwardProposalsResponse {
  readonly type: 'ForwardProposalsResponse';
  readonly term: number;
  readonly rejected: readonly string[];
  readonly leaderHint: NodeId | null;
}

/** A follower asks the leader for a read index on behalf of its own readers. */
export interface ReadIndexRequest {
  readonly type: 'ReadIndexRequest';
  readonly term: number;
  readonly requestIds: readonly string[];
}

/** The confirmed read index for the requests, or null when the leader could not confirm its leadership. */
export interface ReadIndexResponse {
  readonly type: 'ReadIndexResponse';
  readonly term: number;
  readonly requestIds: readonly string[];
  readonly index: number | null;
  readonly leaderHint: NodeId | null;
}

/** Every message the core sends or receives between peers. */
export type RaftMessage =
  | RequestVote
  | RequestVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | ForwardProposals
  | ForwardProposalsResponse
  | ReadIndexRequest
  | ReadIndexResponse
  | TimeoutNow
  | InstallSnapshot
  | InstallSnapshotResponse;

/** A message addressed to a peer. */
export interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: RaftMessage;
}

/**
 * A node's part in the protocol. `removed`: a committed configuration no longer holds this node; it never campaigns
 * or votes again (a node id, once removed, does not come back: a new member takes a new id).
 */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader' | 'removed';

/** A proposal handed to the core: an id chosen by the caller and the already-encoded command. */
export interface Proposal {
  readonly id: string;
  readonly data: string;
  readonly session?: SessionTag;
}

/** Why a proposal or a read failed inside the core. */
export type ProposalFailure =
  /**
   * Certainly not committed: no leader took it, or its entry was overwritten by another leader's. Retrying is safe.
   */
  | { readonly code: 'NOT_LEADER'; readonly leaderHint: NodeId | null; readonly outcome: 'not-appended' }
  /**
   * Leadership was lost after the entry was appended but before it committed: a later leader may still commit it.
   * (hashicorp/raft's ErrLeadershipLost has the same meaning.)
   */
  | { readonly code: 'NOT_LEADER'; readonly leaderHint: NodeId | null; readonly outcome: 'unknown' };

/**
 * Effects the core asks its driver to perform. The driver performs them in order.
 *
 * - `persist`: write the hard state, an optional truncation and new entries atomically (truncating from `truncateFrom` first when present), then
 *   report `persisted(writeId)`. Writes complete in the order they were issued. `background`: a leader's append of
 *   its own new entries, which it has sent to its followers already and whose acknowledgements can commit them
 *   without its own; the driver may make it durable off its thread (still reported only once durable, in order).
 * - `send`: deliver a message to a peer. Messages whose correctness depends on durable state (votes, append
 *   acknowledgements) are held back by the core until the writes they depend on are reported durable.
 * - `apply`: hand committed entries to the state machine, in index order, then report `applied(lastIndex)`.
 *   `proposals` maps an entry index to the id of the local proposal it carries.
 * - `resetElectionTimer` / `resetHeartbeatTimer` / `cancelHeartbeatTimer`: (re)arm or disarm the two timers; a fired
 *   timer is reported as `electionTimeout()` / `heartbeatDue()`. `leaderHeard`: the reset follows a valid message from
 *   the current leader, so a failure detector may learn its rhythm and fire earlier than `afterMs` (never set with
 *   lease reads, whose safety needs followers to wait a whole election timeout).
 * - `proposalFailed`: reject a pending proposal.
 * - `readReady`: the reads may be served from the state machine once it has applied `index` (linearizable).
 * - `readFailed`: the reads could not be confirmed (no leader, or leadership lost); they may be retried.
 * - `roleChanged`, `leaderChanged`, `membershipChanged`: observability (membership takes effect when appended).
 * - `transferAborted`: a leadership transfer did not complete: no new leader within an election timeout, the leader
 *   stepped down, or the target left the configuration.
 * - `refused`: a message from `from` broke a protocol invariant (entries not contiguous, a term above the message's,
 *   an answer to a question never asked, ...); the core changed nothing. Drivers log it with its sender.
 * - `takeSnapshot`: snapshot the state machine once it has applied everything handed to it (that is `meta.index`),
 *   store it, then report `snapshotSaved(meta)` (or `snapshotFailed()`).
 * - `compactLog`: the log store may delete entries up to `through` (a snapshot covers them).
 * - `readSnapshotChunk`: read chunk `chunk` of the stored snapshot for follower `to`; report `snapshotChunkRead`.
 * - `writeSnapshotChunk`: store a chunk of a snapshot arriving from the leader; report `snapshotChunkWritten`; once
 *   the last chunk is stored and reported, the core answers with `restoreSnapshot`.
 * - `restoreSnapshot`: replace the state machine's state with the stored snapshot (after any apply handed out
 *   before, before any handed out after); report `snapshotRestored(meta)`.
 */
export type Effect =
  | {
      readonly type: 'persist';
      readonly writeId: number;
      readonly hardState: HardState;
      readonly truncateFrom: number | null;
      readonly entries: readonly Entry[];
      readonly background?: true;
    }
  | { readonly type: 'send'; readonly to: NodeId; readonly message: RaftMessage }
  | { readonly type: 'apply'; readonly entries: readonly Entry[]; readonly proposals: ReadonlyMap<number, string> }
  | { readonly type: 'resetElectionTimer'; readonly afterMs: number; readonly leaderHeard?: true }
  | { readonly type: 'resetHeartbeatTimer'; readonly afterMs: number }
  | { readonly type: 'cancelHeartbeatTimer' }
  | { readonly type: 'proposalFailed'; readonly id: string; readonly failure: ProposalFailure }
  | { readonly type: 'readReady'; readonly ids: readonly string[]; readonly index: number }
  | { readonly type: 'readFailed'; readonly ids: readonly string[]; readonly leaderHint: NodeId | null }
  | {
      readonly type: 'membershipChanged';
      readonly voters: readonly NodeId[];
      readonly learners: readonly NodeId[];
      readonly addresses?: Readonly<Record<NodeId, string>>;
    }
  | { readonly type: 'transferAborted'; readonly target: NodeId; readonly reason: string }
  | { readonly type: 'refused'; readonly from: NodeId; readonly messageType: RaftMessage['type']; readonly reason: string }
  | { readonly type: 'takeSnapshot'; readonly meta: SnapshotMeta }
  | { readonly type: 'compactLog'; readonly through: number }
  | { readonly type: 'readSnapshotChunk'; readonly to: NodeId; readonly meta: SnapshotMeta; readonly chunk: number }
  | { readonly type: 'writeSnapshotChunk'; readonly meta: SnapshotMeta; readonly chunk: number; readonly data: Uint8Array; readonly done: boolean }
  | { readonly type: 'restoreSnapshot'; readonly meta: SnapshotMeta }
  | { readonly type: 'roleChanged'; readonly role: Role; readonly term: number }
  | { readonly type: 'leaderChanged'; readonly leader: NodeId | null; readonly term: number };

// The tunables (RaftConfig and its defaults) have a file of their own; importers of the core's types still find them here.
export { defaultRaftConfig, type RaftConfig } from './config.js';

/** What a node recovers from its log store before it starts. */
export interface RecoveredState {
  readonly hardState: HardState;
  /** The stored snapshot, if any; the state machine has been restored from it before the core starts. */
  readonly snapshot?: SnapshotMeta | null;
  /** The log after the snapshot (entries at or before `snapshot.index` are not included). */
  readonly entries: readonly Entry[];
}

/** A source of uniform random numbers in [0, 1). Injected so that runs are reproducible. */
export type RandomSource = () => number;
