/**
 * Commit and apply. A leader advances its commit index to what a majority of voters holds (itself counted up to its
 * durable index), but only through an entry of its own term: the Figure 8 rule, decided in
 * `RaftCore.commitsByCounting` and reached through `CoreState.commitsByCounting`. Committed entries are handed to the
 * state machine in order, once each.
 *
 * Invariant: appliedIndex <= handedToApply <= commitIndex <= lastIndex.
 */
import { handOverAfterRemoval } from './membershipChanges.js';
import { committedIndex } from './quorum.js';
import { confirmLeadershipFor } from './readIndex.js';
import { sendHeartbeat } from './leaderReplication.js';
import type { CoreState } from './state.js';

export function maybeCommit(core: CoreState): void {
  const quorumIndex = committedIndex(core.voters, (id) => (id === core.id ? core.stable : (core.progress.get(id)?.matchIndex ?? 0)));
  if (quorumIndex > core.commit && core.commitsByCounting(quorumIndex)) {
    core.commit = quorumIndex;
    maybeApply(core);
    if (!core.isVoter && core.membershipIndex <= core.commit) {
      handOverAfterRemoval(core);
      return;
    }
    for (const read of core.readsAwaitingCommit.splice(0)) confirmLeadershipFor(core, read.ids, read.from, undefined);
    // Followers learn the new commit index with the next append or heartbeat, and caught-up ones at once (unless the
    // host carries it otherwise: see RaftConfig.commitHeartbeats).
    if (!core.config.commitHeartbeats) return;
    for (const [peer, progress] of core.progress) {
      if (progress.mode === 'replicate' && progress.matchIndex === core.log.lastIndex && progress.inflight.length === 0) {
        sendHeartbeat(core, peer, false);
      }
    }
  }
}

/**
 * Hand every committed entry not handed out yet to the state machine, naming the local proposals among them; fail the
 * pending proposals that can no longer commit.
 *
 * A pending proposal's entry can only have the term it was proposed or forwarded in (see `pendingProposals`). Terms
 * never decrease along a log, so once a committed entry of a later term is applied here, every entry of that term
 * that will ever be committed lies before it, and this node has applied them all: a proposal not among them never
 * commits, and its caller may safely try again (outcome 'not-appended').
 */
export function maybeApply(core: CoreState): void {
  if (core.commit <= core.handedToApply) return;
  const entries = core.log.slice(core.handedToApply + 1, core.commit);
  const proposals = new Map<number, string>();
  // A follower usually has no proposals of its own waiting: skip the lookups.
  const anyPending = core.pendingProposals.size > 0;
  for (const entry of entries) {
    if (anyPending && entry.id !== undefined && core.pendingProposals.delete(entry.id)) proposals.set(entry.index, entry.id);
    core.bytesSinceSnapshot += entry.data.length;
  }
  core.handedToApply = core.commit;
  core.effects.push({ type: 'apply', entries, proposals });
  if (core.pendingProposals.size === 0) return;
  const lastTerm = entries.at(-1)!.term;
  // In ascending term order (`awaitProposal`): the first one of the last term or later ends the scan, so a leader
  // with a thousand proposals in flight looks at one per apply.
  for (const [id, term] of core.pendingProposals) {
    if (term >= lastTerm) break;
    core.pendingProposals.delete(id);
    core.effects.push({ type: 'proposalFailed', id, failure: { code: 'NOT_LEADER', leaderHint: core.leaderId, outcome: 'not-appended' } });
  }
}
