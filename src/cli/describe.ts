/**
 * Read a data directory of either disk store without changing it, for `xraft describe`.
 *
 * A FileLogStore's (a `log` file): the file is copied, its snapshot files hard-linked (opening may cut a torn tail
 * off the log, never touches the snapshot files but to read them), and the copy is read through `FileLogStore`.
 *
 * A LevelLogStore's (LevelDB's `CURRENT`): LevelDB writes even when only reading (a LOCK file, its LOG, sometimes a
 * new MANIFEST, compactions), so the directory is never opened in place: its immutable table files (`*.ldb`, `*.sst`)
 * are hard-linked into a temporary directory (copied when linking fails, e.g. across file systems) and the small
 * mutable files are copied; the copy is opened, read through `LevelLogStore` (which verifies every checksum) and
 * deleted. The original's file names and contents stay byte for byte the same, and a running node's lock is never
 * taken.
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { storeKindIn } from '../../actors/log-store/diskLogStore.js';
import { FileLogStore } from '../../actors/log-store/FileLogStore.js';
import { readFrames } from '../../actors/log-store/fileLogFormat.js';
import { LOG_FILE } from '../../actors/log-store/fileLogRecovery.js';
import { LevelLogStore, type LevelDatabase } from '../../actors/log-store/LevelLogStore.js';
import { decodeRecord } from '../../actors/log-store/levelCodec.js';
import type { Entry, NodeId, RecoveredState } from '../core/index.js';

/** Why a directory cannot be described. */
export class DescribeError extends Error {
  override readonly name = 'DescribeError';
}

export interface DataDirectory {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** The voters recorded when the store was created (null when none were given). */
  readonly bootstrapVoters: readonly NodeId[] | null;
  readonly state: RecoveredState;
}

/** Everything durable in `dir`, read from a throwaway copy. */
export async function readDataDirectory(dir: string): Promise<DataDirectory> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DescribeError(`${dir} is not a directory`);
  const kind = storeKindIn(dir);
  if (kind === 'file') return readFileDirectory(dir);
  if (kind === null) throw new DescribeError(`${dir} is not an xraft data directory (no log file, no LevelDB CURRENT file)`);
  const copy = mkdtempSync(join(tmpdir(), 'xraft-describe-'));
  try {
    for (const name of readdirSync(dir)) {
      if (name === 'LOCK' || !statSync(join(dir, name)).isFile()) continue;
      if (/\.(ldb|sst)$/.test(name)) linkOrCopy(join(dir, name), join(copy, name));
      else copyFileSync(join(dir, name), join(copy, name));
    }
    const db = new Level<string, string>(copy) as unknown as LevelDatabase;
    await db.open();
    try {
      const meta = db.sublevel<Buffer, Buffer>('meta', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      const stored = await meta.get(Buffer.from('identity'));
      if (stored === undefined) throw new DescribeError(`${dir} holds no xraft log (no identity record)`);
      const identity = decodeRecord(stored, (value) => {
        const record = value as { clusterId?: unknown; nodeId?: unknown };
        return typeof record.clusterId === 'string' && typeof record.nodeId === 'string' ? { clusterId: record.clusterId, nodeId: record.nodeId } : null;
      });
      const store = new LevelLogStore({ db, identity });
      const state = await store.open();
      const bootstrapVoters = await store.storedMembers();
      await store.close();
      return { ...identity, bootstrapVoters, state };
    } finally {
      await db.close();
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

async function readFileDirectory(dir: string): Promise<DataDirectory> {
  const copy = mkdtempSync(join(tmpdir(), 'xraft-describe-'));
  try {
    copyFileSync(join(dir, LOG_FILE), join(copy, LOG_FILE));
    const snapshots = join(dir, 'snapshots');
    if (existsSync(snapshots)) {
      mkdirSync(join(copy, 'snapshots'));
      for (const name of readdirSync(snapshots)) linkOrCopy(join(snapshots, name), join(copy, 'snapshots', name));
    }
    const first = readFrames(readFileSync(join(copy, LOG_FILE)), LOG_FILE).frames[0]?.[0];
    if (first?.kind !== 'identity') throw new DescribeError(`${dir} holds no xraft log (no identity record)`);
    const { clusterId, nodeId } = first.identity;
    const store = new FileLogStore({ location: copy, identity: { clusterId, nodeId } });
    try {
      const state = await store.open();
      return { clusterId, nodeId, bootstrapVoters: await store.storedMembers(), state };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** A file that is never rewritten, into the copy: hard-linked, or copied across file systems. */
function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** The configuration in force after the whole log: the last config entry, else the snapshot's, else the bootstrap. */
export function lastConfiguration(directory: DataDirectory): { voters: readonly NodeId[]; learners: readonly NodeId[]; source: string } {
  const { entries, snapshot } = directory.state;
  for (let at = entries.length - 1; at >= 0; at--) {
    const entry = entries[at]!;
    if (entry.kind === 'config') {
      const { voters, learners } = JSON.parse(entry.data) as { voters: NodeId[]; learners: NodeId[] };
      return { voters, learners, source: `entry ${entry.index}` };
    }
  }
  if (snapshot != null) return { voters: snapshot.voters, learners: snapshot.learners, source: `snapshot at ${snapshot.index}` };
  return { voters: directory.bootstrapVoters ?? [], learners: [], source: 'bootstrap' };
}

/** An entry's payload for people: a command's JSON (superjson's `json` part), a configuration, or nothing. */
export function describeEntryData(entry: Entry): string {
  if (entry.kind === 'noop') return '';
  try {
    const parsed = JSON.parse(entry.data) as { json?: unknown };
    return JSON.stringify(entry.kind === 'command' && typeof parsed === 'object' && parsed !== null && 'json' in parsed ? parsed.json : parsed);
  } catch {
    return entry.data;
  }
}
