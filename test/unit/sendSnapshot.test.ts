/**
 * A leader sending its snapshot (paper section 7, sender side), on the bare core: when the store answers that the
 * chunk the follower needs does not exist (its snapshot is being replaced), the leader tries again on its next
 * heartbeat, not at once.
 *
 * Found by the Jepsen runs with snapshots every 200 entries: a leader that had just taken a snapshot asked for a
 * chunk while its store was swapping generations; the store answered "no such chunk" without any I/O, the leader
 * asked again at once, and the two went on in microtasks forever: the process never turned its event loop again.
 */
import { describe, expect, it } from 'vitest';
import { RaftCore, seededRandom, type Effect, type SnapshotMeta } from '../../src/core/index.js';

const voters = ['n1', 'n2', 'n3'];
const snapshot: SnapshotMeta = { index: 10, term: 1, voters, learners: [] };

/** n1, restarted from a snapshot at 10 with an empty log after it, elected leader of term 2 by n2. */
function leader(): RaftCore {
  const core = new RaftCore({
    id: 'n1',
    voters,
    config: { preVote: false },
    random: seededRandom(1),
    recovered: { hardState: { term: 1, votedFor: null, commit: 10 }, snapshot, entries: [] },
  });
  let effects: Effect[] = [...core.start(), ...core.electionTimeout()];
  const durable = (list: readonly Effect[]) => list.flatMap((effect) => (effect.type === 'persist' ? core.persisted(effect.writeId) : []));
  effects = [...effects, ...durable(effects)];
  effects = core.receive('n2', { type: 'RequestVoteResponse', term: 2, granted: true, preVote: false });
  durable(effects);
  expect(core.role).toBe('leader');
  return core;
}

const chunkReads = (effects: readonly Effect[], to: string) =>
  effects.flatMap((effect) => (effect.type === 'readSnapshotChunk' && effect.to === to ? [effect.chunk] : []));

describe('a leader sending its snapshot', () => {
  it('asks its store again for a missing chunk on the next heartbeat, not at once', () => {
    const core = leader();
    // n3 is far behind: its entries are in the snapshot only.
    const reads = chunkReads(core.receive('n3', { type: 'AppendEntriesResponse', term: 2, success: false, index: 10, hintIndex: 0, hintTerm: 0, round: 0 }), 'n3');
    expect(reads).toContain(0);
    expect(chunkReads(core.snapshotChunkMissing('n3', 0), 'n3')).toEqual([]);
    // The next heartbeats go back to the first unanswered chunk.
    const later = [...core.heartbeatDue(), ...core.heartbeatDue()];
    expect(chunkReads(later, 'n3')).toContain(0);
  });
});
