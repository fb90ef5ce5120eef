/**
 * Durable throughput of LevelLogStore (classic-level, synced batches) against the disk's raw fsync rate.
 *
 * For each batch size B (entries per `SaveLog`, 100-byte payloads), for `seconds` each:
 * - one write in flight: send a SaveLog, wait for its LogSaved, repeat (one fsync per write);
 * - 64 writes in flight: keep 64 SaveLogs outstanding, so that group commit folds the ones that arrive during a
 *   write into the next batch;
 * - raw: `fs.writeSync` of the same number of bytes as B encoded entries, then `fs.fsyncSync`, in a loop, in a file
 *   in the same directory: the physical limit of one-fsync-per-write on this disk.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelLogStore } from '../actors/log-store/LevelLogStore.js';
import { encodeEntry } from '../actors/log-store/levelCodec.js';
import type { Entry, LogStoreReply } from '../src/index.js';

export interface LogStoreBenchResult {
  readonly batchSize: number;
  /** Durable entries per second with one write in flight. */
  readonly serialPerSecond: number;
  /** Durable entries per second with 64 writes in flight. */
  readonly pipelinedPerSecond: number;
  /** Synced batches per second in the pipelined run (fsyncs the store actually did). */
  readonly pipelinedBatchesPerSecond: number;
  /** Raw write+fsync loops per second, each writing the bytes of one batch. */
  readonly rawFsyncsPerSecond: number;
}

const payload = `"${'x'.repeat(98)}"`; // 100 bytes of command text

function entry(index: number): Entry {
  return { index, term: 1, kind: 'command', data: payload };
}

/** Run a store for `seconds` with `inflight` writes of `batchSize` entries outstanding; entries/s and batches/s. */
async function measureStore(directory: string, batchSize: number, inflight: number, seconds: number): Promise<{ entriesPerSecond: number; batchesPerSecond: number }> {
  const store = new LevelLogStore({ location: directory, identity: { clusterId: 'bench', nodeId: 'n1' } });
  await store.open();
  let nextIndex = 1;
  let nextWriteId = 1;
  let acknowledged = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  let finish: () => void = () => undefined;
  let fail: (error: Error) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let outstanding = 0;
  const send = (): void => {
    const entries = Array.from({ length: batchSize }, () => entry(nextIndex++));
    outstanding++;
    store.receive({ type: 'SaveLog', writeId: nextWriteId++, hardState: { term: 1, votedFor: 'n1', commit: 0 }, truncateFrom: null, entries });
  };
  store.attach((reply: LogStoreReply) => {
    if (reply.type === 'StoreFailed') return fail(new Error(reply.cause.message));
    if (reply.type !== 'LogSaved') return;
    const newlyDurable = reply.writeId - acknowledged;
    acknowledged = reply.writeId;
    outstanding -= newlyDurable;
    if (performance.now() >= until) {
      if (outstanding === 0) finish();
      return;
    }
    while (outstanding < inflight) send();
  });
  for (let i = 0; i < inflight; i++) send();
  await finished;
  const elapsed = (performance.now() - started) / 1000;
  const batches = store.stats.batches;
  store.detach();
  await store.close();
  return { entriesPerSecond: (acknowledged * batchSize) / elapsed, batchesPerSecond: batches / elapsed };
}

/** Raw write+fsync loops of `bytes` each in a file under `directory`, per second. */
function measureRawFsync(directory: string, bytes: number, seconds: number): number {
  const path = join(directory, 'raw-fsync');
  const fd = openSync(path, 'w');
  const buffer = Buffer.alloc(bytes, 0x78);
  let loops = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  try {
    while (performance.now() < until) {
      writeSync(fd, buffer);
      fsyncSync(fd);
      loops++;
    }
  } finally {
    closeSync(fd);
  }
  return loops / ((performance.now() - started) / 1000);
}

export async function benchLogStore(batchSize: number, seconds: number, baseDirectory = tmpdir()): Promise<LogStoreBenchResult> {
  const root = mkdtempSync(join(baseDirectory, 'xraft-bench-logstore-'));
  try {
    const serial = await measureStore(join(root, 'serial'), batchSize, 1, seconds);
    const pipelined = await measureStore(join(root, 'pipelined'), batchSize, 64, seconds);
    const bytesPerBatch = encodeEntry(entry(1)).length * batchSize;
    const rawFsyncsPerSecond = measureRawFsync(root, bytesPerBatch, seconds);
    return {
      batchSize,
      serialPerSecond: serial.entriesPerSecond,
      pipelinedPerSecond: pipelined.entriesPerSecond,
      pipelinedBatchesPerSecond: pipelined.batchesPerSecond,
      rawFsyncsPerSecond,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
