/**
 * What a KV process says of its own memory and pauses, read from its `/metrics` (prom-client's process metrics, see
 * src/metrics.ts) before and after a measured run: the run's GC time and pauses, its worst event-loop delay, and the
 * heap, external memory and RSS at its end, so that a peak RSS can be told apart into V8 heap, buffers and the rest
 * (LevelDB, code); and where a write waits: the synced log-store batches (how many, how long from the write to its
 * callback, how many entries each) and the time from proposal to result. etcd's `/metrics` has other names: it gets no
 * such figures.
 */
import { request } from 'undici';

/** The counters and gauges read from one scrape. */
interface Scrape {
  readonly gcSeconds: number;
  readonly gcMajorSeconds: number;
  readonly gcCount: number;
  /** GC pauses that took 100 ms or more (prom-client's buckets: 1, 10, 100 ms, 1, 2, 5 s). */
  readonly gcPausesOver100ms: number;
  readonly loopDelayMaxMs: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly externalMiB: number;
  readonly syncedBatches: number;
  readonly syncedBatchSeconds: number;
  readonly batchesWithEntries: number;
  readonly batchEntries: number;
  readonly proposals: number;
  readonly proposalSeconds: number;
}

/** One process over one measured run. */
export interface ProcessMemory {
  readonly gcSeconds: number;
  readonly gcMajorSeconds: number;
  readonly gcCount: number;
  readonly gcPausesOver100ms: number;
  /** The largest event-loop delay seen during the run (prom-client resets its histogram at each scrape). */
  readonly loopDelayMaxMs: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly externalMiB: number;
  /** Synced log-store batches written during the run, and their mean time from the write to its callback. */
  readonly syncedBatches: number;
  readonly syncedBatchMeanMs: number;
  /** Mean entries per batch that carried entries (the group commit's size). */
  readonly entriesPerBatch: number;
  /** Proposals made here during the run (the leader's), and their mean time from proposal to result. */
  readonly proposals: number;
  readonly proposalMeanMs: number;
}

const MiB = 2 ** 20;

/** One scrape of `${clientUrl}/metrics`, or null when the process serves none of prom-client's process metrics. */
export async function scrapeProcess(clientUrl: string): Promise<Scrape | null> {
  try {
    const answer = await request(`${clientUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await answer.body.text();
    if (answer.statusCode !== 200 || !text.includes('nodejs_heap_size_used_bytes')) return null;
    const sum = (name: string, labels = ''): number => {
      let total = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        if (labels !== '' && !line.includes(labels)) continue;
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return total;
    };
    const gcCount = sum('nodejs_gc_duration_seconds_count');
    return {
      gcSeconds: sum('nodejs_gc_duration_seconds_sum'),
      gcMajorSeconds: sum('nodejs_gc_duration_seconds_sum', 'kind="major"'),
      gcCount,
      gcPausesOver100ms: gcCount - sum('nodejs_gc_duration_seconds_bucket', 'le="0.1"'),
      loopDelayMaxMs: 1000 * sum('nodejs_eventloop_lag_max_seconds'),
      rssMiB: sum('process_resident_memory_bytes') / MiB,
      heapUsedMiB: sum('nodejs_heap_size_used_bytes') / MiB,
      heapTotalMiB: sum('nodejs_heap_size_total_bytes') / MiB,
      externalMiB: sum('nodejs_external_memory_bytes') / MiB,
      syncedBatches: sum('xraft_fsync_duration_seconds_count'),
      syncedBatchSeconds: sum('xraft_fsync_duration_seconds_sum'),
      batchesWithEntries: sum('xraft_append_batch_entries_count'),
      batchEntries: sum('xraft_append_batch_entries_sum'),
      proposals: sum('xraft_proposal_duration_seconds_count'),
      proposalSeconds: sum('xraft_proposal_duration_seconds_sum'),
    };
  } catch {
    return null;
  }
}

/** The run between two scrapes: counters as differences, gauges as at the end. */
export function overRun(before: Scrape | null, after: Scrape | null): ProcessMemory | null {
  if (before === null || after === null) return null;
  return {
    gcSeconds: after.gcSeconds - before.gcSeconds,
    gcMajorSeconds: after.gcMajorSeconds - before.gcMajorSeconds,
    gcCount: after.gcCount - before.gcCount,
    gcPausesOver100ms: after.gcPausesOver100ms - before.gcPausesOver100ms,
    loopDelayMaxMs: after.loopDelayMaxMs,
    rssMiB: after.rssMiB,
    heapUsedMiB: after.heapUsedMiB,
    heapTotalMiB: after.heapTotalMiB,
    externalMiB: after.externalMiB,
    syncedBatches: after.syncedBatches - before.syncedBatches,
    syncedBatchMeanMs: mean(after.syncedBatchSeconds - before.syncedBatchSeconds, after.syncedBatches - before.syncedBatches) * 1000,
    entriesPerBatch: mean(after.batchEntries - before.batchEntries, after.batchesWithEntries - before.batchesWithEntries),
    proposals: after.proposals - before.proposals,
    proposalMeanMs: mean(after.proposalSeconds - before.proposalSeconds, after.proposals - before.proposals) * 1000,
  };
}

const mean = (total: number, count: number): number => (count > 0 ? total / count : Number.NaN);
