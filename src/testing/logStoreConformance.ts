/**
 * The conformance suite for log stores: every `LogStore` implementation (memory, level, yours) runs the same tests
 * against its own factory, as every abstract-level implementation runs abstract-level's suite.
 *
 * The suite registers tests with the runner you pass (vitest's or node:test's `test` and `describe` fit) and asserts
 * with `node:assert`, so it needs no particular runner.
 *
 * @example
 * import { describe, test } from 'vitest';
 * import { logStoreConformance } from 'xraft/testing';
 *
 * logStoreConformance({ describe, test }, {
 *   name: 'MyLogStore',
 *   create: () => new MyLogStore({ path: freshDirectory() }),
 *   reopen: async (store) => { await store.close(); return new MyLogStore({ path: store.path }); },
 * });
 */
import assert from 'node:assert/strict';
import type { Entry } from '../core/index.js';
import type { LogStore, LogStoreReply, SnapshotChunkStored } from '../../actors/log-store/LogStore.js';
import { chunksOf, entry, hard, range, snapshotMeta, state, StoreDriver } from './storeDriver.js';

/** The part of a test runner the suite uses. */
export interface TestApi {
  readonly test: (name: string, body: () => Promise<void>) => unknown;
  readonly describe?: (name: string, body: () => void) => unknown;
}

export interface LogStoreSuiteOptions<Store extends LogStore> {
  /** Shown as the describe block's title. */
  readonly name: string;
  /** A store on fresh, empty storage. */
  readonly create: () => Store | Promise<Store>;
  /**
   * A store on the same durable storage as `store`, as a restarted process would open it. Called after the suite has
   * detached `store` (stopped it); release its resources here (close files) before opening the storage again. May
   * return the same instance when the store outlives its node (as `MemoryLogStore` does).
   */
  readonly reopen: (store: Store) => Store | Promise<Store>;
  /** Release the storage of `store` (already detached) at the end of a test. */
  readonly destroy?: (store: Store) => void | Promise<void>;
  /** How long to wait for one reply before failing the test (default 10 s). */
  readonly replyTimeoutMs?: number;
}

/** Register the log store conformance tests. */
export function logStoreConformance<Store extends LogStore>(api: TestApi, options: LogStoreSuiteOptions<Store>): void {
  const body = (): void => registerTests(api, options);
  if (api.describe !== undefined) api.describe(`LogStore conformance: ${options.name}`, body);
  else body();
}

function registerTests<Store extends LogStore>(api: TestApi, options: LogStoreSuiteOptions<Store>): void {
  const timeoutMs = options.replyTimeoutMs ?? 10_000;

  /** Run `body` with a driver on a fresh store; `restart` detaches it and returns a driver on the reopened store. */
  const withStore = (body: (driver: StoreDriver, restart: () => Promise<StoreDriver>) => Promise<void>) => async (): Promise<void> => {
    let store = await options.create();
    let driver = new StoreDriver(store, timeoutMs);
    const restart = async (): Promise<StoreDriver> => {
      driver.detach();
      store = await options.reopen(store);
      driver = new StoreDriver(store, timeoutMs);
      return driver;
    };
    try {
      await body(driver, restart);
    } finally {
      driver.detach();
      await options.destroy?.(store);
    }
  };

  api.test('a fresh store loads an empty log and the zero hard state', withStore(async (driver) => {
    assert.deepEqual(await driver.load(), state(hard(0, null, 0), []));
  }));

  api.test('a reopened store loads exactly what was acknowledged: hard state, vote and entries', withStore(async (driver, restart) => {
    await driver.load();
    driver.write(hard(1, 'n1', 0), []);
    driver.write(hard(2, 'n2', 0), range(1, 3, 2));
    const last = driver.write(hard(2, 'n2', 2), range(4, 5, 2));
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), state(hard(2, 'n2', 2), range(1, 5, 2)));
  }));

  api.test('acknowledges every write, in order, never going backwards; one LogSaved may cover many', withStore(async (driver) => {
    await driver.load();
    let last = 0;
    for (let index = 1; index <= 200; index++) last = driver.write(hard(1, 'n1', Math.max(0, index - 1)), [entry(index, 1)]);
    await driver.saved(last);
    const acks = driver.acknowledgements();
    assert.equal(acks.at(-1), last);
    for (let i = 1; i < acks.length; i++) assert.ok(acks[i]! > acks[i - 1]!, `acknowledgements went backwards: ${acks.join(',')}`);
    assert.ok(acks.every((writeId) => writeId >= 1 && writeId <= last));
  }));

  api.test('truncate-and-append replaces the conflicting suffix in one write', withStore(async (driver, restart) => {
    await driver.load();
    driver.write(hard(1, null, 0), range(1, 5, 1));
    const last = driver.write(hard(2, 'n2', 2), [entry(3, 2, '"three"'), entry(4, 2, '"four"')], 3);
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), state(hard(2, 'n2', 2), [...range(1, 2, 1), entry(3, 2, '"three"'), entry(4, 2, '"four"')]));
  }));

  api.test('truncations and appends sent back to back take effect in the order they were sent', withStore(async (driver, restart) => {
    await driver.load();
    driver.write(hard(1, null, 0), range(1, 10, 1));
    driver.write(hard(2, null, 0), range(6, 8, 2), 6);
    driver.write(hard(3, null, 0), range(2, 2, 3), 2);
    driver.write(hard(3, null, 1), range(3, 4, 3));
    const last = driver.write(hard(4, 'n3', 2), range(4, 6, 4), 4);
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), state(hard(4, 'n3', 2), [entry(1, 1), entry(2, 3), entry(3, 3), ...range(4, 6, 4)]));
  }));

  api.test('truncating from index 1 empties the log', withStore(async (driver, restart) => {
    await driver.load();
    driver.write(hard(1, null, 0), range(1, 4, 1));
    const last = driver.write(hard(2, null, 0), [], 1);
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), state(hard(2, null, 0), []));
  }));

  api.test('a hard-state-only write keeps the log and a cleared vote stays cleared', withStore(async (driver, restart) => {
    await driver.load();
    driver.write(hard(3, 'n1', 0), range(1, 2, 3));
    const last = driver.write(hard(4, null, 2), []);
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), state(hard(4, null, 2), range(1, 2, 3)));
  }));

  api.test('entries round-trip exactly: data byte for byte, every kind (config included), large terms, proposal id and session tag', withStore(async (driver, restart) => {
    await driver.load();
    const entries: Entry[] = [
      entry(1, 7, '', 'noop'),
      entry(2, 7, '{"json":{"k":"ключ","v":"値 🙂"},"meta":{"values":{"d":["Date"]}}}'),
      entry(3, 7, 'x'.repeat(65_536)),
      entry(4, 2 ** 40, '"\\u0000 \\n \\t"'),
      // Whatever else an entry carries (a proposal id, a client session tag) is part of the replicated log too.
      { ...entry(5, 2 ** 40), id: 'proposal-5', session: { client: 'c1', seq: 3, ack: 2, at: 1_700_000_000_000 } } as Entry,
      // A configuration must come back as one: a store that returned it as anything else would make a restarted
      // node forget membership changes (and count quorums in an old configuration).
      entry(6, 2 ** 40, '{"voters":["n1","n2"],"learners":["n3"]}', 'config'),
    ];
    const last = driver.write(hard(2 ** 40, 'nöde', 6), entries);
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), state(hard(2 ** 40, 'nöde', 6), entries));
  }));

  api.test('a store reopened after a restart continues the recovered log', withStore(async (driver, restart) => {
    await driver.load();
    await driver.saved(driver.write(hard(1, 'n1', 1), range(1, 3, 1)));
    const second = await restart();
    const recovered = await second.load();
    assert.equal(recovered.entries.length, 3);
    second.write(hard(2, 'n1', 3), range(3, 5, 2), 3);
    await second.saved(second.write(hard(2, 'n1', 5), range(6, 6, 2)));
    const third = await restart();
    assert.deepEqual(await third.load(), state(hard(2, 'n1', 5), [...range(1, 2, 1), ...range(3, 6, 2)]));
  }));

  // Snapshots (paper section 7): a current snapshot, a pending one, and the log after them.

  api.test('without a snapshot, Load answers none and ReadSnapshotChunk answers meta null', withStore(async (driver, restart) => {
    assert.equal((await driver.load()).snapshot, null);
    const reply = await driver.readChunk(0);
    assert.equal(reply.meta, null);
    assert.equal(reply.chunk, 0);
    assert.equal((await (await restart()).readChunk(0)).meta, null);
  }));

  api.test('a snapshot written in chunks becomes current on done: Load answers its meta, reads return the chunks byte for byte', withStore(async (driver, restart) => {
    await driver.load();
    const meta = snapshotMeta(5, 2);
    const chunks = chunksOf(1, [1000, 0, 70_000, 3]);
    const stored: SnapshotChunkStored[] = [];
    const refs = chunks.map((data, chunk) => driver.writeChunk(meta, chunk, data, chunk === chunks.length - 1));
    for (const ref of refs) stored.push(await driver.chunkStored(ref));
    assert.deepEqual(stored.map(({ chunk, done, meta: storedMeta }) => ({ chunk, done, meta: storedMeta })), chunks.map((_, chunk) => ({ chunk, done: chunk === 3, meta })));
    // Readable at once, and after a restart.
    for (const restarted of [false, true]) {
      const reader = restarted ? await restart() : driver;
      if (restarted) assert.deepEqual(await reader.load(), state(hard(0, null, 0), [], meta));
      const read = await reader.readSnapshot();
      assert.deepEqual(read.meta, meta);
      assert.deepEqual(read.chunks, chunks);
      const replies = await Promise.all([0, 1, 2, 3].map((chunk) => reader.readChunk(chunk)));
      assert.deepEqual(replies.map(({ chunk, done }) => ({ chunk, done })), [0, 1, 2, 3].map((chunk) => ({ chunk, done: chunk === 3 })));
      assert.equal((await reader.readChunk(4)).meta, null, 'a chunk beyond the last answers meta null');
    }
  }));

  api.test('a snapshot that was not finished is forgotten after a restart and the old one stays', withStore(async (driver, restart) => {
    await driver.load();
    const old = snapshotMeta(4, 1);
    const oldChunks = chunksOf(2, [500, 600]);
    await driver.writeSnapshot(old, oldChunks);
    const newer = snapshotMeta(9, 3);
    driver.writeChunk(newer, 0, chunksOf(3, [800])[0]!, false);
    await driver.chunkStored(driver.writeChunk(newer, 1, chunksOf(4, [800])[0]!, false));
    // Until done, the pending snapshot is invisible.
    assert.deepEqual(await driver.readSnapshot(), { meta: old, chunks: oldChunks });
    const reopened = await restart();
    assert.deepEqual((await reopened.load()).snapshot, old);
    assert.deepEqual(await reopened.readSnapshot(), { meta: old, chunks: oldChunks });
    // The interrupted snapshot cannot be continued: a new one starts over at chunk 0 and replaces the old one.
    const fresh = chunksOf(5, [10, 20]);
    await reopened.writeSnapshot(newer, fresh);
    assert.deepEqual(await reopened.readSnapshot(), { meta: newer, chunks: fresh });
    const third = await restart();
    assert.deepEqual((await third.load()).snapshot, newer);
    assert.deepEqual(await third.readSnapshot(), { meta: newer, chunks: fresh });
  }));

  api.test('a new snapshot replaces the old one, and a chunk 0 restarts a pending one', withStore(async (driver, restart) => {
    await driver.load();
    await driver.writeSnapshot(snapshotMeta(3, 1), chunksOf(6, [100, 100, 100]));
    // An abandoned attempt at index 7 (three chunks of garbage), then index 8 from scratch.
    for (const chunk of [0, 1, 2]) driver.writeChunk(snapshotMeta(7, 2), chunk, chunksOf(7 + chunk, [64])[0]!, false);
    const replacement = chunksOf(10, [40, 50]);
    await driver.writeSnapshot(snapshotMeta(8, 2, ['n1', 'n2']), replacement);
    const expected = { meta: snapshotMeta(8, 2, ['n1', 'n2']), chunks: replacement };
    assert.deepEqual(await driver.readSnapshot(), expected);
    assert.equal((await driver.readChunk(2)).meta, null, 'the old snapshot had a chunk 2; the new one has not');
    const reopened = await restart();
    assert.deepEqual((await reopened.load()).snapshot, expected.meta);
    assert.deepEqual(await reopened.readSnapshot(), expected);
  }));

  api.test('after a snapshot beyond a shorter log, the log continues right after the snapshot', withStore(async (driver, restart) => {
    await driver.load();
    await driver.saved(driver.write(hard(1, 'n1', 2), range(1, 3, 1)));
    // A follower installs the leader's snapshot at 10: entries 1..3 are older and shorter.
    const meta = snapshotMeta(10, 2);
    await driver.writeSnapshot(meta, chunksOf(11, [256]));
    // The commit may reach the snapshot's index with nothing after it.
    await driver.saved(driver.write(hard(2, 'n1', 10), []));
    const second = await restart();
    assert.deepEqual(await second.load(), state(hard(2, 'n1', 10), [], meta));
    second.write(hard(2, 'n1', 10), range(11, 12, 2));
    await second.saved(second.write(hard(2, 'n1', 12), range(13, 13, 2)));
    const third = await restart();
    assert.deepEqual(await third.load(), state(hard(2, 'n1', 12), range(11, 13, 2), meta));
    // And the recovered log goes on as usual, truncation included.
    await third.saved(third.write(hard(3, 'n1', 12), range(13, 14, 3), 13));
    assert.deepEqual(await (await restart()).load(), state(hard(3, 'n1', 12), [...range(11, 12, 2), ...range(13, 14, 3)], meta));
  }));

  api.test('a snapshot in the middle of the log hides the entries it covers; CompactLog drops them', withStore(async (driver, restart) => {
    await driver.load();
    await driver.saved(driver.write(hard(1, 'n1', 8), range(1, 10, 1)));
    const meta = snapshotMeta(6, 1);
    await driver.writeSnapshot(meta, chunksOf(12, [32]));
    // Not compacted yet (a crash before CompactLog): Load still answers only what follows the snapshot.
    const second = await restart();
    assert.deepEqual(await second.load(), state(hard(1, 'n1', 8), range(7, 10, 1), meta));
    second.send({ type: 'CompactLog', through: 6 });
    await second.saved(second.write(hard(1, 'n1', 11), range(11, 11, 1)));
    const third = await restart();
    assert.deepEqual(await third.load(), state(hard(1, 'n1', 11), range(7, 11, 1), meta));
    // A later snapshot and compaction, back to back with writes.
    const later = snapshotMeta(10, 1);
    third.writeChunk(later, 0, chunksOf(13, [16])[0]!, true);
    third.send({ type: 'CompactLog', through: 10 });
    await third.saved(third.write(hard(2, 'n1', 11), range(12, 12, 2)));
    assert.deepEqual(await (await restart()).load(), state(hard(2, 'n1', 11), [entry(11, 1), entry(12, 2)], later));
  }));

  api.test('snapshot chunks and SaveLog writes are acknowledged in the order they were sent', withStore(async (driver, restart) => {
    await driver.load();
    const meta = snapshotMeta(2, 1);
    const chunks = chunksOf(14, [300, 300, 300]);
    // Interleaved: each acknowledgement must imply that every write sent before it is durable.
    const sent: ({ kind: 'save'; writeId: number } | { kind: 'chunk'; ref: string })[] = [];
    sent.push({ kind: 'save', writeId: driver.write(hard(1, 'n1', 0), range(1, 2, 1)) });
    sent.push({ kind: 'chunk', ref: driver.writeChunk(meta, 0, chunks[0]!, false) });
    sent.push({ kind: 'save', writeId: driver.write(hard(1, 'n1', 1), range(3, 3, 1)) });
    sent.push({ kind: 'save', writeId: driver.write(hard(1, 'n1', 2), range(4, 4, 1)) });
    sent.push({ kind: 'chunk', ref: driver.writeChunk(meta, 1, chunks[1]!, false) });
    sent.push({ kind: 'chunk', ref: driver.writeChunk(meta, 2, chunks[2]!, true) });
    const lastWriteId = driver.write(hard(1, 'n1', 4), range(5, 5, 1));
    sent.push({ kind: 'save', writeId: lastWriteId });
    await driver.saved(lastWriteId);
    await driver.chunkStored((sent[5] as { ref: string }).ref);
    // Replay the replies in arrival order: when one arrives, every earlier write must have been acknowledged already.
    const replies = driver.replies.filter((r) => r.type === 'LogSaved' || r.type === 'SnapshotChunkStored');
    const seen: LogStoreReply[] = [];
    const acknowledgedBy = (position: number, upTo: readonly LogStoreReply[]): boolean => {
      const write = sent[position]!;
      return write.kind === 'save'
        ? upTo.some((r) => r.type === 'LogSaved' && r.writeId >= write.writeId)
        : upTo.some((r) => r.type === 'SnapshotChunkStored' && r.ref === write.ref);
    };
    for (const reply of replies) {
      seen.push(reply);
      const position = sent.findIndex((write) =>
        reply.type === 'LogSaved' ? write.kind === 'save' && write.writeId === reply.writeId : reply.type === 'SnapshotChunkStored' && write.kind === 'chunk' && write.ref === reply.ref,
      );
      assert.ok(position >= 0, `an acknowledgement of nothing that was sent: ${JSON.stringify(reply)}`);
      for (let earlier = 0; earlier < position; earlier++) {
        assert.ok(acknowledgedBy(earlier, seen), `${JSON.stringify(reply)} arrived before write ${earlier} (${JSON.stringify(sent[earlier])}) was acknowledged`);
      }
    }
    assert.ok(sent.every((_, position) => acknowledgedBy(position, seen)));
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), state(hard(1, 'n1', 4), range(3, 5, 1), meta));
    assert.deepEqual(await reopened.readSnapshot(), { meta, chunks });
  }));
}
