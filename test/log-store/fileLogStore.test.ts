/**
 * What FileLogStore adds to the conformance suite: one synced frame per turn, a leader's appends synced off the loop,
 * a torn tail cut on open (and only a tail), corruption and a stranger's file refused, the file rewritten without what
 * a snapshot covers, and a rewrite that a crash interrupted.
 */
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { FileLogStore } from '../../actors/log-store/FileLogStore.js';
import { FRAME_HEADER_BYTES } from '../../actors/log-store/fileLogFormat.js';
import { crc32 } from '../../actors/log-store/levelCodec.js';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import type { LevelBatchWritten } from '../../actors/log-store/levelLogStoreOptions.js';
import type { LogStoreMessage, LogStoreReply } from '../../actors/log-store/LogStore.js';
import { bytes, drive, entries, freshDirectory, meta, openError, removeDirectories } from './levelStoreDriver.js';

const identity = { clusterId: 'c1', nodeId: 'n1' };
afterEach(removeDirectories);

const logFile = (store: FileLogStore): string => join(store.location, 'log');
const reopen = (store: FileLogStore, options: { compactionBytes?: number } = {}) => new FileLogStore({ location: store.location, identity, ...options });
/** The state a restarted node would load from `store`'s directory. */
async function readBack(store: FileLogStore) {
  const again = reopen(store);
  try {
    return await again.open();
  } finally {
    await again.close();
  }
}

/** A store with entries 1..`count` written one per write, every write acknowledged; closed. */
async function storeWith(count: number): Promise<FileLogStore> {
  const store = new FileLogStore({ location: freshDirectory(), identity });
  const driver = drive(store);
  for (let index = 1; index <= count; index++) driver.send({ type: 'SaveLog', writeId: index, hardState: { term: 1, votedFor: 'n1', commit: index - 1 }, truncateFrom: null, entries: entries(index, index, 1) });
  const last = await driver.until((reply) => (reply.type === 'LogSaved' && reply.writeId === count) || reply.type === 'StoreFailed');
  expect(last.type).toBe('LogSaved');
  await driver.stop();
  return store;
}

describe('FileLogStore writes', () => {
  test("the writes of one turn share one synced frame, acknowledged once by the last write's id", async () => {
    const batches: LevelBatchWritten[] = [];
    const store = new FileLogStore({ location: freshDirectory(), identity, observer: { batchWritten: (batch) => batches.push(batch) } });
    const driver = drive(store);
    await store.open();
    for (let index = 1; index <= 50; index++) driver.send({ type: 'SaveLog', writeId: index, hardState: { term: 1, votedFor: 'n1', commit: 0 }, truncateFrom: null, entries: entries(index, index, 1) });
    await driver.until((reply) => reply.type === 'LogSaved' && reply.writeId === 50);
    expect(batches).toEqual([expect.objectContaining({ writes: 50, entries: 50, synced: true })]);
    expect(driver.replies).toEqual([{ type: 'LogSaved', writeId: 50 }]);
    await driver.stop();
    const state = await readBack(store);
    expect(state.entries).toEqual(entries(1, 50, 1));
  });

  test('a write that does not continue the log is INVALID_WRITE, and nothing of its turn is stored', async () => {
    const store = await storeWith(3);
    const again = reopen(store);
    const driver = drive(again);
    driver.send({ type: 'SaveLog', writeId: 1, hardState: { term: 1, votedFor: 'n1', commit: 3 }, truncateFrom: null, entries: entries(4, 4, 1) });
    driver.send({ type: 'SaveLog', writeId: 2, hardState: { term: 1, votedFor: 'n1', commit: 3 }, truncateFrom: null, entries: entries(9, 9, 1) });
    const failure = await driver.until((reply) => reply.type === 'StoreFailed');
    expect(failure).toMatchObject({ type: 'StoreFailed', cause: { code: 'INVALID_WRITE' } });
    await driver.stop();
    expect(driver.replies.filter((reply) => reply.type === 'LogSaved')).toEqual([]);
    const state = await readBack(store);
    expect(state.entries).toEqual(entries(1, 3, 1));
  });
});

describe("FileLogStore: a leader's background appends", () => {
  /** A leader's append of `from..to` (SaveLog.background), not waited for. */
  const background = (writeId: number, from: number, to: number): LogStoreMessage => ({
    type: 'SaveLog', writeId, hardState: { term: 1, votedFor: 'n1', commit: 0 }, truncateFrom: null, entries: entries(from, to, 1), background: true,
  });
  const acknowledged = (replies: readonly LogStoreReply[]): number[] => replies.flatMap((reply) => (reply.type === 'LogSaved' ? [reply.writeId] : []));
  /** A new store, open and driven, with the batches its observer was told of. */
  const observedStore = async () => {
    const batches: LevelBatchWritten[] = [];
    const store = new FileLogStore({ location: freshDirectory(), identity, observer: { batchWritten: (batch) => batches.push(batch) } });
    const driver = drive(store);
    await store.open();
    return { store, driver, batches };
  };

  test('a frame of several entries is written on the loop and synced off it, and acknowledged once that sync completes', async () => {
    const { store, driver, batches } = await observedStore();
    driver.send(background(1, 1, 5));
    await driver.until((reply) => reply.type === 'LogSaved' && reply.writeId === 1);
    // Written (not synced), then synced on the thread pool; the acknowledgement came after both.
    expect(batches).toEqual([expect.objectContaining({ entries: 5, synced: false }), expect.objectContaining({ entries: 0, synced: true })]);
    await driver.stop();
    expect((await readBack(store)).entries).toEqual(entries(1, 5, 1));
  });

  test('a frame of one entry (a leader with nothing else to do) is synced on the loop as any other', async () => {
    const { driver, batches } = await observedStore();
    driver.send(background(1, 1, 1));
    await driver.until((reply) => reply.type === 'LogSaved' && reply.writeId === 1);
    expect(batches).toEqual([expect.objectContaining({ entries: 1, synced: true })]);
    await driver.stop();
  });

  test('a write synced on the loop while a background sync is under way acknowledges both; acknowledgements never go back', async () => {
    const { store, driver, batches: written } = await observedStore();
    driver.send(background(1, 1, 4));
    // Once the background frame is written (its sync under way or done), a vote: a hard state synced on the loop.
    await vi.waitFor(() => expect(written.some((batch) => !batch.synced)).toBe(true), { timeout: 5000 });
    driver.send({ type: 'SaveLog', writeId: 2, hardState: { term: 2, votedFor: 'n2', commit: 0 }, truncateFrom: null, entries: [] });
    await driver.until((reply) => reply.type === 'LogSaved' && reply.writeId === 2);
    // Let the background sync (if it was still under way) complete: close waits for it.
    await driver.stop();
    const ids = acknowledged(driver.replies);
    expect(ids.at(-1)).toBe(2);
    expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
    const state = await readBack(store);
    expect(state.entries).toEqual(entries(1, 4, 1));
    expect(state.hardState).toEqual({ term: 2, votedFor: 'n2', commit: 0 });
  });

  test('a compaction while a background sync is under way keeps the old file open for it; nothing fails, nothing is lost', async () => {
    const store = await storeWith(200);
    const again = reopen(store, { compactionBytes: 1000 });
    const driver = drive(again);
    await driver.chunk(meta(190), 0, bytes(100, 7), true);
    // The CompactLog makes the store write the background frame (its sync goes to the pool) and then rewrite the file.
    driver.send(background(1, 201, 205));
    driver.send({ type: 'CompactLog', through: 190 });
    driver.send(background(2, 206, 210));
    const last = await driver.until((reply) => (reply.type === 'LogSaved' && reply.writeId === 2) || reply.type === 'StoreFailed');
    expect(last).toEqual({ type: 'LogSaved', writeId: 2 });
    await driver.stop();
    const state = await readBack(store);
    expect(state.snapshot).toEqual(meta(190));
    expect(state.entries).toEqual(entries(191, 210, 1));
  });
});

describe('FileLogStore recovery', () => {
  test('a torn last frame was never acknowledged: it is cut off, and writes continue after it', async () => {
    /** A frame header promising `length` bytes (its own checksum right, the body's wrong), then `body`. */
    const framed = (length: number, body: Buffer): Buffer => {
      const header = Buffer.alloc(FRAME_HEADER_BYTES);
      header.writeUInt32BE(length, 0);
      header.writeUInt32BE(crc32(header, 0, 4), 4);
      header.writeUInt32BE(0x12345678, 8);
      return Buffer.concat([header, body]);
    };
    const tails = [
      ['a header cut short', () => Buffer.from([0, 0, 1, 0, 0xde, 0xad])],
      ['zeros where a header should be', () => Buffer.alloc(4096)],
      ['a header whose body is cut short', () => framed(100, Buffer.alloc(60, 0xab))],
      ['a body of zeros', () => framed(100, Buffer.alloc(100))],
      // Garbage but for one 512-byte sector of the file that never reached the disk.
      ['a whole sector of zeros inside', (offset: number) => {
        const body = Buffer.alloc(1500, 0xab);
        const sector = Math.ceil((offset + FRAME_HEADER_BYTES) / 512) * 512 - (offset + FRAME_HEADER_BYTES);
        body.fill(0, sector, sector + 512);
        return framed(1500, body);
      }],
    ] as const;
    for (const [what, tailAt] of tails) {
      const store = await storeWith(5);
      const tail = tailAt(statSync(logFile(store)).size);
      appendFileSync(logFile(store), tail);
      const intact = statSync(logFile(store)).size - tail.length;
      const again = reopen(store);
      expect((await again.open()).entries, what).toEqual(entries(1, 5, 1));
      expect(statSync(logFile(store)).size, what).toBe(intact);
      const driver = drive(again);
      await driver.save(1, 5, entries(6, 6, 1));
      await driver.stop();
      expect((await readBack(store)).entries).toEqual(entries(1, 6, 1));
    }
  });

  test('a frame that fails a checksum without the marks of a torn write is corruption, the last one too: it may hold acknowledged writes', async () => {
    const store = await storeWith(3);
    const again = reopen(store);
    const driver = drive(again);
    await driver.save(4, 3, entries(4, 4, 1));
    await driver.stop();
    const file = readFileSync(logFile(store));
    // Frames: the identity, entries 1-3 (one turn), entry 4. Flip a byte inside the second, then inside the last, then
    // in the second's length: not a frame cut short, which would drop the frames after it.
    const second = FRAME_HEADER_BYTES + file.readUInt32BE(0);
    const last = second + FRAME_HEADER_BYTES + file.readUInt32BE(second);
    for (const [at, flip] of [[second, second + 20], [last, last + 20], [second, second + 1]] as const) {
      const damaged = Buffer.from(file);
      damaged[flip]! ^= 0xff;
      writeFileSync(logFile(store), damaged);
      const error = await openError(reopen(store));
      expect(error.reason).toBe('CHECKSUM_MISMATCH');
      expect(error.key).toBe(`log@${at}`);
    }
  });

  test("another node's or cluster's log is refused, and so is a log without an identity", async () => {
    const store = await storeWith(2);
    expect((await openError(new FileLogStore({ location: store.location, identity: { clusterId: 'c1', nodeId: 'n2' } }))).reason).toBe('IDENTITY_MISMATCH');
    expect((await openError(new FileLogStore({ location: store.location, identity: { clusterId: 'c2', nodeId: 'n1' } }))).reason).toBe('IDENTITY_MISMATCH');
    const file = readFileSync(logFile(store));
    writeFileSync(logFile(store), file.subarray(FRAME_HEADER_BYTES + file.readUInt32BE(0)));
    expect((await openError(reopen(store))).reason).toBe('IDENTITY_MISMATCH');
  });

  test("a LevelLogStore's directory is refused, not taken for a new store", async () => {
    const location = freshDirectory();
    const level = new LevelLogStore({ location, identity });
    await level.open();
    await level.close();
    expect((await openError(new FileLogStore({ location, identity }))).reason).toBe('IDENTITY_MISMATCH');
    expect(existsSync(join(location, 'log'))).toBe(false);
  });

  test('the voters a store was created with are kept', async () => {
    const location = freshDirectory();
    const store = new FileLogStore({ location, identity: { ...identity, members: ['n1', 'n2', 'n3'] } });
    await store.open();
    await store.close();
    expect(await new FileLogStore({ location, identity }).storedMembers()).toEqual(['n1', 'n2', 'n3']);
  });
});

describe('FileLogStore compaction', () => {
  test('past compactionBytes, CompactLog rewrites the file without what the snapshot covers; the state reads back the same', async () => {
    const store = await storeWith(200);
    const before = statSync(logFile(store)).size;
    const again = reopen(store, { compactionBytes: 1000 });
    const driver = drive(again);
    await driver.chunk(meta(190), 0, bytes(100, 7), true);
    driver.send({ type: 'CompactLog', through: 190 });
    await driver.save(1, 199, entries(201, 201, 1));
    await driver.stop();
    expect(statSync(logFile(store)).size).toBeLessThan(before / 10);
    const state = await readBack(store);
    expect(state.snapshot).toEqual(meta(190));
    expect(state.entries).toEqual(entries(191, 201, 1));
    expect(state.hardState).toEqual({ term: 1, votedFor: 'n1', commit: 199 });
  });

  test('below compactionBytes, CompactLog leaves the file as it is', async () => {
    const store = await storeWith(20);
    const again = reopen(store);
    const driver = drive(again);
    await driver.chunk(meta(10), 0, bytes(10, 1), true);
    const size = statSync(logFile(store)).size;
    driver.send({ type: 'CompactLog', through: 10 });
    await driver.stop();
    expect(statSync(logFile(store)).size).toBe(size);
    expect((await readBack(store)).entries).toEqual(entries(11, 20, 1));
  });

  test('a rewrite that a crash interrupted before its rename is discarded: the log is whole', async () => {
    const store = await storeWith(4);
    writeFileSync(join(store.location, 'log.rewrite'), Buffer.from('half a rewrite'));
    expect((await readBack(store)).entries).toEqual(entries(1, 4, 1));
    expect(existsSync(join(store.location, 'log.rewrite'))).toBe(false);
  });
});
