/**
 * One database write per turn for the stores of a SharedLevelLogStores (actors/log-store/sharedLevelBatch.ts): the
 * stores that write in the same turn become durable together in ONE batch of the shared database, a failed batch
 * fails every store in it and acknowledges nothing, each store's own checks still refuse what it cannot store, and
 * the keys are those every store wrote before (a reopened database, or a store alone on the group's sublevel, finds
 * each group's log).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelLogStore, type LevelDatabase } from '../../actors/log-store/LevelLogStore.js';
import { SharedLevelLogStores } from '../../actors/log-store/SharedLevelLogStores.js';
import type { LogStoreReply, SaveLog, StoreFailureCause } from '../../actors/log-store/LogStore.js';
import type { Entry, RecoveredState } from '../../src/core/index.js';
import { waitFor } from '../support/waitFor.js';

function entries(from: number, count: number, term: number, tag = ''): Entry[] {
  return Array.from({ length: count }, (_, i) => ({ index: from + i, term, kind: 'command' as const, data: `"${tag}${from + i}"` }));
}

function saveLog(writeId: number, written: Entry[], truncateFrom: number | null = null): SaveLog {
  const last = written.at(-1)?.index ?? 0;
  return { type: 'SaveLog', writeId, truncateFrom, entries: written, hardState: { term: written[0]?.term ?? 1, votedFor: 'n1', commit: Math.max(0, last - 1) } };
}

/** A store of `shared` for `group`, opened, with the replies it got. */
async function openStore(shared: SharedLevelLogStores, group: string): Promise<OpenStore> {
  const store = shared.store(group);
  await store.open();
  const saved: number[] = [];
  const failures: StoreFailureCause[] = [];
  store.attach((reply: LogStoreReply) => {
    if (reply.type === 'LogSaved') saved.push(reply.writeId);
    if (reply.type === 'StoreFailed') failures.push(reply.cause);
  });
  return { group, store, saved, failures };
}

interface OpenStore {
  readonly group: string;
  readonly store: LevelLogStore;
  readonly saved: number[];
  readonly failures: StoreFailureCause[];
}

/** The batches written to `db` (abstract-level's `write` event: one per batch, with all its operations). */
function recordWrites(db: LevelDatabase): number[] {
  const sizes: number[] = [];
  db.on('write', (operations: readonly unknown[]) => sizes.push(operations.length));
  return sizes;
}

const groups = Array.from({ length: 12 }, (_, i) => `shard-${i}`);
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe('SharedLevelLogStores writes every store of a turn in one batch', () => {
  it('makes the writes of many stores in one turn durable with one database write', async () => {
    const db = new MemoryLevel() as unknown as LevelDatabase;
    const shared = new SharedLevelLogStores({ db, clusterId: 'kv', nodeId: 'n1' });
    cleanup.push(() => db.close());
    const stores = await Promise.all(groups.map((group) => openStore(shared, group)));
    const writes = recordWrites(db);
    const before = { writes: shared.writeCount, syncs: shared.syncCount };

    stores.forEach(({ store }, i) => store.receive(saveLog(1, entries(1, i + 1, 1))));
    await waitFor(() => stores.every(({ saved }) => saved.length === 1), { what: 'every store acknowledged its write' });

    // One batch: each store's entries (one run) and its hard state.
    expect(writes).toEqual([groups.length * 2]);
    expect(shared.writeCount - before.writes).toBe(1);
    expect(shared.syncCount - before.syncs).toBe(1);
    for (const { store, failures } of stores) {
      expect(failures).toEqual([]);
      expect(store.stats.batches).toBe(1);
    }
  });

  it('acknowledges each store in its write order while its later writes join later batches', async () => {
    const db = new MemoryLevel() as unknown as LevelDatabase;
    const shared = new SharedLevelLogStores({ db, clusterId: 'kv', nodeId: 'n1' });
    cleanup.push(() => db.close());
    const stores = await Promise.all(groups.slice(0, 4).map((group) => openStore(shared, group)));
    const writesBefore = shared.writeCount;
    for (const { store } of stores) store.receive(saveLog(1, entries(1, 1, 1)));
    await waitFor(() => shared.writeCount > writesBefore, { what: 'the first batch begun' });
    // Writes 2 to 5 of every store, sent once the first batch is under way: each store's four go in its next group.
    for (let write = 2; write <= 5; write++) for (const { store } of stores) store.receive(saveLog(write, entries(write, 1, 1)));
    await waitFor(() => stores.every(({ saved }) => saved.at(-1) === 5), { what: 'every store acknowledged write 5' });
    for (const { saved, failures } of stores) {
      expect(failures).toEqual([]);
      expect(saved).toEqual([1, 5]);
    }
    expect(shared.writeCount - writesBefore).toBe(2);
    for (const opened of stores) expect((await reopen(shared, opened)).entries.map((entry) => entry.index)).toEqual([1, 2, 3, 4, 5]);
  });

  it('fails every store of a batch that fails, and acknowledges nothing of it', async () => {
    const db = new MemoryLevel() as unknown as LevelDatabase;
    const shared = new SharedLevelLogStores({ db, clusterId: 'kv', nodeId: 'n1' });
    cleanup.push(() => db.close());
    const stores = await Promise.all(groups.map((group) => openStore(shared, group)));
    // Every store writes once, durably; then the database refuses the next batch (a hook that throws: what a disk
    // error is to the stores, a rejected write).
    stores.forEach(({ store }, i) => store.receive(saveLog(1, entries(1, 1, 1, `${i}:`))));
    await waitFor(() => stores.every(({ saved }) => saved.length === 1), { what: 'the first writes acknowledged' });
    const diskFull = (): void => {
      throw new Error('disk full');
    };
    db.hooks.prewrite.add(diskFull);
    const writesBefore = shared.writeCount;
    stores.forEach(({ store }, i) => store.receive(saveLog(2, entries(2, 2, 1, `${i}:`))));
    await waitFor(() => stores.every(({ failures }) => failures.length === 1), { what: 'every store failed' });
    db.hooks.prewrite.delete(diskFull);

    expect(shared.writeCount - writesBefore).toBe(1);
    for (const { saved, failures } of stores) {
      expect(saved).toEqual([1]);
      expect(failures[0]!.code).toBe('IO_ERROR');
    }
    // A failed store acknowledges nothing more, even once the database writes again.
    stores[0]!.store.receive(saveLog(3, entries(2, 1, 1)));
    const other = await openStore(shared, 'shard-other');
    other.store.receive(saveLog(1, entries(1, 1, 1)));
    await waitFor(() => other.saved.length === 1, { what: 'a store of a later batch acknowledged' });
    expect(stores[0]!.saved).toEqual([1]);
    // Nothing of the failed batch is in the database: each group still has its first entry alone.
    for (const [i, opened] of stores.entries()) expect((await reopen(shared, opened)).entries).toEqual(entries(1, 1, 1, `${i}:`));
  });

  it('refuses, in its own store only, a write that does not continue the log; the others of the turn are written', async () => {
    const db = new MemoryLevel() as unknown as LevelDatabase;
    const shared = new SharedLevelLogStores({ db, clusterId: 'kv', nodeId: 'n1' });
    cleanup.push(() => db.close());
    const stores = await Promise.all(groups.slice(0, 5).map((group) => openStore(shared, group)));
    const writes = recordWrites(db);
    stores.forEach(({ store }, i) => store.receive(saveLog(1, i === 2 ? entries(3, 1, 1) : entries(1, 2, 1))));
    await waitFor(() => stores.every(({ saved, failures }) => saved.length + failures.length === 1), { what: 'every store answered' });
    for (const [i, { saved, failures }] of stores.entries()) {
      if (i === 2) expect(failures.map((cause) => cause.code)).toEqual(['INVALID_WRITE']);
      else expect(saved).toEqual([1]);
    }
    // One batch, without the refused store's operations: each other store's run and hard state.
    expect(writes).toEqual([4 * 2]);
    expect((await reopen(shared, stores[2]!)).entries).toEqual([]);
  });

  it('keeps the keys: a reopened database recovers every group, and a store alone on the group sublevel reads it', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'xraft-sharedbatch-'));
    cleanup.push(async () => rmSync(directory, { recursive: true, force: true }));
    const expected = new Map<string, Entry[]>();
    {
      const shared = new SharedLevelLogStores({ location: directory, clusterId: 'kv', nodeId: 'n1' });
      const stores = await Promise.all(groups.map((group) => openStore(shared, group)));
      // Three turns: appends of different lengths, then a truncation in every other group.
      stores.forEach(({ store }, i) => store.receive(saveLog(1, entries(1, i + 1, 1, `${groups[i]}:`))));
      await waitFor(() => stores.every(({ saved }) => saved.length === 1), { what: 'first turn acknowledged' });
      stores.forEach(({ store }, i) => store.receive(saveLog(2, entries(i + 2, 2, 1, `${groups[i]}:`))));
      await waitFor(() => stores.every(({ saved }) => saved.length === 2), { what: 'second turn acknowledged' });
      stores.forEach(({ store }, i) => {
        if (i % 2 === 0) store.receive(saveLog(3, entries(2, 1, 2, `${groups[i]}:`), 2));
      });
      await waitFor(() => stores.every(({ saved }, i) => saved.length === (i % 2 === 0 ? 3 : 2)), { what: 'third turn acknowledged' });
      for (const [i, group] of groups.entries()) {
        const log = entries(1, i + 3, 1, `${group}:`);
        expected.set(group, i % 2 === 0 ? [log[0]!, ...entries(2, 1, 2, `${group}:`)] : log);
      }
      for (const { store, failures } of stores) {
        expect(failures).toEqual([]);
        await store.detach();
      }
      await shared.close();
    }
    const again = new SharedLevelLogStores({ location: directory, clusterId: 'kv', nodeId: 'n1' });
    try {
      for (const group of groups) {
        const store = again.store(group);
        const state = await store.open();
        expect(state.entries).toEqual(expected.get(group));
        expect(state.hardState.votedFor).toBe('n1');
        await store.close();
      }
      // The same group read by a store alone (no shared batch) on the group's sublevel: the same keys.
      const name = `g${Buffer.from('shard-3', 'utf8').toString('base64url')}`;
      const alone = new LevelLogStore({ db: again.db.sublevel<string, string>(name, {}) as unknown as LevelDatabase, identity: { clusterId: 'kv/shard-3', nodeId: 'n1' } });
      expect((await alone.open()).entries).toEqual(expected.get('shard-3'));
      await alone.close();
    } finally {
      await again.close();
    }
  });
});

/** Close the store and read its group back through a new store of `shared`. */
async function reopen(shared: SharedLevelLogStores, { store, group }: OpenStore): Promise<RecoveredState> {
  await store.detach();
  const again = shared.store(group);
  try {
    return await again.open();
  } finally {
    await again.close();
  }
}
