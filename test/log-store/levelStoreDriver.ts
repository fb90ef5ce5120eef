/**
 * Helpers for the LevelLogStore and FileLogStore tests: entries to write, a store driven like a node drives it (its
 * replies collected), snapshot metadata and bytes, an open expected to fail, and temporary directories.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { LogStore, LogStoreMessage } from '../../actors/log-store/LogStore.js';
import type { SnapshotMeta } from '../../src/core/index.js';
import { StoreCorruptedError, type Entry, type LogStoreReply } from '../../src/index.js';

export function entries(from: number, to: number, term: number, payload = (index: number) => `{"json":{"n":${index}}}`): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term, kind: 'command' as const, data: payload(from + i) }));
}

/** A run's bounds, as `decodeRunKey` gives them. */
export function run(first: number, last: number): { first: number; last: number } {
  return { first, last };
}

/** A store on disk: the node's messages, and open and close. */
type DiskStore = LogStore & { open(): Promise<unknown>; close(): Promise<void> };

/** Attach a store like a node and collect its replies; `until` resolves with the first reply that matches. */
export function drive(store: DiskStore) {
  const replies: LogStoreReply[] = [];
  let waiters: { accept: (reply: LogStoreReply) => boolean; resolve: (reply: LogStoreReply) => void }[] = [];
  store.attach((reply) => {
    replies.push(reply);
    waiters = waiters.filter((waiter) => !(waiter.accept(reply) && (waiter.resolve(reply), true)));
  });
  const until = (accept: (reply: LogStoreReply) => boolean): Promise<LogStoreReply> => {
    const found = replies.find(accept);
    return found !== undefined ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ accept, resolve }));
  };
  return {
    replies,
    send: (message: LogStoreMessage) => store.receive(message),
    until,
    /** Write a snapshot chunk and wait for its acknowledgement (or a failure). */
    chunk: (meta: SnapshotMeta, chunk: number, data: Uint8Array, done: boolean) => {
      const ref = `w${chunk}-${meta.index}`;
      store.receive({ type: 'WriteSnapshotChunk', ref, meta, chunk, data, done });
      return until((r) => (r.type === 'SnapshotChunkStored' && r.ref === ref) || r.type === 'StoreFailed');
    },
    read: (chunk: number) => {
      const ref = `r${chunk}-${replies.length}`;
      store.receive({ type: 'ReadSnapshotChunk', ref, chunk });
      return until((r) => (r.type === 'SnapshotChunkLoaded' && r.ref === ref) || r.type === 'StoreFailed');
    },
    save: (writeId: number, commit: number, list: readonly Entry[], truncateFrom: number | null = null) => {
      store.receive({ type: 'SaveLog', writeId, hardState: { term: 1, votedFor: 'n1', commit }, truncateFrom, entries: list });
      return until((r) => (r.type === 'LogSaved' && r.writeId >= writeId) || r.type === 'StoreFailed');
    },
    /** Wait until every write sent so far is durable (or dropped), still attached. */
    close: () => store.close(),
    stop: async () => {
      store.detach();
      await store.close();
    },
  };
}

export const meta = (index: number, term = 1): SnapshotMeta => ({ index, term, voters: ['n1', 'n2', 'n3'], learners: [] });
export const bytes = (size: number, fill: number) => new Uint8Array(size).fill(fill);

/** Open `store`, expecting it to refuse with `StoreCorruptedError`, and close it again. */
export async function openError(store: DiskStore): Promise<StoreCorruptedError> {
  const error = await store.open().then(
    () => null,
    (e: unknown) => e,
  );
  await store.close();
  expect(error).toBeInstanceOf(StoreCorruptedError);
  return error as StoreCorruptedError;
}

const directories: string[] = [];

/** A new empty directory, removed by `removeDirectories` (call it after each test). */
export function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'xraft-level-'));
  directories.push(directory);
  return directory;
}

export function removeDirectories(): void {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
}
