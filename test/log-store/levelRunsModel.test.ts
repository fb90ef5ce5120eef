/**
 * LevelLogStore's runs against a model of the log: seeded random sequences of appends, truncations (inside runs and
 * between them, durable or still in the batch being written), snapshots with compaction (inside runs, and past the
 * end of the log as a follower's install) and restarts. After every restart, Load must give exactly the model's log
 * after the snapshot. A failing seed names itself in the test's title. Both ways a store is used: alone on its
 * database, and as one group's store of SharedLevelLogStores, whose batches are shared with the other groups'.
 */
import { MemoryLevel } from 'memory-level';
import { describe, expect, test } from 'vitest';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { SharedLevelLogStores } from '../../actors/log-store/SharedLevelLogStores.js';
import { seededRandom, type Entry, type SnapshotMeta } from '../../src/core/index.js';
import { drive } from './levelStoreDriver.js';

const identity = { clusterId: 'model', nodeId: 'n1' };
const SEEDS = 40;
const STEPS = 60;

/** The log as a node would have it: the snapshot's index and term, and the entries after it. */
class ModelLog {
  snapshot: { index: number; term: number } | null = null;
  entries: Entry[] = [];
  term = 1;

  get snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  /** Where the next appended entry goes: after the log, or right after a snapshot that passed it. */
  get next(): number {
    return Math.max(this.snapshotIndex, this.entries.at(-1)?.index ?? 0) + 1;
  }

  make(from: number, count: number): Entry[] {
    return Array.from({ length: count }, (_, i) => ({ index: from + i, term: this.term, kind: 'command' as const, data: `"${from + i}@${this.term}"` }));
  }

  append(count: number): Entry[] {
    const made = this.make(this.next, count);
    this.entries.push(...made);
    return made;
  }

  truncate(from: number, count: number): Entry[] {
    this.term++;
    this.entries = this.entries.filter((entry) => entry.index < from);
    const made = this.make(from, count);
    this.entries.push(...made);
    return made;
  }

  termAt(index: number): number {
    return this.entries.find((entry) => entry.index === index)?.term ?? this.term;
  }

  snapshotAt(index: number): SnapshotMeta {
    this.snapshot = { index, term: this.termAt(index) };
    this.entries = this.entries.filter((entry) => entry.index > index);
    return { index, term: this.snapshot.term, voters: ['n1'], learners: [] };
  }
}

/** A store on `db` (a fresh one each time it is called: the same data, reopened). */
type Opener = (db: MemoryLevel) => () => LevelLogStore;

const alone: Opener = (db) => () => new LevelLogStore({ db, identity });
const shared: Opener = (db) => {
  const stores = new SharedLevelLogStores({ db, clusterId: identity.clusterId, nodeId: identity.nodeId });
  return () => stores.store('group/1');
};

async function run(seed: number, opener: Opener): Promise<void> {
  const random = seededRandom(seed);
  const below = (n: number): number => Math.floor(random() * n);
  const db = new MemoryLevel();
  const open = opener(db);
  const model = new ModelLog();
  let store = drive(open());
  let writeId = 0;
  const hardState = () => ({ term: model.term, votedFor: null, commit: 0 });
  for (let step = 0; step < STEPS; step++) {
    const choice = below(10);
    const last = model.next - 1;
    if (choice < 5) {
      // One to three writes back to back: the later ones join one batch while the first is written.
      const writes = 1 + below(3);
      for (let w = 0; w < writes; w++) {
        const tail = model.next - 1;
        const truncateFrom = tail > model.snapshotIndex && below(3) === 0 ? model.snapshotIndex + 1 + below(tail - model.snapshotIndex) : null;
        const entries = truncateFrom === null ? model.append(1 + below(6)) : model.truncate(truncateFrom, below(4));
        store.send({ type: 'SaveLog', writeId: ++writeId, hardState: hardState(), truncateFrom, entries });
      }
      const id = writeId;
      expect(await store.until((reply) => (reply.type === 'LogSaved' && reply.writeId === id) || reply.type === 'StoreFailed')).toMatchObject({ type: 'LogSaved' });
    } else if (choice < 7 && last > model.snapshotIndex) {
      // A snapshot inside the log (or, now and then, past its end, as a follower installs its leader's), then the
      // compaction it allows.
      const index = below(5) === 0 ? last + 1 + below(3) : model.snapshotIndex + 1 + below(last - model.snapshotIndex);
      const meta = model.snapshotAt(index);
      expect(await store.chunk(meta, 0, new Uint8Array([seed & 0xff, step]), true)).toMatchObject({ type: 'SnapshotChunkStored' });
      store.send({ type: 'CompactLog', through: index + below(3) });
    } else {
      // A restart: what was acknowledged must read back exactly.
      await store.stop();
      const reopened = open();
      const state = await reopened.open();
      expect(state.snapshot?.index ?? 0).toBe(model.snapshotIndex);
      expect(state.entries).toEqual(model.entries);
      store = drive(reopened);
      writeId = 0;
    }
  }
  await store.stop();
  const final = open();
  expect((await final.open()).entries).toEqual(model.entries);
  await final.close();
  await db.close();
}

describe.each([
  ['alone', alone],
  ['as a group of SharedLevelLogStores', shared],
])('LevelLogStore runs against a model of the log, %s', (_, opener) => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    test(`seed ${seed}: every restart reads back exactly the log the writes made`, () => run(seed, opener));
  }
});
