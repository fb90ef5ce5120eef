import { afterEach, describe, expect, it } from 'vitest';
import type { HostSignal, WakeNotice } from '../../actors/network/HostNetwork.js';
import { MemoryHostNetworkHub } from '../../actors/network/MemoryHostNetwork.js';
import { HeldWakes } from '../../src/host/heldWakes.js';
import { RaftHost } from '../../src/host/RaftHost.js';
import { counterCommand, counterMachine, testConfig, type CounterCommand } from '../support/cluster.js';
import { waitFor } from '../support/waitFor.js';

const wake = (group: string, term = 1): WakeNotice => ({ type: 'wake', group, term });

describe('HeldWakes', () => {
  it('sends a held notice at the flush, unless the group sent that host a message in the meantime', () => {
    const sent: string[] = [];
    const wakes = new HeldWakes((to, notice) => sent.push(`${notice.group}->${to}`));
    expect(wakes.hold('n2', wake('a'))).toBe(true);
    expect(wakes.hold('n3', wake('a'))).toBe(false);
    wakes.hold('n2', wake('b'));
    // Group a writes to n2 (a forwarded proposal, say): that message wakes a on n2. Group b's message to n3 does not
    // stand in for its notice to n2, nor group c's for anyone's.
    wakes.sending('a', 'n2');
    wakes.sending('b', 'n3');
    wakes.sending('c', 'n2');
    wakes.flush();
    expect(sent.sort()).toEqual(['a->n3', 'b->n2']);
    expect(wakes.size).toBe(0);
    wakes.flush();
    expect(sent).toHaveLength(2);
  });

  it('holds the last notice per group and host, and clear drops them all', () => {
    const sent: WakeNotice[] = [];
    const wakes = new HeldWakes((_to, notice) => sent.push(notice));
    wakes.hold('n2', wake('a', 1));
    wakes.hold('n2', wake('a', 2));
    expect(wakes.size).toBe(1);
    wakes.flush();
    expect(sent).toEqual([wake('a', 2)]);
    wakes.hold('n2', wake('a'));
    wakes.clear();
    wakes.flush();
    expect(sent).toHaveLength(1);
  });
});

type Counter = ReturnType<typeof counterMachine>;
let open: RaftHost<CounterCommand, Counter>[] = [];

afterEach(async () => {
  await Promise.allSettled(open.map((host) => host.close()));
  open = [];
});

/** Three hosts of one group `g`, each host's signals recorded as they are handed to its endpoint. */
function hostsOfOneGroup() {
  const hub = new MemoryHostNetworkHub();
  const ids = ['n1', 'n2', 'n3'];
  const signals = new Map<string, { to: string; signal: HostSignal }[]>();
  const hosts = ids.map((id) => {
    const endpoint = hub.endpoint(id);
    const sent: { to: string; signal: HostSignal }[] = [];
    signals.set(id, sent);
    const handOn = endpoint.signal.bind(endpoint);
    endpoint.signal = (to, signal) => {
      sent.push({ to, signal });
      handOn(to, signal);
    };
    const host = new RaftHost<CounterCommand, Counter>({ id, network: endpoint, config: testConfig });
    host.createGroup('g', { members: ids, commandSchema: counterCommand, stateMachine: counterMachine() });
    return host;
  });
  open.push(...hosts);
  const wakesFrom = (id: string): number => signals.get(id)!.filter(({ signal }) => signal.type === 'wake').length;
  return { hosts, wakesFrom };
}

describe('A follower waking a quiesced group', () => {
  it('sends no wake notice for a write it forwards: the forwarded write wakes the leader', async () => {
    const { hosts, wakesFrom } = hostsOfOneGroup();
    await waitFor(() => hosts.every((host) => host.groupStatus('g').quiesced), { what: 'group g asleep everywhere', timeoutMs: 10_000 });
    const follower = hosts.find((host) => host.groupStatus('g').role === 'follower')!;
    const before = wakesFrom(follower.id);
    expect(await follower.propose('g', { op: 'add', by: 4 })).toBe(4);
    expect(wakesFrom(follower.id)).toBe(before);
    await waitFor(() => hosts.every((host) => host.groupStatus('g').quiesced), { what: 'group g asleep again', timeoutMs: 10_000 });
  });

  it('still tells the leader when nothing else reaches it, and the leader wakes', async () => {
    const { hosts, wakesFrom } = hostsOfOneGroup();
    await waitFor(() => hosts.every((host) => host.groupStatus('g').quiesced), { what: 'group g asleep everywhere', timeoutMs: 10_000 });
    const follower = hosts.find((host) => host.groupStatus('g').role === 'follower')!;
    const leader = hosts.find((host) => host.groupStatus('g').role === 'leader')!;
    const before = wakesFrom(follower.id);
    follower.wake('g');
    await waitFor(() => !leader.groupStatus('g').quiesced, { what: 'the leader of g awake', timeoutMs: 5_000 });
    expect(wakesFrom(follower.id)).toBe(before + 1);
    await waitFor(() => hosts.every((host) => host.groupStatus('g').quiesced), { what: 'group g asleep again', timeoutMs: 10_000 });
  });
});
