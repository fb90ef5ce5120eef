/**
 * A seeded, deterministic run of a simulated cluster of real nodes (in the spirit of FoundationDB's simulation, etcd's
 * rafttest and openraft's turmoil fuzzer).
 *
 * Every node is the product: the real statechart and `NodeRuntime` (simHost.ts) on simulated actors. One scheduler
 * ordered by (virtual time, sequence) decides everything: message deliveries, disk completions and reads, timers,
 * client actions and faults. Every random choice comes from a stream derived from the seed, so a seed is a complete,
 * replayable description of a run, and the trace hash proves it. The state machine's snapshot jobs run on promises:
 * after any event that gave it snapshot work, the loop lets the microtask queue run (at the same virtual time) before
 * the next event.
 *
 * A run has two phases. During the *fault* phase (the step budget) the nemesis (nemesis.ts and the schedules next to
 * it) partitions the network, makes it lossy and duplicating, crashes and restarts nodes, skews clocks and slows
 * disks, while clients propose and read. Then the *heal* phase removes every fault, restarts every node and checks
 * liveness: within `livenessBoundMs` of virtual time a fresh proposal must be applied on every member. Safety is
 * checked after every step of both (safetyChecker.ts), on what the real nodes hold.
 */
import { createHash, type Hash } from 'node:crypto';
import { RaftCore } from '../../src/core/raft.js';
import { defaultRaftConfig, type Entry, type HardState, type NodeId, type RaftConfig, type RaftMessage, type SnapshotMeta } from '../../src/core/types.js';
import type { TimerName } from '../../actors/timer/TimerActor.js';
import type { NodeEmitted } from '../../src/node/machine.js';
import { checkLinearizable } from '../support/linearizability.js';
import { ClientLedger } from './clientLedger.js';
import { describeEntries, describeMessage } from './describe.js';
import { EventQueue } from './eventQueue.js';
import { KvWorkload } from './kvClients.js';
import { MembershipSchedule, scheduleShape, type MembershipScheduleName } from './membershipSchedule.js';
import { Nemesis } from './nemesis.js';
import { deriveSeed, RandomStream, StreamPurpose } from './randomStreams.js';
import { SafetyChecker } from './safetyChecker.js';
import { SafetyViolation } from './safetyViolation.js';
import { SimHost, type HostDriver } from './simHost.js';
import type { DiskOperation, PersistEffect } from './simulatedDisk.js';
import { SimulatedNetwork } from './simulatedNetwork.js';
import { defaultClients, optionFlags, simConfig, type SimOptions } from './simOptions.js';
import { emptyStats, type SimFailure, type SimResult, type SimStats } from './stats.js';
import { LivenessProbe, PlainProposals, membershipHost } from './workload.js';
import type { Phase, SimEvent, SimWorld } from './world.js';

export { defaultClients, nodeIds, replayCommand, replayCommandOf, simConfig, type SimOptions } from './simOptions.js';
export type { SimFailure, SimResult, SimStats } from './stats.js';

/** Run one seed to completion. Never throws for a Raft bug: a violation is reported in the result. */
export async function runSeed(seed: number, options: SimOptions = {}): Promise<SimResult> {
  const restore = options.sabotage === 'old-term-commit' ? sabotageCommitRule() : () => {};
  // The node answers refused calls with errors (NOT_LEADER above all, thousands per run); capturing a stack for each
  // costs a third of the run. A replay with `stacks` keeps them, for an exception's stack trace.
  const stackTraceLimit = Error.stackTraceLimit;
  if (options.stacks !== true) Error.stackTraceLimit = 0;
  try {
    return await new Simulation(seed, options).run();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    restore();
  }
}

/**
 * Break the paper's Figure 8 rule for the duration of a run: the leader may commit any index a majority stores,
 * whatever its term. Returns the function that puts the rule back.
 */
function sabotageCommitRule(): () => void {
  const prototype = RaftCore.prototype as unknown as { commitsByCounting?: (index: number) => boolean };
  const original = prototype.commitsByCounting;
  if (original === undefined) throw new Error('RaftCore.prototype.commitsByCounting does not exist: the old-term-commit sabotage needs it');
  prototype.commitsByCounting = () => true;
  return () => {
    prototype.commitsByCounting = original;
  };
}

const clientKeys = ['x', 'y', 'z'];

class Simulation implements HostDriver, SimWorld {
  readonly queue = new EventQueue<SimEvent>();
  readonly hosts: SimHost[];
  private readonly byId = new Map<NodeId, SimHost>();
  readonly network: SimulatedNetwork;
  readonly ledger = new ClientLedger();
  readonly checker: SafetyChecker;
  readonly stats: SimStats = emptyStats();
  readonly config: RaftConfig;
  phase: Phase = 'faults';
  private readonly hash: Hash = createHash('sha256');
  /** Trace lines not yet fed to the hash. */
  private unhashed = '';
  private readonly trace: string[] | undefined;
  private readonly diskRandom: RandomStream;
  private readonly nemesis: Nemesis;
  private readonly workload: KvWorkload | null;
  private readonly plain: PlainProposals;
  private readonly probe: LivenessProbe;
  private readonly schedule: MembershipSchedule | null;
  private readonly membershipName: MembershipScheduleName | 'none';
  private readonly nodeCount: number;
  private readonly steps: number;
  private readonly livenessBoundMs: number;
  /** Disks complete writes in order: the earliest time each disk may complete its next write. */
  private readonly diskFreeAt = new Map<SimHost, number>();
  private readonly diskMaxDelayMs = new Map<SimHost, number>();
  /** Bumped at the heal, when queued writes are rescheduled on the healed (fast) disks; older completions are void. */
  private diskEpoch = 0;
  /** Removed nodes still to be stopped; the run does not end before they are. */
  pendingDecommissions = 0;
  private step = 0;
  private linearizabilityCheckMs = 0;
  /** The first broken promise of the current event, thrown once the event is handled. */
  private violation: unknown = null;

  constructor(
    private readonly seed: number,
    private readonly options: SimOptions,
  ) {
    this.nodeCount = options.nodes ?? 3;
    this.steps = options.steps ?? 2000;
    const stream = (purpose: number) => new RandomStream(deriveSeed(seed, purpose));
    const clocks = stream(StreamPurpose.Clocks);
    const snapshots = options.snapshots ?? true;
    const snapshotRandom = stream(StreamPurpose.Snapshots);
    // Small, seed-chosen batch and window sizes: with one entry per message a new leader's old-term entries reach a
    // follower before its own no-op does, which is exactly the situation of the paper's Figure 8.
    this.config = {
      ...defaultRaftConfig,
      ...simConfig,
      maxEntriesPerMessage: clocks.pick([1, 1, 2, 3, 8]),
      maxInflightMessages: clocks.pick([1, 2, 4, 16]),
      // A snapshot every few dozen entries at most, keeping few entries behind it: a follower a few heartbeats
      // behind already needs the snapshot.
      snapshotThreshold: snapshots ? snapshotRandom.pick([10, 15, 20, 30]) : 0,
      snapshotTrailingEntries: snapshotRandom.pick([0, 2, 5]),
      // Sometimes also by size (a client command is a few dozen characters): snapshots at irregular indexes.
      snapshotThresholdBytes: snapshots ? snapshotRandom.pick([0, 0, 300, 1000]) : 0,
      ...(options.leaseReads === true ? { leaseReads: true } : {}),
      // The script builds Figure 8 one entry per message, so that an old entry can travel without the new ones.
      ...(options.figure8Script === true ? { maxEntriesPerMessage: 1 } : {}),
      ...options.config,
    };
    this.livenessBoundMs = options.livenessBoundMs ?? 30 * this.config.electionTimeoutMs;
    this.trace = options.trace === true ? [] : undefined;
    this.membershipName = options.membership ?? 'none';
    const shape = scheduleShape(this.membershipName, this.nodeCount);
    const initialMembership = { voters: shape.initialVoters, learners: [] };
    this.network = new SimulatedNetwork(shape.ids, stream(StreamPurpose.Network));
    this.diskRandom = stream(StreamPurpose.Disk);
    const bound = 1 + this.config.leaseClockDrift / 2;
    const clockRates = options.clockRates ?? (options.leaseReads === true ? [1 / bound, bound] as const : [0.8, 1.25] as const);
    this.hosts = shape.ids.map((id, number) => {
      // Nodes that join later start outside any configuration and wait to hear from a leader.
      const voters = shape.initialVoters.includes(id) ? shape.initialVoters : [];
      const host = new SimHost(id, voters, this.config, this, (incarnation) =>
        new RandomStream(deriveSeed(seed, StreamPurpose.NodeCore + number * 1000 + incarnation)).next,
      );
      host.clock.setRate(clocks.between(...clockRates), 0);
      // Small chunks: the key-value state (a few hundred bytes to a few KiB) spans several of them.
      host.snapshotChunkBytes = snapshotRandom.pick([64, 128, 256]);
      this.diskMaxDelayMs.set(host, this.diskRandom.between(1, 40));
      this.byId.set(id, host);
      return host;
    });
    this.checker = new SafetyChecker(this.hosts, this.ledger);
    const clients = stream(StreamPurpose.Clients);
    const membershipRandom = stream(StreamPurpose.Membership);
    this.nemesis = new Nemesis(this, stream(StreamPurpose.Faults), clocks, snapshots ? snapshotRandom.pick([0, 0.02, 0.05, 0.1]) : 0, clockRates, options, stream(StreamPurpose.Transfers));
    this.plain = new PlainProposals(this, clients);
    this.probe = new LivenessProbe(this, () => this.finalMembers());
    const clientCount = options.clients ?? defaultClients;
    const sabotage = options.sabotage === 'stale-reads' || options.sabotage === 'no-sessions' ? options.sabotage : undefined;
    this.workload = clientCount > 0 ? new KvWorkload(this, stream(StreamPurpose.KvClients), {
      clients: clientCount,
      keys: clientKeys,
      operationDeadlineMs: 20 * this.config.electionTimeoutMs,
      // Some clients give up on an attempt sooner than a slow network delivers it, so that late attempts of requests
      // already answered still reach the log.
      attemptTimeoutMs: clients.pick([0.25, 0.5, 1.5]) * this.config.electionTimeoutMs,
      ...(sabotage === undefined ? {} : { sabotage }),
      leaseReads: options.leaseReads === true,
    }) : null;
    this.nemesis.workload = this.workload;
    this.schedule = shape.goals.length > 0 ? new MembershipSchedule(shape.goals, initialMembership, membershipHost(this, membershipRandom, initialMembership)) : null;
    if (this.schedule !== null) {
      const schedule = this.schedule;
      const tick = (): void => {
        schedule.tick(this.currentLeader()?.core ?? undefined);
        this.stats.membershipGoals = schedule.reached.length;
        if (this.phase === 'faults') this.stats.membershipGoalsUnderFaults = this.stats.membershipGoals;
        if (!schedule.done) this.at(this.queue.now + membershipRandom.between(50, 250), tick);
      };
      this.at(membershipRandom.between(500, 1500), tick);
    }
  }

  async run(): Promise<SimResult> {
    try {
      for (const host of this.hosts) host.start();
      await this.settleAsyncWork();
      this.plain.start();
      this.workload?.start();
      this.nemesis.start();
      // A scripted Figure 8 cycle under way finishes first (for at most 30 election timeouts).
      let holdUntil = Number.POSITIVE_INFINITY;
      while (this.step < this.steps || (this.nemesis.holdsHeal && this.queue.now < holdUntil)) {
        if (this.step === this.steps) holdUntil = this.queue.now + 30 * this.config.electionTimeoutMs;
        this.processNext();
        if (this.asyncWorkPending()) await this.settleAsyncWork();
      }
      this.heal();
      await this.settleAsyncWork();
      const deadline = this.queue.now + this.livenessBoundMs;
      // Live once a fresh proposal is applied everywhere and every node has caught up with everything committed
      // (so the acknowledged-write check below looks at final states).
      while (!this.probe.live || !(this.schedule?.done ?? true) || this.pendingDecommissions > 0 || !this.allCaughtUp() || !this.nemesis.settled) {
        if (this.queue.now > deadline) {
          throw new SafetyViolation(
            'Liveness',
            `not live within ${this.livenessBoundMs} ms of the heal (leader: ${this.currentLeader()?.id ?? 'none'}, probe ${this.probe.live ? 'applied' : 'pending'}, states ${this.hosts.map((h) => `${h.id}:${h.state}@t${h.core?.term ?? '-'}`).join(' ')}${this.schedule === null ? '' : `, membership goals ${this.schedule.progress}`}${this.nemesis.settled ? '' : `, ${this.nemesis.unsettled}`})`,
          );
        }
        this.processNext();
        if (this.asyncWorkPending()) await this.settleAsyncWork();
        this.stats.healSteps++;
      }
      this.nemesis.checkAtEnd();
      this.checker.checkNoAcknowledgedWriteLost(this.finalMembers());
      this.checkLinearizability();
      return this.result();
    } catch (error) {
      const failure: SimFailure = {
        invariant: error instanceof SafetyViolation ? error.invariant : 'Exception',
        message: error instanceof Error ? (error instanceof SafetyViolation ? error.message : String(error.stack)) : String(error),
        step: this.step,
        timeMs: this.queue.now,
      };
      this.record(`FAILURE ${failure.message}`);
      return this.result(failure);
    } finally {
      for (const host of this.hosts) host.crash();
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // The event loop

  private asyncWorkPending(): boolean {
    for (const host of this.hosts) if (host.asyncWork) return true;
    return false;
  }

  /**
   * Let the state machines' snapshot work (promises, no I/O) run as far as it can, at the current virtual time, before
   * the next event: a macrotask turn runs every microtask, however many there are, in a deterministic order.
   */
  private async settleAsyncWork(): Promise<void> {
    for (let round = 0; this.asyncWorkPending(); round++) {
      if (round > 100) throw new Error('snapshot work does not settle');
      for (const host of this.hosts) host.asyncWork = false;
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.throwViolation();
    }
  }

  private processNext(): void {
    const scheduled = this.queue.pop();
    if (scheduled === undefined) throw new Error('the event queue ran dry');
    this.step++;
    const event = scheduled.event;
    switch (event.kind) {
      case 'deliver':
        this.deliver(event.from, event.fromIncarnation, event.to, event.message);
        break;
      case 'disk':
        if (event.host.incarnation !== event.incarnation || event.diskEpoch !== this.diskEpoch) break;
        if (event.host.disk.nextPendingSeq !== event.seq) throw new Error(`${event.host.id}: disk completions out of order`);
        this.record(`durable ${event.host.id} op${event.seq}`);
        event.host.completeDisk();
        break;
      case 'read':
        if (event.host.incarnation !== event.incarnation) break;
        this.record(`read done ${event.host.id}`);
        event.answer();
        break;
      case 'timer':
        if (event.host.incarnation !== event.incarnation) break;
        if (event.host.fireTimer(event.timer, event.generation)) this.record(`${event.timer} timer ${event.host.id}`);
        break;
      case 'crash':
        if (event.host.incarnation !== event.incarnation || this.phase !== 'faults') break;
        if (event.silence === true) this.network.silence(event.host.id, event.host.incarnation);
        this.crash(event.host, event.why ?? (event.silence === true ? 'scheduled, its messages lost' : 'scheduled'));
        break;
      case 'restart':
        if (event.host.incarnation !== event.incarnation || event.host.up || event.host.decommissioned) break;
        this.record(`restart ${event.host.id}`);
        event.host.start();
        break;
      case 'action':
        event.run();
        break;
    }
    this.throwViolation();
  }

  private deliver(from: NodeId, fromIncarnation: number, to: NodeId, message: RaftMessage): void {
    const host = this.byId.get(to)!;
    const blocked = this.network.isBlocked(from, to);
    const lost = this.network.isSilenced(from, fromIncarnation);
    if (!host.up || blocked || lost) {
      this.stats.messagesDropped++;
      this.record(`drop ${from}->${to} ${describeMessage(message)} (${blocked ? 'partition' : lost ? 'lost with its sender' : 'down'})`);
      return;
    }
    this.record(`recv ${from}->${to} ${describeMessage(message)}`);
    if (message.type === 'InstallSnapshot') this.stats.snapshotChunksDelivered++;
    if (message.type === 'InstallSnapshotResponse' && message.installed) host.sendingSnapshotTo.delete(from);
    host.deliver(from, message);
    this.nemesis.delivered(host, from, fromIncarnation, message);
  }

  private throwViolation(): void {
    if (this.violation === null) return;
    const violation = this.violation;
    this.violation = null;
    throw violation;
  }

  at(time: number, run: () => void): void {
    this.queue.push(time, { kind: 'action', run });
  }

  host(id: NodeId): SimHost {
    const host = this.byId.get(id);
    if (host === undefined) throw new RangeError(`unknown node ${id}`);
    return host;
  }

  record(line: string): void {
    const stamped = `${this.queue.now.toFixed(3)} ${line}`;
    // Hashed in batches: one update per line costs more than the hashing itself.
    this.unhashed += `${stamped}\n`;
    if (this.unhashed.length > 1 << 16) this.flushHash();
    this.trace?.push(stamped);
  }

  private flushHash(): void {
    this.hash.update(this.unhashed);
    this.unhashed = '';
  }

  setDiskDelay(host: SimHost, maxMs: number): void {
    this.diskMaxDelayMs.set(host, maxMs);
  }

  decommission(id: NodeId, afterMs: number): void {
    const host = this.host(id);
    this.pendingDecommissions++;
    this.at(this.queue.now + afterMs, () => {
      this.pendingDecommissions--;
      if (host.decommissioned) return;
      host.decommissioned = true;
      this.stats.decommissioned++;
      this.record(`decommission ${host.id}`);
      if (host.up) this.crash(host, 'decommissioned', false);
    });
  }

  fail(error: unknown): void {
    this.violation ??= error;
  }

  crash(host: SimHost, why: string, restart = true): void {
    if (!host.up) return;
    if (host.sendingSnapshotTo.size > 0) this.stats.installCrashesLeader++;
    const writing = host.disk.writingSnapshot;
    if (writing === 'install') this.stats.installCrashesFollower++;
    else if (writing === 'take') this.stats.takeCrashes++;
    const lost = host.crash();
    this.stats.crashes++;
    this.stats.lostWrites += lost;
    this.diskFreeAt.delete(host);
    this.record(`crash ${host.id} (${why}, ${lost} writes lost)`);
    if (restart) this.queue.push(this.queue.now + this.nemesis.restartDelay(), { kind: 'restart', host, incarnation: host.incarnation });
  }

  /** The leader with the highest term among running nodes. */
  currentLeader(): SimHost | undefined {
    let leader: SimHost | undefined;
    for (const host of this.hosts) {
      const core = host.core;
      if (core?.role === 'leader' && (leader === undefined || core.term > leader.running.term)) leader = host;
    }
    return leader;
  }

  // -------------------------------------------------------------------------------------------------------------
  // The heal and the end of the run

  /** Every fault ends: the network is whole and reliable again, every node is up, disks are fast. */
  private heal(): void {
    this.phase = 'heal';
    this.probe.healedAt = this.queue.now;
    this.nemesis.heal();
    for (const host of this.hosts) this.diskMaxDelayMs.set(host, Math.min(this.diskMaxDelayMs.get(host)!, 20));
    // A slow disk may have a backlog of seconds of writes queued under load; the healed disk works through it at its
    // new speed (otherwise a node could stay unable to acknowledge anything for longer than the liveness bound).
    this.diskEpoch++;
    for (const host of this.hosts) {
      this.diskFreeAt.delete(host);
      if (!host.up) continue;
      for (const seq of host.disk.pendingSeqs()) this.scheduleDisk(host, seq);
    }
    this.record('heal');
    for (const host of this.hosts) if (!host.up && !host.decommissioned) host.start();
    this.probe.start();
  }

  private allCaughtUp(): boolean {
    const committed = this.checker.committedIndex;
    return this.finalMembers().every((host) => host.stateMachine.lastApplied >= committed);
  }

  /**
   * The nodes liveness is checked on: the members of the configuration the leader has committed (none while there is
   * no leader, which keeps the run going).
   */
  finalMembers(): SimHost[] {
    const leader = this.currentLeader();
    if (leader === undefined) return this.schedule === null && !this.nemesis.changesMembership ? this.hosts : [];
    const initial = { voters: scheduleShape(this.membershipName, this.nodeCount).initialVoters, learners: [] };
    const members = this.checker.committedMembership(leader.running.commitIndex, initial);
    return [...members.voters, ...members.learners].map((id) => this.host(id));
  }

  private checkLinearizability(): void {
    if (this.workload === null) return;
    this.workload.finish();
    const began = performance.now();
    const result = checkLinearizable(this.workload.history);
    this.linearizabilityCheckMs = performance.now() - began;
    if (!result.ok) {
      const ops = result.history!.map((entry) =>
        `${entry.client}:${entry.op.kind}${'value' in entry.op ? `(${entry.op.value})` : ''}@${entry.call.toFixed(0)}..${entry.ret === null ? '?' : entry.ret.toFixed(0)}=${entry.output ?? '-'}`,
      );
      throw new SafetyViolation('Linearizability', `the history of key ${result.key} has no linearization: ${ops.join(' ')}`);
    }
  }

  private result(failure?: SimFailure): SimResult {
    const stats = this.stats;
    stats.steps = this.step;
    stats.virtualTimeMs = Math.round(this.queue.now);
    stats.recoveryMs = this.probe.recoveryMs;
    stats.leaderTerms = this.checker.leaderTermCount;
    stats.highestTerm = Math.max(0, ...this.hosts.map((host) => host.core?.term ?? host.disk.hardState.term));
    stats.committedIndex = this.checker.committedIndex;
    stats.acknowledged = this.ledger.count('acknowledged');
    stats.failedNotAppended = this.ledger.count('failed-not-appended');
    stats.failedUnknown = this.ledger.count('failed-unknown');
    if (this.workload !== null) {
      stats.clientOperations = this.workload.stats.operations;
      stats.clientCompleted = this.workload.stats.completed;
      stats.clientAbandoned = this.workload.stats.abandoned;
      stats.clientAttempts = this.workload.stats.attempts;
      stats.leaseReads = this.workload.stats.leaseReads;
    }
    return {
      seed: this.seed,
      nodes: this.nodeCount,
      steps: this.steps,
      ok: failure === undefined,
      traceHash: (this.flushHash(), this.hash.digest('hex')),
      ...(failure === undefined ? {} : { failure }),
      stats,
      flags: optionFlags(this.options),
      linearizabilityCheckMs: this.linearizabilityCheckMs,
      ...(this.trace === undefined ? {} : { trace: this.trace }),
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // HostDriver: what the simulated actors ask of the run

  get now(): number {
    return this.queue.now;
  }

  send(from: SimHost, to: NodeId, sent: RaftMessage): void {
    this.stats.messagesSent++;
    const message = this.nemesis.filter(from, to, sent);
    if (message === null) {
      this.stats.messagesDropped++;
      this.record(`held ${from.id}->${to} ${describeMessage(sent)}`);
      return;
    }
    const delays = this.network.deliveryDelays();
    if (delays.length === 0) this.stats.messagesDropped++;
    if (delays.length > 1) this.stats.messagesDuplicated++;
    const extra = this.nemesis.extraDelay(from, to, message);
    for (const delay of delays) this.queue.push(this.queue.now + delay + extra, { kind: 'deliver', from: from.id, fromIncarnation: from.incarnation, to, message });
  }

  timerArmed(host: SimHost, timer: TimerName, afterMs: number, generation: number): void {
    this.queue.push(this.queue.now + afterMs, { kind: 'timer', host, incarnation: host.incarnation, timer, generation });
  }

  diskQueued(host: SimHost, operation: DiskOperation): void {
    const done = this.scheduleDisk(host, operation.seq);
    if (operation.kind === 'chunk') {
      this.record(`  ${host.id} store snapshot ${operation.meta.index}@${operation.meta.term} chunk ${operation.chunk}${operation.done ? ' done' : ''} (${operation.source})`);
      if (operation.source === 'take' && operation.chunk === 0) this.nemesis.snapshotStoring(host, done);
    } else if (operation.kind === 'compact') {
      this.record(`  ${host.id} compact through ${operation.through}`);
    }
  }

  private scheduleDisk(host: SimHost, seq: number): number {
    const earliest = Math.max(this.diskFreeAt.get(host) ?? 0, this.queue.now);
    const done = earliest + this.diskRandom.between(0.2, this.diskMaxDelayMs.get(host)!);
    this.diskFreeAt.set(host, done);
    this.queue.push(done, { kind: 'disk', host, incarnation: host.incarnation, seq, diskEpoch: this.diskEpoch });
    return done;
  }

  read(host: SimHost, answer: () => void): void {
    // Some reads hit the cache and answer at once; the rest take simulated I/O.
    if (this.diskRandom.chance(0.5)) answer();
    else this.queue.push(this.queue.now + this.diskRandom.between(0.1, 2), { kind: 'read', host, incarnation: host.incarnation, answer });
  }

  logWritten(host: SimHost, write: PersistEffect): void {
    this.checker.onLogWrite(host, write);
    const truncation = write.truncateFrom === null ? '' : ` truncate@${write.truncateFrom}`;
    this.record(`  ${host.id} persist w${write.writeId} t${write.hardState.term} vote=${write.hardState.votedFor ?? '-'} commit=${write.hardState.commit}${truncation} ${describeEntries(write.entries)}`);
  }

  writeDurable(host: SimHost, write: PersistEffect, previous: HardState): void {
    this.checker.onWriteDurable(host, previous, write);
  }

  snapshotChain(host: SimHost, meta: SnapshotMeta): number {
    return this.checker.snapshotChain(host, meta);
  }

  applied(host: SimHost, entries: readonly Entry[]): void {
    this.checker.onApplied(host, entries);
    this.probe.applied(host, entries);
    this.record(`  ${host.id} apply ${describeEntries(entries)}`);
  }

  restored(host: SimHost, meta: SnapshotMeta): void {
    this.record(`  ${host.id} restored snapshot ${meta.index}@${meta.term}`);
    this.checker.onRestored(host, meta);
    this.probe.restored(host, meta);
  }

  emitted(host: SimHost, event: NodeEmitted): void {
    switch (event.type) {
      case 'roleChanged':
        this.record(`  ${host.id} becomes ${event.role} t${event.term}`);
        if (event.role !== 'leader') host.sendingSnapshotTo.clear();
        this.nemesis.roleChanged(host, event.role);
        break;
      case 'leaderChanged':
        this.record(`  ${host.id} leader=${event.leader ?? '-'} t${event.term}`);
        break;
      case 'membershipChanged':
        this.record(`  ${host.id} members voters=${event.voters.join(',')} learners=${event.learners.join(',')}`);
        break;
      case 'snapshot':
        this.record(`  ${host.id} snapshot ${event.how} ${event.index}@${event.term}`);
        if (event.how === 'taken') this.stats.snapshotsTaken++;
        else if (event.how === 'installed') this.stats.snapshotInstalls++;
        else this.stats.snapshotRecoveries++;
        break;
      case 'stopped':
        this.fail(new SafetyViolation('Node Stopped', `${host.id} stopped: ${event.error ?? 'no reason given'}`));
        break;
      default:
        this.record(`  ${host.id} ${JSON.stringify(event)}`);
        this.nemesis.otherEvent(host, event);
        break;
    }
  }

  stepped(host: SimHost): void {
    this.checker.afterStep(host);
    this.nemesis.stepped(host);
  }
}
