/**
 * The KV store's snapshot bytes (examples/kv/snapshotFormat.ts): what `snapshot()` yields, cut into chunks of any
 * size, restores the same keys and values; snapshots of the earlier superjson format still restore.
 */
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { KvStore, type KvCommand } from '../../examples/kv/store.js';
import type { StateMachineReply } from '../../actors/state-machine/StateMachine.js';
import type { Entry } from '../../src/core/index.js';
import { encodeSnapshot } from '../../examples/kv/snapshotFormat.js';
import { rechunk } from '../../actors/state-machine/snapshotStreams.js';
import { waitFor } from '../support/waitFor.js';

async function* fromArray(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of source) out.push(chunk);
  return out;
}

function storeWith(entries: Record<string, string>): KvStore {
  const store = new KvStore();
  for (const [key, value] of Object.entries(entries)) store.apply({ op: 'put', key, value });
  return store;
}

const sample = { a: '1', 'é/ü': 'ünïcödé ✓', emoji: '🙂'.repeat(50), empty: '', long: 'x'.repeat(5000) };

describe('KV snapshot format', () => {
  it('restores every key and value whatever the chunk size, across record boundaries', async () => {
    const bytes = await collect(rechunk(storeWith(sample).snapshot(), 1 << 20));
    for (const chunkBytes of [1, 3, 7, 64, 4096, 1 << 20]) {
      const restored = new KvStore();
      restored.apply({ op: 'put', key: 'stale', value: 'gone after restore' });
      await restored.restore(rechunk(fromArray(bytes), chunkBytes));
      expect(Object.fromEntries(restored.data)).toEqual(sample);
    }
  });

  it('fills pieces of the requested size, one larger piece for a value that does not fit', () => {
    const keys = Array.from({ length: 100 }, (_, at) => `k${at}`);
    const values = keys.map(() => 'v'.repeat(100));
    keys.push('big');
    values.push('b'.repeat(10_000));
    const pieces = [...encodeSnapshot(keys, values, 2048)];
    expect(pieces.length).toBeGreaterThan(5);
    expect(Math.max(...pieces.map((piece) => piece.byteLength))).toBeGreaterThan(10_000);
    expect(pieces.slice(0, -2).every((piece) => piece.byteLength <= 2048)).toBe(true);
  });

  it('encodes each piece in a turn of the event loop of its own, so the node serves traffic in between', async () => {
    // 3,000 keys of 200-byte values: three pieces of 256 KiB.
    const store = storeWith(Object.fromEntries(Array.from({ length: 3000 }, (_, at) => [`k${at}`, 'v'.repeat(200)])));
    const turnsSeen: number[] = [];
    let turns = 0;
    let counting = true;
    const tick = (): void => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    for await (const piece of store.snapshot()) {
      expect(piece.byteLength).toBeGreaterThan(0);
      turnsSeen.push(turns);
    }
    counting = false;
    expect(turnsSeen.length).toBe(3);
    // Every piece after the first comes a turn (or more) after the one before it.
    for (let at = 1; at < turnsSeen.length; at++) expect(turnsSeen[at]).toBeGreaterThan(turnsSeen[at - 1]!);
  });

  it('restores an empty store', async () => {
    const restored = storeWith({ left: 'over' });
    await restored.restore(rechunk(new KvStore().snapshot(), 16));
    expect(restored.data.size).toBe(0);
  });

  it('refuses a snapshot cut inside a record', async () => {
    const [bytes] = await collect(rechunk(storeWith(sample).snapshot(), 1 << 20));
    await expect(new KvStore().restore(fromArray([bytes!.subarray(0, bytes!.length - 3)]))).rejects.toThrow(/ends inside a record/);
  });

  it('goes on applying while its snapshot streams out; the snapshot holds the state it was taken at', async () => {
    const store = new KvStore();
    store.useDecoder((entry) => JSON.parse(entry.data) as KvCommand);
    const replies: StateMachineReply<string | null, unknown>[] = [];
    store.attach((reply) => replies.push(reply));
    const put = (index: number, value: string): Entry => ({ index, term: 1, kind: 'command', data: JSON.stringify({ op: 'put', key: 'a', value }) });
    const taken = (chunk: number) => replies.find((reply) => reply.type === 'SnapshotChunkTaken' && reply.chunk === chunk) as { data: Uint8Array; done: boolean } | undefined;
    const applied = (index: number) => replies.some((reply) => reply.type === 'Applied' && reply.index >= index);
    const meta = { index: 1, term: 1, voters: ['n1'], learners: [] };

    store.receive({ type: 'Apply', entries: [put(1, 'x'.repeat(40))], proposals: new Map() });
    store.receive({ type: 'TakeSnapshot', meta, chunkBytes: 16 });
    store.receive({ type: 'Apply', entries: [put(2, 'after')], proposals: new Map() });
    await waitFor(() => applied(2) && taken(0) !== undefined, { what: 'the second apply and the first chunk' });
    // Applied at once, though only the first chunk is out and not yet stored.
    expect(store.data.get('a')).toBe('after');
    expect(replies.filter((reply) => reply.type === 'SnapshotChunkTaken')).toHaveLength(1);
    const chunks: Uint8Array[] = [];
    for (let chunk = 0; ; chunk++) {
      const reply = taken(chunk)!;
      chunks.push(Uint8Array.from(reply.data));
      if (reply.done) break;
      store.receive({ type: 'NextSnapshotChunk', meta });
      await waitFor(() => taken(chunk + 1) !== undefined, { what: `chunk ${chunk + 1}` });
    }
    const restored = new KvStore();
    await restored.restore(fromArray(chunks.slice(1))); // chunk 0 is the framework's (sessions)
    expect(restored.data.get('a')).toBe('x'.repeat(40));
    await store.detach();
  });

  it('still restores a snapshot of the earlier format (superjson text of the Map)', async () => {
    const legacy = new TextEncoder().encode(superjson.stringify({ data: new Map(Object.entries(sample)) }));
    const restored = new KvStore();
    await restored.restore(rechunk(fromArray([legacy]), 5));
    expect(Object.fromEntries(restored.data)).toEqual(sample);
  });
});
