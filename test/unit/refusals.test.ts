/**
 * No message from the network may stop or wedge a node. A message that passes the schema but breaks a protocol
 * invariant is refused whole, reported with its sender (a `refused` effect), and changes nothing; the cluster goes on.
 * Found by trying it: one AppendEntries with non-contiguous entries stopped a follower for good.
 */
import { describe, expect, it } from 'vitest';
import type { Entry, RaftMessage } from '../../src/core/index.js';
import { CoreCluster } from './coreCluster.js';

const command = (index: number, term: number): Entry => ({ index, term, kind: 'command', data: `c${index}` });

/** A cluster led by n1 in term 2 (n1 won the first election, then n2, then n1 again), with a few committed writes. */
function running(): CoreCluster {
  const cluster = new CoreCluster(['n1', 'n2', 'n3']);
  cluster.elect('n1');
  for (let i = 0; i < 3; i++) {
    cluster.input('n1', (core) => core.propose([{ id: `p${i}`, data: `v${i}` }]));
    cluster.deliver();
  }
  cluster.input('n1', (core) => core.heartbeatDue());
  cluster.deliver();
  return cluster;
}

describe('a forged message', () => {
  const cluster = running();
  const term = cluster.core('n1').term;
  const last = cluster.core('n1').lastIndex;

  const forgeries: { readonly name: string; readonly to: string; readonly from: string; readonly message: RaftMessage }[] = [
    {
      name: 'AppendEntries with entries that skip an index',
      to: 'n2',
      from: 'n1',
      message: { type: 'AppendEntries', term, prevLogIndex: last, prevLogTerm: term, entries: [command(last + 1, term), command(last + 3, term)], leaderCommit: last, round: 1 },
    },
    {
      name: "AppendEntries with an entry above the message's term",
      to: 'n2',
      from: 'n1',
      message: { type: 'AppendEntries', term, prevLogIndex: last, prevLogTerm: term, entries: [command(last + 1, term + 7)], leaderCommit: last, round: 1 },
    },
    {
      name: 'AppendEntries with a configuration entry that does not decode',
      to: 'n2',
      from: 'n1',
      message: { type: 'AppendEntries', term, prevLogIndex: last, prevLogTerm: term, entries: [{ index: last + 1, term, kind: 'config', data: '{"voters":' }], leaderCommit: last, round: 1 },
    },
    {
      name: 'AppendEntries from a node that is not the leader of the term',
      to: 'n2',
      from: 'n3',
      message: { type: 'AppendEntries', term, prevLogIndex: last, prevLogTerm: term, entries: [command(last + 1, term)], leaderCommit: last + 1, round: 1 },
    },
    {
      name: 'AppendEntries contradicting a committed entry',
      to: 'n2',
      from: 'n1',
      message: { type: 'AppendEntries', term: term + 1, prevLogIndex: 1, prevLogTerm: term, entries: [command(2, term + 1), command(3, term + 1)], leaderCommit: 1e9, round: 1 },
    },
    {
      name: 'AppendEntriesResponse for a round never started',
      to: 'n1',
      from: 'n2',
      message: { type: 'AppendEntriesResponse', term, success: true, index: last, hintIndex: 0, hintTerm: 0, round: 1e6 },
    },
    {
      name: "AppendEntriesResponse acknowledging entries beyond the leader's log",
      to: 'n1',
      from: 'n2',
      message: { type: 'AppendEntriesResponse', term, success: true, index: last + 1000, hintIndex: 0, hintTerm: 0, round: 1 },
    },
    {
      name: 'InstallSnapshotResponse for a snapshot never sent',
      to: 'n1',
      from: 'n3',
      message: { type: 'InstallSnapshotResponse', term, index: last + 50, nextChunk: 3, installed: true, round: 1 },
    },
    {
      name: 'a granted vote never asked for',
      to: 'n2',
      from: 'n3',
      message: { type: 'RequestVoteResponse', term, granted: true, preVote: false },
    },
    {
      name: 'TimeoutNow from a node that does not lead',
      to: 'n2',
      from: 'n3',
      message: { type: 'TimeoutNow', term },
    },
  ];

  for (const { name, to, from, message } of forgeries) {
    it(`${name} is refused with its sender, changes nothing, and replication goes on`, () => {
      const target = cluster.core(to);
      const before = target.status();
      cluster.clearSeen();
      const effects = cluster.input(to, (core) => core.receive(from, message));
      expect(effects).toEqual([{ type: 'refused', from, messageType: message.type, reason: expect.any(String) }]);
      expect(target.status()).toEqual(before);
      cluster.input('n1', (core) => core.propose([{ id: `after ${name}`, data: 'ok' }]));
      cluster.deliver();
      expect(cluster.core('n2').commitIndex).toBe(cluster.core('n1').lastIndex);
      expect(cluster.core('n1').role).toBe('leader');
    });
  }
});
