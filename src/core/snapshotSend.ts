/**
 * Sending a snapshot, leader side (paper section 7): a follower whose needed entries were compacted away gets the
 * stored snapshot in chunks, read from the store (`readSnapshotChunk`) a window at a time and sent as they arrive.
 *
 * Invariants (progress.ts, SnapshotTransfer): acked <= requested <= acked + snapshotWindow, and nothing past the last
 * chunk once a read said which it is. Only chunks of the current window are sent; a chunk or answer that was lost is
 * sent again from `acked` when a heartbeat finds no progress. The follower is sent no entries meanwhile, only rounds.
 */
import { maybeCommit } from './commit.js';
import { sendAppendWhileAllowed, sendEmptyAppend } from './leaderReplication.js';
import { maybePromote } from './membershipChanges.js';
import type { Progress } from './progress.js';
import { roundAnswered } from './readIndex.js';
import type { CoreState } from './state.js';
import type { Effect, InstallSnapshotResponse, NodeId, SnapshotMeta } from './types.js';

export function startSnapshotTransfer(core: CoreState, peer: NodeId, progress: Progress): void {
  if (core.snapshotMeta === null) throw new Error(`entries for ${peer} were compacted but there is no snapshot`);
  progress.becomeSnapshot(core.snapshotMeta);
  requestChunks(core, peer, progress);
}

/** Read chunks from the store until `snapshotWindow` of them are unacknowledged (or the last one is out). */
export function requestChunks(core: CoreState, peer: NodeId, progress: Progress): void {
  const transfer = progress.snapshot!;
  while (transfer.requested < transfer.acked + core.config.snapshotWindow && (transfer.lastChunk === null || transfer.requested <= transfer.lastChunk)) {
    core.effects.push({ type: 'readSnapshotChunk', to: peer, meta: transfer.meta, chunk: transfer.requested++ });
  }
}

/** `RaftCore.snapshotChunkRead`: send a chunk the store has read, if it is still wanted. */
export function chunkRead(core: CoreState, to: NodeId, meta: SnapshotMeta, chunk: number, data: Uint8Array, done: boolean): Effect[] {
  const progress = core.currentRole === 'leader' ? core.progress.get(to) : undefined;
  const transfer = progress?.snapshot;
  // Only chunks of the current window: a read answered after a go-back (or already acknowledged) is dropped.
  if (progress === undefined || transfer === undefined || transfer === null || chunk < transfer.acked || chunk >= transfer.requested) return [];
  if (meta.index !== transfer.meta.index || meta.term !== transfer.meta.term) {
    // A newer snapshot replaced the one being sent: start over with it.
    progress.becomeSnapshot(meta);
    requestChunks(core, to, progress);
    return core.flush();
  }
  if (done) transfer.lastChunk = chunk;
  core.send(to, { type: 'InstallSnapshot', term: core.currentTerm, round: core.round, meta, chunk, data, done });
  return core.flush();
}

/** `RaftCore.snapshotChunkMissing`: the store has no chunk `chunk` (see there). */
export function chunkMissing(core: CoreState, to: NodeId, chunk: number): Effect[] {
  const progress = core.currentRole === 'leader' ? core.progress.get(to) : undefined;
  const transfer = progress?.snapshot;
  if (progress === undefined || transfer === undefined || transfer === null || core.snapshotMeta === null) return [];
  if (chunk !== transfer.acked) return [];
  if (sameSnapshot(transfer.meta, core.snapshotMeta)) {
    transfer.requested = transfer.acked;
    transfer.acknowledged = false;
    return [];
  }
  progress.becomeSnapshot(core.snapshotMeta);
  requestChunks(core, to, progress);
  return core.flush();
}

/**
 * A heartbeat to a follower receiving a snapshot. On the heartbeat tick (`detectLoss`), no progress for a whole
 * interval means a chunk or its answer was lost: go back to the first unanswered chunk.
 */
export function heartbeatDuringTransfer(core: CoreState, peer: NodeId, progress: Progress, detectLoss: boolean): void {
  const transfer = progress.snapshot!;
  if (detectLoss) {
    if (!transfer.acknowledged) {
      transfer.requested = transfer.acked;
      requestChunks(core, peer, progress);
    }
    transfer.acknowledged = false;
  }
  // The round still goes out, at the start of our log: a follower busy with the snapshot answers it, so reads,
  // leases and check-quorum keep counting it (its entries past the snapshot are not asked for meanwhile).
  sendEmptyAppend(core, peer, core.log.snapshotIndex, core.log.snapshotTerm);
}

export function handleInstallSnapshotResponse(core: CoreState, from: NodeId, response: InstallSnapshotResponse): void {
  if (core.currentRole !== 'leader') return;
  const progress = core.progress.get(from);
  if (progress === undefined) return;
  progress.recentActive = true;
  roundAnswered(core, progress, response.round);
  if (response.installed) {
    if (response.index <= progress.matchIndex) return;
    progress.snapshotInstalled(response.index);
    maybeCommit(core);
    if (core.currentRole !== 'leader') return;
    // A learner caught up by the snapshot is promoted now: on an idle log no later acknowledgement would advance.
    maybePromote(core, from, progress);
    sendAppendWhileAllowed(core, from, progress);
    return;
  }
  const transfer = progress.snapshot;
  if (progress.mode !== 'snapshot' || transfer === null || transfer.meta.index !== response.index) return;
  // The follower's answer says which chunk it takes next: ahead of what we knew is progress; behind it means it
  // started over (a restart, a chunk 0 resent) or the answer is old: either way, continue from there.
  if (response.nextChunk !== transfer.acked) {
    transfer.acknowledged = true;
    if (response.nextChunk < transfer.acked) transfer.requested = response.nextChunk;
    transfer.acked = response.nextChunk;
    transfer.requested = Math.max(transfer.requested, transfer.acked);
    requestChunks(core, from, progress);
  }
  // The same answer again (a duplicate, or an out-of-order chunk refused) changes nothing; a lost chunk is sent
  // again from `acked` when a heartbeat finds no progress.
}

export function sameSnapshot(a: SnapshotMeta, b: SnapshotMeta): boolean {
  return a.index === b.index && a.term === b.term;
}
