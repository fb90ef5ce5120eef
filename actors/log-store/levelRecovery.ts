/**
 * The checks a `LevelLogStore` makes on open and on `Load`, before it trusts what the database holds: the directory
 * belongs to this cluster and node (a fresh one is stamped), every key and record decodes with a valid checksum, the
 * log after the snapshot has no gap and each entry sits at its own index, and the hard state commits nothing beyond
 * the log. Any failure is a `StoreCorruptedError` naming the key where it was found.
 */
import type { Entry, NodeId, RecoveredState } from '../../src/core/index.js';
import { StoreCorruptedError } from './LogStore.js';
import type { StoreIdentity } from './LevelLogStore.js';
import { DecodeFailure, decodeEntry, decodeRecord, decodeRun, decodeRunKey, encodeRecord, entryKey, runKey, type RunBounds } from './levelCodec.js';
import {
  acceptCurrentSnapshot,
  acceptHardState,
  acceptIdentity,
  acceptVoters,
  HARD_STATE_KEY,
  IDENTITY_KEY,
  SNAPSHOT_META_KEY,
  syncWrite,
  VOTERS_KEY,
  ZERO_HARD_STATE,
  type Bytes,
  type CurrentSnapshot,
  type LevelDatabase,
  type StoreSublevels,
} from './levelLayout.js';
import { RAW_KEYS, type RawOperation } from './levelBatch.js';
import type { KeySpace } from './levelKeySpace.js';
import { RunIndex } from './levelRunIndex.js';
import type { SnapshotChunkStorage } from './snapshotChunkStorage.js';

/** What open finds: the log's bounds and the current snapshot. */
export interface RecoveredLayout {
  readonly lastIndex: number;
  /** Invariant: no entry is stored below this index. */
  readonly firstIndex: number;
  readonly current: CurrentSnapshot | null;
  /** The runs stored, from their keys. */
  readonly runs: RunIndex;
}

/**
 * Check (or, on a fresh database, record) the identity, find the log's bounds and the current snapshot, and drop the
 * chunks of any other snapshot generation: a pending snapshot that a crash interrupted.
 */
export async function recoverLayout(
  /** The root database the key spaces of `sublevels` are in. */
  db: LevelDatabase,
  sublevels: StoreSublevels,
  chunks: SnapshotChunkStorage,
  identity: StoreIdentity,
): Promise<RecoveredLayout> {
  const stored = await sublevels.meta.get(IDENTITY_KEY);
  const runs = RunIndex.of(await readRunKeys(sublevels.entries));
  if (stored === undefined) {
    const hardState = await sublevels.hard.get(HARD_STATE_KEY);
    if (runs.size > 0 || hardState !== undefined) {
      throw new StoreCorruptedError({
        code: 'STORE_CORRUPTED',
        reason: 'IDENTITY_MISMATCH',
        key: 'meta/identity',
        message: 'the store holds Raft state but no identity: refusing to guess which cluster and node it belongs to',
      });
    }
    const operations: RawOperation[] = [
      { type: 'put', key: sublevels.meta.key(IDENTITY_KEY), value: encodeRecord({ clusterId: identity.clusterId, nodeId: identity.nodeId }) },
    ];
    if (identity.members !== undefined) {
      operations.push({ type: 'put', key: sublevels.membership.key(VOTERS_KEY), value: encodeRecord({ voters: identity.members }) });
    }
    await db.batch<Bytes, Bytes>(operations, { ...RAW_KEYS, ...syncWrite });
    await chunks.recover(null);
    return { lastIndex: 0, firstIndex: 1, current: null, runs };
  }
  const found = decodeOrCorrupt('meta/identity', undefined, () => decodeRecord(stored, acceptIdentity));
  if (found.clusterId !== identity.clusterId || found.nodeId !== identity.nodeId) {
    throw new StoreCorruptedError({
      code: 'STORE_CORRUPTED',
      reason: 'IDENTITY_MISMATCH',
      key: 'meta/identity',
      message:
        `the store belongs to node ${JSON.stringify(found.nodeId)} of cluster ${JSON.stringify(found.clusterId)}, ` +
        `not node ${JSON.stringify(identity.nodeId)} of cluster ${JSON.stringify(identity.clusterId)}`,
    });
  }
  const lastIndex = runs.lastRun?.last ?? 0;
  const firstIndex = runs.firstRun?.first ?? lastIndex + 1;
  const metaValue = await sublevels.snapshot.get(SNAPSHOT_META_KEY);
  const current = metaValue === undefined ? null : decodeOrCorrupt('snapshot/meta', undefined, () => decodeRecord(metaValue, acceptCurrentSnapshot));
  // Chunks of any other generation belong to a pending snapshot that a crash interrupted: forget it.
  await chunks.recover(current);
  return { lastIndex, firstIndex, current, runs };
}

/** The bounds of every run stored, in key order; a key that is no run's, or runs that overlap, are corruption. */
async function readRunKeys(entries: KeySpace): Promise<RunBounds[]> {
  const bounds: RunBounds[] = [];
  for (const key of await entries.keys()) {
    const keyName = `entries/${toHex(key)}`;
    const run = decodeOrCorrupt(keyName, undefined, () => decodeRunKey(key));
    const previous = bounds[bounds.length - 1];
    if (previous !== undefined && run.first <= previous.last) {
      throw new StoreCorruptedError({
        code: 'STORE_CORRUPTED',
        reason: 'MISPLACED_ENTRY',
        key: keyName,
        index: run.first,
        message: `the run ${run.first}..${run.last} (key ${keyName}) overlaps the run ${previous.first}..${previous.last} before it`,
      });
    }
    bounds.push(run);
  }
  return bounds;
}

/** The entries of the durable run `run`, verified: it must be there, decode, and hold exactly its entries. */
export async function readRun(entries: KeySpace, run: RunBounds): Promise<readonly Entry[]> {
  const key = runKey(run.first, run.last);
  const value = await entries.get(key);
  const keyName = `entries/${toHex(key)}`;
  if (value === undefined) {
    throw new StoreCorruptedError({
      code: 'STORE_CORRUPTED',
      reason: 'INDEX_GAP',
      key: keyName,
      index: run.first,
      message: `the run ${run.first}..${run.last} (key ${keyName}) is missing`,
    });
  }
  return decodeStoredRun(keyName, run, value);
}

/** The entries a stored value holds, checked against the run its key names. */
function decodeStoredRun(keyName: string, run: RunBounds, value: Uint8Array): readonly Entry[] {
  const entries = decodeOrCorrupt(keyName, run.first, () => (run.first === run.last ? [decodeEntry(value)] : decodeRun(value)));
  const first = entries[0]?.index;
  if (first !== run.first || entries.length !== run.last - run.first + 1) {
    const held = first === undefined ? 'no entries' : `entries ${first}..${first + entries.length - 1}`;
    const what = run.first === run.last ? `entry ${run.first} (key ${keyName}) says it is entry ${first}` : `the run ${run.first}..${run.last} (key ${keyName}) holds ${held}`;
    throw new StoreCorruptedError({ code: 'STORE_CORRUPTED', reason: 'MISPLACED_ENTRY', key: keyName, index: run.first, message: what });
  }
  return entries;
}

/** The voters recorded when the store was created, or null when none were given. */
export async function readStoredMembers(sublevels: StoreSublevels): Promise<readonly NodeId[] | null> {
  const value = await sublevels.membership.get(VOTERS_KEY);
  if (value === undefined) return null;
  return decodeOrCorrupt('membership/voters', undefined, () => decodeRecord(value, acceptVoters)).voters;
}

/**
 * Read and verify everything durable: hard state, the current snapshot's meta (read on open), then every entry after
 * the snapshot in key order. Entries at or before the snapshot's index (left by a crash before `CompactLog`, or by a
 * log that the installed snapshot overtook) are not read: the snapshot stands for them.
 */
export async function readDurableState(sublevels: StoreSublevels, current: CurrentSnapshot | null): Promise<RecoveredState> {
  const hardValue = await sublevels.hard.get(HARD_STATE_KEY);
  const hardState = hardValue === undefined ? ZERO_HARD_STATE : decodeOrCorrupt('hard/state', undefined, () => decodeRecord(hardValue, acceptHardState));
  const snapshot = current?.meta ?? null;
  const snapshotIndex = snapshot?.index ?? 0;
  const entries: Entry[] = [];
  let expected = snapshotIndex + 1;
  // The run that the entry after the snapshot falls inside may start at or before the snapshot (compaction keeps
  // such a run whole): start there, and skip what the snapshot covers.
  const before = (await sublevels.entries.keys({ lte: entryKey(snapshotIndex), reverse: true, limit: 1 }))[0];
  const straddles = before !== undefined && decodeOrCorrupt(`entries/${toHex(before)}`, undefined, () => decodeRunKey(before)).last > snapshotIndex;
  const iterator = sublevels.entries.iterator(straddles ? { gte: before } : { gt: entryKey(snapshotIndex) });
  try {
    for (;;) {
      const page = await iterator.nextv(1024);
      if (page.length === 0) break;
      for (const [key, value] of page) {
        const keyName = `entries/${toHex(key)}`;
        const run = decodeOrCorrupt(keyName, undefined, () => decodeRunKey(key));
        if (run.first > expected || (run.first < expected && entries.length > 0)) {
          throw new StoreCorruptedError({
            code: 'STORE_CORRUPTED',
            reason: 'INDEX_GAP',
            key: keyName,
            index: expected,
            message: `entry ${expected} is missing: the next stored run is ${run.first}..${run.last} (key ${keyName})`,
          });
        }
        for (const entry of decodeStoredRun(keyName, run, value)) if (entry.index >= expected) entries.push(entry);
        expected = run.last + 1;
      }
    }
  } finally {
    await iterator.close();
  }
  const lastIndex = expected - 1;
  if (hardState.commit > lastIndex) {
    const end = entries.length === 0 && snapshot !== null ? `the log is empty after the snapshot at ${snapshotIndex}` : `the log ends at ${lastIndex}`;
    throw new StoreCorruptedError({
      code: 'STORE_CORRUPTED',
      reason: 'COMMIT_BEYOND_LOG',
      key: 'hard/state',
      message: `the hard state commits index ${hardState.commit} but ${end}`,
    });
  }
  return { hardState, snapshot, entries };
}

export function decodeOrCorrupt<T>(key: string, index: number | undefined, decode: () => T, what?: string): T {
  try {
    return decode();
  } catch (error) {
    throw corruption(error, key, index, what);
  }
}

/** A `DecodeFailure` as the `StoreCorruptedError` that names where it was found; any other error as it is. */
export function corruption(error: unknown, key: string, index: number | undefined, what?: string): unknown {
  if (!(error instanceof DecodeFailure)) return error;
  const where = what ?? (index === undefined ? `key ${key}` : `entry ${index} (key ${key})`);
  const cause = { code: 'STORE_CORRUPTED' as const, reason: error.reason, key, message: `${where}: ${error.message}` };
  return new StoreCorruptedError(index === undefined ? cause : { ...cause, index });
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
