/**
 * What the log store conformance suite (logStoreConformance.ts) drives a store with: a driver that speaks to it the
 * way a node does (attach, send messages, await replies), and the small builders of entries, hard states and
 * snapshots its tests use.
 */
import assert from 'node:assert/strict';
import type { Entry, HardState, RecoveredState, SnapshotMeta } from '../core/index.js';
import type {
  LogStore,
  LogStoreMessage,
  LogStoreReply,
  SaveLog,
  SnapshotChunkLoaded,
  SnapshotChunkStored,
  StoreFailureCause,
} from '../../actors/log-store/LogStore.js';

/** Drives a store the way a node does: attach, send messages, await replies. */
export class StoreDriver {
  readonly replies: LogStoreReply[] = [];
  private waiters: { accept: (reply: LogStoreReply) => boolean; resolve: (reply: LogStoreReply) => void }[] = [];
  private nextWriteId = 1;
  private nextRef = 1;

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

  /** Load, with `snapshot` always present (a store without one may leave it out or answer null). */
  async load(): Promise<RecoveredState> {
    const start = this.replies.length;
    this.send({ type: 'Load' });
    const reply = await this.waitFor('Loaded', (r) => this.replies.indexOf(r) >= start && (r.type === 'Loaded' || r.type === 'StoreFailed'));
    if (reply.type !== 'Loaded') return assert.fail(`Load failed: ${reply.type === 'StoreFailed' ? describeCause(reply.cause) : reply.type}`);
    const { hardState, snapshot, entries } = reply.state;
    return { hardState, snapshot: snapshot ?? null, entries };
  }

  /** Send one snapshot chunk and return its ref. */
  writeChunk(meta: SnapshotMeta, chunk: number, data: Uint8Array, done: boolean): string {
    const ref = `write-${this.nextRef++}`;
    this.send({ type: 'WriteSnapshotChunk', ref, meta, chunk, data, done });
    return ref;
  }

  /** Wait until the chunk sent with `ref` is acknowledged. */
  async chunkStored(ref: string): Promise<SnapshotChunkStored> {
    const reply = await this.waitFor(`SnapshotChunkStored ${ref}`, (r) => (r.type === 'SnapshotChunkStored' && r.ref === ref) || r.type === 'StoreFailed');
    if (reply.type !== 'SnapshotChunkStored') return assert.fail(`chunk write failed: ${reply.type === 'StoreFailed' ? describeCause(reply.cause) : reply.type}`);
    return reply;
  }

  /** Write a whole snapshot, one chunk per element of `chunks`, and wait until it is current. */
  async writeSnapshot(meta: SnapshotMeta, chunks: readonly Uint8Array[]): Promise<void> {
    let last = '';
    chunks.forEach((data, chunk) => (last = this.writeChunk(meta, chunk, data, chunk === chunks.length - 1)));
    await this.chunkStored(last);
  }

  async readChunk(chunk: number): Promise<SnapshotChunkLoaded> {
    const ref = `read-${this.nextRef++}`;
    this.send({ type: 'ReadSnapshotChunk', ref, chunk });
    const reply = await this.waitFor(`SnapshotChunkLoaded ${ref}`, (r) => (r.type === 'SnapshotChunkLoaded' && r.ref === ref) || r.type === 'StoreFailed');
    if (reply.type !== 'SnapshotChunkLoaded') return assert.fail(`chunk read failed: ${reply.type === 'StoreFailed' ? describeCause(reply.cause) : reply.type}`);
    return reply;
  }

  /** Read the current snapshot's chunks from 0 until the one marked `done`. */
  async readSnapshot(): Promise<{ meta: SnapshotMeta | null; chunks: Uint8Array[] }> {
    const chunks: Uint8Array[] = [];
    for (let chunk = 0; ; chunk++) {
      const reply = await this.readChunk(chunk);
      if (reply.meta === null) return { meta: chunk === 0 ? null : assert.fail(`chunk ${chunk} vanished while reading`), chunks };
      chunks.push(Uint8Array.from(reply.data));
      if (reply.done) return { meta: reply.meta, chunks };
    }
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

export function describeCause(cause: StoreFailureCause): string {
  return `${cause.code}: ${cause.message}`;
}

export function entry(index: number, term: number, data = `{"json":{"n":${index}}}`, kind: Entry['kind'] = 'command'): Entry {
  return { index, term, kind, data };
}

export function range(from: number, to: number, term: number): Entry[] {
  const entries: Entry[] = [];
  for (let index = from; index <= to; index++) entries.push(entry(index, term));
  return entries;
}

export function hard(term: number, votedFor: string | null, commit: number): HardState {
  return { term, votedFor, commit };
}

/** What Load answers (as the driver normalizes it). */
export function state(hardState: HardState, entries: readonly Entry[], snapshot: SnapshotMeta | null = null): RecoveredState {
  return { hardState, snapshot, entries };
}

export function snapshotMeta(index: number, term: number, voters: readonly string[] = ['n1', 'n2', 'n3']): SnapshotMeta {
  return { index, term, voters, learners: [] };
}

/** `count` chunks of distinct, non-repeating bytes (chunk sizes vary; one may be empty). */
export function chunksOf(seed: number, sizes: readonly number[]): Uint8Array[] {
  let x = seed * 2654435761 + 1;
  return sizes.map((size) => {
    const chunk = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      chunk[i] = x >>> 16;
    }
    return chunk;
  });
}
