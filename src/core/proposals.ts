/**
 * Proposals: a leader appends them; a follower that knows a leader forwards them to it (when `forwardToLeader` is
 * on); any other node fails them with NOT_LEADER, outcome 'not-appended'.
 *
 * Invariant: a forwarded proposal id is decided once on a leader, appended or rejected (`decidedForwards`), so that a
 * network that duplicates a forward never makes it appended twice, or appended after its proposer was told
 * 'not-appended'. A rejection is sent only when that is certain.
 */
import { appendProposals } from './leaderReplication.js';
import type { CoreState } from './state.js';
import type { ForwardProposals, ForwardProposalsResponse, NodeId, Proposal } from './types.js';

/** `RaftCore.propose` with at least one proposal. */
export function propose(core: CoreState, proposals: readonly Proposal[]): void {
  if (core.currentRole !== 'leader' && core.config.forwardToLeader && core.leaderId !== null && core.currentRole === 'follower') {
    for (const proposal of proposals) core.awaitProposal(proposal.id);
    core.proposalsWentTo = core.leaderId;
    core.send(core.leaderId, { type: 'ForwardProposals', term: core.currentTerm, proposals });
    return;
  }
  if (core.currentRole !== 'leader' || core.transferTarget !== null) {
    for (const proposal of proposals) refuseAsNotLeader(core, proposal.id);
    return;
  }
  for (const proposal of proposals) core.awaitProposal(proposal.id);
  core.proposalsWentTo = core.id;
  appendProposals(core, proposals);
}

/** Fail a proposal made here, certainly not appended: this node is not a leader that takes proposals now. */
export function refuseAsNotLeader(core: CoreState, id: string): void {
  core.effects.push({
    type: 'proposalFailed',
    id,
    failure: { code: 'NOT_LEADER', leaderHint: core.transferTarget ?? core.leaderId, outcome: 'not-appended' },
  });
}

/**
 * Proposals a follower forwarded. Forwarded client work is answered by whoever is leader now, whatever the sender's
 * term: it carries no Raft state, and a stale sender learns the term from replication soon enough.
 */
export function handleForwardProposals(core: CoreState, from: NodeId, message: ForwardProposals): void {
  // Each forwarded id is decided once, appended or rejected: a duplicate arriving later (after this node
  // became leader, say) must not contradict a rejection the proposer already reported as not-appended.
  const fresh = firstSightings(core, message.proposals);
  if (core.currentRole === 'leader' && core.transferTarget === null) {
    // Only forwards addressed to this term: one sent to an earlier life of this node may have been appended
    // then, before a crash erased `decidedForwards`. Dropped in silence, it fails at its caller's deadline.
    if (message.term === core.currentTerm) appendProposals(core, fresh);
  } else if (fresh.length > 0 && (!mayHaveLedIn(core, message.term) || (core.currentRole === 'leader' && message.term === core.currentTerm))) {
    // Rejected as never appended only when that is certain. `decidedForwards` does not survive a restart: a
    // network duplicate reaching a restarted ex-leader must not be rejected as not-appended when its first copy
    // was appended before the crash (and may commit). A leader (transferring) is sure only for its own term, which
    // it leads in this life only. When unsure, say nothing: the forwarder fails the proposal as 'unknown' when it
    // learns of another leader, or its caller times out.
    core.send(from, { type: 'ForwardProposalsResponse', term: core.currentTerm, rejected: fresh.map((p) => p.id), leaderHint: core.transferTarget ?? core.leaderId });
  }
}

/** The leader rejected proposals this node forwarded: fail those still pending here. */
export function handleForwardProposalsResponse(core: CoreState, message: ForwardProposalsResponse): void {
  for (const id of message.rejected) {
    if (!core.pendingProposals.delete(id)) continue;
    core.effects.push({ type: 'proposalFailed', id, failure: { code: 'NOT_LEADER', leaderHint: message.leaderHint, outcome: 'not-appended' } });
  }
}

/** Forwarded proposals not decided before; remembers them as decided. */
function firstSightings(core: CoreState, proposals: readonly Proposal[]): Proposal[] {
  const fresh = proposals.filter((proposal) => !core.decidedForwards.has(proposal.id));
  for (const proposal of fresh) core.decidedForwards.add(proposal.id);
  for (const id of core.decidedForwards) {
    if (core.decidedForwards.size <= 65_536) break;
    core.decidedForwards.delete(id);
  }
  return fresh;
}

/**
 * Whether this node may have led in `term` (or a later term), in this life or an earlier one: only a node that has
 * not voted for itself in `term` and is still in it is sure that it never led in it.
 */
function mayHaveLedIn(core: CoreState, term: number): boolean {
  return core.currentTerm !== term || core.votedFor === core.id;
}
