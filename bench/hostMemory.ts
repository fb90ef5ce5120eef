/**
 * Multi-Raft in one process: `--groups` groups on each of 3 hosts (so 3 × groups nodes), over MemoryHostNetwork.
 * Measures the heap and RSS per group, the time until every group has a leader, and the CPU an idle process spends
 * once the groups quiesce. Run: `npx tsx bench/hostMemory.ts --groups 10000 [--no-quiesce] [--shared-level]`
 * (`node --expose-gc --import tsx ...` to collect before measuring). `--shared-level`: each host keeps every group's
 * log in one LevelDB (SharedLevelLogStores, in a temporary directory), as the sharded KV does, instead of a
 * MemoryLogStore per group. Under tsx every function carries its name as a property, which makes a node's heap a few
 * KiB larger than the build's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { SharedLevelLogStores } from '../actors/log-store/SharedLevelLogStores.js';
import { MemoryHostNetworkHub } from '../actors/network/MemoryHostNetwork.js';
import { ReducerStateMachine } from '../actors/state-machine/ReducerStateMachine.js';
import { RaftHost } from '../src/host/RaftHost.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const groups = flag('groups', 1000);
const idleSeconds = flag('idle-seconds', 5);
const quiesce = !args.includes('--no-quiesce');
const sharedLevel = args.includes('--shared-level');
const command = z.object({ add: z.number() });
type Command = z.infer<typeof command>;
const machine = () => new ReducerStateMachine<number, Command, number, never>(0, (n, c) => [n + c.add, n + c.add]);
type Machine = ReturnType<typeof machine>;

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  gc();
  const base = process.memoryUsage();
  const hub = new MemoryHostNetworkHub();
  const ids = ['n1', 'n2', 'n3'];
  const directory = sharedLevel ? mkdtempSync(join(tmpdir(), 'xraft-host-memory-')) : null;
  const stores = ids.map((id) => (directory === null ? null : new SharedLevelLogStores({ location: join(directory, id), clusterId: 'host-memory', nodeId: id })));
  const hosts = ids.map((id, at) => {
    const shared = stores[at];
    const logStore = shared === null || shared === undefined ? {} : { logStore: (group: string) => shared.store(group) };
    return new RaftHost<Command, Machine>({ id, network: hub.endpoint(id), quiesce, config: { electionTimeoutMs: 1000, heartbeatIntervalMs: 100 }, ...logStore });
  });
  const began = performance.now();
  for (let g = 0; g < groups; g++) {
    for (const host of hosts) host.createGroup(`g${g}`, { members: ids, commandSchema: command, stateMachine: machine() });
    // Let timers and messages run between batches, as a process creating groups over time would.
    if (g % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
  }
  const created = performance.now();
  // Bounded wait on a real condition (every node of every group knows a leader).
  const deadline = performance.now() + 600_000;
  let lastReport = performance.now();
  const progress = (): void => {
    if (performance.now() - lastReport < 5000) return;
    lastReport = performance.now();
    const statuses = hosts.map((host) => host.status().groups);
    console.error(`${((performance.now() - began) / 1000).toFixed(0)}s: with leader ${statuses.map((s) => s.withLeader).join('/')}, leading ${statuses.map((s) => s.leading).join('/')}, quiesced ${statuses.map((s) => s.quiesced).join('/')}`);
  };
  while (!hosts.every((host) => host.status().groups.withLeader === groups)) {
    if (performance.now() > deadline) throw new Error('not every group elected within 10 minutes');
    progress();
    await sleep(100);
  }
  const elected = performance.now();
  let quiescedAt = elected;
  if (quiesce) {
    while (!hosts.every((host) => host.status().groups.quiesced === groups)) {
      if (performance.now() > deadline) throw new Error(`not quiesced: ${hosts.map((h) => h.status().groups.quiesced).join(',')}`);
      progress();
      await sleep(100);
    }
    quiescedAt = performance.now();
  }
  gc();
  const after = process.memoryUsage();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const delivered0 = { ...hub.delivered };
  await sleep(idleSeconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const leading = hosts.map((host) => host.status().groups.leading);
  const nodes = groups * hosts.length;
  console.log(JSON.stringify({
    groups,
    hosts: hosts.length,
    quiesce,
    logStores: sharedLevel ? 'one LevelDB per host' : 'memory',
    createMs: Math.round(created - began),
    allLeadersMs: Math.round(elected - began),
    quiescedMs: Math.round(quiescedAt - began),
    leadersPerHost: leading,
    heapUsedMB: mb(after.heapUsed - base.heapUsed),
    rssMB: mb(after.rss - base.rss),
    heapPerNodeKB: ((after.heapUsed - base.heapUsed) / nodes / 1024).toFixed(1),
    rssPerNodeKB: ((after.rss - base.rss) / nodes / 1024).toFixed(1),
    idleCpuPercentOfOneCore: ((100 * (cpu.user + cpu.system)) / 1000 / wall).toFixed(1),
    idleMessagesPerSecond: Math.round(((hub.delivered.messages - delivered0.messages) * 1000) / wall),
    idleSignalsPerSecond: Math.round(((hub.delivered.signals - delivered0.signals) * 1000) / wall),
  }));
  await Promise.all(hosts.map((host) => host.close()));
  await Promise.all(stores.map((shared) => shared?.close()));
  if (directory !== null) rmSync(directory, { recursive: true, force: true });
}

await main();
