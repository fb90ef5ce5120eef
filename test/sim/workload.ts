/**
 * The simple parts of the workload: plain proposals to random nodes (most to the leader), the liveness probe of the
 * heal phase, and the membership schedule's access to the cluster. The key-value clients are in kvClients.ts.
 *
 * Every call goes through the real node, as an application's would: the runtime's waiters tell the caller its
 * outcome, and the ledger records what each caller was told.
 */
import type { Membership, MembershipChange } from '../../src/core/membership.js';
import type { Entry, NodeId, SnapshotMeta } from '../../src/core/types.js';
import { MembershipChangeError, NotLeaderError } from '../../src/errors.js';
import type { MembershipHost } from './membershipSchedule.js';
import type { RandomStream } from './randomStreams.js';
import { SafetyViolation } from './safetyViolation.js';
import type { CallOutcome, SimHost } from './simHost.js';
import type { SimWorld } from './world.js';

/** Record in the ledger what the caller of proposal `id` on `host` was told. */
export function settleProposal(world: SimWorld, host: SimHost, id: string, outcome: CallOutcome<{ result: string | null; data: string | undefined }>): void {
  if (outcome.ok) {
    const data = outcome.value.data;
    if (data === undefined) throw new SafetyViolation('Client Outcome', `${host.id} answered ${id} without applying an entry for it`);
    world.ledger.acknowledged(id, data, host.id);
    world.record(`  ${host.id} answered ${id}`);
    return;
  }
  const error = outcome.error;
  // Only NOT_LEADER with outcome not-appended promises the entry never commits; a timeout or a stop leaves it unknown.
  const failure = error instanceof NotLeaderError ? error.outcome : 'unknown';
  world.ledger.failed(id, { outcome: failure }, host.id);
  world.record(`  ${host.id} proposal ${id} failed ${(error as { code?: string }).code ?? error.name}/${failure}`);
}

/** Proposals of unique commands to random nodes, 10 to 150 ms apart, during the fault phase. */
export class PlainProposals {
  constructor(
    private readonly world: SimWorld,
    private readonly random: RandomStream,
  ) {}

  start(): void {
    this.world.at(this.random.between(0, 50), () => this.propose());
  }

  private propose(): void {
    const world = this.world;
    if (world.phase !== 'faults') return;
    world.at(world.queue.now + this.random.between(10, 150), () => this.propose());
    // Most clients have found the leader; the rest hit a random node (and usually learn NOT_LEADER).
    const leader = world.currentLeader();
    const host = leader !== undefined && this.random.chance(0.6) ? leader : this.random.pick(world.hosts);
    const count = this.random.chance(0.2) ? this.random.int(2, 4) : 1;
    if (!host.up) return;
    const proposals = Array.from({ length: count }, () => world.ledger.create(host.id, world.queue.now));
    world.stats.proposals += count;
    world.record(`propose ${host.id} ${proposals.map((p) => `${p.id}=${p.data}`).join(',')}`);
    host.propose(proposals, 20 * world.config.electionTimeoutMs, (id, outcome) => settleProposal(world, host, id, outcome));
  }
}

/**
 * After the heal: a fresh command proposed to the leader every two heartbeats until one is applied on every member
 * (`live`). A probe a snapshot covers counts as applied by a node restored from that snapshot.
 */
export class LivenessProbe {
  healedAt = 0;
  private liveAt: number | null = null;
  /** Probe command -> nodes that applied it. */
  private readonly appliedOn = new Map<string, Set<NodeId>>();

  constructor(
    private readonly world: SimWorld,
    private readonly members: () => SimHost[],
  ) {}

  get live(): boolean {
    return this.liveAt !== null;
  }

  /** Virtual time from the heal until the probe was applied everywhere (-1: never). */
  get recoveryMs(): number {
    return this.liveAt === null ? -1 : Math.round(this.liveAt - this.healedAt);
  }

  start(): void {
    const tick = (): void => {
      this.probe();
      if (this.liveAt === null) this.world.at(this.world.queue.now + 2 * this.world.config.heartbeatIntervalMs, tick);
    };
    this.world.at(this.world.queue.now, tick);
  }

  applied(host: SimHost, entries: readonly Entry[]): void {
    if (this.world.phase !== 'heal' || this.appliedOn.size === 0) return;
    for (const entry of entries) {
      const appliedOn = this.appliedOn.get(entry.data);
      if (appliedOn !== undefined) this.add(host, appliedOn);
    }
  }

  restored(host: SimHost, meta: SnapshotMeta): void {
    if (this.world.phase !== 'heal') return;
    for (const [command, appliedOn] of this.appliedOn) {
      const index = this.world.checker.committedIndexOf(command);
      if (index !== undefined && index <= meta.index) this.add(host, appliedOn);
    }
  }

  private add(host: SimHost, appliedOn: Set<NodeId>): void {
    appliedOn.add(host.id);
    const members = this.members();
    if (this.liveAt === null && members.length > 0 && members.every((member) => appliedOn.has(member.id))) this.liveAt = this.world.queue.now;
  }

  /** Propose a fresh command to the current leader, unless a recent probe is still undecided. */
  private probe(): void {
    const world = this.world;
    const leader = world.currentLeader();
    if (leader === undefined) return;
    for (const command of this.appliedOn.keys()) {
      const record = world.ledger.byCommand(command)!;
      if (record.status === 'pending' && world.queue.now - record.proposedAt < 2 * world.config.electionTimeoutMs) return;
    }
    const proposal = world.ledger.create(leader.id, world.queue.now, 'live');
    this.appliedOn.set(proposal.data, new Set());
    world.record(`probe ${leader.id} ${proposal.id}=${proposal.data}`);
    leader.propose([proposal], 20 * world.config.electionTimeoutMs, (id, outcome) => settleProposal(world, leader, id, outcome));
  }
}

/** The membership schedule's view of the cluster: changes go through the leader's node like `addLearner()` does. */
export function membershipHost(world: SimWorld, random: RandomStream, initial: Membership): MembershipHost {
  return {
    get now() {
      return world.queue.now;
    },
    change: (leader: NodeId, id: string, change: MembershipChange, promoteWhenCaughtUp: boolean): boolean => {
      world.record(`membership: ${leader} ${change.type} ${change.id} (${id})`);
      let refused: string | null = null;
      world.host(leader).changeMembership(id, change, promoteWhenCaughtUp, 20 * world.config.electionTimeoutMs, (outcome) => {
        if (!outcome.ok && outcome.error instanceof MembershipChangeError) refused = outcome.error.reason;
        world.record(`membership: ${id} ${outcome.ok ? 'applied' : `failed (${(outcome.error as { code?: string }).code ?? outcome.error.name})`}`);
      });
      // A refusal (another change in flight, nothing of the leader's term committed yet) comes back at once.
      if (refused !== null) world.record(`membership: ${leader} refused ${change.type} ${change.id} (${refused})`);
      return refused === null;
    },
    // Only during the fault phase: after the heal the schedule finishes as fast as it can.
    pauseAfterGoalMs: () => (world.phase === 'faults' ? random.between(0, 2 * world.config.electionTimeoutMs) : 0),
    decommission: (id: NodeId) => world.decommission(id, random.between(0, 2 * world.config.electionTimeoutMs)),
    committedMembership: (leader) => world.checker.committedMembership(leader.commitIndex, initial),
    record: (line) => world.record(line),
  };
}
