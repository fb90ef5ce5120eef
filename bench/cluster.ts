/**
 * Committed proposals per second of an in-process three-node cluster with the memory actors and real timers:
 * `concurrency` clients each keep one proposal outstanding, 100-byte payloads, for `seconds`.
 * This measures the framework (core, statechart, actors, codec), not a disk or a network.
 *
 * The whole cluster runs on one thread, so its CPU time per proposal is the framework's cost, and what the rate would
 * be on an idle core (`perCpuSecond`). On a machine shared with other work the wall-clock rate varies from run to run
 * far more than that does.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createRaftNode, MemoryNetworkHub, ReducerStateMachine, type RaftNode } from '../src/index.js';

export interface ClusterBenchResult {
  readonly concurrency: number;
  readonly committed: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time of the thread running the cluster per committed proposal, in µs (garbage collection on it included). */
  readonly cpuMicrosPerProposal: number;
  /** Committed proposals per second of that thread's CPU time. */
  readonly perCpuSecond: number;
}

const command = z.object({ payload: z.string() });
type Command = z.infer<typeof command>;

export async function benchCluster(concurrency: number, seconds: number): Promise<ClusterBenchResult> {
  const ids = ['n1', 'n2', 'n3'];
  const hub = new MemoryNetworkHub();
  const nodes: RaftNode<Command, number>[] = ids.map((id) =>
    createRaftNode({
      id,
      members: ids,
      commandSchema: command,
      stateMachine: new ReducerStateMachine(0, (count: number) => [count + 1, count + 1]),
      network: hub.endpoint(id),
      config: { electionTimeoutMs: 300, heartbeatIntervalMs: 50 },
    }),
  );
  await nodes[0]!.campaign();
  const leader = await waitForLeader(nodes);
  const payload = 'x'.repeat(100);
  const latencies: number[] = [];
  let committed = 0;
  const cpuBefore = threadCpuMicros();
  const started = performance.now();
  const until = started + seconds * 1000;
  const client = async (): Promise<void> => {
    // One clock reading per proposal (the harness's cost counts against the framework's): an answer's time is when
    // the client's next proposal starts.
    for (let sent = performance.now(); sent < until; ) {
      await leader.propose({ payload });
      const answered = performance.now();
      latencies.push(answered - sent);
      committed++;
      sent = answered;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsed = (performance.now() - started) / 1000;
  const cpuMicros = threadCpuMicros() - cpuBefore;
  await Promise.all(nodes.map((node) => node.stop()));
  latencies.sort((a, b) => a - b);
  return {
    concurrency,
    committed,
    seconds: elapsed,
    perSecond: committed / elapsed,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    cpuMicrosPerProposal: cpuMicros / committed,
    perCpuSecond: committed / (cpuMicros / 1e6),
  };
}

async function waitForLeader(nodes: RaftNode<Command, number>[]): Promise<RaftNode<Command, number>> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const leader = nodes.find((node) => node.status().role === 'leader');
    if (leader !== undefined) return leader;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no leader within 5 s');
}

/**
 * CPU time of this thread so far, in µs: Linux's per-thread count (10 ms ticks), which excludes V8's helper threads
 * and time spent waiting for a core; elsewhere the process's, which includes them.
 */
function threadCpuMicros(): number {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  }
}
