/**
 * Receiving and installing a snapshot, follower side (paper section 7, InstallSnapshot receiver).
 *
 * Chunks are taken strictly in order (a window of early ones is kept), each stored by `writeSnapshotChunk` and
 * acknowledged once written; the last one's write makes the snapshot current in the store, after which the core
 * restarts its log at the snapshot and asks for the state machine to be restored (`restoreSnapshot`).
 *
 * Invariant: while `installing` is set (the last chunk is being written, or the state machine restored), nothing
 * replaces or clears the snapshot being installed and no entries are accepted: the core and its store must agree on
 * which snapshot is current, and the restore must not have its files replaced under it.
 */
import { reply, persist } from './durability.js';
import { checkRemoved, forgetUncommittedMembership, membershipFromLog } from './membershipChanges.js';
import { membershipOf } from './membership.js';
import { becomeFollower, failPendingProposals } from './roles.js';
import { sameSnapshot } from './snapshotSend.js';
import type { CoreState } from './state.js';
import type { Effect, InstallSnapshot, InstallSnapshotResponse, NodeId, SnapshotMeta } from './types.js';

export function handleInstallSnapshot(core: CoreState, from: NodeId, request: InstallSnapshot): void {
  becomeFollower(core, core.currentTerm, from);
  core.leaderRound = request.round;
  const { meta } = request;
  if (core.installing !== null) {
    // The last chunk of a snapshot is being written, and that write makes it current in the store: until it is
    // installed here too, nothing else may replace or clear `receiving`, or the core would no longer know the
    // snapshot its store holds. Then, until the state machine is restored from it, no newer snapshot may replace it
    // in the store under the reads of the restore. The same snapshot's `installed` answer follows; another
    // snapshot's chunks are sent again by the leader once this one is restored.
    return;
  }
  if (meta.index <= core.commit) {
    // Everything it covers is committed here already, hence matches the leader's log.
    core.receiving = null;
    reply(core, from, snapshotResponse(core, meta.index, 0, true));
    return;
  }
  if (core.snapshotting) {
    // Our own snapshot is being stored; the leader tries again with its next heartbeat.
    core.send(from, snapshotResponse(core, meta.index, 0, false));
    return;
  }
  const current = core.receiving !== null && sameSnapshot(core.receiving.meta, meta) ? core.receiving : null;
  if (request.chunk === 0 && (current === null || current.nextChunk > 0)) {
    core.receiving = { meta, nextChunk: 0, done: false, early: new Map() };
  } else if (current !== null && request.chunk > current.nextChunk && request.chunk < current.nextChunk + core.config.snapshotWindow) {
    // Ahead of its turn: keep it until the chunks before it arrive (they are in flight in the same window), and say
    // which chunk we take next: if the leader believes us further along (we started over), it goes back.
    current.early.set(request.chunk, request);
    core.send(from, snapshotResponse(core, meta.index, current.nextChunk, false));
    return;
  } else if (current === null || request.chunk !== current.nextChunk) {
    core.send(from, snapshotResponse(core, meta.index, current?.nextChunk ?? 0, false));
    return;
  }
  storeChunk(core, request);
  const receiving = core.receiving!;
  for (let next = receiving.early.get(receiving.nextChunk); next !== undefined && !receiving.done; next = receiving.early.get(receiving.nextChunk)) {
    receiving.early.delete(next.chunk);
    storeChunk(core, next);
  }
}

/** Write the chunk the receiving snapshot expects next. */
function storeChunk(core: CoreState, request: InstallSnapshot): void {
  const { meta } = request;
  const receiving = core.receiving!;
  receiving.nextChunk = request.chunk + 1;
  receiving.done = request.done;
  if (request.done) {
    receiving.early.clear();
    core.installing = { meta, chunks: receiving.nextChunk, stored: false };
  }
  if (request.done && core.log.termAt(meta.index) !== meta.term && core.log.lastIndex > meta.index) {
    // Our entries after the snapshot conflict with it (they are not in the leader's log, so not committed). Drop
    // them durably *before* the write that makes the snapshot current: a crash between the two must not leave
    // the new snapshot followed by entries of another history.
    const from = Math.max(meta.index + 1, core.log.firstIndex);
    core.log.truncateFrom(from);
    persist(core, from, []);
    if (from <= core.membershipIndex) {
      membershipFromLog(core);
      forgetUncommittedMembership(core);
    }
  }
  core.effects.push({ type: 'writeSnapshotChunk', meta, chunk: request.chunk, data: request.data, done: request.done });
}

/** `RaftCore.snapshotChunkWritten`: acknowledge a stored chunk; after the last one, install the snapshot. */
export function chunkWritten(core: CoreState, meta: SnapshotMeta, chunk: number, done: boolean): Effect[] {
  const receiving = core.receiving;
  if (receiving === null || !sameSnapshot(receiving.meta, meta)) return [];
  if (!done) {
    if (core.leaderId !== null) reply(core, core.leaderId, snapshotResponse(core, meta.index, chunk + 1, false));
    return core.flush();
  }
  // The snapshot is current in the store now: install it even if the leader is gone meanwhile (no one else will).
  core.receiving = null;
  if (core.installing !== null) core.installing.stored = true;
  installSnapshot(core, meta);
  return core.flush();
}

/** Start over from an installed snapshot (paper section 7, receiver steps 5 to 8). */
function installSnapshot(core: CoreState, meta: SnapshotMeta): void {
  if (meta.index <= core.handedToApply) {
    core.installing = null;
    if (core.leaderId !== null) reply(core, core.leaderId, snapshotResponse(core, meta.index, 0, true));
    return;
  }
  // The proposals this node waits on may be among the entries the snapshot covers, which it never sees.
  failPendingProposals(core, core.leaderId);
  const keptSuffix = core.log.restartAt(meta.index, meta.term);
  core.snapshotMeta = meta;
  core.baseMembership = membershipOf(meta);
  membershipFromLog(core);
  // A snapshot from before this node was added (its leader's later entries add it) is not its removal.
  forgetUncommittedMembership(core);
  core.commit = Math.max(core.commit, meta.index);
  core.handedToApply = meta.index;
  core.bytesSinceSnapshot = 0;
  core.stable = keptSuffix ? Math.max(Math.min(core.stable, core.log.lastIndex), meta.index) : meta.index;
  for (const write of core.pendingWrites) write.durableIndex = Math.min(write.durableIndex, core.stable);
  // Entries after the snapshot that conflict with it go; entries before it are covered by it.
  persist(core, keptSuffix ? null : meta.index + 1, []);
  core.effects.push({ type: 'restoreSnapshot', meta });
  core.effects.push({ type: 'compactLog', through: meta.index });
}

/** `RaftCore.snapshotRestored`: the state machine holds the snapshot's state; tell the leader it is installed. */
export function restored(core: CoreState, meta: SnapshotMeta): Effect[] {
  core.installing = null;
  core.applied = Math.max(core.applied, meta.index);
  if (core.leaderId !== null) reply(core, core.leaderId, snapshotResponse(core, meta.index, 0, true));
  checkRemoved(core);
  return core.flush();
}

export function snapshotResponse(core: CoreState, index: number, nextChunk: number, installed: boolean): InstallSnapshotResponse {
  return { type: 'InstallSnapshotResponse', term: core.currentTerm, index, nextChunk, installed, round: core.leaderRound };
}
