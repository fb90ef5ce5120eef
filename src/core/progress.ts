/**
 * What a leader knows about one follower's log (etcd's tracker.Progress, in small).
 *
 * - `probe`: the leader does not know where the follower's log matches; it sends one AppendEntries at a time and
 *   waits for the answer (or the next heartbeat) before sending another.
 * - `replicate`: the follower is known to match up to `matchIndex`; the leader streams entries optimistically,
 *   advancing `nextIndex` as it sends, with at most `maxInflight` unacknowledged messages.
 *
 * - `snapshot`: the entries the follower needs were compacted away; the leader streams it a snapshot, a window of
 *   chunks at a time, and resumes probing after the snapshot's index once it is installed.
 *
 * Invariant: matchIndex < nextIndex.
 */
import type { SnapshotMeta } from './types.js';

export type ProgressMode = 'probe' | 'replicate' | 'snapshot';

export interface SnapshotTransfer {
  readonly meta: SnapshotMeta;
  acked: number;
  requested: number;
  lastChunk: number | null;
  acknowledged: boolean;
}

export class Progress {
  matchIndex = 0;
  nextIndex: number;
  mode: ProgressMode = 'probe';
  /** In probe mode: a probe is outstanding, do not send another until a response or heartbeat. */
  probeSent = false;
  /** Last index of each unacknowledged message in replicate mode, oldest first. */
  readonly inflight: number[] = [];
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /**
   * matchIndex when the previous heartbeat went out in replicate mode. Unchanged at the next heartbeat while entries
   * are outstanding means the messages carrying them were lost (see leaderReplication.sendHeartbeat).
   */
  matchAtLastHeartbeat = -1;
  /** The latest heartbeat round the follower has answered in this term (for ReadIndex and leases). */
  ackedRound = 0;
  /**
   * In snapshot mode: the snapshot being sent; the chunk the follower expects next (`acked`); the next chunk to read
   * from the store (`requested`); the last chunk once a read said so; whether the follower made progress since the
   * last heartbeat. Invariant: acked <= requested.
   */
  snapshot: SnapshotTransfer | null = null;

  constructor(nextIndex: number) {
    this.nextIndex = nextIndex;
  }

  /** Whether another AppendEntries carrying entries may be sent now. */
  canSend(maxInflight: number): boolean {
    if (this.mode === 'snapshot') return false;
    return this.mode === 'probe' ? !this.probeSent : this.inflight.length < maxInflight;
  }

  /** Record that a message ending at `lastIndex` was sent. */
  sent(lastIndex: number, entryCount: number): void {
    if (this.mode === 'probe') {
      this.probeSent = true;
    } else if (entryCount > 0) {
      this.nextIndex = lastIndex + 1;
      this.inflight.push(lastIndex);
    }
  }

  /** A success response: the follower matches up to `index`. Returns whether anything changed. */
  acknowledge(index: number): boolean {
    const advanced = index > this.matchIndex;
    if (advanced) this.matchIndex = index;
    if (this.nextIndex <= this.matchIndex) this.nextIndex = this.matchIndex + 1;
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
    if (this.mode === 'probe') {
      this.probeSent = false;
      this.becomeReplicate();
    }
    return advanced;
  }

  /**
   * A rejection of the AppendEntries whose prevLogIndex was `rejected`, with the follower's hint. Returns false when
   * the rejection is stale (it answers a message older than what we already know) and was ignored.
   */
  reject(rejected: number, nextProbe: number): boolean {
    if (this.mode === 'replicate') {
      if (rejected <= this.matchIndex) return false;
      this.becomeProbe();
      this.nextIndex = Math.max(this.matchIndex + 1, Math.min(rejected, nextProbe));
      return true;
    }
    if (this.nextIndex - 1 !== rejected) return false;
    this.nextIndex = Math.max(this.matchIndex + 1, Math.min(rejected, nextProbe));
    this.probeSent = false;
    return true;
  }

  becomeSnapshot(meta: SnapshotMeta): void {
    this.mode = 'snapshot';
    this.inflight.length = 0;
    this.probeSent = false;
    this.snapshot = { meta, acked: 0, requested: 0, lastChunk: null, acknowledged: true };
  }

  /** The follower installed a snapshot ending at `index`: probe from just after it. */
  snapshotInstalled(index: number): void {
    this.snapshot = null;
    this.matchIndex = Math.max(this.matchIndex, index);
    this.becomeProbe();
  }

  becomeProbe(): void {
    this.snapshot = null;
    this.mode = 'probe';
    this.probeSent = false;
    this.inflight.length = 0;
    this.nextIndex = this.matchIndex + 1;
  }

  private becomeReplicate(): void {
    this.mode = 'replicate';
    this.inflight.length = 0;
    this.nextIndex = this.matchIndex + 1;
  }
}
