/**
 * Snapshot transfer: a leader whose state is `bytes` of data (generated, never held in memory) snapshots it to its
 * LevelLogStore on disk, then a new node joins, receives the snapshot over HTTP/2 in chunks, stores it and restores
 * its state machine from it. Reports the transfer rate and the peak growth of the process's resident memory while
 * both nodes (one process) move the data.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { LevelLogStore } from '../actors/log-store/LevelLogStore.js';
import { Http2Network } from '../actors/network/Http2Network.js';
import { StateMachine, createRaftNode, type RaftNode } from '../src/index.js';
import { freePorts } from '../test/network/support.js';

const command = z.object({ n: z.number() });
type Command = z.infer<typeof command>;

/** A state of `size` bytes produced on demand; restoring hashes what arrives instead of keeping it. */
class BulkState extends StateMachine<Command, number> {
  received = 0;
  digest = '';
  constructor(private readonly size: number) {
    super();
  }
  apply(): number {
    return 0;
  }
  override async *snapshot(): AsyncGenerator<Uint8Array> {
    const page = new Uint8Array(1024 * 1024);
    for (let offset = 0; offset < this.size; offset += page.byteLength) {
      page.fill(offset / page.byteLength);
      yield page.subarray(0, Math.min(page.byteLength, this.size - offset));
    }
  }
  override async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const hash = createHash('sha256');
    this.received = 0;
    for await (const chunk of chunks) {
      hash.update(chunk);
      this.received += chunk.byteLength;
    }
    this.digest = hash.digest('hex');
  }
}

export interface SnapshotBenchResult {
  readonly bytes: number;
  readonly takeSeconds: number;
  readonly transferSeconds: number;
  readonly megabytesPerSecond: number;
  /** Resident memory of the process with both nodes started, before the snapshot is taken. */
  readonly startRssMiB: number;
  /** Peak resident growth while the leader takes the snapshot (state machine -> store), over the start. */
  readonly take: MemoryGrowth;
  /** Peak resident growth while the snapshot moves to the joiner and is installed and restored there, over the start. */
  readonly transfer: MemoryGrowth;
}

/** Peaks of resident memory over a baseline, in MiB: the whole, and its anonymous and file-backed parts apart. */
export interface MemoryGrowth {
  readonly rssMiB: number;
  /** Heap, buffers, malloc. */
  readonly anonymousMiB: number;
  /** Memory-mapped files (LevelDB maps its table files): page cache the kernel can reclaim. */
  readonly fileMiB: number;
}

/** Anonymous and file-backed resident memory of this process, in bytes (Linux; zeros elsewhere). */
function residentParts(): { anonymous: number; file: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (field: string): number => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0) * 1024;
    return { anonymous: kib('RssAnon'), file: kib('RssFile') };
  } catch {
    return { anonymous: 0, file: 0 };
  }
}

/** Samples resident memory every 20 ms from `start()` until `stop()`, keeping the peaks. */
class MemorySampler {
  private readonly base = { rss: process.memoryUsage().rss, ...residentParts() };
  private peak = { ...this.base };
  private timer: NodeJS.Timeout | null = null;

  get baseRss(): number {
    return this.base.rss;
  }

  start(): void {
    this.peak = { ...this.base };
    this.timer = setInterval(() => {
      const parts = residentParts();
      this.peak = {
        rss: Math.max(this.peak.rss, process.memoryUsage().rss),
        anonymous: Math.max(this.peak.anonymous, parts.anonymous),
        file: Math.max(this.peak.file, parts.file),
      };
    }, 20);
  }

  stop(): MemoryGrowth {
    if (this.timer !== null) clearInterval(this.timer);
    const mib = (bytes: number): number => bytes / 2 ** 20;
    return { rssMiB: mib(this.peak.rss - this.base.rss), anonymousMiB: mib(this.peak.anonymous - this.base.anonymous), fileMiB: mib(this.peak.file - this.base.file) };
  }
}

/** `chunkBytes` defaults to the node default (`snapshotChunkBytes`). */
export async function benchSnapshotTransfer(bytes: number, chunkBytes?: number): Promise<SnapshotBenchResult> {
  const directory = mkdtempSync(join(tmpdir(), 'xraft-snapshot-bench-'));
  const [leaderPort, joinerPort] = (await freePorts(2)) as [number, number];
  const networks = {
    n1: new Http2Network({ id: 'n1', clusterId: 'bench', peers: { n2: `127.0.0.1:${joinerPort}` }, listen: { port: leaderPort } }),
    n2: new Http2Network({ id: 'n2', clusterId: 'bench', peers: { n1: `127.0.0.1:${leaderPort}` }, listen: { port: joinerPort }, }),
  };
  await networks.n1.listen();
  await networks.n2.listen();
  const config = { electionTimeoutMs: 1000, heartbeatIntervalMs: 100, snapshotThreshold: 0, snapshotTrailingEntries: 0 };
  const leaderState = new BulkState(bytes);
  const leader: RaftNode<Command, number, BulkState> = createRaftNode({
    id: 'n1',
    members: ['n1'],
    commandSchema: command,
    stateMachine: leaderState,
    network: networks.n1,
    snapshotChunkBytes: chunkBytes,
    logStore: new LevelLogStore({ location: join(directory, 'n1'), identity: { clusterId: 'bench', nodeId: 'n1' } }),
    config,
  });
  const joinerState = new BulkState(0);
  const joiner: RaftNode<Command, number, BulkState> = createRaftNode({
    id: 'n2',
    members: [],
    commandSchema: command,
    stateMachine: joinerState,
    network: networks.n2,
    snapshotChunkBytes: chunkBytes,
    logStore: new LevelLogStore({ location: join(directory, 'n2'), identity: { clusterId: 'bench', nodeId: 'n2' } }),
    config,
  });
  try {
    await until(() => leader.status().role === 'leader', 10_000, 'leader');
    await leader.propose({ n: 1 });
    // Both phases are measured against the same start, so that memory grown while taking cannot hide in the baseline
    // of the transfer.
    const memory = new MemorySampler();
    // Take the snapshot and compact everything, so the joiner can only catch up by snapshot.
    memory.start();
    const takeStarted = performance.now();
    await leader.takeSnapshot({ timeoutMs: 600_000 });
    const takeSeconds = (performance.now() - takeStarted) / 1000;
    const take = memory.stop();

    memory.start();
    const started = performance.now();
    await leader.addLearner('n2');
    await until(() => joinerState.received === bytes && joiner.status().appliedIndex >= 2, 600_000, 'snapshot installed');
    const transferSeconds = (performance.now() - started) / 1000;
    const transfer = memory.stop();
    return {
      bytes,
      takeSeconds,
      transferSeconds,
      megabytesPerSecond: bytes / 1e6 / transferSeconds,
      startRssMiB: memory.baseRss / 2 ** 20,
      take,
      transfer,
    };
  } finally {
    await leader.stop();
    await joiner.stop();
    await networks.n1.close();
    await networks.n2.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

async function until(condition: () => boolean, withinMs: number, what: string): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
