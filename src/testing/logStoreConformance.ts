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
import type { Entry, HardState, RecoveredState } from '../core/index.js';
import type { LogStore, LogStoreMessage, LogStoreReply, SaveLog, StoreFailureCause } from '../../actors/log-store/LogStore.js';

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

/** Drives a store the way a node does: attach, send messages, await replies. */
class StoreDriver {
  readonly replies: LogStoreReply[] = [];
  private waiters: { accept: (reply: LogStoreReply) => boolean; resolve: (reply: LogStoreReply) => void }[] = [];
  private nextWriteId = 1;

  constructor(
    readonly store: LogStore,
    private readonly timeoutMs: number,
  ) {
    store.attach((reply) => {
      this.replies.push(reply);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.accept(reply)) return true;
        waiter.resolve(reply);
        return false;
      });
    });
  }

  send(message: LogStoreMessage): void {
    this.store.receive(message);
  }

  /** Send a write and return its writeId. */
  write(hardState: HardState, entries: readonly Entry[], truncateFrom: number | null = null): number {
    const writeId = this.nextWriteId++;
    const message: SaveLog = { type: 'SaveLog', writeId, hardState, truncateFrom, entries };
    this.send(message);
    return writeId;
  }

  /** Resolve with the first reply (already received or still to come) that `accept` takes. */
  private waitFor(what: string, accept: (reply: LogStoreReply) => boolean): Promise<LogStoreReply> {
    const found = this.replies.find(accept);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<LogStoreReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${this.timeoutMs} ms; replies: ${JSON.stringify(this.replies)}`)), this.timeoutMs);
      this.waiters.push({
        accept,
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      });
    });
  }

  async load(): Promise<RecoveredState> {
    const start = this.replies.length;
    this.send({ type: 'Load' });
    const reply = await this.waitFor('Loaded', (r) => this.replies.indexOf(r) >= start && (r.type === 'Loaded' || r.type === 'StoreFailed'));
    if (reply.type !== 'Loaded') return assert.fail(`Load failed: ${reply.type === 'StoreFailed' ? describeCause(reply.cause) : reply.type}`);
    return reply.state;
  }

  /** Wait until every write up to `writeId` is acknowledged. */
  async saved(writeId: number): Promise<void> {
    const reply = await this.waitFor(`LogSaved ${writeId}`, (r) => (r.type === 'LogSaved' && r.writeId >= writeId) || r.type === 'StoreFailed');
    if (reply.type === 'StoreFailed') assert.fail(`write failed: ${describeCause(reply.cause)}`);
  }

  acknowledgements(): number[] {
    return this.replies.flatMap((reply) => (reply.type === 'LogSaved' ? [reply.writeId] : []));
  }

  detach(): void {
    this.store.detach();
  }
}

function describeCause(cause: StoreFailureCause): string {
  return `${cause.code}: ${cause.message}`;
}

function entry(index: number, term: number, data = `{"json":{"n":${index}}}`, kind: Entry['kind'] = 'command'): Entry {
  return { index, term, kind, data };
}

function range(from: number, to: number, term: number): Entry[] {
  const entries: Entry[] = [];
  for (let index = from; index <= to; index++) entries.push(entry(index, term));
  return entries;
}

function hard(term: number, votedFor: string | null, commit: number): HardState {
  return { term, votedFor, commit };
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
    assert.deepEqual(await driver.load(), { hardState: hard(0, null, 0), entries: [] });
  }));

  api.test('a reopened store loads exactly what was acknowledged: hard state, vote and entries', withStore(async (driver, restart) => {
    await driver.load();
    driver.write(hard(1, 'n1', 0), []);
    driver.write(hard(2, 'n2', 0), range(1, 3, 2));
    const last = driver.write(hard(2, 'n2', 2), range(4, 5, 2));
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), { hardState: hard(2, 'n2', 2), entries: range(1, 5, 2) });
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
    assert.deepEqual(await reopened.load(), {
      hardState: hard(2, 'n2', 2),
      entries: [...range(1, 2, 1), entry(3, 2, '"three"'), entry(4, 2, '"four"')],
    });
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
    assert.deepEqual(await reopened.load(), {
      hardState: hard(4, 'n3', 2),
      entries: [entry(1, 1), entry(2, 3), entry(3, 3), ...range(4, 6, 4)],
    });
  }));

  api.test('truncating from index 1 empties the log', withStore(async (driver, restart) => {
    await driver.load();
    driver.write(hard(1, null, 0), range(1, 4, 1));
    const last = driver.write(hard(2, null, 0), [], 1);
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), { hardState: hard(2, null, 0), entries: [] });
  }));

  api.test('a hard-state-only write keeps the log and a cleared vote stays cleared', withStore(async (driver, restart) => {
    await driver.load();
    driver.write(hard(3, 'n1', 0), range(1, 2, 3));
    const last = driver.write(hard(4, null, 2), []);
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), { hardState: hard(4, null, 2), entries: range(1, 2, 3) });
  }));

  api.test('entries round-trip exactly: data byte for byte, kind, large terms, proposal id and session tag', withStore(async (driver, restart) => {
    await driver.load();
    const entries: Entry[] = [
      entry(1, 7, '', 'noop'),
      entry(2, 7, '{"json":{"k":"ключ","v":"値 🙂"},"meta":{"values":{"d":["Date"]}}}'),
      entry(3, 7, 'x'.repeat(65_536)),
      entry(4, 2 ** 40, '"\\u0000 \\n \\t"'),
      // Whatever else an entry carries (a proposal id, a client session tag) is part of the replicated log too.
      { ...entry(5, 2 ** 40), id: 'proposal-5', session: { client: 'c1', seq: 3, ack: 2, at: 1_700_000_000_000 } } as Entry,
    ];
    const last = driver.write(hard(2 ** 40, 'nöde', 5), entries);
    await driver.saved(last);
    const reopened = await restart();
    assert.deepEqual(await reopened.load(), { hardState: hard(2 ** 40, 'nöde', 5), entries });
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
    assert.deepEqual(await third.load(), { hardState: hard(2, 'n1', 5), entries: [...range(1, 2, 1), ...range(3, 6, 2)] });
  }));
}
