/**
 * The core's tunables, and their defaults. Checked at the node's boundary by src/nodeOptions.ts; documented for users
 * in the README's "Configuration".
 */

/** Tunables of the core. Times are in milliseconds of whatever clock the driver's timer uses. */
export interface RaftConfig {
  /** Base election timeout T. Followers wait a random time in [T, 2T) before campaigning; leaders check quorum every T. */
  readonly electionTimeoutMs: number;
  /** How often a leader sends heartbeats. Must be well below electionTimeoutMs. */
  readonly heartbeatIntervalMs: number;
  /** Most entries in one AppendEntries. */
  readonly maxEntriesPerMessage: number;
  /**
   * Most command text in one AppendEntries, counted as the length of the entries' encoded text: entries stop being
   * added once they reach it (one entry always goes, whatever its size). Keeps a message, and the network frame
   * carrying it, bounded when commands are large.
   */
  readonly maxBytesPerMessage: number;
  /**
   * Learners added with auto-promotion become voters once they are within this many entries of the leader's log.
   */
  readonly promoteWithinEntries: number;
  /**
   * Take a snapshot and compact the log once this many entries were applied since the last one (0: never). Members
   * take theirs at different points of each run of this many entries (see compaction.ts), from half of it on.
   */
  readonly snapshotThreshold: number;
  /**
   * Also take one once the commands applied since the last one add up to this size, counted as the length of their
   * encoded text (0: never). The log is kept in memory until compacted, so this bounds it when commands are large.
   */
  readonly snapshotThresholdBytes: number;
  /** Entries kept before a snapshot's index when compacting, so that a slightly slow follower needs no snapshot. */
  readonly snapshotTrailingEntries: number;
  /** Snapshot chunks a leader sends ahead of the follower's acknowledgements (more is faster but holds more memory). */
  readonly snapshotWindow: number;
  /** Most unacknowledged AppendEntries per follower in replicate mode. */
  readonly maxInflightMessages: number;
  /**
   * Nagle's rule for the log's tail: entries too few to fill a message (`maxEntriesPerMessage`) wait while this many
   * AppendEntries to the follower are unanswered, and go out together with the next answer. Under load, many small
   * appends (each a write and an answer on the follower) become a few large ones; with fewer in flight, entries go
   * at once, so a lone write waits for nothing; a follower catching up still gets full messages up to
   * `maxInflightMessages`.
   */
  readonly maxInflightTailMessages: number;
  /** Run a pre-vote round before a real election (Raft thesis 9.6). */
  readonly preVote: boolean;
  /** A leader steps down when it has not heard from a majority within an election timeout. */
  readonly checkQuorum: boolean;
  /** Followers forward proposals and read-index requests to the leader instead of failing them with NOT_LEADER. */
  readonly forwardToLeader: boolean;
  /**
   * Serve lease reads (off by default): a leader that a majority acknowledged within the last
   * `electionTimeoutMs × (1 - leaseClockDrift)` answers `lease` reads without a round trip. Safe only while clocks
   * drift by less than `leaseClockDrift` and with checkQuorum; a restarted node then waits an election timeout before
   * voting, so that no lease it granted before a crash is broken. When off, `lease` reads are served by ReadIndex.
   */
  readonly leaseReads: boolean;
  readonly leaseClockDrift: number;
  /**
   * How eagerly this node campaigns when it hears from no leader (default 1). Its election timeout is drawn from
   * [T, T + T / priority): a node of priority 4 times out within [T, 1.25 T) and usually leads; one of priority 0.5
   * within [T, 3 T). Never shorter than T, so leases and check-quorum keep their guarantees.
   */
  readonly electionPriority: number;
  /**
   * A leader tells its followers at once when its commit index moves (an empty append to each caught-up follower),
   * default true. Off, followers learn it with the next append or heartbeat, or from the leader's `commitNotice`: a
   * multi-Raft host turns it off and carries the commit in the notice that puts a group to sleep, which saves an
   * append and its answer per follower for every write to an idle group.
   */
  readonly commitHeartbeats: boolean;
}

export const defaultRaftConfig: RaftConfig = {
  electionTimeoutMs: 1000,
  heartbeatIntervalMs: 100,
  maxEntriesPerMessage: 256,
  maxBytesPerMessage: 1024 * 1024,
  promoteWithinEntries: 256,
  snapshotThreshold: 8192,
  snapshotThresholdBytes: 64 * 1024 * 1024,
  snapshotTrailingEntries: 1024,
  snapshotWindow: 2,
  maxInflightMessages: 64,
  maxInflightTailMessages: 2,
  preVote: true,
  checkQuorum: true,
  forwardToLeader: true,
  leaseReads: false,
  leaseClockDrift: 0.1,
  electionPriority: 1,
  commitHeartbeats: true,
};
