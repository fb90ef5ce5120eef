import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../src/core/index.js';
import { hostSignalSchema, type GroupId, type HostSignal } from '../../actors/network/HostNetwork.js';
import { MemoryHostNetworkHub } from '../../actors/network/MemoryHostNetwork.js';

const heartbeat: RaftMessage = { type: 'AppendEntries', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 };

function collector() {
  const messages: { from: string; group: GroupId; message: RaftMessage }[] = [];
  const signals: { from: string; signal: HostSignal }[] = [];
  const unreachable: string[] = [];
  let arrived: () => void = () => undefined;
  const next = () => new Promise<void>((resolve) => (arrived = resolve));
  return {
    messages,
    signals,
    unreachable,
    next,
    handlers: {
      received: (from: string, group: GroupId, message: RaftMessage) => (messages.push({ from, group, message }), arrived()),
      signalled: (from: string, signal: HostSignal) => (signals.push({ from, signal }), arrived()),
      unreachable: (peer: string) => void unreachable.push(peer),
    },
  };
}

describe('MemoryHostNetwork', () => {
  it('carries messages of many groups and host signals between hosts, with their group ids', async () => {
    const hub = new MemoryHostNetworkHub();
    const a = hub.endpoint('n1');
    const b = hub.endpoint('n2');
    const atB = collector();
    a.attach(collector().handlers);
    b.attach(atB.handlers);
    const arrived = atB.next();
    a.send('n2', 'g1', heartbeat);
    a.send('n2', 'g2', heartbeat);
    a.signal('n2', { type: 'beat', incarnation: 'x' });
    expect(atB.messages).toEqual([]); // never synchronously
    await arrived;
    expect(atB.messages.map((m) => m.group)).toEqual(['g1', 'g2']);
    expect(atB.signals).toEqual([{ from: 'n1', signal: { type: 'beat', incarnation: 'x' } }]);
  });

  it('drops everything across a cut host pair until healed, and reports unknown hosts as unreachable', async () => {
    const hub = new MemoryHostNetworkHub();
    const a = hub.endpoint('n1');
    const b = hub.endpoint('n2');
    const atA = collector();
    const atB = collector();
    a.attach(atA.handlers);
    b.attach(atB.handlers);
    hub.isolate('n1');
    a.send('n2', 'g1', heartbeat);
    a.send('n9', 'g1', heartbeat);
    expect(atA.unreachable).toEqual(['n9']);
    hub.heal();
    const arrived = atB.next();
    a.signal('n2', { type: 'wake', group: 'g1', term: 1 });
    await arrived;
    expect(atB.messages).toEqual([]);
    expect(atB.signals).toHaveLength(1);
  });

  it('refuses malformed signals', () => {
    expect(hostSignalSchema.safeParse({ type: 'quiesce', group: '', term: 1, commit: 0 }).success).toBe(false);
    expect(hostSignalSchema.safeParse({ type: 'quiesce', group: 'g', term: -1, commit: 0 }).success).toBe(false);
    expect(hostSignalSchema.safeParse({ type: 'beat' }).success).toBe(false);
    expect(hostSignalSchema.safeParse({ type: 'quiesce', group: 'g'.repeat(257), term: 1, commit: 0 }).success).toBe(false);
    expect(hostSignalSchema.parse({ type: 'wake', group: 'g', term: 2, extra: 1 })).toEqual({ type: 'wake', group: 'g', term: 2 });
  });
});
