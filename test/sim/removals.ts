/**
 * Removing a voter that keeps running (`--removals`): once per run the leader is asked, through its node, to remove
 * itself or a follower (seeded), and the removed node is *not* stopped. What must hold: the cluster stays live without
 * it (a leader removing itself hands over), and the removed node learns it was removed and stops campaigning: in a
 * window some election timeouts after the removal committed and the faults healed, it sends no (pre-)vote request.
 */
import type { NodeId, RaftMessage } from '../../src/core/types.js';
import { MembershipChangeError } from '../../src/errors.js';
import type { RandomStream } from './randomStreams.js';
import { SafetyViolation } from './safetyViolation.js';
import type { SimHost } from './simHost.js';
import type { SimWorld } from './world.js';

export class Removals {
  /** The voter to remove, once chosen; whether the leader removed itself. */
  private victim: NodeId | null = null;
  private wasLeader = false;
  private nextChangeId = 1;
  /** When the removal was first seen committed (virtual time). */
  private committedAt: number | null = null;
  /** Vote requests the removed node sent inside the quiet window. */
  private campaignsInWindow = 0;
  private healedAt: number | null = null;

  constructor(
    private readonly world: SimWorld,
    private readonly random: RandomStream,
  ) {}

  /** The window in which the removed node must be quiet: [start, end] of virtual time, once known. */
  private window(): { start: number; end: number } | null {
    if (this.committedAt === null || this.healedAt === null) return null;
    const start = Math.max(this.committedAt, this.healedAt) + 5 * this.world.config.electionTimeoutMs;
    return { start, end: start + 3 * this.world.config.electionTimeoutMs };
  }

  get settled(): boolean {
    if (this.victim === null) return true;
    this.observe();
    const window = this.window();
    return window !== null && this.world.queue.now >= window.end;
  }

  get unsettled(): string {
    return this.victim === null ? '' : `removal of ${this.victim} ${this.committedAt === null ? 'not committed' : 'in its quiet window'}`;
  }

  /** Choose the victim (once) and ask the leader to remove it; asked again until the removal commits. */
  inject(): void {
    const world = this.world;
    const leader = world.currentLeader();
    if (leader === undefined) return;
    const voters = leader.running.members.voters;
    if (this.victim === null) {
      // Keep at least two voters: one crash then still leaves a majority possible after a restart.
      if (voters.length < 3) return;
      this.wasLeader = this.random.chance(0.5);
      this.victim = this.wasLeader ? leader.id : this.random.pick(voters.filter((id) => id !== leader.id));
      world.record(`removal: ${this.victim} (${this.wasLeader ? 'the leader' : 'a follower'}) is to be removed and keep running`);
    }
    this.observe();
    if (this.committedAt !== null || !voters.includes(this.victim)) return;
    const id = `x${this.nextChangeId++}`;
    const victim = this.victim;
    leader.changeMembership(id, { type: 'remove', id: victim }, false, 20 * world.config.electionTimeoutMs, (outcome) => {
      if (!outcome.ok && outcome.error instanceof MembershipChangeError) world.record(`removal: ${leader.id} refused ${id} (${outcome.error.reason})`);
      else world.record(`removal: ${id} ${outcome.ok ? 'applied' : `failed (${(outcome.error as { code?: string }).code ?? outcome.error.name})`}`);
    });
  }

  /** Note when the removal is first seen committed. */
  private observe(): void {
    if (this.victim === null || this.committedAt !== null) return;
    const leader = this.world.currentLeader();
    if (leader === undefined) return;
    const initial = { voters: this.world.hosts.map((host) => host.id), learners: [] };
    const committed = this.world.checker.committedMembership(leader.running.commitIndex, initial);
    if (!committed.voters.includes(this.victim) && !committed.learners.includes(this.victim)) {
      this.committedAt = this.world.queue.now;
      this.world.stats.removedRunning++;
      this.world.record(`removal: ${this.victim} removed (committed)`);
    }
  }

  /** Count the removed node's vote requests inside its quiet window. */
  sent(from: SimHost, message: RaftMessage): void {
    if (from.id !== this.victim || message.type !== 'RequestVote') return;
    const window = this.window();
    if (window !== null && this.world.queue.now >= window.start && this.world.queue.now <= window.end) this.campaignsInWindow++;
  }

  heal(): void {
    this.healedAt = this.world.queue.now;
    // After the heal the removal is pushed every tick until it commits.
    const tick = (): void => {
      this.inject();
      if (this.committedAt === null) this.world.at(this.world.queue.now + 250, tick);
    };
    this.world.at(this.world.queue.now, tick);
  }

  checkAtEnd(): void {
    if (this.victim === null) return;
    const host = this.world.host(this.victim);
    if (this.campaignsInWindow > 0) {
      throw new SafetyViolation(
        'Removed Node Campaigns',
        `${this.victim} (removed ${this.wasLeader ? 'as leader' : 'as a follower'}, still running as ${host.state}) sent ${this.campaignsInWindow} vote requests 5 to 8 election timeouts after its removal committed`,
      );
    }
  }
}
