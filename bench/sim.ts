/**
 * Simulator throughput: simulated events (steps) per second of wall time, safety checks after every step included,
 * over a range of seeds on 3 and 5 nodes of real nodes (statechart and runtime on simulated actors). A failing seed
 * still counts its events; the number of failures is reported beside the figure.
 */
import { runSeed } from '../test/sim/simulation.js';

export interface SimBenchResult {
  readonly nodes: 3 | 5;
  readonly seeds: number;
  readonly events: number;
  readonly virtualSeconds: number;
  readonly wallSeconds: number;
  readonly eventsPerSecond: number;
  /** Events per second of CPU time (user + system) of this process: less sensitive to a busy machine. */
  readonly eventsPerCpuSecond: number;
  readonly failedSeeds: number;
}

export async function benchSim(nodes: 3 | 5, seeds: number, steps = 2000): Promise<SimBenchResult> {
  let events = 0;
  let virtualMs = 0;
  let failedSeeds = 0;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  for (let seed = 1; seed <= seeds; seed++) {
    const result = await runSeed(seed, { nodes, steps });
    if (!result.ok) failedSeeds++;
    events += result.stats.steps;
    virtualMs += result.stats.virtualTimeMs;
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { nodes, seeds, events, virtualSeconds: virtualMs / 1000, wallSeconds, eventsPerSecond: events / wallSeconds, eventsPerCpuSecond: events / cpuSeconds, failedSeeds };
}
