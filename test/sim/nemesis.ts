/**
 * The nemesis: every fault of a simulated run, drawn from the seed.
 *
 * Random faults, one every 100 to 1000 ms of the fault phase: partitions (random splits, one-way links, an isolated
 * leader), a lossy, duplicating, slow network, crashes (the leader more often) with restarts, clock skew and slow
 * disks. Targeted crashes at moments random timing rarely hits: right after a node handled an input, a leader soon
 * after its election, a leader in the shape of the paper's Figure 8 (an old-term entry just reached a majority), either
 * side of a snapshot transfer, a node storing its own snapshot. And the schedules of their own files, when enabled:
 * leadership transfers (transfers.ts), removals of running voters (removals.ts), a misbehaving peer (forgery.ts), the
 * scripted Figure 8 (figure8Script.ts).
 */
import { majority } from '../../src/core/quorum.js';
import type { NodeId, RaftMessage, Role } from '../../src/core/types.js';
import type { NodeEmitted } from '../../src/node/machine.js';
import { Figure8Script } from './figure8Script.js';
import { Forgery } from './forgery.js';
import type { KvWorkload } from './kvClients.js';
import type { RandomStream } from './randomStreams.js';
import { Removals } from './removals.js';
import type { SimHost } from './simHost.js';
import { calmNetwork, type NetworkConditions } from './simulatedNetwork.js';
import type { SimOptions } from './simOptions.js';
import { Transfers } from './transfers.js';
import type { SimWorld } from './world.js';

export class Nemesis {
  /** The key-value clients, when the run has them (transfers ask them for lease reads). */
  workload: KvWorkload | null = null;
  private readonly figure8Faults: boolean;
  /** Per seed: how often a leader in the Figure 8 shape is crashed. */
  private readonly figure8Chance: number;
  /** Per seed: how often a new leader is crashed within a few round trips of its election. */
  private readonly shortLivedLeaderChance: number;
  /** Per seed: the chance that a node crashes right after handling an input. */
  private readonly activityCrashChance: number;
  private readonly transfers: Transfers | null;
  private readonly removals: Removals | null;
  private readonly forgery: Forgery | null;
  private readonly figure8Script: Figure8Script | null;
  /** A calm run (`SimOptions.jitter`): only jittered delays and slow disks, nothing that justifies an election. */
  private readonly jitterOnly: boolean;

  constructor(
    private readonly world: SimWorld,
    private readonly random: RandomStream,
    private readonly clocks: RandomStream,
    /** Per seed: the chance that a delivered InstallSnapshot chunk, or a snapshot being stored, ends in a crash. */
    private readonly snapshotCrashChance: number,
    private readonly clockRates: readonly [number, number],
    options: SimOptions,
    scheduleRandom: RandomStream,
  ) {
    const calmer = options.membership !== undefined && options.membership !== 'none';
    this.jitterOnly = options.jitter === true;
    this.figure8Faults = options.figure8Faults ?? true;
    // With a membership schedule leaders must live long enough, now and then, to commit a change under the faults.
    this.shortLivedLeaderChance = random.pick(calmer ? [0.05, 0.15, 0.3] : [0.1, 0.4, 0.7]);
    this.activityCrashChance = random.pick(calmer ? [0, 0.001, 0.002, 0.004] : [0, 0.002, 0.005, 0.01]);
    this.figure8Chance = random.pick([0.3, 0.6, 1]);
    this.transfers = options.transfers === true ? new Transfers(world, scheduleRandom, () => this.workload) : null;
    this.removals = options.removals === true ? new Removals(world, scheduleRandom) : null;
    this.forgery = options.forge === true ? new Forgery(world, scheduleRandom) : null;
    this.figure8Script = options.figure8Script === true ? new Figure8Script(world, scheduleRandom) : null;
    // Some seeds start on a bad network; the fault generator changes it later either way.
    if (random.chance(0.3)) world.network.conditions = this.jitterOnly ? this.jitteryConditions() : this.randomConditions();
  }

  /** Whether the run's membership changes (liveness then looks at the committed configuration). */
  get changesMembership(): boolean {
    return this.removals !== null;
  }

  /** Whether every schedule's business is done (the heal phase waits for it). */
  get settled(): boolean {
    return (this.transfers?.settled ?? true) && (this.removals?.settled ?? true);
  }

  get unsettled(): string {
    return [this.transfers?.unsettled, this.removals?.unsettled].filter((text) => text !== undefined && text !== '').join(', ');
  }

  /** Whether the fault phase should go on past its step budget (a Figure 8 cycle is under way). */
  get holdsHeal(): boolean {
    return this.figure8Script?.midCycle ?? false;
  }

  start(): void {
    this.world.at(this.random.between(200, 1500), () => this.tick());
    this.figure8Script?.start();
    this.every(300, 1500, this.transfers === null ? null : () => this.transfers!.inject());
    this.every(200, 1000, this.forgery === null ? null : () => this.forgery!.inject());
  }

  /** Run `step` every `min` to `max` ms of the fault phase. */
  private every(min: number, max: number, step: (() => void) | null): void {
    if (step === null) return;
    const world = this.world;
    const tick = (): void => {
      if (world.phase !== 'faults') return;
      step();
      world.at(world.queue.now + this.random.between(min, max), tick);
    };
    world.at(world.queue.now + this.random.between(min, max), tick);
  }

  private tick(): void {
    const world = this.world;
    if (world.phase !== 'faults') return;
    world.at(world.queue.now + this.random.between(100, 1000), () => this.tick());
    // The scripted Figure 8 owns the faults while it runs.
    if (this.figure8Script !== null) return;
    const roll = this.random.next();
    // A share of the ticks goes to the removal (transfers and forgeries have rhythms of their own).
    if (roll < 0.05 && this.removals !== null) this.removals.inject();
    else this.injectFault();
  }

  restartDelay(): number {
    return this.random.between(50, 1500);
  }

  private injectFault(): void {
    const r = this.random;
    const world = this.world;
    const network = world.network;
    if (this.jitterOnly) return this.injectJitter();
    const roll = r.next();
    const ids = network.ids;
    if (roll < 0.18) {
      // A random split into two sides (symmetric).
      const side = ids.filter(() => r.chance(0.5));
      if (side.length === 0 || side.length === ids.length) return;
      network.isolateGroup(side);
      world.stats.partitions++;
      world.record(`fault partition {${side.join(',')}} | rest`);
    } else if (roll < 0.28) {
      // One-way links: a node that can send but not hear, or hear but not send.
      const links = r.int(1, ids.length);
      for (let i = 0; i < links; i++) {
        const from = r.pick(ids);
        const to = r.pick(ids);
        if (from !== to) network.blockOneWay(from, to);
      }
      world.stats.partitions++;
      world.record(`fault one-way ${network.describePartitions()}`);
    } else if (roll < 0.42) {
      const leader = world.currentLeader();
      if (leader === undefined) return;
      const mode = r.pick(['both', 'inbound', 'outbound'] as const);
      for (const other of ids) {
        if (other === leader.id) continue;
        if (mode !== 'inbound') network.blockOneWay(leader.id, other);
        if (mode !== 'outbound') network.blockOneWay(other, leader.id);
      }
      world.stats.partitions++;
      world.record(`fault isolate leader ${leader.id} (${mode})`);
    } else if (roll < 0.6) {
      network.healPartitions();
      world.record('fault heal partitions');
    } else if (roll < 0.78) {
      const leader = world.currentLeader();
      const victim = leader !== undefined && r.chance(0.5) ? leader : r.pick(world.hosts);
      if (victim.up) world.crash(victim, 'fault');
    } else if (roll < 0.9) {
      network.conditions = r.chance(0.3) ? { ...calmNetwork } : this.randomConditions();
      const c = network.conditions;
      world.record(`fault network loss=${c.lossRate.toFixed(2)} dup=${c.duplicateRate.toFixed(2)} delay=${c.minDelayMs.toFixed(0)}..${c.maxDelayMs.toFixed(0)}`);
    } else if (roll < 0.95) {
      const host = r.pick(world.hosts);
      host.clock.setRate(this.clocks.between(...this.clockRates), world.queue.now);
      world.record(`fault clock ${host.id} x${host.clock.rate.toFixed(2)}`);
    } else {
      const host = r.pick(world.hosts);
      const delay = r.chance(0.5) ? r.between(50, 400) : r.between(1, 20);
      world.setDiskDelay(host, delay);
      world.record(`fault disk ${host.id} up to ${delay.toFixed(0)}ms`);
    }
  }

  /** The calm run's faults: the network's delays change, or a disk turns slow (or fast again). */
  private injectJitter(): void {
    const r = this.random;
    if (r.chance(0.6)) {
      const c = (this.world.network.conditions = this.jitteryConditions());
      this.world.record(`fault jitter delay=${c.minDelayMs.toFixed(0)}..${c.maxDelayMs.toFixed(0)} long=${c.longDelayChance.toFixed(3)}@${c.longDelayMs.toFixed(0)}`);
    } else {
      const host = r.pick(this.world.hosts);
      const delay = r.chance(0.5) ? r.between(50, 400) : r.between(1, 20);
      this.world.setDiskDelay(host, delay);
      this.world.record(`fault disk ${host.id} up to ${delay.toFixed(0)}ms`);
    }
  }

  /** Delays from a few ms to half a heartbeat interval, and now and then (up to 10%) one of up to 3 heartbeat intervals. */
  private jitteryConditions(): NetworkConditions {
    const r = this.random;
    const heartbeat = this.world.config.heartbeatIntervalMs;
    const maxDelayMs = r.between(5, heartbeat / 2);
    return {
      lossRate: 0,
      duplicateRate: 0,
      minDelayMs: r.between(0.5, 5),
      maxDelayMs,
      longDelayChance: r.between(0, 0.1),
      longDelayMs: r.between(maxDelayMs, 3 * heartbeat),
    };
  }

  private randomConditions(): NetworkConditions {
    const r = this.random;
    const maxDelayMs = r.between(5, 60);
    return {
      lossRate: r.chance(0.7) ? r.between(0, 0.3) : 0,
      duplicateRate: r.chance(0.5) ? r.between(0, 0.2) : 0,
      minDelayMs: r.between(0.5, 5),
      maxDelayMs,
      longDelayChance: r.between(0, 0.1),
      longDelayMs: r.between(maxDelayMs, 800),
    };
  }

  /** Every fault ends (the simulation restarts the nodes and heals the disks). */
  heal(): void {
    this.world.network.healPartitions();
    this.world.network.conditions = { ...calmNetwork };
    this.transfers?.heal();
    this.figure8Script?.heal();
    this.removals?.heal();
  }

  /** At the end of a live run: what the schedules promise about the final state. */
  checkAtEnd(): void {
    this.transfers?.checkAtEnd();
    this.removals?.checkAtEnd();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Targeted faults, at the moments the simulation reports

  /** Extra delay for a message (a TimeoutNow held back), on top of the network's. */
  extraDelay(from: SimHost, to: NodeId, message: RaftMessage): number {
    this.removals?.sent(from, message);
    return this.transfers?.extraDelay(from, to, message) ?? 0;
  }

  /** What the network carries of a message: itself, a changed one, or nothing (the Figure 8 script's doing). */
  filter(from: SimHost, to: NodeId, message: RaftMessage): RaftMessage | null {
    return this.figure8Script === null ? message : this.figure8Script.filter(from, to, message);
  }

  /** `host` handled a message from `from`. */
  delivered(host: SimHost, from: NodeId, fromIncarnation: number, message: RaftMessage): void {
    if (message.type === 'InstallSnapshot') this.maybeCrashDuringInstall(host, from, fromIncarnation);
    else if (message.type === 'AppendEntriesResponse' && message.success) this.maybeFigure8Crash(host, message.index);
    this.figure8Script?.delivered(host, message);
  }

  roleChanged(host: SimHost, role: Role): void {
    this.transfers?.roleChanged(host, role);
    this.figure8Script?.roleChanged(host, role);
    // Leaders that die young, before their first entry commits, leave the divergent logs of Figure 8 behind.
    if (role === 'leader' && this.world.phase === 'faults' && this.figure8Script === null && !this.jitterOnly && this.random.chance(this.shortLivedLeaderChance)) {
      // Half of them take their last messages with them when Figure 8 faults are on: their entries then stay on
      // their own disk only, the conflicting newer-term entries of Figure 8 (b).
      const silence = this.figure8Faults && this.random.chance(0.5);
      this.world.queue.push(this.world.queue.now + this.random.between(1, 80), { kind: 'crash', host, incarnation: host.incarnation, silence });
    }
  }

  /** Events the simulation does not handle itself (refusals of forged messages, removal). */
  otherEvent(host: SimHost, event: NodeEmitted): void {
    this.forgery?.observed(host, event);
  }

  stepped(host: SimHost): void {
    // Crashes tied to activity land at interesting moments (right after an ack, a vote, a commit), which timed
    // crashes rarely hit; leaders are hit three times as often.
    if (this.world.phase !== 'faults' || this.activityCrashChance === 0 || this.figure8Script !== null || this.jitterOnly) return;
    const chance = host.core?.role === 'leader' ? 3 * this.activityCrashChance : this.activityCrashChance;
    if (this.random.chance(chance)) this.world.queue.push(this.world.queue.now, { kind: 'crash', host, incarnation: host.incarnation });
  }

  /** A node's own snapshot starts to be stored, durable at `done`: a crash just before loses it. */
  snapshotStoring(host: SimHost, done: number): void {
    if (this.world.phase === 'faults' && this.figure8Script === null && !this.jitterOnly && this.random.chance(this.snapshotCrashChance)) {
      this.world.queue.push(done - this.random.between(0, 0.2), { kind: 'crash', host, incarnation: host.incarnation });
    }
  }

  /**
   * Figure 8's shape, on purpose: `leader` just learned that the entry at `index`, of an older term, is on a majority
   * of its voters, while nothing of its own term is committed yet. A correct leader must not count that majority; one
   * that does commits the entry and, if it dies now with its last messages, leaves a committed entry that a node
   * holding a conflicting entry of a newer term can still be elected to overwrite.
   */
  private maybeFigure8Crash(leader: SimHost, index: number): void {
    if (!this.figure8Faults || this.world.phase !== 'faults' || this.figure8Script !== null || this.jitterOnly) return;
    const core = leader.core;
    if (core === null || core.role !== 'leader') return;
    const term = core.termAt(index);
    if (term === undefined || term >= core.term || core.termAt(core.commitIndex) === core.term) return;
    const chain = leader.mirror.chainAt(index);
    const voters = core.members.voters;
    let holders = 0;
    for (const id of voters) if (this.world.host(id).mirror.chainAt(index) === chain) holders++;
    if (holders < majority(voters.length) || !this.random.chance(this.figure8Chance)) return;
    this.world.stats.figure8Crashes++;
    this.world.network.silence(leader.id, leader.incarnation);
    this.world.crash(leader, `Figure 8: index ${index} of term ${term} is on ${holders}/${voters.length} voters`);
  }

  /**
   * Crashes aimed at snapshot transfers: right after `follower` took a chunk (its write queued, not durable yet), or
   * the leader that sent it, mid-transfer.
   */
  private maybeCrashDuringInstall(follower: SimHost, leaderId: NodeId, leaderIncarnation: number): void {
    if (this.world.phase !== 'faults' || this.figure8Script !== null || this.jitterOnly || !this.random.chance(this.snapshotCrashChance)) return;
    const leader = this.world.host(leaderId);
    const victim = this.random.chance(0.5) || leader.incarnation !== leaderIncarnation ? follower : leader;
    this.world.queue.push(this.world.queue.now + this.random.between(0, 20), { kind: 'crash', host: victim, incarnation: victim.incarnation });
  }
}
