/**
 * What a proposer learns when the leader it proposed to is replaced. Its proposal's entry can only have the term it
 * was proposed (or forwarded) in, and terms never decrease along a log: once the proposer applies a committed entry
 * of a later term, every entry that will ever commit before it has been applied. So the proposal is decided there,
 * either as its result (the new leader kept it) or as never committed (outcome 'not-appended', safe to retry), and
 * not as 'unknown'. The ledger checks that no proposal reported 'not-appended' is ever committed.
 */
import { describe, expect, it } from 'vitest';
import { Harness } from '../sim/harness.js';

/** A 3-node cluster led by n1 in term 1, whose follower n2 proposes `data`: the forward reaches n1, which appends it. */
function forwardedAndAppended(data: string): { cluster: Harness; id: string } {
  const cluster = new Harness({ nodes: 3 });
  cluster.campaign('n1');
  cluster.stabilize();
  const id = cluster.propose('n2', data);
  expect(cluster.deliver({ type: 'ForwardProposals' })).toBe(1);
  expect(cluster.core('n1').lastIndex).toBe(2);
  return { cluster, id };
}

/** n1 is gone; n2 and n3 time out (n2's campaign is dropped) and n3 runs for leader. */
function n3Campaigns(cluster: Harness): void {
  cluster.crash('n1');
  cluster.electionTimeout('n2');
  cluster.drop(() => true);
  cluster.electionTimeout('n3');
}

describe('a proposal whose leader is replaced is decided by what its proposer applies next', () => {
  it('the new leader kept it: the proposer gets its result, although another leader took over', () => {
    const { cluster, id } = forwardedAndAppended('kept');
    // Only n3 stores the entry; n1 crashes before anything commits it.
    expect(cluster.deliver({ type: 'AppendEntries', to: 'n3' })).toBe(1);
    cluster.drop(() => true);
    n3Campaigns(cluster);
    cluster.stabilize();
    expect(cluster.leader()).toBe('n3');
    expect(cluster.appliedCommands('n2')).toEqual(['kept']);
    expect(cluster.failures.has(id)).toBe(false);
    expect(cluster.ledger.get(id)?.status).toBe('acknowledged');
  });

  it('the new leader never had it: the proposer learns it never commits once it applies the new term', () => {
    const { cluster, id } = forwardedAndAppended('lost');
    // Nobody but n1 stores the entry; n1 crashes, and n3 is elected without it.
    cluster.drop(() => true);
    n3Campaigns(cluster);
    cluster.stabilize();
    expect(cluster.leader()).toBe('n3');
    expect(cluster.core('n2').leader).toBe('n3');
    expect(cluster.failures.get(id)).toEqual({ code: 'NOT_LEADER', leaderHint: 'n3', outcome: 'not-appended' });
    // The old leader comes back with the entry in its log; it is overwritten, never committed (the ledger checks).
    cluster.restart('n1');
    cluster.heartbeat('n3');
    cluster.stabilize();
    for (const node of cluster.ids) expect(cluster.appliedCommands(node)).toEqual([]);
  });

  it('before the new term is applied, knowing of the new leader decides nothing', () => {
    const { cluster, id } = forwardedAndAppended('undecided');
    cluster.drop(() => true);
    n3Campaigns(cluster);
    // n3 wins the vote, but no append reaches n2: it has applied nothing of term 2 yet.
    for (let round = 0; round < 20 && cluster.leader() !== 'n3'; round++) cluster.deliver(({ message }) => message.type !== 'AppendEntries');
    expect(cluster.leader()).toBe('n3');
    expect(cluster.failures.has(id)).toBe(false);
    expect(cluster.ledger.get(id)?.status).toBe('pending');
    cluster.stabilize();
    expect(cluster.failures.get(id)?.outcome).toBe('not-appended');
  });
});
