/**
 * Committed proposals per second and latency of a three-process cluster on loopback: three `xraft-node` processes
 * (HTTP/2 between them, LevelDB logs with synced writes in a temp dir), and `concurrency` clients in this process,
 * each keeping one `POST /xraft/v1/client/propose` (a 100-byte value) outstanding against the leader over one HTTP/2 session.
 * A proposal counts once its 200 arrives: committed by a majority and applied on the leader.
 * The three nodes and the load generator share the machine's cores.
 */
import superjson from 'superjson';
import { ProcessCluster } from '../test/process/support.js';

export interface NetworkBenchResult {
  readonly concurrency: number;
  readonly committed: number;
  readonly failed: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
}

export async function benchNetwork(concurrencies: readonly number[], seconds: number): Promise<NetworkBenchResult[]> {
  const cluster = await ProcessCluster.start({
    clusterId: 'bench',
    flags: ['--election-timeout-ms', '1000', '--heartbeat-interval-ms', '100'],
  });
  try {
    const leader = await cluster.leader();
    const value = 'x'.repeat(100);
    const results: NetworkBenchResult[] = [];
    let sequence = 0;
    for (const concurrency of concurrencies) {
      const client = leader.rawClient();
      const body = (): string => JSON.stringify({ command: superjson.stringify({ op: 'set', key: `k${sequence++ % 10_000}`, value }) });
      const post = () => client.request('POST', '/xraft/v1/client/propose', body(), { 'content-type': 'application/json' }, 10_000);
      // Warm up (JIT, sessions, LevelDB) for half a second, then measure.
      const warmUntil = performance.now() + 500;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (performance.now() < warmUntil) await post();
      }));
      const latencies: number[] = [];
      let failed = 0;
      const started = performance.now();
      const until = started + seconds * 1000;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          const sent = performance.now();
          const answer = await post();
          if (answer.status === 200) latencies.push(performance.now() - sent);
          else failed++;
        }
      }));
      const elapsed = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      const at = (quantile: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * quantile))] ?? 0;
      results.push({ concurrency, committed: latencies.length, failed, perSecond: latencies.length / elapsed, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99) });
      // Let followers catch up before the next round, so rounds do not bleed into each other.
      const { commitIndex } = (await leader.status(5000))!;
      await cluster.appliedEverywhere(commitIndex, cluster.nodes, 30_000);
    }
    return results;
  } finally {
    await cluster.stop();
  }
}
