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
import { FixedTimeout, PhiAccrualDetector } from '../../actors/timer/FailureDetector.js';
import { defaultRaftConfig, type NodeId, type RaftMessage } from '../../src/core/types.js';
import { describeMessage } from './describe.js';
import { DiskTiming } from './diskTiming.js';
import { KvWorkload } from './kvClients.js';
import { MembershipSchedule, scheduleShape, type MembershipScheduleName } from './membershipSchedule.js';
import { Nemesis } from './nemesis.js';
import { deriveSeed, RandomStream, StreamPurpose } from './randomStreams.js';
import { RunWorld } from './runWorld.js';
import { sabotageCommitRule } from './sabotage.js';
import { SafetyChecker } from './safetyChecker.js';
import { SafetyViolation } from './safetyViolation.js';
import { SimHost } from './simHost.js';
import { SimulatedNetwork } from './simulatedNetwork.js';
import { defaultClients, simConfig, type SimOptions } from './simOptions.js';
import { checkHistory, countOutcomes, simResult } from './simOutcome.js';
import type { SimFailure, SimResult } from './stats.js';
import { TraceRecorder } from './traceRecorder.js';
import { LivenessProbe, PlainProposals, membershipHost } from './workload.js';

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

const clientKeys = ['x', 'y', 'z'];

class Simulation extends RunWorld {
  private readonly workload: KvWorkload | null;
  private readonly plain: PlainProposals;
  private readonly schedule: MembershipSchedule | null;
  private readonly membershipName: MembershipScheduleName | 'none';
  private readonly nodeCount: number;
  private readonly steps: number;
  private readonly livenessBoundMs: number;
  private step = 0;
  private linearizabilityCheckMs = 0;

  constructor(
    private readonly seed: number,
    private readonly options: SimOptions,
  ) {
    super();
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
      // Sometimes the tail waits behind one unanswered append (a lost one is found by the next heartbeat), sometimes
      // never (at least as large as the window). A stream of its own, so that the other draws stay as they were.
      maxInflightTailMessages: stream(StreamPurpose.Windows).pick([1, 2, 2, 64]),
      // Sometimes appends are cut by bytes too (a client command is a few dozen characters): one to three a message.
      maxBytesPerMessage: stream(StreamPurpose.MessageBytes).pick([40, 100, defaultRaftConfig.maxBytesPerMessage, defaultRaftConfig.maxBytesPerMessage]),
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
    this.trace = new TraceRecorder(options.trace === true);
    this.membershipName = options.membership ?? 'none';
    const shape = scheduleShape(this.membershipName, this.nodeCount);
    const initialMembership = { voters: shape.initialVoters, learners: [] };
    this.network = new SimulatedNetwork(shape.ids, stream(StreamPurpose.Network));
    this.diskRandom = stream(StreamPurpose.Disk);
    this.disks = new DiskTiming(this.queue, this.diskRandom);
    const bound = 1 + this.config.leaseClockDrift / 2;
    const clockRates = options.clockRates ?? (options.jitter === true ? [1, 1] as const : options.leaseReads === true ? [1 / bound, bound] as const : [0.8, 1.25] as const);
    this.hosts = shape.ids.map((id, number) => {
      // Nodes that join later start outside any configuration and wait to hear from a leader.
      const voters = shape.initialVoters.includes(id) ? shape.initialVoters : [];
      const host = new SimHost(
        id,
        voters,
        this.config,
        this,
        (incarnation) => new RandomStream(deriveSeed(seed, StreamPurpose.NodeCore + number * 1000 + incarnation)).next,
        () => (options.detector === 'phi' ? new PhiAccrualDetector() : new FixedTimeout()),
      );
      host.clock.setRate(clocks.between(...clockRates), 0);
      // Small chunks: the key-value state (a few hundred bytes to a few KiB) spans several of them.
      host.snapshotChunkBytes = snapshotRandom.pick([64, 128, 256]);
      this.disks.add(host);
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
        if (event.host.incarnation !== event.incarnation || event.diskEpoch !== this.disks.epoch) break;
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
    if (this.options.onStep !== undefined) this.options.onStep(this, this.step, this.trace.lines);
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

  // -------------------------------------------------------------------------------------------------------------
  // The heal and the end of the run

  /** Every fault ends: the network is whole and reliable again, every node is up, disks are fast. */
  private heal(): void {
    this.phase = 'heal';
    this.probe.healedAt = this.queue.now;
    this.nemesis.heal();
    this.disks.heal(this.hosts);
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
    if (this.workload !== null) this.linearizabilityCheckMs = checkHistory(this.workload, '');
  }

  private result(failure?: SimFailure): SimResult {
    const stats = this.stats;
    stats.steps = this.step;
    stats.virtualTimeMs = Math.round(this.queue.now);
    stats.recoveryMs = this.probe.recoveryMs;
    stats.highestTerm = Math.max(0, ...this.hosts.map((host) => host.core?.term ?? host.disk.hardState.term));
    stats.termsAfterFirstLeader = this.firstLeaderTerm === null ? 0 : stats.highestTerm - this.firstLeaderTerm;
    countOutcomes(stats, { checker: this.checker, ledger: this.ledger, workload: this.workload });
    const run = { seed: this.seed, nodes: this.nodeCount, steps: this.steps, options: this.options, trace: this.trace, linearizabilityCheckMs: this.linearizabilityCheckMs };
    return simResult(run, stats, failure);
  }

}
