/**
 * What every well-formed Raft message satisfies whatever the receiver's state: the checks a schema cannot express.
 * A message that fails one was not produced by a correct node (or was damaged on the way); the receiver refuses it
 * whole and changes nothing. The core asks as each message arrives (after the transport's schema), so every transport
 * is covered, an in-memory network and the simulator's misbehaving peer included, and each message is checked once.
 */
import { decodeMembership } from './membership.js';
import type { AppendEntries, RaftMessage } from './types.js';

/** Why `message` cannot come from a correct node, or null when nothing is wrong with its shape. */
export function messageProblem(message: RaftMessage): string | null {
  switch (message.type) {
    case 'AppendEntries':
      return appendEntriesProblem(message);
    case 'RequestVote':
      return message.lastLogTerm > message.term ? `last log term ${message.lastLogTerm} is above the campaign's term ${message.term}` : null;
    case 'AppendEntriesResponse':
      return !message.success && message.hintIndex > message.index ? `hint ${message.hintIndex} is beyond the rejected index ${message.index}` : null;
    case 'InstallSnapshot': {
      const { meta } = message;
      if (meta.index < 1) return 'a snapshot must cover at least one entry';
      if (meta.term < 1 || meta.term > message.term) return `snapshot term ${meta.term} is not in 1..${message.term}`;
      if (meta.voters.length === 0) return 'a snapshot configuration without voters';
      return null;
    }
    default:
      return null;
  }
}

/**
 * Entries follow `prevLogIndex` one by one, terms never decrease, start at `prevLogTerm` or later and never exceed
 * the leader's term (a leader only holds entries of its term or earlier ones), and a configuration entry decodes.
 */
function appendEntriesProblem(message: AppendEntries): string | null {
  if (message.prevLogTerm > message.term) return `prevLogTerm ${message.prevLogTerm} is above the message's term ${message.term}`;
  if (message.prevLogIndex === 0 && message.prevLogTerm !== 0) return 'an empty prefix has term 0';
  let previousTerm = message.prevLogTerm;
  for (let i = 0; i < message.entries.length; i++) {
    const entry = message.entries[i]!;
    if (entry.index !== message.prevLogIndex + 1 + i) {
      return `entries are not contiguous: entry ${i} has index ${entry.index}, expected ${message.prevLogIndex + 1 + i}`;
    }
    if (entry.term < previousTerm) return `entry ${entry.index} has term ${entry.term}, below the term ${previousTerm} before it`;
    if (entry.term > message.term) return `entry ${entry.index} has term ${entry.term}, above the message's term ${message.term}`;
    previousTerm = entry.term;
    if (entry.kind === 'config') {
      try {
        decodeMembership(entry.data);
      } catch {
        return `configuration entry ${entry.index} does not decode`;
      }
    } else if (entry.kind === 'noop' && entry.data !== '') {
      return `no-op entry ${entry.index} carries data`;
    }
  }
  return null;
}
