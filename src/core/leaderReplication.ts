/**
 * Replication, leader side (paper 5.3): appending to the leader's log, sending AppendEntries and heartbeats within
 * each follower's window (progress.ts), and taking in the followers' answers.
 *
 * A leader sends AppendEntries in parallel with its own write but counts itself in the commit quorum only up to its
 * durable index (commit.ts). Invariant: a follower in `snapshot` mode is sent no entries, only heartbeats that carry
 * the round (snapshotSend.ts sends the snapshot); every other follower is sent entries from its `nextIndex`.
 */
import { maybeCommit } from './commit.js';
import { persist } from './durability.js';
import { adoptConfigEntries, maybePromote } from './membershipChanges.js';
import type { Progress } from './progress.js';
import { roundAnswered } from './readIndex.js';
import { heartbeatDuringTransfer, requestChunks, startSnapshotTransfer } from './snapshotSend.js';
import type { CoreState } from './state.js';
import { sendTimeoutNow } from './transfer.js';
import type { AppendEntriesResponse, Entry, NodeId, Proposal } from './types.js';

export function appendProposals(core: CoreState, proposals: readonly Proposal[]): void {
  if (proposals.length === 0) return;
  const entries: Entry[] = [];
  let index = core.log.lastIndex;
  for (const proposal of proposals) {
    const entry: Entry = { index: ++index, term: core.currentTerm, kind: 'command', data: proposal.data, id: proposal.id };
    entries.push(proposal.session === undefined ? entry : { ...entry, session: proposal.session });
  }
  appendAsLeader(core, entries);
}

export function appendAsLeader(core: CoreState, entries: readonly Entry[]): void {
  core.log.append(entries);
  // Sent to the followers below before the store writes it (see FileLogStore): their acknowledgements can commit it.
  persist(core, null, entries, true);
  adoptConfigEntries(core, entries);
  for (const [peer, progress] of core.progress) sendAppendWhileAllowed(core, peer, progress);
  // A single-voter cluster commits as soon as its own write is durable (see RaftCore.persisted).
}

export function sendAppendWhileAllowed(core: CoreState, peer: NodeId, progress: Progress): void {
  const { maxInflightMessages, maxInflightTailMessages } = core.config;
  while (progress.nextIndex <= core.log.lastIndex && progress.canSend(maxInflightMessages)) {
    const { count, tail } = appendSize(core, progress.nextIndex);
    // The tail waits for an answer while enough appends are on their way (see RaftConfig.maxInflightTailMessages).
    if (tail && progress.mode === 'replicate' && progress.inflight.length >= maxInflightTailMessages) return;
    sendAppend(core, peer, progress, count);
  }
}

/**
 * How many entries from `from` one append carries: at most `maxEntriesPerMessage`, and `maxBytesPerMessage` of text
 * (the first entry however long). And whether they are the log's tail: the rest of it, less than a full message either
 * way (Nagle's rule holds a tail back; a full message goes).
 */
function appendSize(core: CoreState, from: number): { readonly count: number; readonly tail: boolean } {
  const { maxEntriesPerMessage, maxBytesPerMessage } = core.config;
  const last = Math.min(core.log.lastIndex, from + maxEntriesPerMessage - 1);
  let bytes = 0;
  for (let index = from; index <= last; index++) {
    bytes += core.log.entryAt(index)?.data.length ?? 0;
    if (bytes > maxBytesPerMessage) return { count: Math.max(1, index - from), tail: false };
  }
  return { count: Math.max(0, last - from + 1), tail: last === core.log.lastIndex && last - from + 1 < maxEntriesPerMessage };
}

/** Send `count` entries from the follower's nextIndex (possibly none, as a probe). */
function sendAppend(core: CoreState, peer: NodeId, progress: Progress, count = appendSize(core, progress.nextIndex).count): void {
  const prevLogIndex = progress.nextIndex - 1;
  const prevLogTerm = core.log.termAt(prevLogIndex);
  if (prevLogTerm === undefined) {
    // The entries this follower needs were compacted away: send the snapshot instead.
    if (prevLogIndex > core.log.lastIndex) throw new Error(`nextIndex ${progress.nextIndex} of ${peer} is beyond the log`);
    startSnapshotTransfer(core, peer, progress);
    return;
  }
  const entries = core.log.slice(progress.nextIndex, core.log.lastIndex, count);
  core.send(peer, {
    type: 'AppendEntries',
    term: core.currentTerm,
    prevLogIndex,
    prevLogTerm,
    entries,
    leaderCommit: core.commit,
    round: core.round,
  });
  progress.sent(prevLogIndex + entries.length, entries.length);
}

/** An empty AppendEntries at `prevLogIndex`: it carries the round and the commit index, and its answer counts. */
export function sendEmptyAppend(core: CoreState, peer: NodeId, prevLogIndex: number, prevLogTerm: number): void {
  core.send(peer, { type: 'AppendEntries', term: core.currentTerm, prevLogIndex, prevLogTerm, entries: [], leaderCommit: core.commit, round: core.round });
}

/**
 * A heartbeat to one follower, carrying the current round and commit index. `detectLoss` (the heartbeat tick, never
 * a read's round): no progress since the previous tick means messages were lost, so send again.
 */
export function sendHeartbeat(core: CoreState, peer: NodeId, detectLoss: boolean): void {
  const progress = core.progress.get(peer)!;
  if (progress.mode === 'snapshot') {
    heartbeatDuringTransfer(core, peer, progress, detectLoss);
    return;
  }
  if (!detectLoss) {
    // A read's round: an empty append where the follower is known to match (or the probe point); its answer counts.
    const prevLogIndex = progress.mode === 'replicate' ? progress.matchIndex : progress.nextIndex - 1;
    const prevLogTerm = core.log.termAt(prevLogIndex);
    if (prevLogTerm !== undefined) {
      sendEmptyAppend(core, peer, prevLogIndex, prevLogTerm);
      return;
    }
  }
  if (progress.mode === 'probe') {
    // The heartbeat doubles as the retransmission of a lost probe.
    progress.probeSent = false;
    sendAppend(core, peer, progress);
    return;
  }
  const lost = progress.matchIndex < core.log.lastIndex && progress.matchIndex === progress.matchAtLastHeartbeat;
  if (lost || core.log.termAt(progress.matchIndex) === undefined) {
    // Entries are outstanding but the follower acknowledged nothing for a whole heartbeat interval: the messages
    // carrying them were lost. An idle leader would otherwise never send them again (the empty heartbeat below
    // succeeds at matchIndex), leaving the follower behind and the last proposals uncommitted. Probe again. So too
    // when the log was compacted past matchIndex: there is no term to send there, and the probe finds the snapshot.
    progress.becomeProbe();
    sendAppend(core, peer, progress);
    return;
  }
  progress.matchAtLastHeartbeat = progress.matchIndex;
  // In replicate mode the follower is known to match up to matchIndex, so an empty append there always succeeds
  // and carries the commit index.
  sendEmptyAppend(core, peer, progress.matchIndex, core.log.termAt(progress.matchIndex)!);
}

export function handleAppendResponse(core: CoreState, from: NodeId, response: AppendEntriesResponse): void {
  if (core.currentRole !== 'leader') return;
  const progress = core.progress.get(from);
  if (progress === undefined) return;
  progress.recentActive = true;
  roundAnswered(core, progress, response.round);
  if (response.success) {
    const inflightBefore = progress.inflight.length;
    const advanced = progress.acknowledge(response.index);
    if (progress.mode === 'snapshot' && (core.log.termAt(progress.matchIndex) !== undefined || progress.matchIndex >= progress.snapshot!.meta.index)) {
      // Appends sent before the transfer began (or a heartbeat answered once the snapshot was installed) brought the
      // follower within reach of the log again, or past the snapshot being sent (etcd does the same): replicate
      // instead. Staying in snapshot mode would ignore the transfer's `installed` answer, whose index is now at or
      // below matchIndex, and wait for it forever.
      progress.becomeProbe();
    }
    if (advanced) {
      maybeCommit(core);
      if (core.currentRole !== 'leader') return;
      if (from === core.transferTarget && progress.matchIndex === core.log.lastIndex) sendTimeoutNow(core, from);
      maybePromote(core, from, progress);
    }
    if (progress.mode === 'replicate' && progress.inflight.length === inflightBefore && inflightBefore >= core.config.maxInflightMessages) {
      // A response that frees nothing while the window is full means messages were lost: let one more through so
      // that a gap is detected and the follower falls back to probing (etcd frees one slot the same way).
      progress.inflight.shift();
    }
    sendAppendWhileAllowed(core, from, progress);
    return;
  }
  if (progress.mode === 'snapshot') {
    const transfer = progress.snapshot!;
    // Every chunk was taken but no `installed` came: if the follower's log ends before the snapshot, it lost it (a
    // crash before the last chunk was durable): send the snapshot again. Otherwise the answer was lost: send the last
    // chunk again, which a follower that installed the snapshot answers with `installed`.
    if (transfer.lastChunk !== null && transfer.acked > transfer.lastChunk) {
      if (response.hintIndex < transfer.meta.index) {
        startSnapshotTransfer(core, from, progress);
      } else {
        transfer.acked = transfer.lastChunk;
        transfer.requested = transfer.lastChunk;
        requestChunks(core, from, progress);
      }
    }
    return;
  }
  // Fast backtracking: jump to the end of the last term the follower's hint and our log have in common.
  let nextProbe = response.hintIndex + 1;
  if (response.hintTerm > 0) {
    nextProbe = core.log.lastIndexWithTermAtMost(response.hintIndex, response.hintTerm).index + 1;
  }
  if (progress.reject(response.index, nextProbe)) sendAppend(core, from, progress);
}
