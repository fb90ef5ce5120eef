/**
 * What a KV process says of its own memory and pauses, read from its `/metrics` (prom-client's process metrics, see
 * src/metrics.ts) before and after a measured run: the run's GC time and pauses, its worst event-loop delay, and the
 * heap, external memory and RSS at its end, so that a peak RSS can be told apart into V8 heap, buffers and the rest
 * (LevelDB, code). etcd's `/metrics` has other names: it gets no such figures.
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
  };
}
