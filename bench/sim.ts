/**
 * Simulator throughput: simulated events (steps) per second of wall time, safety checks after every step included,
 * over a range of seeds on 3 and 5 nodes.
 */
import { runSeed } from '../test/sim/simulation.js';

export interface SimBenchResult {
  readonly nodes: 3 | 5;
  readonly seeds: number;
  readonly events: number;
  readonly virtualSeconds: number;
  readonly wallSeconds: number;
  readonly eventsPerSecond: number;
}

export async function benchSim(nodes: 3 | 5, seeds: number, steps = 2000): Promise<SimBenchResult> {
  let events = 0;
  let virtualMs = 0;
  const started = performance.now();
  for (let seed = 1; seed <= seeds; seed++) {
    const result = await runSeed(seed, { nodes, steps });
    if (!result.ok) throw new Error(`seed ${seed} failed during the benchmark: ${result.failure?.message ?? 'unknown'}`);
    events += result.stats.steps;
    virtualMs += result.stats.virtualTimeMs;
  }
  const wallSeconds = (performance.now() - started) / 1000;
  return { nodes, seeds, events, virtualSeconds: virtualMs / 1000, wallSeconds, eventsPerSecond: events / wallSeconds };
}
