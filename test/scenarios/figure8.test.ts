/**
 * Raft paper, section 5.4.2 and Figure 8: "a leader cannot immediately conclude that an entry from a previous term
 * is committed once it is stored on a majority of servers", because a later leader may still overwrite it. Raft
 * "never commits log entries from previous terms by counting replicas"; only an entry of the current term is, and it
 * commits everything before it.
 *
 * The paper's five servers S1..S5 are n1..n5; its terms 2, 3, 4, 5 are our terms 1, 2, 3, 4 (our term 1 carries the
 * entry at index 1 that every server shares in the figure, so the figure's index 2 is our index 2). Entries travel
 * one per message so that an old entry can reach a follower before the new leader's own entry does.
 */
import { describe, expect, it } from 'vitest';
import { Harness, type InFlightMessage } from '../sim/harness.js';

/** An AppendEntries to `to` that carries an entry of `term`. */
const carriesTerm = (to: string, term: number) => (m: InFlightMessage) =>
  m.to === to && m.message.type === 'AppendEntries' && m.message.entries.some((entry) => entry.term === term);

/** Brings the cluster to Figure 8 (c): n1, leader in term 3, has replicated index 2 (term 1) to n2 and n3. */
function figure8c(): Harness {
  const cluster = new Harness({ nodes: 5, config: { maxEntriesPerMessage: 1 } });
  // Index 1 (term 1) on everyone, committed.
  cluster.campaign('n1');
  cluster.stabilize();
  expect(cluster.core('n1').commitIndex).toBe(1);

  // (a) n1 is leader and replicates index 2 to n2 only.
  cluster.propose('n1', 'x');
  cluster.deliver({ to: 'n2' });
  cluster.drop(() => true);
  cluster.deliver({ from: 'n2' });
  expect(cluster.terms('n1')).toEqual([1, 1]);
  expect(cluster.terms('n2')).toEqual([1, 1]);
  expect(cluster.core('n1').commitIndex).toBe(1);

  // (b) n1 crashes; n5 is elected in term 2 by n3, n4 and itself, and appends index 2 (term 2) only locally.
  cluster.crash('n1');
  for (const id of ['n2', 'n3', 'n4', 'n5']) cluster.electionTimeout(id); // everyone stops hearing from n1
  cluster.drop(() => true);
  cluster.campaign('n5');
  cluster.deliver({ from: 'n5', type: 'RequestVote' });
  cluster.deliver({ to: 'n5', type: 'RequestVoteResponse' });
  expect(cluster.core('n5').role).toBe('leader');
  expect(cluster.core('n5').term).toBe(2);
  expect(cluster.terms('n5')).toEqual([1, 2]);
  cluster.drop(() => true);
  cluster.crash('n5');

  // (c) n1 restarts and is elected in term 3 (n2, n3, n4 vote for it); it appends index 3 (term 3) and replicates
  // the old index 2 (term 1) to n3, but n3 does not receive index 3.
  cluster.restart('n1');
  cluster.campaign('n1');
  cluster.campaign('n1');
  cluster.deliver({ type: 'RequestVote' });
  cluster.deliver({ to: 'n1', type: 'RequestVoteResponse' });
  expect(cluster.core('n1').role).toBe('leader');
  expect(cluster.core('n1').term).toBe(3);
  expect(cluster.terms('n1')).toEqual([1, 1, 3]);
  cluster.drop({ to: 'n4' });
  cluster.drop({ to: 'n5' });
  // n2 already holds index 2 and takes index 3; n3 rejects the first probe (it lacks index 2) and is backed up,
  // receiving index 2 alone; the message carrying index 3 to n3 is lost.
  cluster.deliver({ to: 'n3' });
  for (let i = 0; i < 10 && cluster.messages.length > 0; i++) {
    cluster.drop(carriesTerm('n3', 3));
    cluster.drop({ to: 'n4' });
    cluster.drop({ to: 'n5' });
    cluster.deliver();
  }
  expect(cluster.terms('n3')).toEqual([1, 1]);
  return cluster;
}

describe('Figure 8: a leader never commits an entry of an older term by counting replicas', () => {
  it('does not commit index 2 (an older term) although a majority stores it, and a later leader may overwrite it', () => {
    const cluster = figure8c();
    // Index 2 is stored on n1, n2 and n3: a majority. It must not be committed, because...
    expect(cluster.core('n1').commitIndex).toBe(1);
    expect(cluster.node('n1').stateMachine.lastApplied).toBe(1);

    // (d) ...n1 crashes and n5 (whose last entry has term 2) is elected in term 4 by n3 and n4, and overwrites
    // index 2 everywhere it can reach. Nothing committed is lost (the safety checker verifies it at every step).
    crashLeaderThenCampaignN5(cluster);
    expect(cluster.core('n5').role).toBe('leader');
    expect(cluster.core('n5').term).toBe(4);
    for (const id of ['n2', 'n3', 'n4', 'n5']) expect(cluster.terms(id)).toEqual([1, 2, 4]);
    expect(cluster.core('n5').commitIndex).toBe(3);
    expect(cluster.appliedCommands('n3')).not.toContain('x');
  });

  it('(e) once an entry of the current term is stored on a majority, it commits the older entries with it', () => {
    const cluster = figure8c();
    // The message carrying index 3 to n3 was lost; after a heartbeat interval without progress n1 sends it again, and
    // the current term's entry is then on n1, n2, n3.
    cluster.heartbeat('n1');
    cluster.heartbeat('n1');
    for (let i = 0; i < 10 && cluster.messages.length > 0; i++) {
      cluster.drop({ to: 'n4' });
      cluster.drop({ to: 'n5' });
      cluster.deliver();
    }
    expect(cluster.terms('n3')).toEqual([1, 1, 3]);
    expect(cluster.core('n1').commitIndex).toBe(3);
    expect(cluster.appliedCommands('n1')).toEqual(['x']);

    // n5 can no longer be elected: n2 and n3 hold a more up-to-date log than its [1, 2].
    crashLeaderThenCampaignN5(cluster);
    expect(cluster.core('n5').role).not.toBe('leader');
  });
});

/** n1 (leader of term 3) crashes; n5 comes back and campaigns while the others' election timers have fired. */
function crashLeaderThenCampaignN5(cluster: ReturnType<typeof figure8c>): void {
  cluster.crash('n1');
  cluster.restart('n5');
  for (const id of ['n2', 'n3', 'n4']) cluster.electionTimeout(id);
  cluster.drop(() => true);
  cluster.campaign('n5');
  cluster.campaign('n5');
  cluster.stabilize();
}
