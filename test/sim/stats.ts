/** What a simulated run counts, and what it returns. */

export interface SimStats {
  steps: number;
  healSteps: number;
  virtualTimeMs: number;
  /** Virtual time from the heal until the liveness probe was applied everywhere. */
  recoveryMs: number;
  leaderTerms: number;
  highestTerm: number;
  committedIndex: number;
  crashes: number;
  lostWrites: number;
  partitions: number;
  proposals: number;
  acknowledged: number;
  failedNotAppended: number;
  failedUnknown: number;
  messagesSent: number;
  messagesDropped: number;
  messagesDuplicated: number;
  /** Key-value client operations started, answered, abandoned at their deadline; attempts they took. */
  clientOperations: number;
  clientCompleted: number;
  clientAbandoned: number;
  clientAttempts: number;
  /** Client reads a leader answered at once from its lease. */
  leaseReads: number;
  /** Membership goals reached (of the schedule's), and nodes stopped for good after their removal. */
  membershipGoals: number;
  /** Of those, the goals reached before the heal, under faults. */
  membershipGoalsUnderFaults: number;
  decommissioned: number;
  /** Leaders crashed in the Figure 8 shape. */
  figure8Crashes: number;
  /** Snapshots taken and made durable by the nodes themselves. */
  snapshotsTaken: number;
  /** Snapshots installed from a leader (state machine restored), and state machines restored at a restart. */
  snapshotInstalls: number;
  snapshotRecoveries: number;
  /** InstallSnapshot chunks delivered. */
  snapshotChunksDelivered: number;
  /** Crashes of a leader while it was sending a snapshot, and of a follower with a received snapshot half written. */
  installCrashesLeader: number;
  installCrashesFollower: number;
  /** Crashes while a node's own snapshot was being written (the pending snapshot is lost). */
  takeCrashes: number;
  /** Leadership transfers asked for (targeted, untargeted), how they settled, and their targets crashed mid-way. */
  transfers: number;
  transfersUntargeted: number;
  transfersSucceeded: number;
  transfersAborted: number;
  transferTargetCrashes: number;
  /** TimeoutNow messages held back on purpose (delivered late). */
  lateTimeoutNows: number;
  /** Lease reads asked for right after a transfer began. */
  leaseReadsAfterTransfer: number;
  /** Forged messages a misbehaving peer injected. */
  forgedMessages: number;
  /** Voters removed while they keep running (the leader, or a follower). */
  removedRunning: number;
  /** Session requests that reached the log again after their client moved on, answered without being applied. */
  staleRetriesRefused: number;
  /** Terms begun after the first leader was elected (in a calm run, `--jitter`, each is a spurious election). */
  termsAfterFirstLeader: number;
}

export function emptyStats(): SimStats {
  return {
    steps: 0, healSteps: 0, virtualTimeMs: 0, recoveryMs: 0, leaderTerms: 0, highestTerm: 0, committedIndex: 0,
    crashes: 0, lostWrites: 0, partitions: 0, proposals: 0, acknowledged: 0, failedNotAppended: 0, failedUnknown: 0,
    messagesSent: 0, messagesDropped: 0, messagesDuplicated: 0, clientOperations: 0, clientCompleted: 0, clientAbandoned: 0,
    clientAttempts: 0, leaseReads: 0, membershipGoals: 0, membershipGoalsUnderFaults: 0, decommissioned: 0, figure8Crashes: 0,
    snapshotsTaken: 0, snapshotInstalls: 0, snapshotRecoveries: 0, snapshotChunksDelivered: 0, installCrashesLeader: 0,
    installCrashesFollower: 0, takeCrashes: 0, transfers: 0, transfersUntargeted: 0, transfersSucceeded: 0, transfersAborted: 0,
    transferTargetCrashes: 0, lateTimeoutNows: 0, leaseReadsAfterTransfer: 0, forgedMessages: 0, removedRunning: 0,
    staleRetriesRefused: 0, termsAfterFirstLeader: 0,
  };
}

export interface SimFailure {
  readonly invariant: string;
  readonly message: string;
  readonly step: number;
  readonly timeMs: number;
}

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly ok: boolean;
  readonly traceHash: string;
  readonly failure?: SimFailure;
  readonly stats: SimStats;
  /** The options that replay needs besides seed, nodes and steps, as CLI flags (see replayCommandOf). */
  readonly flags: string;
  /** Wall-clock time of the linearizability check (not part of the deterministic stats). */
  readonly linearizabilityCheckMs: number;
  readonly trace?: readonly string[];
}
