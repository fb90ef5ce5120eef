/**
 * The message checks that depend on the receiver's state (messageChecks.ts has those that do not): a well-formed
 * message that still cannot come from a correct peer, given what this node knows. Checked before anything changes,
 * so that a refused message leaves no trace.
 */
import type { CoreState } from './state.js';
import type { NodeId, RaftMessage } from './types.js';

/** Why `message` from `from` contradicts what this node knows (Election Safety, Leader Completeness, ...), or null. */
export function contradiction(core: CoreState, from: NodeId, message: RaftMessage): string | null {
  switch (message.type) {
    case 'AppendEntries':
    case 'InstallSnapshot':
    case 'TimeoutNow': {
      if (message.term !== core.currentTerm) break;
      // Election Safety: one leader per term.
      if (core.currentRole === 'leader') return `${from} claims to lead term ${message.term}, which this node leads`;
      if (core.leaderId !== null && core.leaderId !== from) return `${from} claims to lead term ${message.term}, led by ${core.leaderId}`;
      if (message.type === 'TimeoutNow' && core.leaderId !== from) return `TimeoutNow from ${from}, who is not the leader`;
      break;
    }
    case 'AppendEntriesResponse':
    case 'InstallSnapshotResponse':
      if (message.term !== core.currentTerm) break;
      // Only a leader asks these; a node that never campaigned in this term never led in it.
      if (core.currentRole !== 'leader' && core.votedFor !== core.id) return `answers a leader of term ${message.term}, which this node never was`;
      if (core.currentRole !== 'leader') break;
      if (message.round > core.round) return `answers round ${message.round}, but this leader is at round ${core.round}`;
      if (message.index > core.log.lastIndex) return `answers index ${message.index}, beyond this leader's log (${core.log.lastIndex})`;
      break;
    case 'RequestVoteResponse':
      if (message.granted && !message.preVote && message.term === core.currentTerm && core.votedFor !== core.id) {
        return `a vote for term ${message.term}, in which this node never campaigned`;
      }
      break;
  }
  if (message.type === 'AppendEntries' && message.term >= core.currentTerm) {
    // Leader Completeness: a leader's log holds every committed entry, so it never contradicts ours up to commit.
    if (message.prevLogIndex <= core.commit) {
      const local = core.log.termAt(message.prevLogIndex);
      if (local !== undefined && local !== message.prevLogTerm) return `prevLogTerm ${message.prevLogTerm} at ${message.prevLogIndex} contradicts committed term ${local}`;
    }
    for (const entry of message.entries) {
      if (entry.index > core.commit) break;
      const local = core.log.termAt(entry.index);
      if (local !== undefined && local !== entry.term) return `entry ${entry.index} (term ${entry.term}) contradicts committed term ${local}`;
    }
  }
  return null;
}
