/**
 * RaftHost on one LevelDB per host (SharedLevelLogStores): every group's log lives in the host's shared database, and
 * a host restarted on it recovers every group.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHostNetworkHub } from '../../actors/network/MemoryHostNetwork.js';
import { SharedLevelLogStores } from '../../actors/log-store/SharedLevelLogStores.js';
import { preferredLeader } from '../../src/host/leaderSpread.js';
import { RaftHost } from '../../src/host/RaftHost.js';
import { counterCommand, counterMachine, testConfig, type CounterCommand } from '../support/cluster.js';
import { waitFor } from '../support/waitFor.js';

type Counter = ReturnType<typeof counterMachine>;
const hostIds = ['n1', 'n2', 'n3'];
const groups = Array.from({ length: 10 }, (_, i) => `shard-${i}`);
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});

function startHost(hub: MemoryHostNetworkHub, id: string, directory: string): { host: RaftHost<CounterCommand, Counter>; stores: SharedLevelLogStores } {
  const stores = new SharedLevelLogStores({ location: directory, clusterId: 'test', nodeId: id });
  const host = new RaftHost<CounterCommand, Counter>({ id, network: hub.endpoint(id), config: testConfig, logStore: (group) => stores.store(group) });
  for (const group of groups) host.createGroup(group, { members: hostIds, commandSchema: counterCommand, stateMachine: counterMachine() });
  cleanup.push(async () => {
    await host.close();
    await stores.close();
  });
  return { host, stores };
}

describe('RaftHost on a shared LevelDB', () => {
  it('a host restarted on its shared database recovers the log of every group', async () => {
    const directories = hostIds.map((id) => mkdtempSync(join(tmpdir(), `xraft-host-${id}-`)));
    cleanup.push(async () => directories.forEach((directory) => rmSync(directory, { recursive: true, force: true })));
    const hub = new MemoryHostNetworkHub();
    const running = hostIds.map((id, i) => startHost(hub, id, directories[i]!));
    // Leaders settled on their preferred hosts (a proposal racing a leadership move may fail with NotLeaderError).
    const leaderOf = (group: string) => running.find(({ host }) => host.group(group)!.status().role === 'leader')?.host.id;
    await waitFor(() => groups.every((group) => leaderOf(group) === preferredLeader(group, hostIds)), { what: 'leaders on their preferred hosts', timeoutMs: 10_000 });
    for (const [i, group] of groups.entries()) expect(await running[0]!.host.propose(group, { op: 'add', by: i + 1 })).toBe(i + 1);
    // n3 has applied everything, then stops (its stores flushed and closed).
    const [, , third] = running;
    for (const group of groups) {
      await waitFor(() => third!.host.group(group)!.status().appliedIndex >= running[0]!.host.group(group)!.status().commitIndex, { what: `n3 applied ${group}`, timeoutMs: 10_000 });
    }
    await third!.host.close();
    await third!.stores.close();
    // Its one database holds every group's log, each under its own group id.
    const onDisk = new SharedLevelLogStores({ location: directories[2]!, clusterId: 'test', nodeId: 'n3' });
    for (const [i, group] of groups.entries()) {
      const store = onDisk.store(group);
      const state = await store.open();
      expect(state.entries.some((entry) => entry.kind === 'command' && entry.data.includes(`"by":${i + 1}`))).toBe(true);
      await store.close();
    }
    await onDisk.close();
    // It comes back on the same directory.
    const restarted = startHost(hub, 'n3', directories[2]!);
    for (const [i, group] of groups.entries()) {
      await waitFor(() => restarted.host.group(group)!.status().appliedIndex >= running[0]!.host.group(group)!.status().commitIndex, { what: `n3 applied ${group}`, timeoutMs: 10_000 });
      expect(await restarted.host.read(group, (counter) => counter.state, { consistency: 'stale' })).toBe(i + 1);
    }
  });
});
