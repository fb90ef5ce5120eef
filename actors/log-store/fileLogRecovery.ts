/**
 * Opening a `FileLogStore`'s directory: the log file read back frame by frame (fileLogFormat.ts) through the same
 * steps the writes took (fileLogState.ts), its identity checked, a torn tail cut off; or, in a new directory, a file
 * that names its cluster and node. And the file system steps that make a new file durable, shared with compaction.
 */
import { closeSync, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeId } from '../../src/core/index.js';
import { corrupt, FrameBuilder, readFrames, type FileRecord } from './fileLogFormat.js';
import { FileLogState } from './fileLogState.js';
import type { StoreIdentity } from './levelLogStoreOptions.js';

export const LOG_FILE = 'log';
/** A compaction's new log, renamed over the old one once durable. */
export const REWRITE_FILE = 'log.rewrite';

export interface RecoveredFileLog {
  readonly state: FileLogState;
  /** The voters recorded when the store was created, or null. */
  readonly voters: readonly NodeId[] | null;
  /** The length of the log file, torn tail cut. */
  readonly fileBytes: number;
}

/** Throws `StoreCorruptedError` when the file cannot be trusted or belongs to another cluster or node. */
export function recoverFileLog(location: string, identity: StoreIdentity): RecoveredFileLog {
  mkdirSync(location, { recursive: true });
  rmSync(join(location, REWRITE_FILE), { force: true }); // a rewrite a crash interrupted: the log is whole
  const path = join(location, LOG_FILE);
  const bytes = readIfExists(path);
  const { frames, validBytes } = readFrames(bytes, LOG_FILE);
  if (frames.length === 0) {
    // LevelDB's files: this directory is a LevelLogStore's, whose state a new log here would silently forget.
    if (existsSync(join(location, 'CURRENT'))) throw corrupt('IDENTITY_MISMATCH', LOG_FILE, `${location} holds a LevelDB log store (LevelLogStore), not a file log`);
    // A new store (or one whose first frame never became durable): record who it belongs to.
    const voters = identity.members ?? null;
    const first = new FrameBuilder().identity({ clusterId: identity.clusterId, nodeId: identity.nodeId, ...(voters === null ? {} : { voters }) }).build();
    writeNewFile(path, first);
    syncDirectory(location);
    return { state: new FileLogState(), voters, fileBytes: first.length };
  }
  const voters = checkIdentity(frames[0]![0], identity);
  const state = new FileLogState();
  frames.forEach((records, at) => {
    for (const record of at === 0 ? records.slice(1) : records) {
      if (record.kind === 'identity') throw corrupt('UNDECODABLE', LOG_FILE, 'an identity record after the first frame');
      if (record.kind === 'snapshot') state.swap(record.snapshot);
      else {
        const refusal = state.refusal(record.truncateFrom, record.entries);
        if (refusal !== null) throw corrupt('INDEX_GAP', LOG_FILE, `a stored write ${refusal}`, record.entries[0]?.index);
        state.save(record.hardState, record.truncateFrom, record.entries);
      }
    }
  });
  const end = Math.max(state.lastIndex, state.snapshotIndex);
  if (state.hardState.commit > end) throw corrupt('COMMIT_BEYOND_LOG', LOG_FILE, `the hard state's commit index ${state.hardState.commit} is beyond the log's end ${end}`);
  if (validBytes < bytes.length) {
    // The torn tail of a write that was never acknowledged.
    withFile(path, 'r+', (fd) => (ftruncateSync(fd, validBytes), fdatasyncSync(fd)));
  }
  return { state, voters, fileBytes: validBytes };
}

function checkIdentity(record: FileRecord | undefined, identity: StoreIdentity): readonly NodeId[] | null {
  if (record?.kind !== 'identity') throw corrupt('IDENTITY_MISMATCH', LOG_FILE, 'the log holds Raft state but no identity: refusing to guess which cluster and node it belongs to');
  const { clusterId, nodeId, voters } = record.identity;
  if (clusterId !== identity.clusterId || nodeId !== identity.nodeId) {
    throw corrupt(
      'IDENTITY_MISMATCH',
      LOG_FILE,
      `this store belongs to node ${JSON.stringify(nodeId)} of cluster ${JSON.stringify(clusterId)}, ` +
        `not node ${JSON.stringify(identity.nodeId)} of cluster ${JSON.stringify(identity.clusterId)}`,
    );
  }
  return voters ?? null;
}

/** Write `bytes` as the whole of a new file at `path`, durably (its name is the caller's: see syncDirectory). */
export function writeNewFile(path: string, bytes: Buffer): void {
  withFile(path, 'w', (fd) => (writeFully(fd, bytes), fdatasyncSync(fd)));
}

export function writeFully(fd: number, bytes: Buffer): void {
  let at = 0;
  while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
}

/** A new or renamed file's name must survive a crash too. */
export function syncDirectory(directory: string): void {
  withFile(directory, 'r', fsyncSync);
}

function withFile(path: string, flags: string, use: (fd: number) => void): void {
  const fd = openSync(path, flags);
  try {
    use(fd);
  } finally {
    closeSync(fd);
  }
}

function readIfExists(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}
