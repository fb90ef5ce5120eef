import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHostNetworkHub } from '../../actors/network/MemoryHostNetwork.js';
import { UnknownGroupError, InvalidConfigError } from '../../src/errors.js';
import { preferredLeader } from '../../src/host/leaderSpread.js';
import { RaftHost } from '../../src/host/RaftHost.js';
import { counterCommand, counterMachine, testConfig, type CounterCommand } from '../support/cluster.js';
import { waitFor } from '../support/waitFor.js';

type Counter = ReturnType<typeof counterMachine>;
const hostIds = ['n1', 'n2', 'n3'];
let open: RaftHost<CounterCommand, Counter>[] = [];

function hosts(hub = new MemoryHostNetworkHub(), options: { quiesce?: boolean; spreadLeaders?: boolean } = {}) {
  const made = hostIds.map((id) => new RaftHost<CounterCommand, Counter>({ id, network: hub.endpoint(id), config: testConfig, ...options }));
  open.push(...made);
  return { hub, hosts: made };
}

function createEverywhere(all: readonly RaftHost<CounterCommand, Counter>[], group: string, members = hostIds): void {
  for (const host of all) if (members.includes(host.id)) host.createGroup(group, { members, commandSchema: counterCommand, stateMachine: counterMachine() });
}

function leaderOf(all: readonly RaftHost<CounterCommand, Counter>[], group: string): RaftHost<CounterCommand, Counter> | undefined {
  return all.find((host) => host.group(group)?.status().role === 'leader');
}

function describeGroups(all: readonly RaftHost<CounterCommand, Counter>[], group: string): () => string {
  return () => all.map((host) => (host.group(group) === undefined ? `${host.id}:-` : `${host.id}:${host.group(group)!.status().role}${host.groupStatus(group).quiesced ? '(zz)' : ''}`)).join(' ');
}

afterEach(async () => {
  await Promise.allSettled(open.map((host) => host.close()));
  open = [];
});

describe('RaftHost', () => {
  it('runs many groups over one endpoint per host and routes proposals and reads by group id', async () => {
    const { hosts: all } = hosts();
    const groups = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const group of groups) createEverywhere(all, group);
    // Once each group is led by its preferred host (the hosts move leaderships there; a proposal racing such a move
    // may fail with NotLeaderError, which callers retry as after any leader change).
    await waitFor(() => groups.every((group) => leaderOf(all, group)?.id === preferredLeader(group, hostIds)), { what: 'every group led by its preferred host', timeoutMs: 10_000 });
    // Each group is its own state machine: a proposal to one changes no other.
    expect(await all[1]!.propose('a', { op: 'add', by: 5 })).toBe(5);
    expect(await all[2]!.propose('b', { op: 'add', by: 7 })).toBe(7);
    expect(await all[0]!.read('a', (counter) => counter.state)).toBe(5);
    expect(await all[0]!.read('b', (counter) => counter.state)).toBe(7);
    expect(await all[0]!.read('c', (counter) => counter.state)).toBe(0);
    expect(all[0]!.status().groups.total).toBe(groups.length);
  });

  it('answers proposals made while a group hands its leadership over, applying each once, instead of refusing them', async () => {
    // Without the leader balancer: its own moves would race the handovers this test makes (on a busy machine, more
    // than an election timeout passes between them).
    const { hosts: all } = hosts(undefined, { spreadLeaders: false });
    createEverywhere(all, 'h');
    await waitFor(() => leaderOf(all, 'h') !== undefined, { what: 'a leader of h', timeoutMs: 10_000 });
    const leader = leaderOf(all, 'h')!;
    const target = all.find((host) => host !== leader)!;
    // A node refuses proposals during a handover (NotLeaderError, not appended); the host tries them again.
    const handover = leader.group('h')!.transferLeadership(target.id);
    const results = await Promise.all(all.map((host) => host.propose('h', { op: 'add', by: 1 })));
    await handover;
    expect(results.sort()).toEqual([1, 2, 3]);
    expect(await target.read('h', (counter) => counter.state)).toBe(3);
    // A caller that asked to fail fast still hears the refusal.
    const again = target.group('h')!.transferLeadership(leader.id);
    await expect(target.propose('h', { op: 'add', by: 1 }, { failFast: true })).rejects.toMatchObject({ code: 'NOT_LEADER', outcome: 'not-appended' });
    await again;
  });

  it('creates and removes groups at run time, and refuses unknown and invalid group ids', async () => {
    const { hosts: all } = hosts();
    createEverywhere(all, 'g1');
    await waitFor(() => leaderOf(all, 'g1') !== undefined, { what: 'a leader of g1' });
    createEverywhere(all, 'g2');
    expect(await all[0]!.propose('g2', { op: 'add', by: 1 })).toBe(1);
    for (const host of all) await host.removeGroup('g1');
    expect(all[0]!.group('g1')).toBeUndefined();
    await expect(all[0]!.propose('g1', { op: 'add', by: 1 })).rejects.toBeInstanceOf(UnknownGroupError);
    await expect(all[0]!.read('nope', (counter) => counter.state)).rejects.toBeInstanceOf(UnknownGroupError);
    expect(() => all[0]!.createGroup('', { members: hostIds, commandSchema: counterCommand, stateMachine: counterMachine() })).toThrow(InvalidConfigError);
    expect(() => all[0]!.createGroup('g2', { members: hostIds, commandSchema: counterCommand, stateMachine: counterMachine() })).toThrow(InvalidConfigError);
    expect(all[0]!.groupIds()).toEqual(['g2']);
  });

  it('an idle group quiesces on every member, and a proposal through any host wakes it', async () => {
    const { hub, hosts: all } = hosts();
    createEverywhere(all, 'g');
    await waitFor(() => all.every((host) => host.groupStatus('g').quiesced), { what: describeGroups(all, 'g'), timeoutMs: 10_000 });
    // Quiesced: nothing flows between the hosts but their beats.
    const before = hub.delivered.messages;
    const follower = all.find((host) => host.group('g')!.status().role === 'follower')!;
    await waitFor(() => hub.delivered.signals > 20, { what: 'a few rounds of beats' });
    expect(hub.delivered.messages).toBe(before);
    expect(await follower.propose('g', { op: 'add', by: 3 })).toBe(3);
    expect(await follower.read('g', (counter) => counter.state)).toBe(3);
    // ... and it sleeps again once idle.
    await waitFor(() => all.every((host) => host.groupStatus('g').quiesced), { what: describeGroups(all, 'g'), timeoutMs: 10_000 });
  });

  it('a quiesced group whose leader\'s host dies elects a new leader', async () => {
    const { hub, hosts: all } = hosts();
    createEverywhere(all, 'g');
    await waitFor(() => all.every((host) => host.groupStatus('g').quiesced), { what: describeGroups(all, 'g'), timeoutMs: 10_000 });
    const oldLeader = leaderOf(all, 'g')!;
    const term = oldLeader.group('g')!.status().term;
    hub.isolate(oldLeader.id);
    const others = all.filter((host) => host !== oldLeader);
    await waitFor(() => others.some((host) => host.group('g')!.status().role === 'leader'), { what: describeGroups(all, 'g'), timeoutMs: 10_000 });
    const newLeader = others.find((host) => host.group('g')!.status().role === 'leader')!;
    expect(newLeader.group('g')!.status().term).toBeGreaterThan(term);
    // The old leader, quiesced too, woke when its peers fell silent, and stepped down by check-quorum.
    await waitFor(() => oldLeader.group('g')!.status().role !== 'leader', { what: describeGroups(all, 'g'), timeoutMs: 10_000 });
    expect(await newLeader.propose('g', { op: 'add', by: 2 })).toBe(2);
  });

  it("a quiesced group whose leader's process stopped and restarted elects a new leader", async () => {
    const { hub, hosts: all } = hosts();
    createEverywhere(all, 'g');
    await waitFor(() => all.every((host) => host.groupStatus('g').quiesced), { what: describeGroups(all, 'g'), timeoutMs: 10_000 });
    const oldLeader = leaderOf(all, 'g')!;
    await oldLeader.close();
    // A new process on the same host id, with no memory of the group's leadership (its store is gone too).
    const restarted = new RaftHost<CounterCommand, Counter>({ id: oldLeader.id, network: hub.endpoint(oldLeader.id), config: testConfig });
    open.push(restarted);
    const survivors = all.filter((host) => host !== oldLeader);
    await waitFor(() => survivors.some((host) => host.group('g')!.status().role === 'leader'), { what: describeGroups(survivors, 'g'), timeoutMs: 10_000 });
  });

  it('spreads the leaders of many groups over the hosts: each group ends up led by its preferred host', async () => {
    const { hosts: all } = hosts(new MemoryHostNetworkHub(), { quiesce: false });
    const groups = Array.from({ length: 30 }, (_, i) => `shard-${i}`);
    for (const group of groups) createEverywhere(all, group);
    await waitFor(() => all[0]!.status().groups.withLeader === groups.length && all.every((host) => host.status().groups.withLeader === groups.length), { what: 'leaders everywhere', timeoutMs: 10_000 });
    // Elections mostly pick each group's preferred member, and the hosts move the other leaderships there.
    const preferredCounts = all.map((host) => groups.filter((group) => preferredLeader(group, hostIds) === host.id).length);
    await waitFor(() => groups.every((group) => leaderOf(all, group)?.id === preferredLeader(group, hostIds)), {
      what: () => `every group led by its preferred host (leading ${all.map((host) => host.status().groups.leading).join('/')}, preferred ${preferredCounts.join('/')})`,
      timeoutMs: 15_000,
    });
    // The hash spreads 30 groups over 3 hosts evenly enough.
    for (const count of preferredCounts) expect(count).toBeGreaterThanOrEqual(5);
  });
});
