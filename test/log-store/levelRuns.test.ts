/**
 * LevelLogStore keeps the entries of one write as one run under one key (levelCodec.ts): what it writes, how a
 * truncation inside a run and a store written before runs read back, and the damage to runs that an open detects.
 */
import { MemoryLevel } from 'memory-level';
import { describe, expect, test } from 'vitest';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { decodeRunKey, runKey } from '../../actors/log-store/levelCodec.js';
import type { Entry } from '../../src/index.js';
import { drive, entries, openError, run } from './levelStoreDriver.js';

const identity = { clusterId: 'c1', nodeId: 'n1' };

function rawEntries(db: MemoryLevel) {
  return db.sublevel<Buffer, Buffer>('entries', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
}

async function runKeys(db: MemoryLevel) {
  return (await rawEntries(db).keys().all()).map((key) => decodeRunKey(key));
}

async function load(db: MemoryLevel): Promise<readonly Entry[]> {
  const store = new LevelLogStore({ db, identity });
  const state = await store.open();
  await store.close();
  return state.entries;
}

describe('LevelLogStore runs', () => {
  test('the entries of one write are one record, and read back exactly as written', async () => {
    const db = new MemoryLevel();
    const store = drive(new LevelLogStore({ db, identity }));
    const written: Entry[] = [
      ...entries(1, 18, 2),
      { index: 19, term: 2, kind: 'config', data: '{"voters":["n1","n2"]}' },
      { index: 20, term: 2, kind: 'command', data: '"ünïcode ✓"', id: 'p-20', session: { client: 'c', seq: 3 } } as Entry,
    ];
    expect(await store.save(1, 0, written)).toMatchObject({ type: 'LogSaved', writeId: 1 });
    await store.stop();
    expect(await runKeys(db)).toEqual([run(1, 20)]);
    expect(await load(db)).toEqual(written);
  });

  test('a truncation inside a durable run keeps its earlier entries, under the key of what is left', async () => {
    const db = new MemoryLevel();
    const store = drive(new LevelLogStore({ db, identity }));
    await store.save(1, 0, entries(1, 10, 1));
    await store.save(2, 0, [], 6);
    expect(await runKeys(db)).toEqual([run(1, 5)]);
    await store.save(3, 0, entries(6, 7, 2));
    await store.save(4, 0, [], 2);
    await store.stop();
    expect(await runKeys(db)).toEqual([run(1, 1)]);
    expect(await load(db)).toEqual(entries(1, 1, 1));
  });

  test('a truncation inside a run of the same batch cuts what that batch writes', async () => {
    const db = new MemoryLevel();
    const store = drive(new LevelLogStore({ db, identity }));
    // The first write goes to the database at once; the next two wait for it and form one batch.
    store.send({ type: 'SaveLog', writeId: 1, hardState: { term: 1, votedFor: null, commit: 0 }, truncateFrom: null, entries: entries(1, 3, 1) });
    store.send({ type: 'SaveLog', writeId: 2, hardState: { term: 1, votedFor: null, commit: 0 }, truncateFrom: null, entries: entries(4, 10, 1) });
    store.send({ type: 'SaveLog', writeId: 3, hardState: { term: 2, votedFor: null, commit: 0 }, truncateFrom: 6, entries: entries(6, 6, 2) });
    await store.until((reply) => reply.type === 'LogSaved' && reply.writeId === 3);
    await store.stop();
    expect(await runKeys(db)).toEqual([run(1, 3), run(4, 5), run(6, 6)]);
    expect(await load(db)).toEqual([...entries(1, 5, 1), ...entries(6, 6, 2)]);
  });

  test('a log stored one entry per key (the layout before runs) reads back, and goes on in runs', async () => {
    const db = new MemoryLevel();
    const before = drive(new LevelLogStore({ db, identity }));
    for (const index of [1, 2, 3, 4, 5]) await before.save(index, 0, entries(index, index, 1));
    await before.stop();
    // Exactly the records a store wrote before runs: an 8-byte index key, a format 1 entry value.
    for (const [key, value] of await rawEntries(db).iterator().all()) {
      expect(key.length).toBe(8);
      expect(value[0]).toBe(1);
    }
    const after = drive(new LevelLogStore({ db, identity }));
    await after.save(1, 0, entries(6, 9, 1));
    await after.save(2, 0, entries(8, 8, 2), 8);
    await after.save(3, 0, [], 4);
    await after.stop();
    expect(await runKeys(db)).toEqual([run(1, 1), run(2, 2), run(3, 3)]);
    expect(await load(db)).toEqual(entries(1, 3, 1));
  });
});

describe('LevelLogStore runs, damaged', () => {
  async function withRuns(): Promise<MemoryLevel> {
    const db = new MemoryLevel();
    const store = drive(new LevelLogStore({ db, identity }));
    await store.save(1, 0, entries(1, 4, 1));
    await store.save(2, 4, entries(5, 8, 1));
    await store.stop();
    return db;
  }

  test('a flipped bit inside a run fails the open, naming the run', async () => {
    const db = await withRuns();
    const key = runKey(5, 8);
    const value = (await rawEntries(db).get(key))!;
    value[30] = value[30]! ^ 0x02;
    await rawEntries(db).put(key, value);
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'CHECKSUM_MISMATCH', index: 5, key: 'entries/00000000000000050000000000000008' });
  });

  test('a run stored under another run\'s key is misplaced', async () => {
    const db = await withRuns();
    const value = (await rawEntries(db).get(runKey(1, 4)))!;
    await rawEntries(db).del(runKey(5, 8));
    await rawEntries(db).put(runKey(5, 8), value);
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'MISPLACED_ENTRY', index: 5 });
  });

  test('runs whose keys overlap fail the open', async () => {
    const db = await withRuns();
    await rawEntries(db).put(runKey(3, 6), (await rawEntries(db).get(runKey(1, 4)))!);
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'MISPLACED_ENTRY', index: 3 });
  });

  test('a run cut short, or a key that names no run, is undecodable', async () => {
    const db = await withRuns();
    const value = (await rawEntries(db).get(runKey(5, 8)))!;
    await rawEntries(db).put(runKey(5, 8), value.subarray(0, 12));
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'UNDECODABLE', index: 5 });
    await rawEntries(db).put(runKey(5, 8), value);
    await rawEntries(db).put(Buffer.from([0, 0, 0]), value);
    expect(await openError(new LevelLogStore({ db, identity }))).toMatchObject({ reason: 'UNDECODABLE', key: 'entries/000000' });
  });
});
