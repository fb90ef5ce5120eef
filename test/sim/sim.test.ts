/**
 * The seeded simulator in `npm test`: hundreds of seeds of randomized faults, with every Raft safety property checked
 * after every step and liveness checked after the heal. A failing seed names the command that replays it.
 */
import { describe, expect, it } from 'vitest';
import { replayCommand, runSeed, type SimResult } from './simulation.js';

const STEPS = 2000;
const SEEDS_PER_SIZE = 150;

function failures(results: readonly SimResult[]): string[] {
  return results
    .filter((result) => !result.ok)
    .map((result) => `seed ${result.seed}: ${result.failure!.message.split('\n')[0]}\n  replay: ${replayCommand(result.seed, result.nodes, result.steps)}`);
}

describe('simulated clusters under partitions, loss, duplication, crashes and clock skew', () => {
  for (const nodes of [3, 5] as const) {
    it(`${SEEDS_PER_SIZE} seeds x ${STEPS} steps on ${nodes} nodes keep every safety invariant and recover after the heal`, () => {
      const results: SimResult[] = [];
      for (let seed = 1; seed <= SEEDS_PER_SIZE; seed++) results.push(runSeed(seed, { nodes, steps: STEPS }));
      expect(failures(results).join('\n')).toBe('');
      // The runs must be meaningful, not quiet: elections, crashes and acknowledged writes in every batch.
      const total = (key: keyof SimResult['stats']) => results.reduce((sum, result) => sum + result.stats[key], 0);
      expect(total('leaderTerms')).toBeGreaterThan(SEEDS_PER_SIZE * 3);
      expect(total('crashes')).toBeGreaterThan(SEEDS_PER_SIZE);
      expect(total('acknowledged')).toBeGreaterThan(SEEDS_PER_SIZE * 20);
    });
  }

  it('replays a seed exactly: the same seed gives the same trace hash, another seed a different one', () => {
    const first = runSeed(7, { nodes: 5, steps: STEPS });
    const again = runSeed(7, { nodes: 5, steps: STEPS });
    const other = runSeed(8, { nodes: 5, steps: STEPS });
    expect(again.traceHash).toBe(first.traceHash);
    expect(again.stats).toEqual(first.stats);
    expect(other.traceHash).not.toBe(first.traceHash);
  });

  it('keeps a readable trace of a run when asked', () => {
    const result = runSeed(3, { nodes: 3, steps: 300, trace: true });
    expect(result.trace!.length).toBeGreaterThan(300);
    expect(result.trace!.some((line) => line.includes('becomes leader'))).toBe(true);
    expect(runSeed(3, { nodes: 3, steps: 300 }).traceHash).toBe(result.traceHash);
  });
});
