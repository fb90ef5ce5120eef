/**
 * LevelLogStore's snapshots: the layout (generation swap, leftover pending chunks, compaction of the runs a snapshot
 * covers), corrupted snapshot chunks and records (detected when read, or on open), snapshots kept in files beside the
 * database, and the memory a snapshot's write and read hold.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, test } from 'vitest';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { decodeRunKey, decodeSnapshotChunkKey, entryKey, snapshotChunkKey, snapshotChunkRange } from '../../actors/log-store/levelCodec.js';
import { bytes, drive, entries, freshDirectory, meta, openError, removeDirectories, run } from './levelStoreDriver.js';

const identity = { clusterId: 'c1', nodeId: 'n1' };
afterEach(removeDirectories);

function rawSnapshot(db: MemoryLevel) {
  return db.sublevel<Buffer, Buffer>('snapshot', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
}

/** The chunk keys stored, as `generation/chunk`. */
async function chunkKeys(db: MemoryLevel): Promise<string[]> {
  const keys = await rawSnapshot(db).keys(snapshotChunkRange(0)).all();
  return keys.map((key) => {
    const { generation, chunk } = decodeSnapshotChunkKey(key);
    return `${generation}/${chunk}`;
  });
}

describe('LevelLogStore snapshots, on the level API', () => {
  test('the done chunk swaps generations in one batch: the old chunks go, a pending snapshot touches nothing current', async () => {
    const db = new MemoryLevel();
    const store = drive(new LevelLogStore({ db, identity }));
    await store.chunk(meta(3), 0, bytes(10, 1), false);
    await store.chunk(meta(3), 1, bytes(10, 2), true);
    expect(await chunkKeys(db)).toEqual(['1/0', '1/1']);
    await store.chunk(meta(6), 0, bytes(10, 3), false);
    expect(await chunkKeys(db)).toEqual(['1/0', '1/1', '2/0']);
    await store.chunk(meta(6), 1, bytes(10, 4), true);
    expect(await chunkKeys(db)).toEqual(['2/0', '2/1']);
    await store.stop();
  });

  test('a crash with a snapshot pending keeps the old one; the leftover chunks are deleted on open', async () => {
    const db = new MemoryLevel();
    const first = drive(new LevelLogStore({ db, identity }));
    await first.chunk(meta(3), 0, bytes(100, 7), true);
    await first.chunk(meta(8), 0, bytes(100, 8), false);
    await first.chunk(meta(8), 1, bytes(100, 9), false);
    // The process dies here: no close, the next store opens the same database.
    first.replies.length = 0;
    const second = new LevelLogStore({ db, identity });
    expect((await second.open()).snapshot).toEqual(meta(3));
    expect(await chunkKeys(db)).toEqual(['1/0']);
    const reader = drive(second);
    const loaded = await reader.read(0);
    expect(loaded).toMatchObject({ type: 'SnapshotChunkLoaded', meta: meta(3), chunk: 0, done: true });
    expect(Uint8Array.from((loaded as { data: Uint8Array }).data)).toEqual(bytes(100, 7));
    // Continuing the forgotten snapshot is refused; starting over works.
    expect(await reader.chunk(meta(8), 2, bytes(1, 0), true)).toMatchObject({ type: 'StoreFailed', cause: { code: 'INVALID_WRITE' } });
    await reader.stop();
  });

  test('CompactLog deletes the runs the snapshot covers and no more (in the background, done by stop)', async () => {
    const db = new MemoryLevel();
    const store = drive(new LevelLogStore({ db, identity }));
    await store.save(1, 4, entries(1, 4, 1));
    await store.save(2, 5, entries(5, 8, 1));
    await store.save(3, 5, entries(9, 10, 1));
    await store.chunk(meta(6), 0, bytes(10, 1), true);
    // Beyond the snapshot's index: only what it covers goes, and the run it falls inside stays whole.
    store.send({ type: 'CompactLog', through: 9 });
    await store.save(4, 10, entries(11, 11, 1));
    // The compacted range is cleared in the background once its batch is durable; stopping waits for it.
    await store.stop();
    const raw = db.sublevel<Buffer, Buffer>('entries', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    expect((await raw.keys().all()).map((key) => decodeRunKey(key))).toEqual([run(5, 8), run(9, 10), run(11, 11)]);
    const state = await new LevelLogStore({ db, identity }).open();
    expect(state.entries.map((entry) => entry.index)).toEqual([7, 8, 9, 10, 11]);
  });

  test('a snapshot past a shorter log: stale entries are ignored on open and compacted away', async () => {
    const db = new MemoryLevel();
    const store = drive(new LevelLogStore({ db, identity }));
    await store.save(1, 2, entries(1, 3, 1));
    await store.chunk(meta(10, 2), 0, bytes(10, 1), true);
    expect(await store.save(2, 10, [])).toMatchObject({ type: 'LogSaved' });
    expect(await store.save(3, 10, entries(12, 12, 2))).toMatchObject({ type: 'StoreFailed', cause: { code: 'INVALID_WRITE' } });
    await store.stop();
    const again = drive(new LevelLogStore({ db, identity }));
    expect(await again.save(1, 11, entries(11, 11, 2))).toMatchObject({ type: 'LogSaved' });
    again.send({ type: 'CompactLog', through: 10 });
    await again.save(2, 11, []);
    await again.stop();
    const raw = db.sublevel<Buffer, Buffer>('entries', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    expect((await raw.keys().all()).map((key) => decodeRunKey(key))).toEqual([run(11, 11)]);
  });
});

describe('LevelLogStore snapshot corruption', () => {
  async function withSnapshot() {
    const db = new MemoryLevel();
    const store = drive(new LevelLogStore({ db, identity }));
    await store.save(1, 4, entries(1, 4, 1));
    for (const chunk of [0, 1, 2]) await store.chunk(meta(4), chunk, bytes(1000, chunk + 1), chunk === 2);
    await store.stop();
    return { db, raw: rawSnapshot(db) };
  }

  test('a flipped byte in a chunk: Load still succeeds (chunks are verified when read), ReadSnapshotChunk fails naming the key', async () => {
    const { db, raw } = await withSnapshot();
    const key = snapshotChunkKey(1, 1);
    const value = (await raw.get(key))!;
    value[500] = value[500]! ^ 0x10;
    await raw.put(key, value);
    const store = drive(new LevelLogStore({ db, identity }));
    store.send({ type: 'Load' });
    expect(await store.until((r) => r.type === 'Loaded' || r.type === 'StoreFailed')).toMatchObject({ type: 'Loaded', state: { snapshot: meta(4) } });
    const intact = await store.read(0);
    expect(intact.type).toBe('SnapshotChunkLoaded');
    expect(Uint8Array.from((intact as { data: Uint8Array }).data)).toEqual(bytes(1000, 1));
    const failure = await store.read(1);
    expect(failure).toMatchObject({
      type: 'StoreFailed',
      cause: { code: 'STORE_CORRUPTED', reason: 'CHECKSUM_MISMATCH', key: 'snapshot/6300000000000000010000000000000001' },
    });
    expect((failure as { cause: { message: string } }).cause.message).toMatch(/^snapshot chunk 1 \(snapshot\/63[0-9a-f]{32}\): checksum mismatch/);
    // After a failure the store writes and answers nothing more: the write below is never made durable (close waits
    // for every write in flight, so it is a barrier), and nothing was answered.
    const before = store.replies.length;
    store.send({ type: 'ReadSnapshotChunk', ref: 'after', chunk: 0 });
    store.send({ type: 'SaveLog', writeId: 9, hardState: { term: 7, votedFor: null, commit: 4 }, truncateFrom: null, entries: [] });
    await store.close();
    expect(store.replies.length).toBe(before);
    expect((await new LevelLogStore({ db, identity }).open()).hardState.term).toBe(1);
    await store.stop();
  });

  test('a chunk copied under another chunk key fails its checksum (the key is part of it)', async () => {
    const { db, raw } = await withSnapshot();
    await raw.put(snapshotChunkKey(1, 2), (await raw.get(snapshotChunkKey(1, 0)))!);
    const store = drive(new LevelLogStore({ db, identity }));
    expect(await store.read(2)).toMatchObject({ type: 'StoreFailed', cause: { reason: 'CHECKSUM_MISMATCH', key: `snapshot/${snapshotChunkKey(1, 2).toString('hex')}` } });
    await store.stop();
  });

  test('a missing chunk of the current snapshot is a gap naming its key', async () => {
    const { db, raw } = await withSnapshot();
    await raw.del(snapshotChunkKey(1, 1));
    const store = drive(new LevelLogStore({ db, identity }));
    expect(await store.read(1)).toMatchObject({ type: 'StoreFailed', cause: { reason: 'INDEX_GAP', key: `snapshot/${snapshotChunkKey(1, 1).toString('hex')}` } });
    await store.stop();
  });

  test('a damaged snapshot meta record fails the open', async () => {
    const { db, raw } = await withSnapshot();
    const value = (await raw.get(Buffer.from('meta')))!;
    value[2] = value[2]! ^ 0x01;
    await raw.put(Buffer.from('meta'), value);
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'CHECKSUM_MISMATCH', key: 'snapshot/meta' });
  });

  test('on open, the log must continue right after the snapshot and commit may not pass its end', async () => {
    const { db } = await withSnapshot();
    const raw = db.sublevel<Buffer, Buffer>('entries', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    // Entries 1..4 are covered by the snapshot at 4: losing one of them is no gap.
    await raw.del(entryKey(2));
    expect((await new LevelLogStore({ db, identity }).open()).entries).toEqual([]);
    const store = drive(new LevelLogStore({ db, identity }));
    // One write per entry: one key per entry, to take them away one at a time.
    for (const index of [5, 6, 7]) await store.save(index, index - 1, entries(index, index, 1));
    await store.stop();
    await raw.del(entryKey(5));
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'INDEX_GAP', index: 5, key: 'entries/0000000000000006' });
    await raw.put(entryKey(5), (await raw.get(entryKey(6)))!);
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'MISPLACED_ENTRY', index: 5 });
    await raw.del(entryKey(5));
    await raw.del(entryKey(6));
    await raw.del(entryKey(7));
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'COMMIT_BEYOND_LOG', key: 'hard/state' });
  });
});

describe('LevelLogStore snapshots in files, on disk', () => {
  const file = (generation: number) => `${String(generation).padStart(16, '0')}.chunks`;
  const snapshotFiles = (location: string) => readdirSync(join(location, 'snapshots')).sort();

  async function withSnapshot() {
    const location = freshDirectory();
    const store = drive(new LevelLogStore({ location, identity }));
    await store.save(1, 4, entries(1, 4, 1));
    for (const chunk of [0, 1, 2]) await store.chunk(meta(4), chunk, bytes(1000, chunk + 1), chunk === 2);
    await store.stop();
    return { location, path: join(location, 'snapshots', file(1)) };
  }

  test('a store on disk keeps each generation in its own file beside the database; the swap removes the old file', async () => {
    const location = freshDirectory();
    const store = drive(new LevelLogStore({ location, identity }));
    await store.chunk(meta(3), 0, bytes(10, 1), false);
    await store.chunk(meta(3), 1, bytes(10, 2), true);
    expect(snapshotFiles(location)).toEqual([file(1)]);
    await store.chunk(meta(6), 0, bytes(10, 3), false);
    expect(snapshotFiles(location)).toEqual([file(1), file(2)]);
    await store.chunk(meta(6), 1, bytes(10, 4), true);
    expect(snapshotFiles(location)).toEqual([file(2)]);
    const loaded = await store.read(1);
    expect(loaded).toMatchObject({ type: 'SnapshotChunkLoaded', meta: meta(6), chunk: 1, done: true });
    expect(Uint8Array.from((loaded as { data: Uint8Array }).data)).toEqual(bytes(10, 4));
    await store.stop();
  });

  test('a snapshot left pending when the store stopped is deleted on open; the current one is whole and readable', async () => {
    const { location } = await withSnapshot();
    const first = drive(new LevelLogStore({ location, identity }));
    await first.chunk(meta(8), 0, bytes(100, 8), false);
    await first.chunk(meta(8), 1, bytes(100, 9), false);
    await first.stop();
    expect(snapshotFiles(location)).toEqual([file(1), file(2)]);
    const second = new LevelLogStore({ location, identity });
    expect((await second.open()).snapshot).toEqual(meta(4));
    expect(snapshotFiles(location)).toEqual([file(1)]);
    const reader = drive(second);
    for (const chunk of [0, 1, 2]) {
      const loaded = await reader.read(chunk);
      expect(loaded).toMatchObject({ type: 'SnapshotChunkLoaded', meta: meta(4), chunk, done: chunk === 2 });
      expect(Uint8Array.from((loaded as { data: Uint8Array }).data)).toEqual(bytes(1000, chunk + 1));
    }
    await reader.stop();
  });

  test('a flipped byte in a chunk file: Load succeeds, ReadSnapshotChunk fails naming the file and chunk', async () => {
    const { location, path } = await withSnapshot();
    const contents = readFileSync(path);
    contents[1004 + 8 + 500] = contents[1004 + 8 + 500]! ^ 0x10; // chunk 1's bytes: after chunk 0's record and a length
    writeFileSync(path, contents);
    const store = drive(new LevelLogStore({ location, identity }));
    expect(await store.read(0)).toMatchObject({ type: 'SnapshotChunkLoaded', chunk: 0 });
    expect(await store.read(1)).toMatchObject({ type: 'StoreFailed', cause: { code: 'STORE_CORRUPTED', reason: 'CHECKSUM_MISMATCH', key: `${file(1)}#1` } });
    await store.stop();
  });

  test('a missing, short or overlong chunk file fails the open naming it', async () => {
    const { location, path } = await withSnapshot();
    const contents = readFileSync(path);
    writeFileSync(path, contents.subarray(0, contents.length - 1));
    expect(await openError(new LevelLogStore({ location, identity }))).toMatchObject({ reason: 'UNDECODABLE', key: file(1) });
    writeFileSync(path, contents.subarray(0, 2 * 1008));
    expect(await openError(new LevelLogStore({ location, identity }))).toMatchObject({ reason: 'INDEX_GAP', key: file(1) });
    writeFileSync(path, Buffer.concat([contents, Buffer.from([0, 0, 0, 0])]));
    expect(await openError(new LevelLogStore({ location, identity }))).toMatchObject({ reason: 'UNDECODABLE', key: file(1) });
    rmSync(path);
    expect(await openError(new LevelLogStore({ location, identity }))).toMatchObject({ reason: 'INDEX_GAP', key: file(1) });
  });
});

describe('LevelLogStore snapshot memory', () => {
  test('writing and reading a 256 MiB snapshot in 1 MiB chunks keeps memory bounded by a few chunks, not the snapshot', async () => {
    const store = new LevelLogStore({ location: freshDirectory(), identity });
    const driver = drive(store);
    const chunks = 256;
    const chunkBytes = 1 << 20;
    const snapshot = meta(1000, 3);
    const rss = () => process.memoryUsage().rss;
    const start = rss();
    let warm = 0;
    let peak = 0;
    // As the node does: one chunk at a time, the next once the previous is acknowledged.
    for (let chunk = 0; chunk < chunks; chunk++) {
      const reply = await driver.chunk(snapshot, chunk, new Uint8Array(chunkBytes).fill(chunk & 0xff), chunk === chunks - 1);
      expect(reply.type).toBe('SnapshotChunkStored');
      driver.replies.length = 0;
      // The first 64 MiB warm up LevelDB's memtable, block cache and V8's heap; after that growth must stop.
      if (chunk === 63) warm = rss();
      if (chunk > 63) peak = Math.max(peak, rss());
    }
    for (let chunk = 0; chunk < chunks; chunk++) {
      const reply = await driver.read(chunk);
      if (reply.type !== 'SnapshotChunkLoaded') throw new Error(JSON.stringify(reply));
      expect(reply.data.length).toBe(chunkBytes);
      expect(reply.data[chunkBytes - 1]).toBe(chunk & 0xff);
      expect(reply.done).toBe(chunk === chunks - 1);
      driver.replies.length = 0; // the test's own record of replies would hold every chunk
      peak = Math.max(peak, rss());
    }
    await driver.stop();
    // Buffering the snapshot would grow by 192 MiB after the warm-up (or 256 MiB while reading).
    const growth = (peak - warm) / 2 ** 20;
    expect(growth, `resident memory grew by ${growth.toFixed(1)} MiB after the warm-up (${((warm - start) / 2 ** 20).toFixed(1)} MiB)`).toBeLessThan(96);
  }, 120_000);
});
