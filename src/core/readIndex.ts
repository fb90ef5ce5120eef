/**
 * Linearizable reads (Raft thesis 6.4): ReadIndex confirmed by heartbeat rounds, and leader leases.
 *
 * A leader numbers its heartbeat broadcasts (`round`); every AppendEntries and InstallSnapshot carries the round it
 * was sent in and every answer echoes it. A read records the commit index when it arrives and is ready once a
 * majority of voters has answered a round started after that (etcd's read_only.go does the same with a context).
 *
 * Invariants: a read is confirmed only after this leader committed an entry of its own term (until then it waits in
 * `readsAwaitingCommit`); `pendingReads` is ascending by round; a lease never outlives a decision to hand over
 * (`transferTarget`, `leaseRevoked`).
 */
import type { Progress } from './progress.js';
import { committedIndex } from './quorum.js';
import { sendHeartbeat } from './leaderReplication.js';
import type { CoreState } from './state.js';
import type { NodeId, ReadIndexRequest, ReadIndexResponse } from './types.js';

/**
 * Reads asked on this node (`RaftCore.readIndex`). With `lease`, a leader whose lease holds at `now` answers at once;
 * a follower asks the leader for the index (when forwarding is on).
 */
export function readLocally(core: CoreState, ids: readonly string[], lease: boolean, now: number | undefined): void {
  if (core.currentRole === 'leader') {
    if (core.log.termAt(core.commit) !== core.currentTerm) {
      core.readsAwaitingCommit.push({ ids, from: null });
    } else if (lease && leaseHolds(core, now)) {
      core.effects.push({ type: 'readReady', ids, index: core.commit });
    } else {
      confirmLeadershipFor(core, ids, null, now);
    }
  } else if (core.config.forwardToLeader && core.leaderId !== null && core.currentRole === 'follower') {
    for (const id of ids) core.forwardedReads.add(id);
    core.send(core.leaderId, { type: 'ReadIndexRequest', term: core.currentTerm, requestIds: ids });
  } else {
    core.effects.push({ type: 'readFailed', ids, leaderHint: core.leaderId });
  }
}

/** A follower asks this node, which it believes leads, for a read index. */
export function handleReadIndexRequest(core: CoreState, from: NodeId, request: ReadIndexRequest): void {
  if (core.currentRole !== 'leader') {
    core.send(from, { type: 'ReadIndexResponse', term: core.currentTerm, requestIds: request.requestIds, index: null, leaderHint: core.leaderId });
  } else if (core.log.termAt(core.commit) !== core.currentTerm) {
    core.readsAwaitingCommit.push({ ids: request.requestIds, from });
  } else {
    confirmLeadershipFor(core, request.requestIds, from, undefined);
  }
}

/** The leader's answer to reads this follower forwarded; answers for reads already failed here are ignored. */
export function handleReadIndexResponse(core: CoreState, response: ReadIndexResponse): void {
  const ids = response.requestIds.filter((id) => core.forwardedReads.delete(id));
  if (ids.length === 0) return;
  if (response.index === null) core.effects.push({ type: 'readFailed', ids, leaderHint: response.leaderHint });
  else core.effects.push({ type: 'readReady', ids, index: response.index });
}

/** Start a heartbeat round for these reads; they are ready once a majority answers it. */
export function confirmLeadershipFor(core: CoreState, ids: readonly string[], from: NodeId | null, now: number | undefined): void {
  if (core.voters.length === 1 && core.isVoter) {
    readReady(core, ids, core.commit, from);
    return;
  }
  core.pendingReads.push({ ids, index: core.commit, round: core.round + 1, from });
  // A plain round: loss detection belongs to the heartbeat tick (a read must not make the leader resend data).
  broadcastHeartbeat(core, now, false);
}

function readReady(core: CoreState, ids: readonly string[], index: number, from: NodeId | null): void {
  if (from === null) core.effects.push({ type: 'readReady', ids, index });
  else core.send(from, { type: 'ReadIndexResponse', term: core.currentTerm, requestIds: ids, index, leaderHint: core.id });
}

/** A leader stops leading: every read it holds fails (a follower's are answered with no index). */
export function failLeaderReads(core: CoreState, leaderHint: NodeId | null): void {
  for (const read of [...core.readsAwaitingCommit, ...core.pendingReads]) {
    if (read.from === null) core.effects.push({ type: 'readFailed', ids: read.ids, leaderHint });
    else core.send(read.from, { type: 'ReadIndexResponse', term: core.currentTerm, requestIds: read.ids, index: null, leaderHint });
  }
  core.readsAwaitingCommit.length = 0;
  core.pendingReads.length = 0;
  core.roundStarts.length = 0;
}

/** The highest round a majority of voters (this leader included) has answered. */
function quorumRound(core: CoreState): number {
  return committedIndex(core.voters, (id) => (id === core.id ? core.round : (core.progress.get(id)?.ackedRound ?? 0)));
}

/** A follower answered `round` (in an append or snapshot answer): reads waiting on it may now be confirmed. */
export function roundAnswered(core: CoreState, progress: Progress, round: number): void {
  if (round > progress.ackedRound) {
    progress.ackedRound = round;
    confirmReads(core);
  }
}

function confirmReads(core: CoreState): void {
  if (core.pendingReads.length === 0) return;
  const confirmed = quorumRound(core);
  while (core.pendingReads.length > 0 && core.pendingReads[0]!.round <= confirmed) {
    const read = core.pendingReads.shift()!;
    readReady(core, read.ids, read.index, read.from);
  }
}

/**
 * Whether a majority answered a round started less than a lease ago. Followers ignore candidates for at least an
 * election timeout after hearing from us (election.inLeaderLease), so no other leader can exist before then, clock
 * drift allowed for.
 */
function leaseHolds(core: CoreState, now: number | undefined): boolean {
  if (now === undefined || !core.config.leaseReads || !core.config.checkQuorum || core.transferTarget !== null || core.leaseRevoked) return false;
  const confirmed = quorumRound(core);
  let startedAt: number | undefined;
  for (const start of core.roundStarts) {
    if (start.round > confirmed) break;
    startedAt = start.at;
  }
  return startedAt !== undefined && now < startedAt + core.config.electionTimeoutMs * (1 - core.config.leaseClockDrift);
}

/** Start a new round: a heartbeat to every follower; `detectLoss` on the heartbeat tick only (see sendHeartbeat). */
export function broadcastHeartbeat(core: CoreState, now: number | undefined, detectLoss: boolean): void {
  core.round++;
  if (now !== undefined) {
    core.roundStarts.push({ round: core.round, at: now });
    // Keep only what a lease can still use: the newest start at or below the confirmed round, and later ones.
    const confirmed = quorumRound(core);
    while (core.roundStarts.length > 1 && core.roundStarts[1]!.round <= confirmed) core.roundStarts.shift();
  }
  for (const peer of core.peers()) sendHeartbeat(core, peer, detectLoss);
}
