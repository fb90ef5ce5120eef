/**
 * Membership changes as the core lives them (membership.ts holds the pure rules): `config` entries take effect when
 * appended and revert when truncated, a leader replicates to exactly the members in force, promotes caught-up
 * learners, and hands leadership over once its own removal commits; a follower learns that it was removed.
 *
 * Invariants: at most one configuration entry is uncommitted (membershipIndex > commitIndex), and a leader proposes
 * a change only after it has committed an entry of its own term (thesis 4.1 and its errata); `membership` is always
 * the configuration of the last `config` entry in the log, or `baseMembership` when it holds none.
 */
import { appendAsLeader, sendHeartbeat } from './leaderReplication.js';
import { applyChange, decodeMembership, encodeMembership, isMember, MembershipError, type Membership, type MembershipChange } from './membership.js';
import { Progress } from './progress.js';
import { becomeFollower, becomeRemoved } from './roles.js';
import type { CoreState } from './state.js';
import { abortTransfer, bestTransferTarget, sendTimeoutNow } from './transfer.js';
import type { Entry, NodeId } from './types.js';

/** `RaftCore.changeMembership` on a leader with no transfer under way: append the new configuration. */
export function proposeChange(core: CoreState, id: string, change: MembershipChange, promoteWhenCaughtUp: boolean): void {
  checkCanChangeMembership(core);
  const next = applyChange(core.membership, change);
  if (promoteWhenCaughtUp && change.type === 'addLearner') core.promoteWhenCaughtUp.add(change.id);
  core.awaitProposal(id);
  core.proposalsWentTo = core.id;
  appendAsLeader(core, [{ index: core.log.lastIndex + 1, term: core.currentTerm, kind: 'config', data: encodeMembership(next), id }]);
}

/** Thesis 4.1 and its errata: one uncommitted change at a time, and only once this leader committed in its term. */
function checkCanChangeMembership(core: CoreState): void {
  if (core.membershipIndex > core.commit) {
    throw new MembershipError('CHANGE_IN_PROGRESS', 'another membership change is not committed yet');
  }
  if (core.log.termAt(core.commit) !== core.currentTerm) {
    throw new MembershipError('CHANGE_IN_PROGRESS', 'the leader has not committed an entry of its term yet');
  }
}

/**
 * Recompute the configuration from the log: the last `config` entry, or the one in force where the log starts (the
 * initial configuration, or a snapshot's), dated at that point: it was committed there at the latest.
 */
export function membershipFromLog(core: CoreState): void {
  for (let index = core.log.lastIndex; index >= core.log.firstIndex; index--) {
    const entry = core.log.entryAt(index)!;
    if (entry.kind === 'config') {
      setMembership(core, decodeMembership(entry.data), index);
      return;
    }
  }
  setMembership(core, core.baseMembership, core.log.snapshotIndex);
}

/**
 * A new leader overwrote entries of this node's log, and with them perhaps the configuration that added this node (it
 * never committed). A node that no configuration it still holds names was not removed, it was not added yet: it must
 * not conclude that it was removed (and stop for good) when an earlier configuration leaving it out commits.
 */
export function forgetUncommittedMembership(core: CoreState): void {
  if (isMember(core.membership, core.id) || !core.everMember) return;
  if (isMember(core.baseMembership, core.id)) return;
  for (let index = core.log.lastIndex; index >= core.log.firstIndex; index--) {
    const entry = core.log.entryAt(index)!;
    if (entry.kind === 'config' && isMember(decodeMembership(entry.data), core.id)) return;
  }
  core.everMember = false;
}

/**
 * The configuration in force at `index` (at or after the log's starting point). No configuration entry follows
 * `membershipIndex` (it is the latest), so from there on the answer needs no search of the log: a snapshot at the
 * applied index, the usual question, would otherwise walk back through every entry since the last snapshot.
 */
export function membershipAt(core: CoreState, index: number): Membership {
  const latest = core.membershipIndex;
  if (index >= latest) return latest >= core.log.firstIndex ? decodeMembership(core.log.entryAt(latest)!.data) : core.baseMembership;
  for (let i = Math.min(index, core.log.lastIndex); i >= core.log.firstIndex; i--) {
    const entry = core.log.entryAt(i)!;
    if (entry.kind === 'config') return decodeMembership(entry.data);
  }
  return core.baseMembership;
}

/** Entries were appended: the last configuration among them, if any, is in force now. */
export function adoptConfigEntries(core: CoreState, entries: readonly Entry[]): void {
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!;
    if (entry.kind === 'config') {
      setMembership(core, decodeMembership(entry.data), entry.index);
      return;
    }
  }
}

function setMembership(core: CoreState, membership: Membership, index: number): void {
  const changed = index !== core.membershipIndex || membership !== core.membership;
  core.membership = membership;
  core.membershipIndex = index;
  if (isMember(membership, core.id)) core.everMember = true;
  if (!changed) return;
  core.removalNotices.clear();
  core.effects.push({
    type: 'membershipChanged',
    voters: membership.voters,
    learners: membership.learners,
    ...(membership.addresses === undefined ? {} : { addresses: membership.addresses }),
  });
  if (core.currentRole !== 'leader') return;
  // A leader replicates to exactly the members of the configuration in force.
  for (const peer of core.peers()) {
    if (!core.progress.has(peer)) core.progress.set(peer, new Progress(core.log.lastIndex + 1));
  }
  for (const peer of [...core.progress.keys()]) {
    if (!isMember(membership, peer)) core.progress.delete(peer);
  }
  for (const id of core.promoteWhenCaughtUp) if (!membership.learners.includes(id)) core.promoteWhenCaughtUp.delete(id);
  if (core.transferTarget !== null && !membership.voters.includes(core.transferTarget)) abortTransfer(core, 'the target left the configuration');
}

/** A learner added with `promoteWhenCaughtUp` is within `promoteWithinEntries` of the log: make it a voter. */
export function maybePromote(core: CoreState, peer: NodeId, progress: Progress): void {
  if (!core.promoteWhenCaughtUp.has(peer)) return;
  if (progress.matchIndex + core.config.promoteWithinEntries < core.log.lastIndex) return;
  if (core.membershipIndex > core.commit || core.log.termAt(core.commit) !== core.currentTerm) return;
  core.promoteWhenCaughtUp.delete(peer);
  const next = applyChange(core.membership, { type: 'promote', id: peer });
  appendAsLeader(core, [{ index: core.log.lastIndex + 1, term: core.currentTerm, kind: 'config', data: encodeMembership(next) }]);
}

/** A follower learns that the configuration leaving it out is committed. */
export function checkRemoved(core: CoreState): void {
  if (core.currentRole === 'follower' && core.everMember && core.membershipIndex > 0 && core.membershipIndex <= core.commit && !isMember(core.membership, core.id)) {
    becomeRemoved(core);
  }
}

/**
 * This leader's removal (or demotion) is committed: tell the followers the commit index, hand leadership at once to
 * the most up-to-date voter (TimeoutNow) instead of leaving the cluster leaderless for an election timeout, and step
 * aside (thesis 4.2.2).
 */
export function handOverAfterRemoval(core: CoreState): void {
  for (const peer of core.peers()) sendHeartbeat(core, peer, false);
  const target = bestTransferTarget(core);
  if (target !== undefined && core.progress.get(target)!.matchIndex === core.log.lastIndex) sendTimeoutNow(core, target);
  if (isMember(core.membership, core.id)) becomeFollower(core, core.currentTerm, null);
  else becomeRemoved(core);
}
