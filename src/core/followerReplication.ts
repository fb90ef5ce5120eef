/**
 * Replication, follower side (paper 5.3, AppendEntries receiver): the consistency check at `prevLogIndex`, accepting
 * entries (truncating a conflicting uncommitted suffix), learning the commit index, and answering with the round.
 *
 * Invariants: a committed entry is never truncated; the acknowledgement is held until the entries it acknowledges
 * are durable (durability.reply); a rejection carries a hint for fast backtracking.
 */
import { maybeApply } from './commit.js';
import { persist, reply } from './durability.js';
import { adoptConfigEntries, checkRemoved, forgetUncommittedMembership, membershipFromLog } from './membershipChanges.js';
import { becomeFollower } from './roles.js';
import { snapshotResponse } from './snapshotReceive.js';
import type { CoreState } from './state.js';
import type { AppendEntries, AppendEntriesResponse, NodeId } from './types.js';

export function handleAppendEntries(core: CoreState, from: NodeId, request: AppendEntries): void {
  becomeFollower(core, core.currentTerm, from);
  core.leaderRound = request.round;
  if (core.installing !== null) {
    // The write that makes a snapshot current is queued, or the state machine is being restored from it: the log
    // restarts after it. An append sent before the leader switched to the snapshot would land in the store behind
    // that write, out of place; drop its entries (the leader sends again once the snapshot is installed), but
    // answer its round, so that reads, leases and check-quorum still count this follower.
    const { meta, chunks, stored } = core.installing;
    core.send(from, snapshotResponse(core, meta.index, stored ? chunks : chunks - 1, false));
    return;
  }
  if (request.prevLogIndex < core.commit) {
    // Everything up to our commit index is known to match any leader's log; acknowledge what we have.
    const skip = core.commit - request.prevLogIndex;
    if (skip >= request.entries.length) {
      confirmedByLeader(core, from, core.commit);
      reply(core, from, appendResponse(core, true, core.commit, 0, 0, request.round));
      return;
    }
    acceptEntries(core, from, {
      ...request,
      prevLogIndex: core.commit,
      prevLogTerm: core.log.termAt(core.commit)!,
      entries: request.entries.slice(skip),
    });
    return;
  }
  const localTerm = core.log.termAt(request.prevLogIndex);
  if (localTerm !== request.prevLogTerm) {
    const hint = core.log.lastIndexWithTermAtMost(Math.min(request.prevLogIndex, core.log.lastIndex), request.prevLogTerm);
    reply(core, from, appendResponse(core, false, request.prevLogIndex, hint.index, hint.term, request.round));
    return;
  }
  acceptEntries(core, from, request);
}

/** The consistency check passed at `request.prevLogIndex`: append what is new, truncating a conflicting suffix. */
function acceptEntries(core: CoreState, from: NodeId, request: AppendEntries): void {
  let firstNew = request.entries.length;
  let truncateFrom: number | null = null;
  for (let i = 0; i < request.entries.length; i++) {
    const entry = request.entries[i]!;
    const localTerm = core.log.termAt(entry.index);
    if (localTerm === undefined) {
      firstNew = i;
      break;
    }
    if (localTerm !== entry.term) {
      if (entry.index <= core.commit) {
        throw new Error(`entry ${entry.index} conflicts with a committed entry (commit ${core.commit})`);
      }
      truncateFrom = entry.index;
      firstNew = i;
      break;
    }
  }
  const newEntries = request.entries.slice(firstNew);
  if (truncateFrom !== null) core.log.truncateFrom(truncateFrom);
  if (newEntries.length > 0) {
    core.log.append(newEntries);
    persist(core, truncateFrom, newEntries);
  }
  if (truncateFrom !== null && truncateFrom <= core.membershipIndex) {
    membershipFromLog(core);
    forgetUncommittedMembership(core);
  } else adoptConfigEntries(core, newEntries);
  const matched = request.prevLogIndex + request.entries.length;
  confirmedByLeader(core, from, matched);
  const newCommit = Math.min(request.leaderCommit, matched);
  if (newCommit > core.commit) {
    core.commit = newCommit;
    maybeApply(core);
  }
  reply(core, from, appendResponse(core, true, matched, 0, 0, request.round));
  checkRemoved(core);
}

/** The current leader `from` confirmed this log matches its own through `index` (see `CoreState.leaderConfirmed`). */
function confirmedByLeader(core: CoreState, from: NodeId, index: number): void {
  const known = core.leaderConfirmed;
  if (known !== null && known.term === core.currentTerm && known.leader === from && known.index >= index) return;
  core.leaderConfirmed = { term: core.currentTerm, leader: from, index };
}

/**
 * The leader `from` says everything through `commit` is committed in `term` (a multi-Raft quiesce notice, in place of
 * the append that would carry it). A follower of `from` in that term commits through what `from`'s appends confirmed
 * here: those entries are the leader's own (log matching), so this is AppendEntries' commit rule without the append.
 * Anything else is ignored: a stale or foreign notice changes nothing.
 */
export function learnCommit(core: CoreState, from: NodeId, term: number, commit: number): void {
  const confirmed = core.leaderConfirmed;
  if (core.currentRole !== 'follower' || term !== core.currentTerm || core.leaderId !== from) return;
  if (confirmed === null || confirmed.term !== term || confirmed.leader !== from) return;
  const newCommit = Math.min(commit, confirmed.index, core.log.lastIndex);
  if (newCommit > core.commit) {
    core.commit = newCommit;
    maybeApply(core);
  }
}

export function appendResponse(core: CoreState, success: boolean, index: number, hintIndex: number, hintTerm: number, round: number): AppendEntriesResponse {
  return { type: 'AppendEntriesResponse', term: core.currentTerm, success, index, hintIndex, hintTerm, round };
}
