/**
 * Membership changes, learners, bootstrap and leadership transfer on real nodes (issue 6).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { MembershipChangeError, NotLeaderError, TransferAbortedError } from '../../src/index.js';
import { leaderCanServe, TestCluster, testConfig, within, withoutTime } from '../support/cluster.js';

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.stop();
});

describe('bootstrap', () => {
  test('a single-node cluster becomes leader at start, without waiting for an election timeout', async () => {
    cluster = new TestCluster(['solo']);
    const solo = cluster.get('solo');
    await cluster.waitFor(() => solo.node.status().role === 'leader', 'the only voter to lead once recovered');
    expect(solo.timer.time).toBe(0);
  });
});

describe('learners and single-server changes', () => {
  test('a cluster grows from one node to three through learners that are promoted once caught up', async () => {
    cluster = new TestCluster(['n1']);
    const leader = cluster.get('n1');
    await cluster.waitFor(() => leaderCanServe(leader.node), 'n1 to lead at bootstrap and commit its first entry');
    for (let i = 0; i < 20; i++) await within(cluster, leader.node.propose({ op: 'add', by: 1 }));
    const added: string[][] = [];
    leader.node.on('membershipChanged', ({ voters }) => added.push([...voters]));
    for (const id of ['n2', 'n3']) {
      const joining = cluster.join(id);
      expect(joining.node.status().role).not.toBe('leader');
      await within(cluster, leader.node.addLearner(id, { promote: true }));
      const promoted = () => leader.node.members().voters.includes(id) && leader.node.status().commitIndex === leader.node.status().lastIndex;
      await cluster.until(promoted, 2000, `${id} promoted and the promotion committed`);
    }
    expect(leader.node.members()).toEqual({ voters: ['n1', 'n2', 'n3'], learners: [] });
    expect(added.at(-1)).toEqual(['n1', 'n2', 'n3']);
    await within(cluster, leader.node.propose({ op: 'add', by: 1 }));
    await cluster.until(() => cluster.nodes.every(({ stateMachine }) => stateMachine.state === 21), 2000, 'all applied');
    // Now a majority of three is needed: with both new voters cut off the leader cannot commit.
    cluster.hub.isolate('n1');
    const stuck = leader.node.propose({ op: 'add', by: 1 }, { timeoutMs: 50 }).catch((error: unknown) => error);
    expect(await within(cluster, stuck)).toMatchObject({ code: 'TIMEOUT' });
  });

  test('a learner receives the log but never votes or campaigns', async () => {
    cluster = new TestCluster(['n1']);
    const leader = cluster.get('n1');
    await cluster.waitFor(() => leaderCanServe(leader.node), 'n1 to lead at bootstrap and commit its first entry');
    const learner = cluster.join('n2');
    await within(cluster, leader.node.addLearner('n2'));
    await within(cluster, leader.node.propose({ op: 'add', by: 4 }));
    await cluster.until(() => learner.stateMachine.state === 4, 1000, 'learner applied');
    await leader.node.stop();
    await cluster.advance(2000);
    expect(learner.node.status().role).toBe('follower');
    expect(learner.node.status().term).toBe(leader.node.status().term);
  });

  test('invalid changes are refused with a clear, typed error', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    await cluster.advance(20);
    const duplicate = await within(cluster, leader.node.addLearner('n2')).catch((error: unknown) => error);
    expect(duplicate).toBeInstanceOf(MembershipChangeError);
    expect(duplicate).toMatchObject({ reason: 'ALREADY_MEMBER' });
    const unknown = await within(cluster, leader.node.removeMember('n9')).catch((error: unknown) => error);
    expect(unknown).toMatchObject({ code: 'MEMBERSHIP', reason: 'NOT_A_MEMBER' });
    expect(leader.node.members().voters).toEqual(['n1', 'n2', 'n3']);
  });

  test('removing the leader: it hands leadership over once the change commits, says it was removed, and the others go on without it', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    await within(cluster, leader.node.propose({ op: 'add', by: 1 }));
    const rest = cluster.nodes.filter(({ id }) => id !== leader.id);
    const before = rest[0]!.timer.time;
    await within(cluster, leader.node.removeMember(leader.id));
    expect(leader.node.status().role).toBe('removed');
    await cluster.until(() => rest.some(({ node }) => node.status().role === 'leader'), 5000, 'a new leader');
    // Handed over with TimeoutNow: no election timeout had to pass.
    expect(rest[0]!.timer.time - before).toBeLessThan(testConfig.electionTimeoutMs!);
    const next = rest.find(({ node }) => node.status().role === 'leader')!;
    expect(next.node.members().voters).not.toContain(leader.id);
    expect(await within(cluster, next.node.propose({ op: 'add', by: 1 }))).toBe(2);
    await cluster.advance(3000);
    expect(leader.node.status().role).toBe('removed');
  });
});

describe('leadership transfer', () => {
  test('completes in one round trip in a healthy cluster: no timer has to fire', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    await within(cluster, leader.node.propose({ op: 'add', by: 1 }));
    const target = cluster.nodes.find(({ id }) => id !== leader.id)!;
    const before = target.timer.time;
    const transfer = leader.node.transferLeadership(target.id);
    const during = await leader.node.propose({ op: 'add', by: 1 }).catch((error: unknown) => error);
    expect(during).toBeInstanceOf(NotLeaderError);
    expect(during).toMatchObject({ leaderHint: target.id, outcome: 'not-appended' });
    // TimeoutNow makes the target campaign at once: the transfer completes with no time passing.
    await withoutTime(transfer, 'the transfer to complete without time passing');
    expect(target.timer.time).toBe(before);
    expect(target.node.status().role).toBe('leader');
    expect(leader.node.status().role).toBe('follower');
    expect(target.node.status().term).toBe(leader.node.status().term);
  });

  test('aborts cleanly after an election timeout when the target is unreachable, and the leader leads on', async () => {
    cluster = new TestCluster(['n1', 'n2', 'n3']);
    const leader = await cluster.electLeader();
    await within(cluster, leader.node.propose({ op: 'add', by: 1 }));
    const target = cluster.nodes.find(({ id }) => id !== leader.id)!;
    cluster.hub.isolate(target.id);
    const outcome = await within(cluster, leader.node.transferLeadership(target.id)).catch((error: unknown) => error);
    expect(outcome).toBeInstanceOf(TransferAbortedError);
    expect(leader.node.status().role).toBe('leader');
    expect(await within(cluster, leader.node.propose({ op: 'add', by: 1 }))).toBe(2);
  });
});
