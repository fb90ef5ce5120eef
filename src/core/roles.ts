/**
 * Role changes: follower, pre-candidate, candidate, leader, removed, and who this node believes leads.
 *
 * Only the transitions in `allowedTransitions` happen; any other is a bug in the core and throws (etcd-raft's
 * "invalid transition") instead of limping on. Leaving leadership always fails the leader's pending reads, aborts its
 * transfer and forgets its followers' progress; a change of leader fails what was forwarded to the previous one.
 */
import { saveHardState } from './durability.js';
import { appendAsLeader } from './leaderReplication.js';
import { Progress } from './progress.js';
import { failLeaderReads } from './readIndex.js';
import type { CoreState } from './state.js';
import { abortTransfer } from './transfer.js';
import type { NodeId, Role } from './types.js';

/** The role changes Raft allows (a single voter goes follower -> candidate -> leader without pre-vote). */
const allowedTransitions: Readonly<Record<Role, readonly Role[]>> = {
  follower: ['preCandidate', 'candidate', 'removed'],
  preCandidate: ['follower', 'candidate', 'removed'],
  // A candidate whose election times out starts over with a pre-vote (etcd-raft allows it too).
  candidate: ['follower', 'preCandidate', 'leader', 'removed'],
  leader: ['follower', 'removed'],
  removed: [],
};

/** Follow `leader` (or nobody yet) in `term`. `cause` is the peer whose message made us step down, if one did. */
export function becomeFollower(core: CoreState, term: number, leader: NodeId | null, cause?: NodeId): void {
  const wasLeader = core.currentRole === 'leader';
  // Once TimeoutNow went out, or when a newer term makes us step down, the transfer may be happening right now: who
  // leads next decides (the node's runtime settles the caller then, or at its deadline), not this step-down.
  const transferUndecided = core.leaseRevoked || term > core.currentTerm || (cause !== undefined && cause === core.transferTarget);
  if (term > core.currentTerm) {
    core.currentTerm = term;
    core.votedFor = null;
    saveHardState(core);
  }
  if (wasLeader) stopLeading(core, leader, transferUndecided ? null : 'the leader stepped down');
  core.votes.clear();
  core.selfVoteWriteId = 0;
  setRole(core, 'follower');
  setLeader(core, leader);
  core.resetElectionTimer(leader !== null);
}

/** A committed configuration leaves this node out: it never campaigns, votes or leads again. */
export function becomeRemoved(core: CoreState): void {
  if (core.currentRole === 'leader') stopLeading(core, null, 'the leader was removed');
  core.votes.clear();
  core.selfVoteWriteId = 0;
  setRole(core, 'removed');
  setLeader(core, null);
}

export function becomeLeader(core: CoreState): void {
  setRole(core, 'leader');
  core.leaseRevoked = false;
  setLeader(core, core.id);
  core.votes.clear();
  core.progress.clear();
  core.roundStarts.length = 0;
  for (const peer of core.peers()) core.progress.set(peer, new Progress(core.log.lastIndex + 1));
  // Check quorum once per election timeout; heartbeats at their own pace.
  core.effects.push({ type: 'resetElectionTimer', afterMs: core.config.electionTimeoutMs });
  core.effects.push({ type: 'resetHeartbeatTimer', afterMs: core.config.heartbeatIntervalMs });
  // A new leader commits an entry of its own term at once, which commits everything before it (paper 5.4.2).
  appendAsLeader(core, [{ index: core.log.lastIndex + 1, term: core.currentTerm, kind: 'noop', data: '' }]);
}

/**
 * What a leader leaves behind when it stops leading: its heartbeats, followers' progress, reads and transfer (aborted
 * for `reason`, or, with null, handed over to its target).
 */
function stopLeading(core: CoreState, leaderHint: NodeId | null, reason: string | null): void {
  core.effects.push({ type: 'cancelHeartbeatTimer' });
  core.progress.clear();
  failLeaderReads(core, leaderHint);
  if (reason === null) core.transferTarget = null;
  else abortTransfer(core, reason);
  core.promoteWhenCaughtUp.clear();
}

export function setRole(core: CoreState, role: Role): void {
  if (role === core.currentRole) return;
  if (!allowedTransitions[core.currentRole].includes(role)) {
    // etcd-raft's habit: a transition the protocol forbids is a bug; stop rather than limp on.
    throw new Error(`invalid transition [${core.currentRole} -> ${role}] on ${core.id} in term ${core.currentTerm}`);
  }
  core.currentRole = role;
  core.effects.push({ type: 'roleChanged', role, term: core.currentTerm });
}

/** Fail every pending proposal as possibly committed: nothing this node will see can decide them. */
export function failPendingProposals(core: CoreState, leaderHint: NodeId | null): void {
  for (const id of core.pendingProposals.keys()) {
    core.effects.push({ type: 'proposalFailed', id, failure: { code: 'NOT_LEADER', leaderHint, outcome: 'unknown' } });
  }
  core.pendingProposals.clear();
}

export function setLeader(core: CoreState, leader: NodeId | null): void {
  if (leader === core.leaderId) return;
  core.leaderId = leader;
  core.leaderRound = 0;
  // A snapshot half received from the previous leader will not be finished; a new one starts at chunk 0.
  if (core.receiving !== null && !core.receiving.done) core.receiving = null;
  core.effects.push({ type: 'leaderChanged', leader, term: core.currentTerm });
  // A leader that stepped down with no successor in view cannot tell its callers more than that their proposals may or
  // may not commit, and nothing tells it sooner: fail them now. Once another leader is known they stay pending: the
  // new leader's first entry, applied here, decides each (see `maybeApply`).
  if (leader === null && core.proposalsWentTo === core.id) failPendingProposals(core, null);
  if (core.forwardedReads.size > 0) {
    core.effects.push({ type: 'readFailed', ids: [...core.forwardedReads], leaderHint: leader });
    core.forwardedReads.clear();
  }
}
