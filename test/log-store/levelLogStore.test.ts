/**
 * What LevelLogStore adds to the conformance suite: group commit, identity, and corruption detected on open
 * (checksum, undecodable value, gap, commit beyond the log), both through the level API and by flipping a byte in
 * the database's files on disk. Snapshots are levelSnapshots.test.ts, runs levelRuns.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, test } from 'vitest';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { entryKey } from '../../actors/log-store/levelCodec.js';
import type { Entry, LogStoreReply } from '../../src/index.js';
import { entries, freshDirectory, openError, removeDirectories } from './levelStoreDriver.js';

const identity = { clusterId: 'c1', nodeId: 'n1' };
afterEach(removeDirectories);

/** Attach a store like a node would, write `count` single-entry writes back to back, resolve on the last LogSaved. */
async function writeEntries(store: LevelLogStore, list: readonly Entry[], oneWritePerEntry = true): Promise<LogStoreReply[]> {
  const replies: LogStoreReply[] = [];
  const lastWriteId = oneWritePerEntry ? list.length : 1;
  const done = new Promise<void>((resolve, reject) =>
    store.attach((reply) => {
      replies.push(reply);
      if (reply.type === 'StoreFailed') reject(new Error(reply.cause.message));
      if (reply.type === 'LogSaved' && reply.writeId === lastWriteId) resolve();
    }),
  );
  const last = list[list.length - 1]!;
  if (oneWritePerEntry) {
    list.forEach((entry, i) => store.receive({ type: 'SaveLog', writeId: i + 1, hardState: { term: entry.term, votedFor: 'n1', commit: Math.max(0, entry.index - 1) }, truncateFrom: null, entries: [entry] }));
  } else {
    store.receive({ type: 'SaveLog', writeId: 1, hardState: { term: last.term, votedFor: 'n1', commit: last.index }, truncateFrom: null, entries: list });
  }
  await done;
  store.detach();
  await store.close();
  return replies;
}

describe('LevelLogStore group commit', () => {
  test('writes that arrive while a batch is in flight go into the next single synced batch', async () => {
    const store = new LevelLogStore({ location: freshDirectory(), identity });
    const replies = await writeEntries(store, entries(1, 300, 1));
    const { writes, batches, entries: appended } = store.stats;
    expect(writes).toBe(300);
    expect(appended).toBe(300);
    // The first write goes alone; the other 299 queue behind it: a handful of fsyncs, not 300.
    expect(batches).toBeLessThanOrEqual(5);
    expect(replies.filter((reply) => reply.type === 'LogSaved').length).toBe(batches);
    const reopened = new LevelLogStore({ location: store.location!, identity });
    const state = await reopened.open();
    await reopened.close();
    expect(state.entries).toEqual(entries(1, 300, 1));
    expect(state.hardState).toEqual({ term: 1, votedFor: 'n1', commit: 299 });
  });
});

describe('LevelLogStore identity', () => {
  test('records its identity on first open and refuses a store of another node or cluster', async () => {
    const db = new MemoryLevel();
    await writeEntries(new LevelLogStore({ db, identity }), entries(1, 3, 1));
    const otherNode = await openError(new LevelLogStore({ db, identity: { clusterId: 'c1', nodeId: 'n2' } }));
    expect(otherNode).toMatchObject({ code: 'STORE_CORRUPTED', reason: 'IDENTITY_MISMATCH', key: 'meta/identity' });
    expect(otherNode.message).toContain('belongs to node "n1" of cluster "c1", not node "n2" of cluster "c1"');
    const otherCluster = await openError(new LevelLogStore({ db, identity: { clusterId: 'c2', nodeId: 'n1' } }));
    expect(otherCluster.reason).toBe('IDENTITY_MISMATCH');
    expect((await new LevelLogStore({ db, identity }).open()).entries).toHaveLength(3);
  });

  test('keeps the voters it was created with', async () => {
    const db = new MemoryLevel();
    const store = new LevelLogStore({ db, identity: { ...identity, members: ['n1', 'n2', 'n3'] } });
    await store.open();
    expect(await new LevelLogStore({ db, identity }).storedMembers()).toEqual(['n1', 'n2', 'n3']);
  });
});

describe('LevelLogStore corruption, through the level API', () => {
  /** A memory-level database with entries 1..10 and direct byte access to the entries sublevel. */
  async function corruptible() {
    const db = new MemoryLevel();
    await writeEntries(new LevelLogStore({ db, identity }), entries(1, 10, 2));
    const raw = db.sublevel<Buffer, Buffer>('entries', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    return { db, raw };
  }

  test('a flipped byte in an entry is a checksum mismatch naming its key and index', async () => {
    const { db, raw } = await corruptible();
    const value = (await raw.get(entryKey(5)))!;
    value[30] = value[30]! ^ 0x01;
    await raw.put(entryKey(5), value);
    const error = await openError(new LevelLogStore({ db, identity }));
    expect(error).toMatchObject({ code: 'STORE_CORRUPTED', reason: 'CHECKSUM_MISMATCH', key: 'entries/0000000000000005', index: 5 });
    expect(error.message).toMatch(/^entry 5 \(key entries\/0000000000000005\): checksum mismatch/);
  });

  test('a truncated value is undecodable', async () => {
    const { db, raw } = await corruptible();
    await raw.put(entryKey(7), Buffer.from([1, 1, 0]));
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'UNDECODABLE', index: 7 });
  });

  test('a missing entry is a gap naming the missing index and the key found after it', async () => {
    const { db, raw } = await corruptible();
    await raw.del(entryKey(4));
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'INDEX_GAP', index: 4, key: 'entries/0000000000000005' });
  });

  test('an entry copied under another index is misplaced', async () => {
    const { db, raw } = await corruptible();
    await raw.put(entryKey(6), (await raw.get(entryKey(3)))!);
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'MISPLACED_ENTRY', index: 6 });
  });

  test('a hard state that commits beyond the stored log is refused', async () => {
    const { db, raw } = await corruptible();
    await raw.del(entryKey(10));
    await raw.del(entryKey(9)); // the log now ends at 8; the hard state commits 9
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'COMMIT_BEYOND_LOG', key: 'hard/state' });
  });

  test('a corrupted store answers Load with StoreFailed carrying the typed cause', async () => {
    const { db, raw } = await corruptible();
    const value = (await raw.get(entryKey(2)))!;
    value[value.length - 1] = value[value.length - 1]! ^ 0xff;
    await raw.put(entryKey(2), value);
    const store = new LevelLogStore({ db, identity });
    const reply = await new Promise<LogStoreReply>((resolve) => {
      store.attach(resolve);
      store.receive({ type: 'Load' });
    });
    store.detach();
    await store.close();
    expect(reply).toMatchObject({ type: 'StoreFailed', cause: { code: 'STORE_CORRUPTED', reason: 'CHECKSUM_MISMATCH', index: 2 } });
  });
});

describe('LevelLogStore corruption, on disk', () => {
  test('flipping a byte of an entry in the LevelDB table files fails the next open with StoreCorrupted naming its run', async () => {
    const location = freshDirectory();
    // Payloads that compression leaves alone, each unique, so that entry 5's bytes can be found in the files.
    const noise = Array.from({ length: 13 }, () => randomBytes(48).toString('base64'));
    const payload = (index: number) => `"entry-${index}-${noise[index]}"`;
    await writeEntries(new LevelLogStore({ location, identity }), entries(1, 12, 3, payload), false);
    // Move the data from the write-ahead log into a table file, as LevelDB does in the background.
    const compacting = new LevelLogStore({ location, identity });
    await compacting.open();
    await (compacting.db as unknown as { compactRange(start: string, end: string): Promise<void> }).compactRange('\x00', '\xff');
    await compacting.close();

    // Random base64 is stored mostly as literals, but compression may still turn a few bytes of it into a copy of
    // earlier ones: look for any 16-character stretch of entry 5's noise, not the whole of it.
    const files = readdirSync(location).filter((name) => name.endsWith('.ldb') || name.endsWith('.log'));
    const stretches = Array.from({ length: 13 }, (_, at) => Buffer.from(noise[5]!.slice(at * 4, at * 4 + 16)));
    const found = files.flatMap((name) => {
      const bytes = readFileSync(join(location, name));
      const stretch = stretches.find((candidate) => bytes.includes(candidate));
      return stretch === undefined ? [] : [{ name, bytes, at: bytes.indexOf(stretch) + 8 }];
    })[0];
    expect(found?.name).toMatch(/\.ldb$/);
    const { name: holder, bytes, at } = found!;
    bytes[at] = bytes[at] === 0x41 ? 0x42 : 0x41; // another base64 letter: still UTF-8, only the checksum can tell
    writeFileSync(join(location, holder), bytes);

    const error = await openError(new LevelLogStore({ location, identity }));
    // The twelve entries were one write, stored as one run under its first and last index.
    expect(error).toMatchObject({ code: 'STORE_CORRUPTED', reason: 'CHECKSUM_MISMATCH', index: 1, key: 'entries/0000000000000001000000000000000c' });
  });
});
