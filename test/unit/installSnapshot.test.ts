/**
 * A follower receiving snapshots (paper section 7, receiver side), on the bare core: the snapshot whose last chunk is
 * being written becomes the follower's, whatever else the network brings while the write is under way.
 *
 * Found by the Jepsen runs with snapshots every 200 entries: a newer snapshot's first chunk arrived while the previous
 * one's last chunk was still being written; the follower started on the newer one and dropped the older from its
 * memory, but the store had already made the older one current. The core and its store disagreed from then on, and
 * the next append was refused by the store, which stopped the node.
 */
import { describe, expect, it } from 'vitest';
import { RaftCore, seededRandom, type Effect, type InstallSnapshot, type SnapshotMeta } from '../../src/core/index.js';

const voters = ['n1', 'n2', 'n3'];

function follower(): RaftCore {
  const core = new RaftCore({
    id: 'n2',
    voters,
    random: seededRandom(1),
    recovered: { hardState: { term: 0, votedFor: null, commit: 0 }, snapshot: null, entries: [] },
  });
  core.start();
  return core;
}

const meta = (index: number): SnapshotMeta => ({ index, term: 1, voters, learners: [] });
const chunk = (snapshot: SnapshotMeta, number: number, done: boolean): InstallSnapshot => ({
  type: 'InstallSnapshot',
  term: 1,
  round: 0,
  meta: snapshot,
  chunk: number,
  data: new Uint8Array([number]),
  done,
});
const writes = (effects: readonly Effect[]) =>
  effects.flatMap((effect) => (effect.type === 'writeSnapshotChunk' ? [`${effect.meta.index}#${effect.chunk}${effect.done ? ' done' : ''}`] : []));
const restores = (effects: readonly Effect[]) => effects.flatMap((effect) => (effect.type === 'restoreSnapshot' ? [effect.meta.index] : []));

describe('a follower installing snapshots', () => {
  it('installs the snapshot whose last chunk it is writing, though a newer snapshot starts arriving meanwhile', () => {
    const core = follower();
    const older = meta(400);
    const newer = meta(600);
    expect(writes(core.receive('n1', chunk(older, 0, false)))).toEqual(['400#0']);
    expect(writes(core.snapshotChunkWritten(older, 0, false))).toEqual([]);
    expect(writes(core.receive('n1', chunk(older, 1, true)))).toEqual(['400#1 done']);
    // The leader has snapshotted again and starts over with the newer one before the write above is durable.
    expect(writes(core.receive('n1', chunk(newer, 0, false)))).toEqual([]);
    // The store made the older snapshot current: so must the core.
    expect(restores(core.snapshotChunkWritten(older, 1, true))).toEqual([400]);
    core.snapshotRestored(older);
    expect(core.snapshotIndex).toBe(400);
    // Then the newer one is taken from its first chunk, as the leader sends it again.
    expect(writes(core.receive('n1', chunk(newer, 0, false)))).toEqual(['600#0']);
  });

  it('takes no newer snapshot while the state machine is being restored from the installed one', () => {
    const core = follower();
    const installed = meta(400);
    const newer = meta(600);
    core.receive('n1', chunk(installed, 0, true));
    expect(restores(core.snapshotChunkWritten(installed, 0, true))).toEqual([400]);
    // The restore reads the installed snapshot from the store: a newer one must not replace it there meanwhile.
    expect(writes(core.receive('n1', chunk(newer, 0, true)))).toEqual([]);
    core.snapshotRestored(installed);
    expect(writes(core.receive('n1', chunk(newer, 0, true)))).toEqual(['600#0 done']);
  });

  it('does not forget the snapshot it is writing when an older one, already covered, arrives meanwhile', () => {
    const core = follower();
    const current = meta(400);
    expect(writes(core.receive('n1', chunk(current, 0, true)))).toEqual(['400#0 done']);
    // A delayed copy of an old transfer (covered by what this node will hold) must not clear what is being written.
    core.receive('n1', chunk(meta(0), 0, true));
    expect(restores(core.snapshotChunkWritten(current, 0, true))).toEqual([400]);
  });
});
