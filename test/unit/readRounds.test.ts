/**
 * ReadIndex (Raft thesis 6.4): a read is confirmed by a heartbeat round a majority answers. Found by review: a
 * read's round ran the heartbeat tick's loss detector, so every read resent the entries in flight; and a follower
 * busy with a snapshot got no rounds (or answered none), so reads and leases stalled for the whole transfer and
 * check-quorum could depose a healthy leader.
 */
import { describe, expect, it } from 'vitest';
import { RaftCore, seededRandom, type AppendEntries, type Effect, type SnapshotMeta } from '../../src/core/index.js';
import { CoreCluster, isType } from './coreCluster.js';

const appends = (effects: readonly Effect[]): AppendEntries[] =>
  effects.flatMap((effect) => (effect.type === 'send' && effect.message.type === 'AppendEntries' ? [effect.message] : []));

describe("a read's heartbeat round", () => {
  it('never resends entries in flight: loss detection belongs to the heartbeat tick', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3']);
    cluster.elect('n1');
    cluster.input('n1', (core) => core.heartbeatDue());
    cluster.deliver();
    // An entry goes out and its messages are still in flight when reads arrive.
    cluster.input('n1', (core) => core.propose([{ id: 'p1', data: 'x' }]));
    const inFlight = cluster.drop(isType('AppendEntries'));
    expect(inFlight.map(({ message }) => (message as AppendEntries).entries.length)).toEqual([1, 1]);
    for (const id of ['r1', 'r2', 'r3']) {
      const sent = appends(cluster.input('n1', (core) => core.readIndex([id])));
      expect(sent).toHaveLength(2);
      expect(sent.every((message) => message.entries.length === 0)).toBe(true);
    }
  });

  it('is answered by a follower that is being sent a snapshot, so reads and check-quorum keep counting it', () => {
    const cluster = new CoreCluster(['n1', 'n2', 'n3'], { snapshotThreshold: 5, snapshotTrailingEntries: 0 });
    cluster.elect('n1');
    // n3 is cut off while the leader commits and compacts past what n3 has.
    for (let i = 0; i < 12; i++) {
      cluster.input('n1', (core) => core.propose([{ id: `p${i}`, data: `v${i}` }]));
      cluster.drop(({ to, from }) => to === 'n3' || from === 'n3');
      cluster.deliver();
    }
    expect(cluster.core('n1').snapshotIndex).toBeGreaterThan(5);
    // Healed: the leader finds n3 behind its log and starts a snapshot transfer, whose chunks the store has not read.
    for (let tick = 0; tick < 2; tick++) {
      cluster.input('n1', (core) => core.heartbeatDue());
      cluster.deliver();
    }
    expect(cluster.effectsOf('n1', 'readSnapshotChunk').some((effect) => effect.to === 'n3')).toBe(true);
    // n2 goes down. A read needs n3's answer to a round.
    cluster.input('n1', (core) => core.readIndex(['read']));
    cluster.drop(({ to }) => to === 'n2');
    cluster.deliver();
    expect(cluster.effectsOf('n1', 'readReady').flatMap((effect) => effect.ids)).toContain('read');
    // Check-quorum counts n3 as active: the leader stays.
    cluster.input('n1', (core) => core.heartbeatDue());
    cluster.drop(({ to }) => to === 'n2');
    cluster.deliver();
    cluster.input('n1', (core) => core.electionTimeout());
    expect(cluster.core('n1').role).toBe('leader');
  });

  it('is answered by a follower restoring its state machine from an installed snapshot', () => {
    const voters = ['n1', 'n2', 'n3'];
    const follower = new RaftCore({ id: 'n2', voters, random: seededRandom(1) });
    follower.start();
    const meta: SnapshotMeta = { index: 10, term: 1, voters, learners: [] };
    follower.receive('n1', { type: 'InstallSnapshot', term: 1, round: 3, meta, chunk: 0, data: new Uint8Array([1]), done: true });
    const restore = follower.snapshotChunkWritten(meta, 0, true);
    expect(restore.some((effect) => effect.type === 'restoreSnapshot')).toBe(true);
    // While the state machine restores, a heartbeat of round 4 arrives: it is answered with that round.
    const answer = follower.receive('n1', { type: 'AppendEntries', term: 1, prevLogIndex: 10, prevLogTerm: 1, entries: [], leaderCommit: 10, round: 4 });
    const rounds = answer.flatMap((effect) => (effect.type === 'send' && 'round' in effect.message ? [effect.message.round] : []));
    expect(rounds).toEqual([4]);
  });

  it("echoes the round of the leader's latest message, so that one forged round does not poison every later answer", () => {
    const voters = ['n1', 'n2', 'n3'];
    const follower = new RaftCore({ id: 'n2', voters, random: seededRandom(1) });
    follower.start();
    const meta: SnapshotMeta = { index: 10, term: 1, voters, learners: [] };
    const chunk = (number: number, round: number, done: boolean) =>
      follower.receive('n1', { type: 'InstallSnapshot', term: 1, round, meta, chunk: number, data: new Uint8Array([number]), done });
    chunk(0, 1e6, false); // forged in the leader's name
    chunk(1, 5, true);
    const answers = follower.snapshotChunkWritten(meta, 1, true);
    // The chunk is stored and the restore begins; a heartbeat meanwhile is answered with its own round.
    expect(answers.some((effect) => effect.type === 'restoreSnapshot')).toBe(true);
    const busy = follower.receive('n1', { type: 'AppendEntries', term: 1, prevLogIndex: 10, prevLogTerm: 1, entries: [], leaderCommit: 10, round: 6 });
    expect(busy.flatMap((effect) => (effect.type === 'send' && 'round' in effect.message ? [effect.message.round] : []))).toEqual([6]);
    const writes = answers.flatMap((effect) => (effect.type === 'persist' ? [effect.writeId] : []));
    for (const writeId of writes) follower.persisted(writeId);
    const installed = follower.snapshotRestored(meta);
    expect(installed.flatMap((effect) => (effect.type === 'send' && 'round' in effect.message ? [effect.message.round] : []))).toEqual([6]);
  });
});
