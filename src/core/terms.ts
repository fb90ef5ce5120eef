/**
 * The term rules every Raft message passes before its own concept sees it (paper 5.1, thesis 4.2.3).
 *
 * - A newer term makes this node follow it (an AppendEntries or InstallSnapshot names the new leader), except that a
 *   node in a leader's lease ignores candidates that do not come from a transfer (disruptive servers), and a pre-vote
 *   or a granted pre-vote answer changes no term.
 * - An older term is answered where that tells a stale leader or candidate about ours, and goes no further.
 *
 * Invariant: currentTerm never decreases, and a new term is written (with no vote) before anything is said in it.
 */
import { handleRequestVote, inLeaderLease, voteResponse } from './election.js';
import { appendResponse } from './followerReplication.js';
import { becomeFollower } from './roles.js';
import { snapshotResponse } from './snapshotReceive.js';
import type { CoreState } from './state.js';
import type { NodeId, RaftMessage } from './types.js';

/** Apply the term rules to `message`; whether it goes on to its own handler (in the term, now current, of this node). */
export function termAllowsStep(core: CoreState, from: NodeId, message: RaftMessage): boolean {
  if (message.term > core.currentTerm) {
    if (message.type === 'RequestVote') {
      // A follower that hears from a live leader ignores candidates (thesis 4.2.3, disruptive servers): pre-vote
      // and check-quorum together keep a partitioned node from deposing a healthy leader when it comes back.
      if (inLeaderLease(core) && message.transfer !== true) {
        if (message.preVote) core.send(from, voteResponse(core, false, true));
        return false;
      }
      if (message.preVote) {
        handleRequestVote(core, from, message);
        return false;
      }
      becomeFollower(core, message.term, null, from);
    } else if (message.type === 'RequestVoteResponse' && message.preVote && message.granted) {
      // A granted pre-vote echoes the term we would campaign in; it is not a newer term.
    } else {
      const leader = message.type === 'AppendEntries' || message.type === 'InstallSnapshot' ? from : null;
      becomeFollower(core, message.term, leader, from);
    }
  } else if (message.term < core.currentTerm) {
    if (message.type === 'AppendEntries') {
      // Tell a stale leader about the newer term so it steps down (needed with check-quorum and pre-vote, where
      // it might otherwise never see a higher term).
      core.send(from, appendResponse(core, false, message.prevLogIndex, 0, 0, message.round));
    } else if (message.type === 'RequestVote') {
      core.send(from, voteResponse(core, false, message.preVote));
    } else if (message.type === 'InstallSnapshot') {
      core.send(from, snapshotResponse(core, message.meta.index, 0, false));
    }
    return false;
  }
  return true;
}
