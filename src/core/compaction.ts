/**
 * Taking snapshots and compacting the log behind them (paper section 7).
 *
 * A snapshot is due once `snapshotThreshold` entries or `snapshotThresholdBytes` of commands were handed to apply
 * since the last one; it covers everything handed out (`handedToApply`), with the configuration in force there.
 * Invariant: the log is compacted only through an index that is both in a stored snapshot and applied, keeping
 * `snapshotTrailingEntries` before it so that a slightly slow follower needs no snapshot.
 */
import { membershipAt } from './membershipChanges.js';
import type { CoreState } from './state.js';

/** The state machine has applied every entry up to `index`: take a snapshot if one is due. */
export function appliedThrough(core: CoreState, index: number): void {
  if (index > core.handedToApply) throw new Error(`applied ${index} but only ${core.handedToApply} was handed out`);
  core.applied = Math.max(core.applied, index);
  const { snapshotThreshold, snapshotThresholdBytes } = core.config;
  const entriesDue =
    snapshotThreshold > 0 && core.handedToApply - (core.snapshotMeta?.index ?? 0) >= snapshotThreshold && core.handedToApply >= core.snapshotRetryAt;
  const bytesDue = snapshotThresholdBytes > 0 && core.bytesSinceSnapshot >= snapshotThresholdBytes;
  if (entriesDue || bytesDue) startSnapshot(core);
}

/** Ask for a snapshot of everything handed to apply, unless one is under way, one is arriving, or nothing is new. */
export function startSnapshot(core: CoreState): void {
  if (core.snapshotting || core.receiving !== null) return;
  const index = core.handedToApply;
  if (index <= (core.snapshotMeta?.index ?? 0)) return;
  const membership = membershipAt(core, index);
  core.snapshotting = true;
  core.bytesSinceSnapshot = 0;
  core.effects.push({
    type: 'takeSnapshot',
    meta: {
      index,
      term: core.log.termAt(index)!,
      voters: membership.voters,
      learners: membership.learners,
      ...(membership.addresses === undefined ? {} : { addresses: membership.addresses }),
    },
  });
}

/**
 * Taking or storing a snapshot failed: try again once another threshold's worth of entries (or of bytes: the count
 * started over with the attempt) has been applied, not on every apply (a state machine that cannot snapshot at all
 * would otherwise be asked again for each entry).
 */
export function snapshotFailed(core: CoreState): void {
  core.snapshotting = false;
  core.snapshotRetryAt = core.handedToApply + core.config.snapshotThreshold;
}

export function compactThrough(core: CoreState, through: number): void {
  const limit = Math.min(through, core.snapshotMeta?.index ?? 0, core.applied);
  if (limit <= core.log.snapshotIndex) return;
  core.baseMembership = membershipAt(core, limit);
  core.log.compact(limit);
  core.effects.push({ type: 'compactLog', through: limit });
}
