/**
 * Multi-Raft's own cost per write, in one process: 3 `RaftHost`s over MemoryHostNetwork with memory log stores, so
 * no disk, no sockets, no HTTP. For 1 group and for each `--groups` count: wait until every group has a leader and
 * has quiesced, then run `--clients` closed-loop writers for `--seconds`, each proposing through a random host to a
 * random group (a host that does not lead the group forwards, as the sharded KV does). Prints writes per second, the
 * CPU per write of the one thread running all three hosts, and the Raft messages and host signals per write.
 * Run: `npx tsx bench/hostLoad.ts --groups 1000 [--clients 64] [--seconds 10] [--no-single]` (to profile:
 * `node --cpu-prof --import tsx bench/hostLoad.ts ...`).
 */
import { z } from 'zod';
import { MemoryHostNetworkHub } from '../actors/network/MemoryHostNetwork.js';
import { ReducerStateMachine } from '../actors/state-machine/ReducerStateMachine.js';
import { RaftHost } from '../src/host/RaftHost.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1]!;
};
const counts = flag('groups', '1000').split(',').map(Number);
const groupCounts = args.includes('--no-single') ? counts : [1, ...counts];
const clients = Number(flag('clients', '64'));
const seconds = Number(flag('seconds', '10'));
const command = z.object({ key: z.string(), value: z.string() });
type Command = z.infer<typeof command>;
const machine = () => new ReducerStateMachine<number, Command, number, never>(0, (n) => [n + 1, n + 1]);
type Machine = ReturnType<typeof machine>;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 600_000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within 10 minutes`);
    await pause(50);
  }
}

async function run(groups: number): Promise<void> {
  const hub = new MemoryHostNetworkHub();
  const ids = ['n1', 'n2', 'n3'];
  const hosts = ids.map((id) => new RaftHost<Command, Machine>({ id, network: hub.endpoint(id), config: { electionTimeoutMs: 1000, heartbeatIntervalMs: 125 } }));
  const names = Array.from({ length: groups }, (_, g) => `g${g}`);
  for (const [at, name] of names.entries()) {
    for (const host of hosts) host.createGroup(name, { members: ids, commandSchema: command, stateMachine: machine() });
    if (at % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor(() => hosts.every((host) => host.status().groups.withLeader === groups), 'every group elects');
  await waitFor(() => hosts.every((host) => host.status().groups.quiesced === groups), 'every group quiesces');
  const value = 'v'.repeat(100);
  let writes = 0;
  const failures = new Map<string, number>();
  const latencies: number[] = [];
  let stop = false;
  const writer = async (): Promise<void> => {
    while (!stop) {
      const host = hosts[Math.floor(Math.random() * hosts.length)]!;
      const key = `k${Math.floor(Math.random() * 100_000)}`;
      const sent = performance.now();
      try {
        await host.propose(names[Math.floor(Math.random() * groups)]!, { key, value }, { timeoutMs: 5000 });
        latencies.push(performance.now() - sent);
        writes++;
      } catch (error) {
        const code = (error as { code?: string }).code ?? String(error);
        failures.set(code, (failures.get(code) ?? 0) + 1);
      }
    }
  };
  const delivered = { ...hub.delivered };
  const cpu = process.cpuUsage();
  const began = performance.now();
  const writers = Array.from({ length: clients }, writer);
  await pause(seconds * 1000);
  stop = true;
  await Promise.all(writers);
  const wall = (performance.now() - began) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const percentile = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);
  console.log(
    `${groups} group(s), ${clients} clients: ${Math.round(writes / wall)} writes/s (failed: ${failures.size === 0 ? 'none' : [...failures].map(([code, count]) => `${count} ${code}`).join(', ')}), p50 ${percentile(0.5)} ms, p99 ${percentile(0.99)} ms, ` +
      `${Math.round((used.user + used.system) / Math.max(1, writes))} µs CPU per write, ` +
      `${((hub.delivered.messages - delivered.messages) / Math.max(1, writes)).toFixed(1)} messages and ` +
      `${((hub.delivered.signals - delivered.signals) / Math.max(1, writes)).toFixed(1)} signals per write`,
  );
  await Promise.all(hosts.map((host) => host.close()));
}

for (const groups of groupCounts) await run(groups);
