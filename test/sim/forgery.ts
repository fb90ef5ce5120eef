/**
 * A misbehaving peer (`--forge`): now and then a node is handed a message "from" a member that passes the schema
 * (every field present and well typed) but breaks an invariant of the protocol:
 *
 * - AppendEntries whose entries are not contiguous;
 * - AppendEntries with an entry whose term is above the message's term;
 * - AppendEntries with a config entry whose data does not decode;
 * - AppendEntries whose commit index, or prevLogIndex, is far beyond any log;
 * - AppendEntriesResponse for a round and an index the leader never sent;
 * - InstallSnapshotResponse for a snapshot index the leader never sent;
 * - RequestVoteResponse granting a vote nobody asked for (to a node that is not campaigning).
 *
 * Each claims the sender's current term (a higher one would legitimately move the receiver's term). What must hold:
 * the node refuses the message and changes nothing (no node stops, every safety check holds), and the cluster stays
 * live after the heal. The refusals the nodes emit are counted in the trace.
 */
import type { Entry, NodeId, RaftMessage } from '../../src/core/types.js';
import type { NodeEmitted } from '../../src/node/machine.js';
import type { RandomStream } from './randomStreams.js';
import type { SimHost } from './simHost.js';
import type { SimWorld } from './world.js';

export type ForgedKind =
  | 'non-contiguous'
  | 'entry-term-above-message'
  | 'undecodable-config'
  | 'commit-beyond-log'
  | 'prev-beyond-log'
  | 'response-never-sent'
  | 'snapshot-response-never-sent'
  | 'vote-never-asked';
const kinds: readonly ForgedKind[] = [
  'non-contiguous',
  'entry-term-above-message',
  'undecodable-config',
  'commit-beyond-log',
  'prev-beyond-log',
  'response-never-sent',
  'snapshot-response-never-sent',
  'vote-never-asked',
];

const FAR = 1_000_000;

export class Forgery {
  private nextForged = 1;
  /** Refusals the nodes reported. */
  refusals = 0;

  constructor(
    private readonly world: SimWorld,
    private readonly random: RandomStream,
  ) {}

  inject(): void {
    const kind = this.random.pick(kinds);
    const forged = this.forge(kind);
    if (forged === null) return;
    const { to, from, message } = forged;
    this.world.stats.forgedMessages++;
    this.world.record(`forge ${kind}: ${from}->${to.id} ${JSON.stringify(message, (_key, value: unknown) => (value instanceof Uint8Array ? `<${value.byteLength} bytes>` : value))}`);
    to.deliver(from, message);
  }

  observed(host: SimHost, event: NodeEmitted): void {
    if (event.type === 'refused') this.refusals++;
    void host;
  }

  /** A forged message of `kind`, with its receiver and claimed sender, or null when the cluster has no fitting pair. */
  private forge(kind: ForgedKind): { to: SimHost; from: NodeId; message: RaftMessage } | null {
    const world = this.world;
    const leader = world.currentLeader();
    const running = world.hosts.filter((host) => host.core !== null);
    if (running.length === 0) return null;
    const seq = this.nextForged++;
    const entry = (index: number, term: number, kind: Entry['kind'] = 'command', data = `forged${seq}`): Entry => ({ index, term, kind, data });

    if (kind === 'response-never-sent' || kind === 'snapshot-response-never-sent') {
      // To the leader, from one of its followers.
      if (leader === undefined) return null;
      const core = leader.running;
      const followers = core.members.voters.filter((id) => id !== leader.id);
      if (followers.length === 0) return null;
      const from = this.random.pick(followers);
      const message: RaftMessage = kind === 'response-never-sent'
        ? { type: 'AppendEntriesResponse', term: core.term, success: true, index: core.lastIndex + 1000, hintIndex: 0, hintTerm: 0, round: FAR + seq }
        : { type: 'InstallSnapshotResponse', term: core.term, index: core.lastIndex + 1000, nextChunk: 7, installed: true, round: FAR + seq };
      return { to: leader, from, message };
    }

    // To a follower (not campaigning), from the leader it knows (or any other member), in the follower's term.
    const followers = running.filter((host) => host.running.role === 'follower');
    if (followers.length === 0) return null;
    const to = this.random.pick(followers);
    const core = to.running;
    const from = core.leader ?? this.random.pick(world.hosts.filter((host) => host.id !== to.id)).id;
    const term = core.term;
    if (kind === 'vote-never-asked') {
      return { to, from, message: { type: 'RequestVoteResponse', term, granted: true, preVote: this.random.chance(0.5) } };
    }
    const prevLogIndex = kind === 'prev-beyond-log' ? core.lastIndex + FAR : core.commitIndex;
    const prevLogTerm = kind === 'prev-beyond-log' ? term : (core.termAt(prevLogIndex) ?? 0);
    let entries: Entry[] = [];
    let leaderCommit = core.commitIndex;
    switch (kind) {
      case 'non-contiguous':
        entries = [entry(prevLogIndex + 1, term), entry(prevLogIndex + 3, term)];
        break;
      case 'entry-term-above-message':
        entries = [entry(prevLogIndex + 1, term + 5)];
        break;
      case 'undecodable-config':
        entries = [entry(prevLogIndex + 1, term, 'config', '{"voters":')];
        break;
      case 'commit-beyond-log':
        leaderCommit = core.lastIndex + FAR;
        break;
      case 'prev-beyond-log':
        break;
    }
    return { to, from, message: { type: 'AppendEntries', term, prevLogIndex, prevLogTerm, entries, leaderCommit, round: FAR + seq } };
  }
}
