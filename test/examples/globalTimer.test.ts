/**
 * The global timer example: three nodes, a task due now, and the leader killed while the task's handler runs, either
 * before its effect or after the effect but before `finish` was committed. The new leader runs the same run id again
 * with a larger fencing token; the idempotent sink holds exactly one effect, and the occurrence is finished once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GlobalTimer, TimerState, timerCommand, type TimerCommand } from '../../examples/global-timer/globalTimer.js';
import { createRaftNode, MemoryNetworkHub, type RaftNode } from '../../src/index.js';
import { waitFor } from '../network/support.js';

type TimerNode = RaftNode<TimerCommand, boolean, TimerState>;

interface Attempt {
  readonly node: string;
  readonly runId: string;
  readonly token: number;
}

/** A cluster whose handler records every attempt and writes an effect keyed by run id (a unique key in a real DB). */
function startCluster(holdFirstAttempt: 'before-effect' | 'after-effect') {
  const hub = new MemoryNetworkHub();
  const ids = ['t1', 't2', 't3'];
  const attempts: Attempt[] = [];
  const sink = new Map<string, { node: string; token: number }>();
  let releaseFirst: () => void = () => undefined;
  const firstHeld = new Promise<void>((release) => (releaseFirst = release));
  const nodes: TimerNode[] = [];
  const timers: GlobalTimer[] = [];
  for (const id of ids) {
    const node = createRaftNode({
      id, members: ids, commandSchema: timerCommand, stateMachine: new TimerState(), network: hub.endpoint(id),
      config: { electionTimeoutMs: 150, heartbeatIntervalMs: 30 },
    });
    nodes.push(node);
    timers.push(new GlobalTimer(node, {
      'nightly-report': async (runId, token) => {
        attempts.push({ node: id, runId, token });
        const first = attempts.length === 1;
        if (first && holdFirstAttempt === 'before-effect') await firstHeld; // the leader dies here, effect not made
        if (!sink.has(runId)) sink.set(runId, { node: id, token }); // idempotent by run id
        if (first && holdFirstAttempt === 'after-effect') await firstHeld; // dies here: effect made, finish not committed
      },
    }, 20));
  }
  const kill = async (node: TimerNode): Promise<void> => {
    timers[nodes.indexOf(node)]!.stop();
    await node.stop();
  };
  const stopAll = async (): Promise<void> => {
    releaseFirst();
    for (const node of nodes) await kill(node);
  };
  return { nodes, attempts, sink, kill, stopAll, releaseFirst };
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

const leaderOf = (nodes: readonly TimerNode[]): Promise<TimerNode> =>
  waitFor(() => nodes.find((node) => node.status().role === 'leader'), 'a leader', 5000);

describe('the global timer', () => {
  for (const when of ['before-effect', 'after-effect'] as const) {
    it(`runs a task exactly once when the leader is killed mid-run (${when})`, { timeout: 15_000 }, async () => {
      const cluster = startCluster(when);
      cleanup = cluster.stopAll;
      const first = await leaderOf(cluster.nodes);
      await first.propose({ op: 'schedule', task: 'nightly-report', at: Date.now() });

      // The leader has committed start and is inside the handler.
      await waitFor(() => cluster.attempts.length === 1, 'the first attempt');
      expect(cluster.attempts[0]).toMatchObject({ node: first.id, runId: 'nightly-report@0' });
      expect(cluster.sink.size).toBe(when === 'after-effect' ? 1 : 0);
      await cluster.kill(first);

      const survivors = cluster.nodes.filter((node) => node !== first);
      await waitFor(() => survivors.every((node) => node.status().appliedIndex > 0 && node.status().leader !== first.id && node.status().leader !== null), 'a new leader');
      await waitFor(
        async () => (await Promise.all(survivors.map((node) => node.read((state) => state.finished.has('nightly-report@0'), { consistency: 'stale' })))).every(Boolean),
        'the occurrence finished on every survivor',
      );
      const second = cluster.attempts[1]!;
      expect(cluster.attempts).toHaveLength(2);
      expect(second.node).not.toBe(first.id);
      expect(second.runId).toBe('nightly-report@0');
      expect(second.token).toBeGreaterThan(cluster.attempts[0]!.token);
      // Exactly one effect, made by whichever attempt got there first.
      expect([...cluster.sink]).toEqual([['nightly-report@0', when === 'after-effect' ? { node: first.id, token: cluster.attempts[0]!.token } : { node: second.node, token: second.token }]]);
      for (const node of survivors) {
        expect(await node.read((state) => ({ tasks: state.tasks.size, started: state.started.size }))).toEqual({ tasks: 0, started: 0 });
      }
    });
  }

  it('runs a periodic task once per occurrence, and fences off a stale finish', { timeout: 15_000 }, async () => {
    const cluster = startCluster('after-effect');
    cleanup = cluster.stopAll;
    cluster.releaseFirst();
    const leader = await leaderOf(cluster.nodes);
    await leader.propose({ op: 'schedule', task: 'nightly-report', at: Date.now(), everyMs: 30 });
    await waitFor(() => cluster.sink.size >= 4, 'four occurrences');
    const runIds = cluster.attempts.map((attempt) => attempt.runId);
    expect(new Set(runIds).size).toBe(runIds.length); // no occurrence attempted twice without a failure
    expect(runIds.slice(0, 4)).toEqual(['nightly-report@0', 'nightly-report@1', 'nightly-report@2', 'nightly-report@3']);
    // A finish with a token that does not hold the run changes nothing.
    const held = await waitFor(async () => leader.read((state) => state.started.get('nightly-report')), 'a run in flight', 5000, 1);
    expect(await leader.propose({ op: 'finish', task: 'nightly-report', runId: held.runId, token: held.token - 1 })).toBe(false);
  });
});
