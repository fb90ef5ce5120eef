/**
 * A key space holds exactly the keys of the sublevel with the same path: the same bytes on disk, the same answers to
 * ranges, and nothing of its siblings, its parent or a sibling whose name starts like its own. So a store that keeps
 * its keys in key spaces reads what a store on sublevels wrote, and the other way round.
 */
import { MemoryLevel } from 'memory-level';
import { describe, expect, test } from 'vitest';
import { LevelLogStore, type LevelDatabase } from '../../actors/log-store/LevelLogStore.js';
import { KeySpace } from '../../actors/log-store/levelKeySpace.js';
import type { Entry, LogStoreReply } from '../../src/index.js';

const RAW = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const;
const hex = (keys: readonly Buffer[]): string[] => keys.map((key) => key.toString('hex'));
const key = (byte: number): Buffer => Buffer.of(byte);

/** A database with keys 0x00..0x09 in sublevels `a`, `a`/`b`, `ab` and `b`, and one key at the root. */
async function crowdedDatabase(): Promise<MemoryLevel<string, string>> {
  const db = new MemoryLevel<string, string>();
  await db.open();
  const names = [['a'], ['a', 'b'], ['ab'], ['b']];
  for (const path of names) {
    const sublevel = db.sublevel<Buffer, Buffer>(path, RAW);
    for (let byte = 0; byte < 10; byte++) await sublevel.put(key(byte), Buffer.from(`${path.join('/')}:${byte}`), RAW);
  }
  await db.put('a', 'root');
  return db;
}

describe('KeySpace', () => {
  test('answers every range as the sublevel of the same path does, and clears only its own keys', async () => {
    const db = await crowdedDatabase();
    const root = KeySpace.of(db as unknown as LevelDatabase);
    const ranges = [{}, { gte: key(3) }, { gt: key(3) }, { lt: key(7) }, { lte: key(7) }, { gt: key(2), lte: key(8) }, { lte: key(5), reverse: true, limit: 2 }];
    for (const path of [['a'], ['a', 'b'], ['ab']]) {
      const space = path.reduce((outer, name) => outer.within(name), root);
      const sublevel = db.sublevel<Buffer, Buffer>(path, RAW);
      for (const range of ranges) expect(hex(await space.keys(range)), `${path.join('/')} ${JSON.stringify(range)}`).toEqual(hex(await sublevel.keys({ ...range, ...RAW }).all()));
      const iterator = space.iterator({ gt: key(6) });
      const page = await iterator.nextv(100);
      await iterator.close();
      expect(page.map(([k, v]) => [k.toString('hex'), v.toString()])).toEqual((await sublevel.iterator({ gt: key(6), ...RAW }).all()).map(([k, v]) => [k.toString('hex'), v.toString()]));
      expect((await space.get(key(4)))?.toString()).toBe(`${path.join('/')}:4`);
    }
    // Seen from the sublevel `a`, the space of `a`/`b` is under `!b!`; from `b`, it is not inside at all.
    const nested = root.within('a').within('b');
    expect(nested.prefixWithin(db.sublevel('a') as unknown as LevelDatabase).toString()).toBe('!b!');
    expect(() => nested.prefixWithin(db.sublevel('b') as unknown as LevelDatabase)).toThrow(RangeError);
    // Clearing `a` below 5 leaves `a` from 5 on (its nested `a`/`b` sorts after it, as in a sublevel), and every key
    // of `a`/`b`, `ab`, `b` and the root.
    await root.within('a').clear({ lt: key(5) });
    expect(hex(await root.within('a').keys({ lt: Buffer.from('!') }))).toEqual(hex([5, 6, 7, 8, 9].map(key)));
    for (const path of [['a', 'b'], ['ab'], ['b']]) expect(await db.sublevel<Buffer, Buffer>(path, RAW).keys(RAW).all()).toHaveLength(10);
    expect(await db.get('a')).toBe('root');
    await db.close();
  });

  test('of a sublevel is the sublevel, and refuses names a sublevel refuses', async () => {
    const db = await crowdedDatabase();
    const ofSublevel = KeySpace.of(db.sublevel('a').sublevel('b') as unknown as LevelDatabase);
    expect(ofSublevel.db).toBe(db);
    expect(hex(await ofSublevel.keys())).toEqual(hex(await KeySpace.of(db as unknown as LevelDatabase).within('a').within('b').keys()));
    for (const name of ['', 'a!b', 'a"', 'ü']) expect(() => KeySpace.of(db as unknown as LevelDatabase).within(name), name).toThrow(RangeError);
    await db.close();
  });
});

describe('LevelLogStore on a key space', () => {
  const identity = { clusterId: 'c1', nodeId: 'n1' };
  const log: Entry[] = Array.from({ length: 20 }, (_, i) => ({ index: i + 1, term: 2, kind: 'command', data: `"${i + 1}"` }));

  async function write(store: LevelLogStore): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      store.attach((reply: LogStoreReply) => {
        if (reply.type === 'StoreFailed') reject(new Error(reply.cause.message));
        if (reply.type === 'LogSaved') resolve();
      });
      store.receive({ type: 'SaveLog', writeId: 1, hardState: { term: 2, votedFor: 'n1', commit: 20 }, truncateFrom: null, entries: log });
    });
    store.detach();
    await store.close();
  }

  test('reads what a store on a sublevel of that name wrote, and writes what such a store reads', async () => {
    const db = new MemoryLevel<string, string>();
    const sublevel = db.sublevel<string, string>('group-1', {}) as unknown as LevelDatabase;
    await write(new LevelLogStore({ db: sublevel, identity }));
    const onSpace = new LevelLogStore({ db: db as unknown as LevelDatabase, sublevel: 'group-1', identity, snapshotDirectory: null });
    expect(await onSpace.open()).toEqual({ hardState: { term: 2, votedFor: 'n1', commit: 20 }, snapshot: null, entries: log });
    await onSpace.close();

    await write(new LevelLogStore({ db: db as unknown as LevelDatabase, sublevel: 'group-2', identity }));
    const onSublevel = new LevelLogStore({ db: db.sublevel<string, string>('group-2', {}) as unknown as LevelDatabase, identity });
    expect((await onSublevel.open()).entries).toEqual(log);
    await onSublevel.close();
    // Neither store wrote outside its own sublevel.
    const outside = (await KeySpace.of(db as unknown as LevelDatabase).keys()).filter((k) => !k.toString('latin1').startsWith('!group-1!') && !k.toString('latin1').startsWith('!group-2!'));
    expect(outside).toEqual([]);
    await db.close();
  });
});
