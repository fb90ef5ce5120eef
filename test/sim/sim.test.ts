/**
 * The seeded simulator in `npm test`: hundreds of seeds of randomized faults, with every Raft safety property checked
 * after every step, liveness checked after the heal, and the key-value clients' history checked for linearizability
 * at the end. A failing seed names the command that replays it.
 */
import { describe, expect, it } from 'vitest';
import { membershipSchedules, scheduleShape } from './membershipSchedule.js';
import { replayCommandOf, runSeed, type SimOptions, type SimResult } from './simulation.js';

const STEPS = 4000;
const SEEDS_PER_SIZE = 150;
const MEMBERSHIP_STEPS = 6000;
const MEMBERSHIP_SEEDS = 30;

function failures(results: readonly SimResult[]): string[] {
  return results
    .filter((result) => !result.ok)
    .map((result) => `seed ${result.seed}: ${result.failure!.message.split('\n')[0]!.slice(0, 500)}\n  replay: ${replayCommandOf(result)}`);
}

function runSeeds(first: number, count: number, options: SimOptions): SimResult[] {
  const results: SimResult[] = [];
  for (let seed = first; seed < first + count; seed++) results.push(runSeed(seed, options));
  return results;
}

const total = (results: readonly SimResult[], key: keyof SimResult['stats']) => results.reduce((sum, result) => sum + result.stats[key], 0);

describe('simulated clusters under partitions, loss, duplication, crashes and clock skew', () => {
  for (const nodes of [3, 5] as const) {
    it(`${SEEDS_PER_SIZE} seeds x ${STEPS} steps on ${nodes} nodes with 6 key-value clients keep every safety invariant, stay linearizable and recover after the heal`, () => {
      const results = runSeeds(1, SEEDS_PER_SIZE, { nodes, steps: STEPS });
      expect(failures(results).join('\n')).toBe('');
      // The runs must be meaningful, not quiet: elections, crashes, acknowledged writes and client operations.
      expect(total(results, 'leaderTerms')).toBeGreaterThan(SEEDS_PER_SIZE * 3);
      expect(total(results, 'crashes')).toBeGreaterThan(SEEDS_PER_SIZE);
      expect(total(results, 'acknowledged')).toBeGreaterThan(SEEDS_PER_SIZE * 20);
      expect(total(results, 'clientCompleted')).toBeGreaterThan(SEEDS_PER_SIZE * 20);
      expect(total(results, 'figure8Crashes')).toBeGreaterThan(SEEDS_PER_SIZE);
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

describe('membership schedules under faults', () => {
  for (const schedule of membershipSchedules) {
    for (const nodes of [3, 5] as const) {
      it(`${schedule} from ${nodes} voters: ${MEMBERSHIP_SEEDS} seeds keep every safety check and linearizability, and finish the schedule`, () => {
        const results = runSeeds(1, MEMBERSHIP_SEEDS, { nodes, steps: MEMBERSHIP_STEPS, membership: schedule });
        expect(failures(results).join('\n')).toBe('');
        const goals = scheduleShape(schedule, nodes).goals.length;
        // Liveness after the heal includes the schedule: every seed reaches every goal, and the removed nodes stop.
        expect(results.map((result) => result.stats.membershipGoals)).toEqual(results.map(() => goals));
        const removals = scheduleShape(schedule, nodes).goals.filter((goal) => goal.type !== 'add').length;
        expect(results.map((result) => result.stats.decommissioned)).toEqual(results.map(() => removals));
        // A good share of the changes happen before the heal, under partitions and crashes.
        expect(total(results, 'membershipGoalsUnderFaults')).toBeGreaterThan(MEMBERSHIP_SEEDS * 0.5);
        expect(total(results, 'clientCompleted')).toBeGreaterThan(MEMBERSHIP_SEEDS * 15);
      });
    }
  }
});

describe('the simulator catches broken clients (so its checks can fail)', () => {
  it('reads served from the local state machine without ReadIndex produce non-linearizable histories', () => {
    const results = runSeeds(1, 20, { nodes: 3, steps: STEPS, sabotage: 'stale-reads' });
    const caught = results.filter((result) => result.failure?.invariant === 'Linearizability');
    expect(caught.length).toBeGreaterThan(0);
  });

  it('writes retried without a session tag are applied twice', () => {
    const results = runSeeds(1, 20, { nodes: 3, steps: STEPS, sabotage: 'no-sessions' });
    const caught = results.filter((result) => result.failure?.invariant === 'Session Exactly-Once');
    expect(caught.length).toBeGreaterThan(0);
  });
});

describe('seeds that found bugs stay fixed', () => {
  // A delayed attempt of an answered request reached the log after the client's next request had moved the
  // acknowledgement mark past it; the state machine had forgotten the answer and applied the request again.
  it('seed 142 (3 nodes): a late retry below the acknowledgement mark is not applied twice', () => {
    const result = runSeed(142, { nodes: 3, steps: STEPS });
    expect(failures([result]).join('\n')).toBe('');
  });

  // A learner that never heard of its promotion kept believing in a dead leader's lease and refused every pre-vote.
  it('seed 137 (grow-shrink, 3 nodes): a new voter that still thinks it is a learner does not block elections', () => {
    const result = runSeed(137, { nodes: 3, steps: MEMBERSHIP_STEPS, membership: 'grow-shrink' });
    expect(failures([result]).join('\n')).toBe('');
  });
});
