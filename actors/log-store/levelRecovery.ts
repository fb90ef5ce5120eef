/**
 * The checks a `LevelLogStore` makes on open and on `Load`, before it trusts what the database holds: the directory
 * belongs to this cluster and node (a fresh one is stamped), every key and record decodes with a valid checksum, the
 * log after the snapshot has no gap and each entry sits at its own index, and the hard state commits nothing beyond
 * the log. Any failure is a `StoreCorruptedError` naming the key where it was found.
 */
import type { Entry, NodeId, RecoveredState } from '../../src/core/index.js';
import { StoreCorruptedError } from './LogStore.js';
import type { StoreIdentity } from './LevelLogStore.js';
import { DecodeFailure, decodeEntry, decodeEntryKey, decodeRecord, encodeRecord, entryKey } from './levelCodec.js';
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
  type BatchOperation,
  type Bytes,
  type CurrentSnapshot,
  type LevelDatabase,
  type StoreSublevels,
} from './levelLayout.js';
import type { SnapshotChunkStorage } from './snapshotChunkStorage.js';

/** What open finds: the log's bounds and the current snapshot. */
export interface RecoveredLayout {
  readonly lastIndex: number;
  /** Invariant: no entry is stored below this index. */
  readonly firstIndex: number;
  readonly current: CurrentSnapshot | null;
}

/**
 * Check (or, on a fresh database, record) the identity, find the log's bounds and the current snapshot, and drop the
 * chunks of any other snapshot generation: a pending snapshot that a crash interrupted.
 */
export async function recoverLayout(
  db: LevelDatabase,
  sublevels: StoreSublevels,
  chunks: SnapshotChunkStorage,
  identity: StoreIdentity,
): Promise<RecoveredLayout> {
  const stored = await sublevels.meta.get(IDENTITY_KEY);
  const last = await sublevels.entries.keys({ reverse: true, limit: 1 }).all();
  const lastKey = last[0];
  if (stored === undefined) {
    const hardState = await sublevels.hard.get(HARD_STATE_KEY);
    if (lastKey !== undefined || hardState !== undefined) {
      throw new StoreCorruptedError({
        code: 'STORE_CORRUPTED',
        reason: 'IDENTITY_MISMATCH',
        key: 'meta/identity',
        message: 'the store holds Raft state but no identity: refusing to guess which cluster and node it belongs to',
      });
    }
    const operations: BatchOperation[] = [
      { type: 'put', sublevel: sublevels.meta, key: IDENTITY_KEY, value: encodeRecord({ clusterId: identity.clusterId, nodeId: identity.nodeId }) },
    ];
    if (identity.members !== undefined) {
      operations.push({ type: 'put', sublevel: sublevels.membership, key: VOTERS_KEY, value: encodeRecord({ voters: identity.members }) });
    }
    await db.batch<Bytes, Bytes>(operations, syncWrite);
    await chunks.recover(null);
    return { lastIndex: 0, firstIndex: 1, current: null };
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
  const lastIndex = lastKey === undefined ? 0 : decodeOrCorrupt(`entries/${toHex(lastKey)}`, undefined, () => decodeEntryKey(lastKey));
  const firstKey = (await sublevels.entries.keys({ limit: 1 }).all())[0];
  const firstIndex = firstKey === undefined ? lastIndex + 1 : decodeOrCorrupt(`entries/${toHex(firstKey)}`, undefined, () => decodeEntryKey(firstKey));
  const metaValue = await sublevels.snapshot.get(SNAPSHOT_META_KEY);
  const current = metaValue === undefined ? null : decodeOrCorrupt('snapshot/meta', undefined, () => decodeRecord(metaValue, acceptCurrentSnapshot));
  // Chunks of any other generation belong to a pending snapshot that a crash interrupted: forget it.
  await chunks.recover(current);
  return { lastIndex, firstIndex, current };
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
  const iterator = sublevels.entries.iterator({ gt: entryKey(snapshotIndex) });
  try {
    for (;;) {
      const page = await iterator.nextv(1024);
      if (page.length === 0) break;
      for (const [key, value] of page) {
        const keyName = `entries/${toHex(key)}`;
        const index = decodeOrCorrupt(keyName, undefined, () => decodeEntryKey(key));
        if (index !== expected) {
          throw new StoreCorruptedError({
            code: 'STORE_CORRUPTED',
            reason: 'INDEX_GAP',
            key: keyName,
            index: expected,
            message: `entry ${expected} is missing: the next stored entry is ${index} (key ${keyName})`,
          });
        }
        const entry = decodeOrCorrupt(keyName, index, () => decodeEntry(value));
        if (entry.index !== index) {
          throw new StoreCorruptedError({
            code: 'STORE_CORRUPTED',
            reason: 'MISPLACED_ENTRY',
            key: keyName,
            index,
            message: `entry ${index} (key ${keyName}) says it is entry ${entry.index}`,
          });
        }
        entries.push(entry);
        expected++;
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
