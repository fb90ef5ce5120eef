/**
 * Taking snapshots and compacting the log behind them (paper section 7).
 *
 * A snapshot is due once `snapshotThreshold` entries or `snapshotThresholdBytes` of commands were handed to apply
 * since the last one; it covers everything handed out (`handedToApply`), with the configuration in force there.
 * Members take theirs at different points of each run of `snapshotThreshold` entries (`snapshotPhase`), so that a
 * group does not stop to snapshot all at once.
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
  const entriesDue = snapshotThreshold > 0 && core.handedToApply >= core.snapshotRetryAt && entriesSnapshotDue(core, snapshotThreshold);
  const bytesDue = snapshotThresholdBytes > 0 && core.bytesSinceSnapshot >= snapshotThresholdBytes;
  if (entriesDue || bytesDue) startSnapshot(core);
}

/**
 * At most `threshold` entries apart, and on this member's phase once half of that has passed. Members applying the
 * same log at the same pace would otherwise all snapshot at the same index: every node's event loop busy with it at
 * once, and on a shared machine each slower for the others' work, while the leader waits for a quorum. A snapshot
 * taken off phase (the first after a restart, one due by bytes, one received) leads back to it within a run.
 */
function entriesSnapshotDue(core: CoreState, threshold: number): boolean {
  const last = core.snapshotMeta?.index ?? 0;
  const since = core.handedToApply - last;
  if (since >= threshold) return true;
  if (2 * since < threshold) return false;
  const phase = snapshotPhase(core, threshold);
  return Math.floor((core.handedToApply - phase) / threshold) > Math.floor((last - phase) / threshold);
}

/** This member's point in each run of `threshold` entries: its place among the members, sorted, spread evenly. */
function snapshotPhase(core: CoreState, threshold: number): number {
  if (core.snapshotPhase?.membership === core.membership) return core.snapshotPhase.phase;
  const { voters, learners } = core.membership;
  const members = [...voters, ...learners].sort();
  const place = members.indexOf(core.id);
  const phase = place <= 0 ? 0 : Math.floor((place * threshold) / members.length);
  core.snapshotPhase = { membership: core.membership, phase };
  return phase;
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
