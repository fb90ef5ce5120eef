/**
 * Multi-Raft in the simulator (issue 18's acceptance): 50 groups on 3 hosts, every host running one node of each
 * group over one host-level network, under every fault the hosts share (partitions, one-way links, loss,
 * duplication, reordering, delays, host crashes and restarts, clock skew), with idle groups quiescing. Every group
 * keeps every safety check, recovers after the heal, and its key-value clients' history stays linearizable. A
 * failing seed names the command that replays it.
 */
import { describe, expect, it } from 'vitest';
import { runMultiGroupSeed } from './multiGroupSimulation.js';
import { replayCommandOf, type SimOptions, type SimResult } from './simulation.js';

// About 3 s per seed on two cores (2026-11-29).
const SEEDS = 4;
const STEPS = 40_000;
const options: SimOptions = { nodes: 3, groups: 50, steps: STEPS };

function failures(results: readonly SimResult[]): string[] {
  return results
    .filter((result) => !result.ok)
    .map((result) => `seed ${result.seed}: ${result.failure!.message.split('\n')[0]!.slice(0, 500)}\n  replay: ${replayCommandOf(result)}`);
}

describe('50 groups on 3 simulated hosts', () => {
  it(`${SEEDS} seeds x ${STEPS} steps under every host fault keep every safety check per group, stay linearizable per group and recover after the heal`, async () => {
    const results: Awaited<ReturnType<typeof runMultiGroupSeed>>[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) results.push(await runMultiGroupSeed(seed, options));
    expect(failures(results).join('\n')).toBe('');
    const total = (key: keyof SimResult['stats']) => results.reduce((sum, result) => sum + result.stats[key], 0);
    // Meaningful runs: hosts crashed, partitions happened, clients completed operations, leaders changed.
    expect(total('crashes')).toBeGreaterThan(SEEDS);
    expect(total('partitions')).toBeGreaterThan(SEEDS);
    expect(total('clientCompleted')).toBeGreaterThan(SEEDS * 200);
    expect(total('leaderTerms')).toBeGreaterThan(SEEDS * 50);
    // Idle groups went to sleep, and the hosts' failure detector woke sleeping groups when a peer host failed.
    expect(results.reduce((sum, result) => sum + result.multiGroup.quiesceNotices, 0)).toBeGreaterThan(SEEDS * 50);
    expect(results.reduce((sum, result) => sum + result.multiGroup.wokenBySuspicion, 0)).toBeGreaterThan(0);
  }, 120_000);

  it('the per-group checks catch a broken client protocol (reads served locally), naming the replay command', async () => {
    const result = await runMultiGroupSeed(1, { ...options, steps: 20_000, sabotage: 'stale-reads' });
    expect(result.ok).toBe(false);
    expect(result.failure!.invariant).toBe('Linearizability');
    expect(replayCommandOf(result)).toBe('npm run sim -- --seed 1 --nodes 3 --steps 20000 --sabotage stale-reads --groups 50');
  }, 60_000);

  it('replays a seed exactly (same trace hash)', async () => {
    const first = await runMultiGroupSeed(7, { ...options, steps: 5000 });
    const again = await runMultiGroupSeed(7, { ...options, steps: 5000 });
    expect(again.traceHash).toBe(first.traceHash);
  }, 60_000);
});
