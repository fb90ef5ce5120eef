/**
 * Elections (paper 5.2, thesis 9.6): pre-vote, votes, check-quorum, the leader lease voters honour, and how a removed
 * node learns of its removal (`removedAt` in vote answers).
 *
 * Invariants: a node votes at most once per term, and its vote is durable before anyone hears of it (the answer is
 * held in durability.reply; a candidate counts its own vote only once `selfVoteWriteId` is durable). A pre-vote
 * changes nothing at the voter. Only voters campaign.
 */
import { isMember } from './membership.js';
import { majority, voteResult } from './quorum.js';
import { reply, saveHardState } from './durability.js';
import { becomeFollower, becomeLeader, becomeRemoved, setLeader, setRole } from './roles.js';
import type { CoreState } from './state.js';
import type { NodeId, RequestVote, RequestVoteResponse } from './types.js';

export function startElection(core: CoreState, preVote: boolean, transfer = false): void {
  if (!core.isVoter) return;
  core.votes.clear();
  core.selfVoteWriteId = 0;
  if (preVote) {
    setRole(core, 'preCandidate');
    setLeader(core, null);
    core.votes.set(core.id, true);
    core.resetElectionTimer();
    const request: RequestVote = {
      type: 'RequestVote',
      term: core.currentTerm + 1,
      lastLogIndex: core.log.lastIndex,
      lastLogTerm: core.log.lastTerm,
      preVote: true,
    };
    for (const peer of core.voterPeers()) core.send(peer, request);
    tallyVotes(core, true);
    return;
  }
  core.currentTerm++;
  core.votedFor = core.id;
  setRole(core, 'candidate');
  setLeader(core, null);
  core.resetElectionTimer();
  core.selfVoteWriteId = saveHardState(core);
  const request: RequestVote = {
    type: 'RequestVote',
    term: core.currentTerm,
    lastLogIndex: core.log.lastIndex,
    lastLogTerm: core.log.lastTerm,
    preVote: false,
    ...(transfer ? { transfer: true } : {}),
  };
  // Held until our own vote is durable: we must not be able to vote twice in this term after a crash.
  for (const peer of core.voterPeers()) reply(core, peer, request);
}

/**
 * The transport lost its connection to `peer`. When that is our leader (its process died: the kernel reset the
 * connection), do not wait a whole election timeout: forget the leader and campaign after a short pause. The followers
 * that noticed too take turns, half a heartbeat interval apart in the order of their ids (plus a little jitter), so
 * that two of them rarely split the vote (which would cost a whole election timeout). Pre-vote keeps a leader that is
 * in fact alive (only the connection broke) from being disturbed: the followers that still hear it refuse. Not
 * without pre-vote, and not with lease reads, where a follower must not turn to another candidate while the lease it
 * granted may hold.
 */
export function leaderUnreachable(core: CoreState, peer: NodeId): void {
  if (core.currentRole !== 'follower' || core.leaderId !== peer || !core.isVoter) return;
  if (!core.config.preVote || core.config.leaseReads) return;
  setLeader(core, null);
  const turn = core.voters.filter((id) => id !== peer).sort().indexOf(core.id);
  const interval = core.config.heartbeatIntervalMs;
  core.effects.push({ type: 'resetElectionTimer', afterMs: 1 + Math.floor(turn * (interval / 2) + core.random() * (interval / 4)) });
}

function tallyVotes(core: CoreState, preVote: boolean): void {
  const result = voteResult(core.voters, core.votes);
  if (result === 'won') {
    if (preVote) startElection(core, false);
    else becomeLeader(core);
  } else if (result === 'lost') {
    becomeFollower(core, core.currentTerm, null);
  }
}

/** Writes up to `writeId` are durable: a candidate's own vote counts once the write recording it is. */
export function ownVoteDurable(core: CoreState, writeId: number): void {
  if (core.currentRole === 'candidate' && core.selfVoteWriteId !== 0 && core.selfVoteWriteId <= writeId) {
    core.selfVoteWriteId = 0;
    core.votes.set(core.id, true);
    tallyVotes(core, false);
  }
}

/**
 * A learner, or a node outside the configuration, whose election timer fired. It never campaigns; it waits for a
 * leader. It did not hear from one for an election timeout, though, so that leader's lease is over: forget it, or
 * this node would refuse (pre-)votes forever, and a lagging new voter that still believes it is a learner could block
 * every election.
 */
export function waitForLeader(core: CoreState): void {
  setLeader(core, null);
  core.resetElectionTimer();
  if (core.everMember && core.membershipIndex > 0 && !isMember(core.membership, core.id)) {
    // Our latest configuration leaves us out, and nobody told us whether it committed (a leader stops
    // replicating to a node as soon as it appends its removal). Ask the voters: one whose committed
    // configuration leaves us out answers `removedAt`. A pre-vote changes nothing at the voters.
    const probe: RequestVote = { type: 'RequestVote', term: core.currentTerm + 1, lastLogIndex: core.log.lastIndex, lastLogTerm: core.log.lastTerm, preVote: true };
    for (const peer of core.voterPeers()) core.send(peer, probe);
  }
}

/**
 * A vote request from `from`, which our committed configuration leaves out: tell it (`removedAt`), and let it disturb
 * nothing (no new term). Returns false, doing nothing, when the candidate is not known to be removed.
 */
export function answerRemovedCandidate(core: CoreState, from: NodeId, request: RequestVote): boolean {
  if (core.membershipIndex > 0 && core.membershipIndex <= core.commit && !isMember(core.membership, from)) {
    core.send(from, { type: 'RequestVoteResponse', term: core.currentTerm, granted: false, preVote: request.preVote, removedAt: core.membershipIndex });
    return true;
  }
  return false;
}

/**
 * Voter `from` says its committed configuration at `removedAt` leaves us out. We count the notice unless our own
 * latest configuration is a later one, which that voter has not caught up with. A node whose own latest configuration
 * already leaves it out only learns that it committed: one notice is enough. A node that still believes itself a
 * member believes it once a majority of the other voters of its configuration said so, so that one peer (or a forged
 * message in its name) cannot remove it. (A removed id does not come back: a node joining again takes a new id.)
 */
export function learnRemoval(core: CoreState, from: NodeId, removedAt: number): void {
  const member = isMember(core.membership, core.id);
  const asked = core.currentRole === 'preCandidate' || core.currentRole === 'candidate' || !member;
  const others = core.membership.voters.filter((id) => id !== core.id);
  if (!asked || !core.everMember || !others.includes(from)) return;
  if (removedAt < core.membershipIndex || (removedAt === core.membershipIndex && member)) return;
  core.removalNotices.add(from);
  const needed = member ? majority(others.length) : 1;
  if (others.filter((id) => core.removalNotices.has(id)).length < needed) return;
  if (core.currentRole !== 'follower') becomeFollower(core, core.currentTerm, null);
  becomeRemoved(core);
}

export function handleRequestVote(core: CoreState, from: NodeId, request: RequestVote): void {
  const upToDate = core.log.isUpToDate(request.lastLogIndex, request.lastLogTerm);
  if (request.preVote) {
    // Grant a pre-vote for a future term to any up-to-date log; nothing is recorded.
    const granted = request.term > core.currentTerm && upToDate;
    core.send(from, { type: 'RequestVoteResponse', term: granted ? request.term : core.currentTerm, granted, preVote: true });
    return;
  }
  const canVote = core.votedFor === null || core.votedFor === from;
  if (canVote && upToDate && (core.currentRole === 'follower' || core.currentRole === 'preCandidate')) {
    if (core.currentRole === 'preCandidate') becomeFollower(core, core.currentTerm, null);
    core.votedFor = from;
    saveHardState(core);
    core.resetElectionTimer();
    reply(core, from, voteResponse(core, true, false));
  } else {
    reply(core, from, voteResponse(core, false, false));
  }
}

export function handleVoteResponse(core: CoreState, from: NodeId, response: RequestVoteResponse): void {
  const campaigning = response.preVote ? core.currentRole === 'preCandidate' : core.currentRole === 'candidate';
  if (!campaigning) return;
  if (response.preVote && response.granted && response.term !== core.currentTerm + 1) return;
  core.votes.set(from, response.granted);
  tallyVotes(core, response.preVote);
}

export function voteResponse(core: CoreState, granted: boolean, preVote: boolean): RequestVoteResponse {
  return { type: 'RequestVoteResponse', term: core.currentTerm, granted, preVote };
}

/**
 * A follower that knows a leader and whose election timer has not fired since it last heard from it, or a leader
 * (which steps down by check-quorum once it loses its majority), or a node restarted less than an election timeout
 * ago when lease reads are on: it may have promised a leader its lease before the crash, and lease reads rely on it.
 */
export function inLeaderLease(core: CoreState): boolean {
  if (!core.config.checkQuorum) return false;
  return core.restartedRecently || (core.leaderId !== null && core.currentRole !== 'candidate');
}

/** Once per election timeout, a leader that has not heard from a majority of voters steps down (thesis 6.2). */
export function checkQuorum(core: CoreState): void {
  if (core.config.checkQuorum) {
    let active = core.isVoter ? 1 : 0;
    for (const [peer, progress] of core.progress) {
      if (progress.recentActive && core.voters.includes(peer)) active++;
      progress.recentActive = false;
    }
    if (active < Math.floor(core.voters.length / 2) + 1) {
      becomeFollower(core, core.currentTerm, null);
      return;
    }
  }
  core.effects.push({ type: 'resetElectionTimer', afterMs: core.config.electionTimeoutMs });
}
