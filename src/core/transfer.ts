/**
 * Leadership transfer (thesis 3.10): the leader brings a voter up to date, then tells it to campaign at once
 * (TimeoutNow); the target's vote request asks voters to ignore their leader lease.
 *
 * Invariants: while `transferTarget` is set the leader appends nothing new and serves no lease reads; once TimeoutNow
 * went out in a term (`leaseRevoked`) no lease of that term is trusted again, since the target may campaign at any
 * later moment. Every transfer ends: the target wins, or `transferAborted` says why not.
 */
import { startElection } from './election.js';
import { sendAppendWhileAllowed } from './leaderReplication.js';
import { MembershipError } from './membership.js';
import type { CoreState } from './state.js';
import type { NodeId } from './types.js';

/** `RaftCore.transferLeadership`: hand over to `target`, or to the most up-to-date voter. */
export function transferLeadership(core: CoreState, target: NodeId | undefined): void {
  if (core.currentRole !== 'leader') throw new MembershipError('NOT_A_MEMBER', `${core.id} is not the leader`);
  const chosen = target ?? bestTransferTarget(core);
  if (chosen === undefined || chosen === core.id || !core.voters.includes(chosen)) {
    throw new MembershipError('NOT_A_MEMBER', `cannot transfer leadership to ${String(chosen)}: not another voter`);
  }
  core.transferTarget = chosen;
  // A lease must not outlive the decision to hand over: the target campaigns without waiting for it to expire.
  core.roundStarts.length = 0;
  core.effects.push({ type: 'resetElectionTimer', afterMs: core.config.electionTimeoutMs });
  const progress = core.progress.get(chosen)!;
  if (progress.matchIndex === core.log.lastIndex) sendTimeoutNow(core, chosen);
  else sendAppendWhileAllowed(core, chosen, progress);
}

export function sendTimeoutNow(core: CoreState, target: NodeId): void {
  core.leaseRevoked = true;
  core.send(target, { type: 'TimeoutNow', term: core.currentTerm });
}

/** The leader handed over: campaign at once, without pre-vote, asking voters to ignore their leader lease. */
export function handleTimeoutNow(core: CoreState): void {
  if (core.isVoter && core.currentRole === 'follower') startElection(core, false, true);
}

/** The other voter with the highest matchIndex (the first of them in configuration order). */
export function bestTransferTarget(core: CoreState): NodeId | undefined {
  let best: NodeId | undefined;
  let bestMatch = -1;
  for (const id of core.voterPeers()) {
    const match = core.progress.get(id)?.matchIndex ?? 0;
    if (match > bestMatch) {
      best = id;
      bestMatch = match;
    }
  }
  return best;
}

export function abortTransfer(core: CoreState, reason: string): void {
  if (core.transferTarget === null) return;
  core.effects.push({ type: 'transferAborted', target: core.transferTarget, reason });
  core.transferTarget = null;
}
