/**
 * The seeded simulator in `npm test`: seeds of randomized faults against real nodes (the statechart and runtime on
 * simulated actors), with every Raft safety property checked after every step, liveness checked after the heal, and
 * the key-value clients' history checked for linearizability at the end. A failing seed names the command that
 * replays it. Sized for about three minutes on two cores; larger runs are for `npm run sim`.
 *
 * Snapshots are on by default (issue 5); smaller batches run with whole logs, with lease reads, with membership
 * schedules, and with the schedules of issue 13 (transfers, removals of running voters, a misbehaving peer, the
 * scripted Figure 8 with the commit rule broken on purpose).
 */
import { describe, expect, it } from 'vitest';
import { membershipSchedules, scheduleShape } from './membershipSchedule.js';
import { replayCommand, replayCommandOf, runSeed, type SimOptions, type SimResult } from './simulation.js';

// About 45 s of tests for half of these sizes on two cores (2026-11-29); these sizes aim at about 90 s.
const STEPS = 3000;
const SEEDS_PER_SIZE = 250;
const MEMBERSHIP_STEPS = 5000;
const MEMBERSHIP_SEEDS = 30;
const WHOLE_LOG_SEEDS = 50;
const LEASE_SEEDS = 50;
const SCHEDULE_SEEDS = 60;
const FIGURE8_SEEDS = 50;

function failures(results: readonly SimResult[]): string[] {
  return results
    .filter((result) => !result.ok)
    .map((result) => `seed ${result.seed}: ${result.failure!.message.split('\n')[0]!.slice(0, 500)}\n  replay: ${replayCommandOf(result)}`);
}

async function runSeeds(first: number, count: number, options: SimOptions): Promise<SimResult[]> {
  const results: SimResult[] = [];
  for (let seed = first; seed < first + count; seed++) results.push(await runSeed(seed, options));
  return results;
}

const total = (results: readonly SimResult[], key: keyof SimResult['stats']) => results.reduce((sum, result) => sum + result.stats[key], 0);

describe('simulated clusters under partitions, loss, duplication, crashes and clock skew', () => {
  for (const nodes of [3, 5] as const) {
    it(`${SEEDS_PER_SIZE} seeds x ${STEPS} steps on ${nodes} nodes with 6 key-value clients and snapshots keep every safety invariant, stay linearizable and recover after the heal`, async () => {
      const results = await runSeeds(1, SEEDS_PER_SIZE, { nodes, steps: STEPS });
      expect(failures(results).join('\n')).toBe('');
      // The runs must be meaningful, not quiet: elections, crashes, acknowledged writes and client operations.
      expect(total(results, 'leaderTerms')).toBeGreaterThan(SEEDS_PER_SIZE * 3);
      expect(total(results, 'crashes')).toBeGreaterThan(SEEDS_PER_SIZE);
      expect(total(results, 'acknowledged')).toBeGreaterThan(SEEDS_PER_SIZE * 20);
      expect(total(results, 'clientCompleted')).toBeGreaterThan(SEEDS_PER_SIZE * 10);
      expect(total(results, 'figure8Crashes')).toBeGreaterThan(SEEDS_PER_SIZE);
      // Compaction happens everywhere; lagging followers are caught up by snapshot on most seeds; nodes restart from
      // their snapshot; and transfers are cut by crashes on the leader's side and on the follower's.
      expect(results.filter((result) => result.stats.snapshotsTaken > 0).length).toBeGreaterThan(SEEDS_PER_SIZE * 0.8);
      expect(results.filter((result) => result.stats.snapshotInstalls > 0).length).toBeGreaterThan(SEEDS_PER_SIZE * 0.5);
      expect(total(results, 'snapshotInstalls')).toBeGreaterThan(SEEDS_PER_SIZE);
      expect(total(results, 'snapshotRecoveries')).toBeGreaterThan(SEEDS_PER_SIZE);
      expect(total(results, 'installCrashesLeader')).toBeGreaterThan(0);
      expect(total(results, 'installCrashesFollower')).toBeGreaterThan(0);
    });

    it(`${WHOLE_LOG_SEEDS} seeds on ${nodes} nodes without snapshots (whole logs) keep every check`, async () => {
      const results = await runSeeds(1, WHOLE_LOG_SEEDS, { nodes, steps: STEPS, snapshots: false });
      expect(failures(results).join('\n')).toBe('');
      expect(total(results, 'snapshotsTaken')).toBe(0);
      expect(total(results, 'clientCompleted')).toBeGreaterThan(WHOLE_LOG_SEEDS * 10);
    });
  }

  it(`${LEASE_SEEDS} seeds on 3 and 5 nodes with lease reads (clock skew within the lease's drift bound) stay linearizable`, async () => {
    const results = [
      ...(await runSeeds(1, LEASE_SEEDS, { nodes: 3, steps: STEPS, leaseReads: true })),
      ...(await runSeeds(1, LEASE_SEEDS, { nodes: 5, steps: STEPS, leaseReads: true })),
    ];
    expect(failures(results).join('\n')).toBe('');
    // Leaders really answered from their leases, under the same faults (partitions, crashes, skew).
    expect(total(results, 'leaseReads')).toBeGreaterThan(LEASE_SEEDS);
    expect(total(results, 'crashes')).toBeGreaterThan(LEASE_SEEDS * 2);
  });

  it('replays a seed exactly: the same seed gives the same trace hash, another seed a different one', async () => {
    const first = await runSeed(7, { nodes: 5, steps: STEPS });
    const again = await runSeed(7, { nodes: 5, steps: STEPS });
    const other = await runSeed(8, { nodes: 5, steps: STEPS });
    expect(again.traceHash).toBe(first.traceHash);
    expect(again.stats).toEqual(first.stats);
    expect(other.traceHash).not.toBe(first.traceHash);
  });

  it('keeps a readable trace of a run when asked', async () => {
    const result = await runSeed(3, { nodes: 3, steps: 300, trace: true });
    expect(result.trace!.length).toBeGreaterThan(300);
    expect(result.trace!.some((line) => line.includes('becomes leader'))).toBe(true);
    expect((await runSeed(3, { nodes: 3, steps: 300 })).traceHash).toBe(result.traceHash);
  });

  it('names the replay command of a failing seed, with its options', () => {
    expect(replayCommand(5, 3, 4000)).toBe('npm run sim -- --seed 5 --nodes 3 --steps 4000');
    expect(replayCommand(5, 5, 6000, { membership: 'replace-all', snapshots: false, leaseReads: true, transfers: true, sabotage: 'old-term-commit' })).toBe(
      'npm run sim -- --seed 5 --nodes 5 --steps 6000 --membership replace-all --no-snapshots --lease-reads --transfers --sabotage old-term-commit',
    );
  });
});

describe('membership schedules under faults', () => {
  for (const schedule of membershipSchedules) {
    for (const nodes of [3, 5] as const) {
      it(`${schedule} from ${nodes} voters: ${MEMBERSHIP_SEEDS} seeds with snapshots keep every safety check and linearizability, and finish the schedule`, async () => {
        const results = await runSeeds(1, MEMBERSHIP_SEEDS, { nodes, steps: MEMBERSHIP_STEPS, membership: schedule });
        expect(failures(results).join('\n')).toBe('');
        const goals = scheduleShape(schedule, nodes).goals.length;
        // Liveness after the heal includes the schedule: every seed reaches every goal, and the removed nodes stop.
        expect(results.map((result) => result.stats.membershipGoals)).toEqual(results.map(() => goals));
        const removals = scheduleShape(schedule, nodes).goals.filter((goal) => goal.type !== 'add').length;
        expect(results.map((result) => result.stats.decommissioned)).toEqual(results.map(() => removals));
        // A good share of the changes happen before the heal, under partitions and crashes.
        expect(total(results, 'membershipGoalsUnderFaults')).toBeGreaterThan(MEMBERSHIP_SEEDS * 0.5);
        expect(total(results, 'clientCompleted')).toBeGreaterThan(MEMBERSHIP_SEEDS * 10);
        // New members join logs that were compacted long before: they start from a snapshot.
        expect(total(results, 'snapshotInstalls')).toBeGreaterThan(MEMBERSHIP_SEEDS / 2);
      });
    }
  }
});

describe('the simulator catches broken clients (so its checks can fail)', () => {
  it('reads served from the local state machine without ReadIndex produce non-linearizable histories', async () => {
    const results = await runSeeds(1, 12, { nodes: 3, steps: STEPS, sabotage: 'stale-reads' });
    const caught = results.filter((result) => result.failure?.invariant === 'Linearizability');
    expect(caught.length).toBeGreaterThan(0);
  });

  it('writes retried without a session tag are applied twice', async () => {
    const results = await runSeeds(1, 12, { nodes: 3, steps: STEPS, sabotage: 'no-sessions' });
    const caught = results.filter((result) => result.failure?.invariant === 'Session Exactly-Once');
    expect(caught.length).toBeGreaterThan(0);
  });
});

describe('the schedules of issue 13 (transfers, removals of running voters, a misbehaving peer)', () => {
  it(`${SCHEDULE_SEEDS} seeds with leadership transfers and lease reads right after them: every transfer settles, histories stay linearizable`, async () => {
    const results = await runSeeds(1, SCHEDULE_SEEDS, { nodes: 3, steps: STEPS, transfers: true, leaseReads: true });
    expect(failures(results).join('\n')).toBe('');
    expect(total(results, 'transfers')).toBeGreaterThan(SCHEDULE_SEEDS);
    expect(total(results, 'transfersUntargeted')).toBeGreaterThan(0);
    expect(total(results, 'transfersAborted')).toBeGreaterThan(0);
    expect(total(results, 'transferTargetCrashes')).toBeGreaterThan(0);
    expect(total(results, 'lateTimeoutNows')).toBeGreaterThan(0);
    expect(total(results, 'leaseReadsAfterTransfer')).toBeGreaterThan(0);
  });

  it(`${SCHEDULE_SEEDS} seeds removing a running voter (the leader or a follower): the cluster stays live and the removed node stops campaigning`, async () => {
    const results = await runSeeds(1, SCHEDULE_SEEDS, { nodes: 5, steps: STEPS, removals: true });
    expect(failures(results).join('\n')).toBe('');
    expect(total(results, 'removedRunning')).toBeGreaterThan(SCHEDULE_SEEDS / 2);
  });

  it(`${SCHEDULE_SEEDS} seeds with a misbehaving peer: forged messages stop no node and break nothing`, async () => {
    const results = await runSeeds(1, SCHEDULE_SEEDS, { nodes: 3, steps: STEPS, forge: true });
    expect(failures(results).join('\n')).toBe('');
    expect(total(results, 'forgedMessages')).toBeGreaterThan(SCHEDULE_SEEDS * 5);
  });
});

describe('the φ accrual failure detector (issue 15)', () => {
  it(`${SCHEDULE_SEEDS} seeds on 3 and on 5 nodes under every fault keep every check with the φ detector`, async () => {
    const results = [
      ...(await runSeeds(1, SCHEDULE_SEEDS, { nodes: 3, steps: STEPS, detector: 'phi' })),
      ...(await runSeeds(1, SCHEDULE_SEEDS, { nodes: 5, steps: STEPS, detector: 'phi', transfers: true, removals: true })),
    ];
    expect(failures(results).join('\n')).toBe('');
    expect(total(results, 'crashes')).toBeGreaterThan(SCHEDULE_SEEDS);
  });

  it('100 seeds of jittered delays and slow disks, without crashes or partitions: no spurious election with φ', async () => {
    const results = await runSeeds(1, 100, { nodes: 3, steps: 2000, jitter: true, detector: 'phi' });
    expect(failures(results).join('\n')).toBe('');
    expect(total(results, 'crashes')).toBe(0);
    expect(total(results, 'termsAfterFirstLeader')).toBe(0);
    // The clients worked meanwhile: the leader was busy, its followers' disks slow, its messages late.
    expect(total(results, 'clientCompleted')).toBeGreaterThan(100 * 20);
  });
});

describe('the scripted Figure 8 (the commit rule, broken on purpose, is caught)', () => {
  it(`${FIGURE8_SEEDS} seeds of the script with the rule intact keep every check`, async () => {
    const results = await runSeeds(1, FIGURE8_SEEDS, { nodes: 3, steps: STEPS, figure8Script: true });
    expect(failures(results).join('\n')).toBe('');
    // The script really builds the figure: an old-term entry on a majority, its leader crashed at that moment.
    expect(results.filter((result) => result.stats.figure8Crashes > 0).length).toBeGreaterThan(FIGURE8_SEEDS / 2);
  });

  it('counting replicas of older terms (RaftCore.prototype.commitsByCounting replaced) is caught by at least 20% of seeds', async () => {
    const results = await runSeeds(1, FIGURE8_SEEDS, { nodes: 3, steps: STEPS, figure8Script: true, sabotage: 'old-term-commit' });
    const caught = results.filter((result) => result.failure?.invariant === 'Leader Completeness' || result.failure?.invariant === 'State Machine Safety');
    expect(caught.length).toBeGreaterThanOrEqual(FIGURE8_SEEDS * 0.2);
    // The rule is back after the run.
    expect((await runSeed(1, { nodes: 3, steps: STEPS, figure8Script: true })).ok).toBe(true);
  });
});

describe('seeds that found bugs stay fixed, and still build their scenario', () => {
  // Found by the first run of the real node (issue 13): the Figure 8 script's cycle, with the rule intact, must leave
  // the overwritten entry uncommitted. The seed still builds the figure (a leader crashed with an old-term entry on a
  // majority) and the new leader still overwrites it.
  it('seed 1 (Figure 8 script, 3 nodes): the figure is built and nothing committed is lost', async () => {
    const result = await runSeed(1, { nodes: 3, steps: STEPS, figure8Script: true, trace: true });
    expect(failures([result]).join('\n')).toBe('');
    expect(result.stats.figure8Crashes).toBeGreaterThan(0);
    expect(result.trace!.some((line) => line.includes('figure8: (d)') && line.includes('leads'))).toBe(true);
  });

  // A transfer whose target crashed mid-way must still settle (TRANSFER_ABORTED), and a TimeoutNow delivered after
  // the transfer was aborted must not elect a leader inside the old leader's lease (lease reads stay linearizable).
  // (Found as seed 13, then 42 built it. The node changes under these seeds: when the assertions on the scenario fail,
  // pick a seed that builds it again; 65 since appends are also cut by bytes.)
  it('seed 65 (transfers, lease reads, 3 nodes): a target crashed mid-transfer, a late TimeoutNow, lease reads right after, every transfer settled', async () => {
    const result = await runSeed(65, { nodes: 3, steps: STEPS, transfers: true, leaseReads: true });
    expect(failures([result]).join('\n')).toBe('');
    expect(result.stats.transferTargetCrashes).toBeGreaterThan(0);
    expect(result.stats.lateTimeoutNows).toBeGreaterThan(0);
    expect(result.stats.leaseReadsAfterTransfer).toBeGreaterThan(0);
    expect(result.stats.transfersAborted).toBeGreaterThan(0);
    expect(result.stats.transfersSucceeded).toBeGreaterThan(0);
  });

  // A learner caught up by InstallSnapshot on an idle log was never promoted: only an advancing append acknowledgement
  // triggered the promotion check.
  it('seed 20 (replace-all, 3 nodes, snapshots): learners caught up by a snapshot are promoted', async () => {
    const result = await runSeed(20, { nodes: 3, steps: MEMBERSHIP_STEPS, membership: 'replace-all' });
    expect(failures([result]).join('\n')).toBe('');
    expect(result.stats.membershipGoals).toBe(6);
    expect(result.stats.snapshotInstalls).toBeGreaterThan(0);
  });

  // Followers in snapshot mode got heartbeats (issue 13) and a heartbeat's answer could leave the leader waiting
  // forever: seed 615, the follower's `installed` answer came after a heartbeat had already acknowledged the snapshot's
  // index; seed 1609 (5 nodes), the `installed` answer was lost once every chunk was acknowledged; seed 548 (5 nodes), the
  // follower crashed before its last chunk was durable after saying it had it. Each must install a snapshot and stay live.
  // (Seed 615 installs no snapshot since proposals are decided by the next term's entries; seed 601 does, in its place.)
  for (const [seed, nodes] of [[601, 3], [1609, 5], [548, 5]] as const) {
    it(`seed ${seed} (${nodes} nodes, snapshots): a follower behind the leader's snapshot is caught up after the heal`, async () => {
      const result = await runSeed(seed, { nodes, steps: 2000 });
      expect(failures([result]).join('\n')).toBe('');
      expect(result.stats.snapshotInstalls).toBeGreaterThan(0);
      expect(result.stats.recoveryMs).toBeGreaterThanOrEqual(0);
    });
  }
});
