/** Compact, readable renderings of messages and effects for traces (and, through them, for the trace hash). */
import type { Entry, RaftMessage } from '../../src/core/types.js';

export function describeEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return '[]';
  const first = entries[0]!;
  const last = entries[entries.length - 1]!;
  return first === last ? `[${first.index}@${first.term}]` : `[${first.index}@${first.term}..${last.index}@${last.term}]`;
}

export function describeMessage(message: RaftMessage): string {
  switch (message.type) {
    case 'RequestVote':
      return `${message.preVote ? 'PreVote' : 'Vote'} t${message.term} last=${message.lastLogIndex}@${message.lastLogTerm}`;
    case 'RequestVoteResponse':
      return `${message.preVote ? 'PreVoteResp' : 'VoteResp'} t${message.term} ${message.granted ? 'granted' : 'rejected'}`;
    case 'AppendEntries':
      return `App t${message.term} prev=${message.prevLogIndex}@${message.prevLogTerm} ${describeEntries(message.entries)} commit=${message.leaderCommit}`;
    case 'AppendEntriesResponse':
      return message.success
        ? `AppResp t${message.term} ok index=${message.index}`
        : `AppResp t${message.term} reject index=${message.index} hint=${message.hintIndex}@${message.hintTerm}`;
    case 'InstallSnapshot':
      return `Snap t${message.term} ${message.meta.index}@${message.meta.term} chunk ${message.chunk}${message.done ? ' done' : ''} (${message.data.byteLength} bytes)`;
    case 'InstallSnapshotResponse':
      return `SnapResp t${message.term} ${message.index} ${message.installed ? 'installed' : `next ${message.nextChunk}`}`;
    default:
      // Message kinds added to the core later still get a readable, deterministic line.
      return `${(message as { type: string }).type} ${JSON.stringify(message)}`;
  }
}
