/**
 * The paper's Figure 8, scripted (`--figure8-script`): cycles of partitions, held messages and crashes that build the
 * figure's logs on purpose, while the clients keep working. One cycle, with A the leader of term t:
 *
 *   (a) A is cut off and appends entries nobody else gets (index i, term t); A crashes with them on its disk.
 *   (b) Another node X is elected (term u > t); its entries never leave it (the script holds every AppendEntries of
 *       terms above t); X crashes with its no-op at index i, term u, on its disk.
 *   (c) A restarts and is elected again (term v > u); it replicates index i (term t) to the others, but its own
 *       term's entries are held back. The moment index i of term t is on a majority, A crashes.
 *   (d) X restarts: its last entry (term u) beats the others' (term t), so it is elected and overwrites index i.
 *
 * A correct leader never counts replicas of index i in (c): it is not committed, and (d) is legal. A leader that does
 * (`--sabotage old-term-commit`) commits it, and (d) then elects a leader without a committed entry (Leader
 * Completeness) and overwrites it (State Machine Safety). While the script runs the random faults stay off; in (c) and
 * (d) only A, then X, may ask for votes (with five nodes the others would elect one of their own); a step that does
 * not happen within a few election timeouts ends the cycle.
 */
import { majority } from '../../src/core/quorum.js';
import type { NodeId, RaftMessage, Role } from '../../src/core/types.js';
import type { RandomStream } from './randomStreams.js';
import type { SimHost } from './simHost.js';
import { settleProposal } from './workload.js';
import type { SimWorld } from './world.js';

type Step = 'idle' | 'isolated' | 'electing-x' | 'x-leads' | 'electing-a' | 'a-leads' | 'electing-x-again' | 'ending' | 'done';

export class Figure8Script {
  private step: Step = 'idle';
  private a: SimHost | null = null;
  private x: SimHost | null = null;
  /** A's term when the cycle began, and the last index of its cut-off entries. */
  private termA = 0;
  private indexA = 0;
  /** The step's deadline (virtual time): past it the cycle ends. */
  private deadline = 0;
  /** Cycles that reached (d): the shape was built. */
  cyclesBuilt = 0;

  constructor(
    private readonly world: SimWorld,
    private readonly random: RandomStream,
  ) {}

  /** Whether a cycle is under way (the heal waits for it: it would restart the nodes the cycle keeps down). */
  get midCycle(): boolean {
    return this.step !== 'idle' && this.step !== 'done';
  }

  start(): void {
    this.world.at(this.world.queue.now + this.random.between(1000, 2000), () => this.tick());
  }

  heal(): void {
    this.step = 'done';
  }

  private tick(): void {
    const world = this.world;
    if (world.phase !== 'faults' || this.step === 'done') return;
    world.at(world.queue.now + 50, () => this.tick());
    if (this.step !== 'idle' && this.step !== 'ending' && world.queue.now > this.deadline) {
      world.record(`figure8: step ${this.step} timed out, cycle ends`);
      this.endCycle();
      return;
    }
    switch (this.step) {
      case 'idle': {
        if (world.queue.now < this.deadline) return;
        const leader = world.currentLeader();
        if (leader === undefined || world.hosts.some((host) => host.core === null)) return;
        this.a = leader;
        this.termA = leader.running.term;
        for (const other of world.hosts) {
          if (other === leader) continue;
          world.network.blockOneWay(leader.id, other.id);
          world.network.blockOneWay(other.id, leader.id);
        }
        const proposal = world.ledger.create(leader.id, world.queue.now);
        world.stats.proposals++;
        leader.propose([proposal], 20 * world.config.electionTimeoutMs, (id, outcome) => settleProposal(world, leader, id, outcome));
        this.advance('isolated', `(a) ${leader.id}, leader of term ${this.termA}, cut off with ${proposal.id}`);
        // Long enough for its disk to make the entries durable.
        world.at(world.queue.now + 200, () => {
          if (this.step !== 'isolated' || this.a !== leader) return;
          this.indexA = leader.disk.lastIndex;
          world.network.silence(leader.id, leader.incarnation);
          world.crash(leader, 'figure8 (a)', false);
          world.network.healPartitions();
          this.advance('electing-x', `(a) ${leader.id} down with index ${this.indexA} of term ${this.termA}`);
        });
        return;
      }
      default:
        return;
    }
  }

  private advance(step: Step, line: string): void {
    this.step = step;
    this.deadline = this.world.queue.now + 8 * this.world.config.electionTimeoutMs;
    this.world.record(`figure8: ${line}`);
  }

  /** Back to normal: every node up, the network whole, and a pause before the next cycle. */
  private endCycle(): void {
    const world = this.world;
    world.network.healPartitions();
    for (const host of world.hosts) {
      if (!host.up && !host.decommissioned) {
        world.record(`restart ${host.id}`);
        host.start();
      }
    }
    this.step = 'idle';
    this.a = null;
    this.x = null;
    this.deadline = world.queue.now + this.random.between(1000, 3000);
  }

  roleChanged(host: SimHost, role: Role): void {
    if (role !== 'leader') return;
    const world = this.world;
    const term = host.core?.term ?? 0;
    if (this.step === 'electing-x' && host !== this.a && term > this.termA) {
      this.x = host;
      this.advance('x-leads', `(b) ${host.id} leads term ${term}; its entries stay on its disk`);
      world.at(world.queue.now + 200, () => {
        if (this.step !== 'x-leads' || this.x !== host) return;
        world.network.silence(host.id, host.incarnation);
        world.crash(host, 'figure8 (b)', false);
        world.record(`restart ${this.a!.id}`);
        this.a!.start();
        this.advance('electing-a', `(c) ${this.a!.id} restarts`);
      });
    } else if (this.step === 'electing-a' && host === this.a) {
      this.advance('a-leads', `(c) ${host.id} leads term ${term}`);
    } else if (this.step === 'electing-x-again' && host === this.x) {
      this.cyclesBuilt++;
      world.record(`figure8: (d) ${host.id} leads term ${term}`);
      world.at(world.queue.now + 2 * world.config.electionTimeoutMs, () => this.endCycle());
      this.step = 'ending';
    }
  }

  /**
   * What the network does to a message while the script runs: entries of terms above A's are held back (null) while X
   * may lead; in (c) A's own term's entries are cut off its messages (as if they travelled in a later message that
   * is lost), so that its older entries reach the others alone.
   */
  filter(from: SimHost, _to: NodeId, message: RaftMessage): RaftMessage | null {
    // Only the node the step needs may win an election (with five nodes the others are a majority of their own).
    if (message.type === 'RequestVote') {
      if (this.step === 'electing-a') return from === this.a ? message : null;
      if (this.step === 'electing-x-again') return from === this.x ? message : null;
      return message;
    }
    if (message.type !== 'AppendEntries' && message.type !== 'InstallSnapshot') return message;
    if (this.step === 'electing-x' || this.step === 'x-leads') return message.term > this.termA ? null : message;
    if (this.step === 'a-leads' && from === this.a && message.type === 'AppendEntries' && message.entries.some((entry) => entry.term === message.term)) {
      return { ...message, entries: message.entries.filter((entry) => entry.term !== message.term) };
    }
    return message;
  }

  /** In (c): the moment index i of term t is on a majority, A crashes and X restarts. */
  delivered(host: SimHost, message: RaftMessage): void {
    if (this.step !== 'a-leads' || host !== this.a || message.type !== 'AppendEntriesResponse' || !message.success || message.index < this.indexA) return;
    const core = host.core;
    if (core === null) return;
    const chain = host.mirror.chainAt(this.indexA);
    const voters = core.members.voters;
    const holders = voters.filter((id) => this.world.host(id).mirror.chainAt(this.indexA) === chain).length;
    if (holders < majority(voters.length)) return;
    const world = this.world;
    world.stats.figure8Crashes++;
    world.network.silence(host.id, host.incarnation);
    world.crash(host, `figure8 (c): index ${this.indexA} of term ${this.termA} on ${holders}/${voters.length} voters, commit ${core.commitIndex}`, false);
    const x = this.x!;
    world.record(`restart ${x.id}`);
    x.start();
    this.advance('electing-x-again', `(d) ${x.id} restarts`);
  }
}
