/**
 * One LevelDB write per turn for every store of a shared database (SharedLevelLogStores.ts, multi-Raft).
 *
 * Under load spread over many groups, each write lands in a different group: one batch per group per write, each its
 * own native call, libuv job and pass through abstract-level, plus a shared fsync, cost a process 12 to 15 % of its
 * main thread (profiled). Here the operations of every store that writes in the same turn (their keys already carry
 * the stores' sublevel prefixes, see levelBatch.ts) go into one batch of the shared database, written once,
 * synced when any of them needs it: one native write and one fsync for all of them. LevelDB applies a batch
 * atomically, so a store's part is durable exactly when the batch is, and a failed batch wrote nothing of any store:
 * every store in it is told, and none acknowledges anything of it.
 *
 * Rounds run one at a time: the stores writing while a round is on the disk form the next one. A store has at most
 * one group in a round (it waits for its group to be durable before writing the next), so acknowledgements stay in
 * each store's write order.
 */
import type { AbstractBatchOptions } from 'abstract-level';
import type { Bytes, LevelDatabase } from './levelLayout.js';
import { RAW_KEYS, type RawOperation } from './levelBatch.js';
import type { SharedBatch } from './levelLogStoreOptions.js';

/** Keys and values as bytes of the database (see levelBatch.ts); `sync`: classic-level's fsync before resolving. */
const SYNCED: AbstractBatchOptions<Bytes, Bytes> & { readonly sync: boolean } = { ...RAW_KEYS, sync: true };
const UNSYNCED: AbstractBatchOptions<Bytes, Bytes> & { readonly sync: boolean } = { ...RAW_KEYS, sync: false };

/** A store's operations waiting for the next round, and how to tell it the outcome. */
interface Part {
  readonly operations: readonly RawOperation[];
  readonly sync: boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class SharedLevelBatch implements SharedBatch {
  private waiting: Part[] = [];
  /** The round loop, while it runs. */
  private running: Promise<void> | null = null;
  private writes = 0;
  private syncs = 0;

  constructor(readonly db: LevelDatabase) {}

  /** Batches begun so far (one per round, whatever the number of stores in it). */
  get writeCount(): number {
    return this.writes;
  }

  /** Synced batches begun so far. */
  get syncCount(): number {
    return this.syncs;
  }

  write(operations: readonly RawOperation[], sync: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ operations, sync, resolve, reject });
      this.running ??= this.run();
    });
  }

  /** Resolves once no round is running or waiting. */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        // Let every store writing in this turn join the round.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const round = this.waiting;
        this.waiting = [];
        try {
          await this.writeRound(round);
        } catch (error) {
          for (const part of round) part.reject(error);
          continue;
        }
        for (const part of round) part.resolve();
      }
    } finally {
      this.running = null;
    }
  }

  /** The operations of `round`, in arrival order, as one batch of the shared database. */
  private async writeRound(round: readonly Part[]): Promise<void> {
    const operations: RawOperation[] = [];
    let sync = false;
    for (const part of round) {
      sync ||= part.sync;
      for (const operation of part.operations) operations.push(operation);
    }
    this.writes++;
    if (sync) this.syncs++;
    // `db.batch(array)` rather than a chained batch on the database: the same main-thread cost per write, measured
    // alternating both in one process (1,000 groups, 64 one-entry writes in flight: 17.2 to 18.3 µs either way), and
    // the operations go over as they are, without one call per operation.
    await this.db.batch<Bytes, Bytes>(operations, sync ? SYNCED : UNSYNCED);
  }
}
