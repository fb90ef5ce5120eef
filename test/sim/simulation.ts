/**
 * A seeded, deterministic run of a simulated cluster (in the spirit of etcd's rafttest and openraft's turmoil fuzzer).
 *
 * One event queue drives everything: message deliveries, disk completions, apply acknowledgements, timers, client
 * proposals and faults. Every random choice comes from a stream derived from the seed, so a seed is a complete,
 * replayable description of a run, and the trace hash proves it.
 *
 * A run has two phases. During the *fault* phase (the step budget) the fault generator partitions the network
 * (random splits, one-way links, an isolated leader), makes it lossy and duplicating, crashes and restarts nodes (the
 * leader more often), skews clocks and slows disks, while clients propose commands to random nodes. Then the *heal*
 * phase removes every fault, restarts every node and checks liveness: within `livenessBoundMs` of virtual time a
 * leader must emerge and a fresh proposal must be applied on every node. Safety is checked after every step of both.
 *
 * Snapshots are on by default: a small seed-chosen threshold (10 to 30 entries) with few trailing entries and small
 * chunks, so that every run compacts its logs many times, followers that were partitioned or down fall behind the
 * compaction point and are caught up by a multi-chunk InstallSnapshot, and the targeted crashes below hit transfers
 * on both sides. The state machine's snapshot jobs run on promises, so a run is asynchronous: after any event that
 * started one, the loop drains the microtask queue before the next event (a job takes no virtual time).
 */
import { createHash, type Hash } from 'node:crypto';
import type { ProposalResult } from '../../actors/state-machine/StateMachine.js';
import type { Membership, MembershipChange } from '../../src/core/membership.js';
import { majority } from '../../src/core/quorum.js';
import { defaultRaftConfig, type Effect, type Entry, type HardState, type NodeId, type ProposalFailure, type RaftConfig, type RaftMessage, type SnapshotMeta } from '../../src/core/types.js';
import { checkLinearizable } from '../support/linearizability.js';
import { ClientLedger } from './clientLedger.js';
import { KvWorkload, type ClientHost } from './kvClients.js';
import { MembershipSchedule, scheduleShape, type MembershipHost, type MembershipScheduleName } from './membershipSchedule.js';
import { describeEntries, describeMessage } from './describe.js';
import { EventQueue } from './eventQueue.js';
import { deriveSeed, RandomStream, StreamPurpose } from './randomStreams.js';
import { SafetyChecker } from './safetyChecker.js';
import { SafetyViolation } from './safetyViolation.js';
import type { PersistEffect } from './simulatedDisk.js';
import { calmNetwork, SimulatedNetwork } from './simulatedNetwork.js';
import { SimNode, type NodeDriver, type TimerKind } from './simNode.js';
import type { DiskOperation } from './simulatedDisk.js';

export interface SimOptions {
  readonly nodes?: 3 | 5;
  /** Events processed in the fault phase. */
  readonly steps?: number;
  /** Keep a readable log of every event. */
  readonly trace?: boolean;
  readonly config?: Partial<RaftConfig>;
  /** Virtual time after the heal within which a fresh proposal must be applied on every node. */
  readonly livenessBoundMs?: number;
  /**
   * Concurrent key-value clients with sessions, whose history must be linearizable (0: none). Default 4.
   */
  readonly clients?: number;
  /** A membership schedule carried out under the faults (see membershipSchedule.ts). Default none. */
  readonly membership?: MembershipScheduleName | 'none';
  /**
   * Figure 8 timing: crash a leader (its in-flight messages lost with it) right after an entry of an older term reaches
   * a majority while nothing of its own term is committed yet. Default on.
   */
  readonly figure8Faults?: boolean;
  /** Break the clients on purpose (tests of the checks themselves; see KvWorkloadOptions.sabotage). */
  readonly sabotage?: 'stale-reads' | 'no-sessions';
  /**
   * Snapshots and log compaction with a small seed-chosen threshold, and crashes aimed at snapshot transfers.
   * Default on; off keeps every log whole (snapshotThreshold 0).
   */
  readonly snapshots?: boolean;
  /**
   * Lease reads on (`config.leaseReads`), asked for by half of the clients' reads, with clock rates kept within
   * [1 / (1 + d/2), 1 + d/2] for the drift bound d (`leaseClockDrift`), where leases are safe. Default off.
   */
  readonly leaseReads?: boolean;
  /** Clock rates to draw from, overriding the default (0.8 to 1.25, or the lease bound above). */
  readonly clockRates?: readonly [number, number];
}

/** The core configuration of simulated runs: short enough timeouts for several elections per run. */
export const simConfig: Partial<RaftConfig> = {
  electionTimeoutMs: 1000,
  heartbeatIntervalMs: 250,
  maxEntriesPerMessage: 8,
  maxInflightMessages: 4,
};

export interface SimStats {
  steps: number;
  healSteps: number;
  virtualTimeMs: number;
  /** Virtual time from the heal until the liveness probe was applied everywhere. */
  recoveryMs: number;
  leaderTerms: number;
  highestTerm: number;
  committedIndex: number;
  crashes: number;
  lostWrites: number;
  partitions: number;
  proposals: number;
  acknowledged: number;
  failedNotAppended: number;
  failedUnknown: number;
  messagesSent: number;
  messagesDropped: number;
  messagesDuplicated: number;
  /** Key-value client operations started, answered, abandoned at their deadline; attempts they took. */
  clientOperations: number;
  clientCompleted: number;
  clientAbandoned: number;
  clientAttempts: number;
  /** Client reads a leader answered at once from its lease. */
  leaseReads: number;
  /** Membership goals reached (of the schedule's), and nodes stopped for good after their removal. */
  membershipGoals: number;
  /** Of those, the goals reached before the heal, under faults. */
  membershipGoalsUnderFaults: number;
  decommissioned: number;
  /** Leaders crashed in the Figure 8 shape. */
  figure8Crashes: number;
  /** Snapshots taken and made durable by the nodes themselves. */
  snapshotsTaken: number;
  /** Snapshots installed from a leader (state machine restored), and state machines restored at a restart. */
  snapshotInstalls: number;
  snapshotRecoveries: number;
  /** InstallSnapshot chunks delivered. */
  snapshotChunksDelivered: number;
  /** Crashes of a leader while it was sending a snapshot, and of a follower with a received snapshot half written. */
  installCrashesLeader: number;
  installCrashesFollower: number;
  /** Crashes while a node's own snapshot was being written (the pending snapshot is lost). */
  takeCrashes: number;
}

export interface SimFailure {
  readonly invariant: string;
  readonly message: string;
  readonly step: number;
  readonly timeMs: number;
}

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly ok: boolean;
  readonly traceHash: string;
  readonly failure?: SimFailure;
  readonly stats: SimStats;
  /** Options that replay needs besides seed, nodes and steps. */
  readonly clients: number;
  readonly membership: MembershipScheduleName | 'none';
  readonly snapshots: boolean;
  readonly leaseReads: boolean;
  /** Wall-clock time of the linearizability check (not part of the deterministic stats). */
  readonly linearizabilityCheckMs: number;
  readonly trace?: readonly string[];
}

type SimEvent =
  | { readonly kind: 'deliver'; readonly from: NodeId; readonly fromIncarnation: number; readonly to: NodeId; readonly message: RaftMessage }
  | { readonly kind: 'diskDone'; readonly node: SimNode; readonly incarnation: number; readonly seq: number; readonly diskEpoch: number }
  | { readonly kind: 'chunkRead'; readonly node: SimNode; readonly incarnation: number; readonly to: NodeId; readonly chunk: number }
  | { readonly kind: 'appliedTo'; readonly node: SimNode; readonly incarnation: number; readonly index: number }
  | { readonly kind: 'timer'; readonly node: SimNode; readonly incarnation: number; readonly timer: TimerKind; readonly generation: number }
  | { readonly kind: 'propose' }
  | { readonly kind: 'fault' }
  /** `silence`: the node's messages still in flight are lost with it. */
  | { readonly kind: 'crash'; readonly node: SimNode; readonly incarnation: number; readonly silence?: boolean }
  | { readonly kind: 'restart'; readonly node: SimNode; readonly incarnation: number }
  | { readonly kind: 'probe' }
  | { readonly kind: 'action'; readonly run: () => void }
  | { readonly kind: 'membership' }
  | { readonly kind: 'decommission'; readonly node: SimNode };

export const nodeIds = (count: number): NodeId[] => Array.from({ length: count }, (_, i) => `n${i + 1}`);

/** Run one seed to completion. Never throws for a Raft bug: a violation is reported in the result. */
export function runSeed(seed: number, options: SimOptions = {}): Promise<SimResult> {
  return new Simulation(seed, options).run();
}

/** The command that replays a seed from the command line. */
export function replayCommand(
  seed: number,
  nodes: number,
  steps: number,
  options: { clients?: number; membership?: string; snapshots?: boolean; leaseReads?: boolean } = {},
): string {
  const clients = options.clients === undefined || options.clients === defaultClients ? '' : ` --clients ${options.clients}`;
  const membership = options.membership === undefined || options.membership === 'none' ? '' : ` --membership ${options.membership}`;
  const snapshots = options.snapshots === false ? ' --no-snapshots' : '';
  const leaseReads = options.leaseReads === true ? ' --lease-reads' : '';
  return `npm run sim -- --seed ${seed} --nodes ${nodes} --steps ${steps}${clients}${membership}${snapshots}${leaseReads}`;
}

/** The replay command of a result. */
export function replayCommandOf(result: SimResult): string {
  const { clients, membership, snapshots, leaseReads } = result;
  return replayCommand(result.seed, result.nodes, result.steps, { clients, membership, snapshots, leaseReads });
}

export const defaultClients = 6;
const clientKeys = ['x', 'y', 'z'];

class Simulation implements NodeDriver {
  private readonly queue = new EventQueue<SimEvent>();
  private readonly nodes: SimNode[];
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly network: SimulatedNetwork;
  private readonly ledger = new ClientLedger();
  private readonly checker: SafetyChecker;
  private readonly hash: Hash = createHash('sha256');
  private readonly trace: string[] | undefined;

  private readonly faults: RandomStream;
  private readonly clients: RandomStream;
  private readonly diskRandom: RandomStream;
  private readonly applyRandom: RandomStream;
  private readonly clocks: RandomStream;
  private readonly membershipRandom: RandomStream;
  private readonly workload: KvWorkload | null;
  private readonly schedule: MembershipSchedule | null;
  private readonly initialMembership: Membership;
  private readonly clientCount: number;
  private readonly membershipName: MembershipScheduleName | 'none';
  private readonly figure8Faults: boolean;
  /** Per seed: how often a leader in the Figure 8 shape is crashed. */
  private readonly figure8Chance: number;
  private readonly snapshots: boolean;
  private readonly clockRates: readonly [number, number];
  private readonly leaseReads: boolean;
  private readonly snapshotRandom: RandomStream;
  /** Per seed: the chance that a delivered InstallSnapshot chunk, or a snapshot being stored, ends in a crash. */
  private readonly snapshotCrashChance: number;
  /** `node:incarnation` of crashed nodes whose messages still in flight are lost with them. */
  private readonly silenced = new Set<string>();
  private linearizabilityCheckMs = 0;
  /** Removed nodes still to be stopped; the run does not end before they are. */
  private pendingDecommissions = 0;

  private readonly nodeCount: number;
  private readonly steps: number;
  private readonly config: RaftConfig;
  private readonly livenessBoundMs: number;
  /** Disks complete writes in order: the earliest time each disk may complete its next write. */
  private readonly diskFreeAt = new Map<SimNode, number>();
  /** Bumped at the heal, when queued writes are rescheduled on the healed (fast) disks; older completions are void. */
  private diskEpoch = 0;
  private readonly diskMaxDelayMs = new Map<SimNode, number>();

  /** Per seed: how often a new leader is crashed within a few round trips of its election. */
  private readonly shortLivedLeaderChance: number;
  /** Per seed: the chance that a node crashes right after handling an input. */
  private readonly activityCrashChance: number;
  private phase: 'faults' | 'heal' = 'faults';
  private step = 0;
  private healedAt = 0;
  private liveAt: number | null = null;
  /** Liveness probes: command -> nodes that applied it. */
  private readonly probeAppliedOn = new Map<string, Set<NodeId>>();
  private readonly stats: SimStats = {
    steps: 0, healSteps: 0, virtualTimeMs: 0, recoveryMs: 0, leaderTerms: 0, highestTerm: 0, committedIndex: 0,
    crashes: 0, lostWrites: 0, partitions: 0, proposals: 0, acknowledged: 0, failedNotAppended: 0, failedUnknown: 0,
    messagesSent: 0, messagesDropped: 0, messagesDuplicated: 0, clientOperations: 0, clientCompleted: 0, clientAbandoned: 0,
    clientAttempts: 0, leaseReads: 0, membershipGoals: 0, membershipGoalsUnderFaults: 0, decommissioned: 0, figure8Crashes: 0,
    snapshotsTaken: 0, snapshotInstalls: 0, snapshotRecoveries: 0, snapshotChunksDelivered: 0, installCrashesLeader: 0,
    installCrashesFollower: 0, takeCrashes: 0,
  };

  constructor(
    private readonly seed: number,
    options: SimOptions,
  ) {
    this.nodeCount = options.nodes ?? 3;
    this.steps = options.steps ?? 2000;
    const stream = (purpose: number) => new RandomStream(deriveSeed(seed, purpose));
    this.clocks = stream(StreamPurpose.Clocks);
    this.snapshots = options.snapshots ?? true;
    this.snapshotRandom = stream(StreamPurpose.Snapshots);
    // Small, seed-chosen batch and window sizes: with one entry per message a new leader's old-term entries reach a
    // follower before its own no-op does, which is exactly the situation of the paper's Figure 8.
    this.config = {
      ...defaultRaftConfig,
      ...simConfig,
      maxEntriesPerMessage: this.clocks.pick([1, 1, 2, 3, 8]),
      maxInflightMessages: this.clocks.pick([1, 2, 4, 16]),
      // A snapshot every few dozen entries at most, keeping few entries behind it: a follower a few heartbeats
      // behind already needs the snapshot.
      snapshotThreshold: this.snapshots ? this.snapshotRandom.pick([10, 15, 20, 30]) : 0,
      snapshotTrailingEntries: this.snapshotRandom.pick([0, 2, 5]),
      // Sometimes also by size (a client command is a few dozen characters): snapshots at irregular indexes.
      snapshotThresholdBytes: this.snapshots ? this.snapshotRandom.pick([0, 0, 300, 1000]) : 0,
      ...(options.leaseReads === true ? { leaseReads: true } : {}),
      ...options.config,
    };
    this.leaseReads = options.leaseReads === true;
    const bound = 1 + this.config.leaseClockDrift / 2;
    this.clockRates = options.clockRates ?? (options.leaseReads === true ? [1 / bound, bound] : [0.8, 1.25]);
    this.snapshotCrashChance = this.snapshots ? this.snapshotRandom.pick([0, 0.02, 0.05, 0.1]) : 0;
    this.livenessBoundMs = options.livenessBoundMs ?? 30 * this.config.electionTimeoutMs;
    this.trace = options.trace === true ? [] : undefined;
    this.clientCount = options.clients ?? defaultClients;
    this.membershipName = options.membership ?? 'none';
    this.figure8Faults = options.figure8Faults ?? true;
    const shape = scheduleShape(this.membershipName, this.nodeCount);
    this.initialMembership = { voters: shape.initialVoters, learners: [] };
    this.network = new SimulatedNetwork(shape.ids, stream(StreamPurpose.Network));
    this.faults = stream(StreamPurpose.Faults);
    this.clients = stream(StreamPurpose.Clients);
    this.diskRandom = stream(StreamPurpose.Disk);
    this.applyRandom = stream(StreamPurpose.Apply);
    this.membershipRandom = stream(StreamPurpose.Membership);
    this.nodes = shape.ids.map((id, number) => {
      // Nodes that join later start outside any configuration and wait to hear from a leader.
      const voters = shape.initialVoters.includes(id) ? shape.initialVoters : [];
      const node = new SimNode(id, voters, this.config, this, (incarnation) =>
        new RandomStream(deriveSeed(seed, StreamPurpose.NodeCore + number * 1000 + incarnation)).next,
      );
      node.setClockRate(this.clocks.between(...this.clockRates), 0);
      // Small chunks: the key-value state (a few hundred bytes to a few KiB) spans several of them.
      node.snapshotChunkBytes = this.snapshotRandom.pick([64, 128, 256]);
      this.diskMaxDelayMs.set(node, this.diskRandom.between(1, 40));
      this.byId.set(id, node);
      return node;
    });
    this.checker = new SafetyChecker(this.nodes, this.ledger);
    // With a membership schedule leaders must live long enough, now and then, to commit a change under the faults.
    this.shortLivedLeaderChance = this.faults.pick(options.membership === undefined || options.membership === 'none' ? [0.1, 0.4, 0.7] : [0.05, 0.15, 0.3]);
    this.activityCrashChance = this.faults.pick(options.membership === undefined || options.membership === 'none' ? [0, 0.002, 0.005, 0.01] : [0, 0.001, 0.002, 0.004]);
    this.figure8Chance = this.faults.pick([0.3, 0.6, 1]);
    this.workload = this.clientCount > 0 ? new KvWorkload(this.clientHost(), stream(StreamPurpose.KvClients), {
      clients: this.clientCount,
      keys: clientKeys,
      operationDeadlineMs: 20 * this.config.electionTimeoutMs,
      // Some clients give up on an attempt sooner than a slow network delivers it, so that late attempts of requests
      // already answered still reach the log.
      attemptTimeoutMs: this.clients.pick([0.25, 0.5, 1.5]) * this.config.electionTimeoutMs,
      ...(options.sabotage === undefined ? {} : { sabotage: options.sabotage }),
      leaseReads: options.leaseReads === true,
    }) : null;
    this.schedule = shape.goals.length > 0 ? new MembershipSchedule(shape.goals, this.initialMembership, this.membershipHost()) : null;
    // Some seeds start on a bad network; the fault generator changes it later either way.
    if (this.faults.chance(0.3)) this.network.conditions = this.randomConditions();
  }

  async run(): Promise<SimResult> {
    try {
      for (const node of this.nodes) node.start();
      await this.finishSnapshotJobs();
      this.queue.push(this.clients.between(0, 50), { kind: 'propose' });
      this.workload?.start();
      if (this.schedule !== null) this.queue.push(this.membershipRandom.between(500, 1500), { kind: 'membership' });
      this.queue.push(this.faults.between(200, 1500), { kind: 'fault' });
      while (this.step < this.steps) {
        this.processNext();
        if (this.snapshotJobsPending()) await this.finishSnapshotJobs();
      }
      this.heal();
      await this.finishSnapshotJobs();
      const deadline = this.healedAt + this.livenessBoundMs;
      // Live once a fresh proposal is applied everywhere and every node has caught up with everything committed
      // (so the acknowledged-write check below looks at final states).
      while (this.liveAt === null || !(this.schedule?.done ?? true) || this.pendingDecommissions > 0 || !this.allCaughtUp()) {
        if (this.queue.now > deadline) {
          throw new SafetyViolation(
            'Liveness',
            `no proposal applied on every member within ${this.livenessBoundMs} ms of the heal (leader: ${this.currentLeader()?.id ?? 'none'}, terms ${this.nodes.map((n) => n.core?.term).join('/')}${this.schedule === null ? '' : `, membership goals ${this.schedule.progress}`})`,
          );
        }
        this.processNext();
        if (this.snapshotJobsPending()) await this.finishSnapshotJobs();
        this.stats.healSteps++;
      }
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
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // The event loop

  private snapshotJobsPending(): boolean {
    for (const node of this.nodes) if (node.snapshotJobPending) return true;
    return false;
  }

  /**
   * Let the state machines' snapshot jobs (promises, no I/O) run to their end, then carry each on, until none is
   * left: all at the current virtual time, before the next event.
   */
  private async finishSnapshotJobs(): Promise<void> {
    for (let round = 0; this.snapshotJobsPending(); round++) {
      if (round > 100) throw new Error('snapshot jobs do not finish');
      // A job needs only microtasks; a macrotask turn runs every one of them, however many there are.
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (const node of this.nodes) {
        if (node.snapshotJobPending) throw new Error(`${node.id}: a snapshot job is still waiting after the microtask queue ran`);
        node.finishSnapshotJob();
      }
    }
  }

  private processNext(): void {
    const scheduled = this.queue.pop();
    if (scheduled === undefined) throw new Error('the event queue ran dry');
    this.step++;
    const event = scheduled.event;
    switch (event.kind) {
      case 'deliver': {
        const node = this.byId.get(event.to)!;
        const blocked = this.network.isBlocked(event.from, event.to);
        const lost = this.silenced.has(`${event.from}:${event.fromIncarnation}`);
        if (!node.up || blocked || lost) {
          this.stats.messagesDropped++;
          this.record(`drop ${event.from}->${event.to} ${describeMessage(event.message)} (${blocked ? 'partition' : lost ? 'lost with its sender' : 'down'})`);
          return;
        }
        this.record(`recv ${event.from}->${event.to} ${describeMessage(event.message)}`);
        if (event.message.type === 'InstallSnapshot') this.stats.snapshotChunksDelivered++;
        if (event.message.type === 'InstallSnapshotResponse' && event.message.installed) node.sendingSnapshotTo.delete(event.from);
        node.input((core) => core.receive(event.from, event.message));
        if (event.message.type === 'InstallSnapshot') this.maybeCrashDuringInstall(node, event.from, event.fromIncarnation);
        if (event.message.type === 'AppendEntriesResponse' && event.message.success) this.maybeFigure8Crash(node, event.message.index);
        return;
      }
      case 'diskDone':
        if (!this.current(event.node, event.incarnation) || event.diskEpoch !== this.diskEpoch) return;
        if (event.node.disk.nextPendingSeq !== event.seq) throw new Error(`${event.node.id}: disk completions out of order`);
        this.record(`durable ${event.node.id} op${event.seq}`);
        event.node.completeWrite();
        return;
      case 'chunkRead':
        if (!this.current(event.node, event.incarnation) || !event.node.up) return;
        this.record(`read ${event.node.id} snapshot chunk ${event.chunk} for ${event.to}`);
        event.node.readSnapshotChunk(event.to, event.chunk);
        return;
      case 'appliedTo':
        if (!this.current(event.node, event.incarnation)) return;
        this.record(`appliedTo ${event.node.id} ${event.index}`);
        event.node.input((core) => core.appliedTo(event.index));
        return;
      case 'timer':
        if (!this.current(event.node, event.incarnation) || event.node.timerGeneration[event.timer] !== event.generation) return;
        this.record(`${event.timer} timer ${event.node.id}`);
        event.node.input((core) => (event.timer === 'election' ? core.electionTimeout() : core.heartbeatDue(event.node.localNow(this.queue.now))));
        return;
      case 'propose':
        this.propose();
        return;
      case 'fault':
        if (this.phase !== 'faults') return;
        this.injectFault();
        if (this.phase === 'faults') this.queue.push(this.queue.now + this.faults.between(100, 1000), { kind: 'fault' });
        return;
      case 'crash':
        if (!this.current(event.node, event.incarnation) || this.phase !== 'faults') return;
        if (event.silence === true) this.silenced.add(`${event.node.id}:${event.node.incarnation}`);
        this.crash(event.node, event.silence === true ? 'scheduled, its messages lost' : 'scheduled');
        return;
      case 'restart':
        if (!this.current(event.node, event.incarnation) || event.node.up || event.node.decommissioned) return;
        this.record(`restart ${event.node.id}`);
        event.node.start();
        return;
      case 'probe':
        this.probe();
        if (this.liveAt === null) this.queue.push(this.queue.now + this.config.heartbeatIntervalMs * 2, { kind: 'probe' });
        return;
      case 'action':
        event.run();
        return;
      case 'membership': {
        const leader = this.currentLeader();
        this.schedule!.tick(leader?.running);
        this.stats.membershipGoals = this.schedule!.reached.length;
        if (this.phase === 'faults') this.stats.membershipGoalsUnderFaults = this.stats.membershipGoals;
        if (!this.schedule!.done) this.queue.push(this.queue.now + this.membershipRandom.between(50, 250), { kind: 'membership' });
        return;
      }
      case 'decommission':
        this.pendingDecommissions--;
        if (event.node.decommissioned) return;
        event.node.decommissioned = true;
        this.stats.decommissioned++;
        this.record(`decommission ${event.node.id}`);
        if (event.node.up) this.crash(event.node, 'decommissioned', false);
        return;
    }
  }

  private current(node: SimNode, incarnation: number): boolean {
    return node.incarnation === incarnation;
  }

  private record(line: string): void {
    const stamped = `${this.queue.now.toFixed(3)} ${line}`;
    this.hash.update(stamped);
    this.hash.update('\n');
    this.trace?.push(stamped);
  }

  // -------------------------------------------------------------------------------------------------------------
  // NodeDriver: performing effects

  send(from: SimNode, to: NodeId, message: RaftMessage): void {
    this.stats.messagesSent++;
    const delays = this.network.deliveryDelays();
    if (delays.length === 0) this.stats.messagesDropped++;
    if (delays.length > 1) this.stats.messagesDuplicated++;
    for (const delay of delays) this.queue.push(this.queue.now + delay, { kind: 'deliver', from: from.id, fromIncarnation: from.incarnation, to, message });
  }

  writeQueued(node: SimNode, write: PersistEffect): void {
    this.checker.onLogWrite(node, write);
    const truncation = write.truncateFrom === null ? '' : ` truncate@${write.truncateFrom}`;
    this.record(`  ${node.id} persist w${write.writeId} t${write.hardState.term} vote=${write.hardState.votedFor ?? '-'} commit=${write.hardState.commit}${truncation} ${describeEntries(write.entries)}`);
  }

  writeDurable(node: SimNode, write: PersistEffect, previous: HardState): void {
    this.checker.onWriteDurable(node, previous, write);
  }

  diskQueued(node: SimNode, operation: DiskOperation): void {
    const earliest = Math.max(this.diskFreeAt.get(node) ?? 0, this.queue.now);
    const done = earliest + this.diskRandom.between(0.2, this.diskMaxDelayMs.get(node)!);
    this.diskFreeAt.set(node, done);
    this.queue.push(done, { kind: 'diskDone', node, incarnation: node.incarnation, seq: operation.seq, diskEpoch: this.diskEpoch });
    if (operation.kind === 'chunk') {
      this.record(`  ${node.id} store snapshot ${operation.meta.index}@${operation.meta.term} chunk ${operation.chunk}${operation.done ? ' done' : ''} (${operation.source})`);
      // A crash while the node's own snapshot is being stored loses it; the old one must still serve.
      if (operation.source === 'take' && operation.chunk === 0 && this.phase === 'faults' && this.faults.chance(this.snapshotCrashChance)) {
        this.queue.push(done - this.diskRandom.between(0, 0.2), { kind: 'crash', node, incarnation: node.incarnation });
      }
    } else if (operation.kind === 'compact') {
      this.record(`  ${node.id} compact through ${operation.through}`);
    }
  }

  snapshotChunkRequested(node: SimNode, to: NodeId, chunk: number): void {
    this.queue.push(this.queue.now + this.diskRandom.between(0.1, 2), { kind: 'chunkRead', node, incarnation: node.incarnation, to, chunk });
  }

  snapshotChain(node: SimNode, meta: SnapshotMeta): number {
    return this.checker.snapshotChain(node, meta);
  }

  snapshotRestored(node: SimNode, meta: SnapshotMeta, why: 'install' | 'recovery'): void {
    this.record(`  ${node.id} restored snapshot ${meta.index}@${meta.term} (${why})`);
    if (why === 'install') this.stats.snapshotInstalls++;
    else this.stats.snapshotRecoveries++;
    this.checker.onRestored(node, meta);
    // Liveness probes the snapshot covers are in the node's state as surely as if it had applied them one by one.
    if (this.phase === 'heal') {
      for (const [command, appliedOn] of this.probeAppliedOn) {
        const index = this.checker.committedIndexOf(command);
        if (index !== undefined && index <= meta.index) this.probeApplied(node, appliedOn);
      }
    }
    this.workload?.serveReads(node);
  }

  private probeApplied(node: SimNode, appliedOn: Set<NodeId>): void {
    appliedOn.add(node.id);
    if (this.liveAt === null && this.finalMembers().every((member) => appliedOn.has(member.id))) this.liveAt = this.queue.now;
  }

  snapshotSaved(node: SimNode, meta: SnapshotMeta): void {
    this.record(`  ${node.id} saved snapshot ${meta.index}@${meta.term}`);
    this.stats.snapshotsTaken++;
  }

  applied(node: SimNode, entries: readonly Entry[], proposals: ReadonlyMap<number, string>): void {
    this.checker.onApplied(node, entries);
    for (const [index, id] of proposals) {
      const entry = entries.find((candidate) => candidate.index === index);
      if (entry === undefined) throw new SafetyViolation('Client Outcome', `${node.id} acknowledged ${id} at ${index}, outside the applied entries`);
      if (isMembershipChange(id)) continue;
      this.ledger.acknowledged(id, entry.data, node.id);
    }
    if (this.phase === 'heal') {
      for (const entry of entries) {
        const appliedOn = this.probeAppliedOn.get(entry.data);
        if (appliedOn !== undefined) this.probeApplied(node, appliedOn);
      }
    }
    this.workload?.serveReads(node);
    const last = entries[entries.length - 1]!.index;
    this.record(`  ${node.id} apply ${describeEntries(entries)}${proposals.size > 0 ? ` acks=${[...proposals.values()].join(',')}` : ''}`);
    this.queue.push(this.queue.now + this.applyRandom.between(0, 5), { kind: 'appliedTo', node, incarnation: node.incarnation, index: last });
  }

  timerArmed(node: SimNode, timer: TimerKind, afterMs: number, generation: number): void {
    this.queue.push(this.queue.now + afterMs, { kind: 'timer', node, incarnation: node.incarnation, timer, generation });
  }

  proposalFailed(node: SimNode, id: string, failure: ProposalFailure): void {
    this.record(`  ${node.id} proposal ${id} failed ${failure.code}/${failure.outcome}`);
    if (isMembershipChange(id)) return;
    this.ledger.failed(id, failure, node.id);
    this.workload?.proposalFailed(node, id, failure);
  }

  proposalResults(node: SimNode, results: readonly ProposalResult<string | null, unknown>[]): void {
    this.workload?.proposalResults(node, results);
  }

  readReady(node: SimNode, ids: readonly string[], index: number): void {
    this.record(`  ${node.id} read ${ids.join(',')} ready at ${index}`);
    this.workload?.readReady(node, ids, index);
  }

  readFailed(node: SimNode, ids: readonly string[], leaderHint: NodeId | null): void {
    this.record(`  ${node.id} read ${ids.join(',')} failed (leader ${leaderHint ?? '-'})`);
    this.workload?.readFailed(node, ids, leaderHint);
  }

  observed(node: SimNode, effect: Effect): void {
    if (effect.type === 'roleChanged') {
      this.record(`  ${node.id} becomes ${effect.role} t${effect.term}`);
      // Leaders that die young, before their first entry commits, leave the divergent logs of Figure 8 behind.
      if (effect.role === 'leader' && this.phase === 'faults' && this.faults.chance(this.shortLivedLeaderChance)) {
        // Half of them take their last messages with them when Figure 8 faults are on: their entries then stay on
        // their own disk only, the conflicting newer-term entries of Figure 8 (b).
        const silence = this.figure8Faults && this.faults.chance(0.5);
        this.queue.push(this.queue.now + this.faults.between(1, 80), { kind: 'crash', node, incarnation: node.incarnation, silence });
      }
    }
    else if (effect.type === 'leaderChanged') this.record(`  ${node.id} leader=${effect.leader ?? '-'} t${effect.term}`);
    else if (effect.type === 'membershipChanged') this.record(`  ${node.id} members voters=${effect.voters.join(',')} learners=${effect.learners.join(',')}`);
  }

  stepped(node: SimNode): void {
    this.checker.afterStep(node);
    // Crashes tied to activity land at interesting moments (right after an ack, a vote, a commit), which timed
    // crashes rarely hit; leaders are hit three times as often.
    const chance = node.core?.role === 'leader' ? 3 * this.activityCrashChance : this.activityCrashChance;
    if (this.phase === 'faults' && this.faults.chance(chance)) {
      this.queue.push(this.queue.now, { kind: 'crash', node, incarnation: node.incarnation });
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Clients, faults and the heal

  private propose(): void {
    if (this.phase !== 'faults') return;
    this.queue.push(this.queue.now + this.clients.between(10, 150), { kind: 'propose' });
    // Most clients have found the leader; the rest hit a random node (and usually learn NOT_LEADER).
    const leader = this.currentLeader();
    const node = leader !== undefined && this.clients.chance(0.6) ? leader : this.clients.pick(this.nodes);
    const count = this.clients.chance(0.2) ? this.clients.int(2, 4) : 1;
    if (!node.up) return;
    const proposals = Array.from({ length: count }, () => this.ledger.create(node.id, this.queue.now));
    this.stats.proposals += count;
    this.record(`propose ${node.id} ${proposals.map((p) => `${p.id}=${p.data}`).join(',')}`);
    node.input((core) => core.propose(proposals));
  }

  private injectFault(): void {
    const r = this.faults;
    const roll = r.next();
    const ids = this.network.ids;
    if (roll < 0.18) {
      // A random split into two sides (symmetric).
      const side = ids.filter(() => r.chance(0.5));
      if (side.length === 0 || side.length === ids.length) return;
      this.network.isolateGroup(side);
      this.stats.partitions++;
      this.record(`fault partition {${side.join(',')}} | rest`);
    } else if (roll < 0.28) {
      // One-way links: a node that can send but not hear, or hear but not send.
      const links = r.int(1, ids.length);
      for (let i = 0; i < links; i++) {
        const from = r.pick(ids);
        const to = r.pick(ids);
        if (from !== to) this.network.blockOneWay(from, to);
      }
      this.stats.partitions++;
      this.record(`fault one-way ${this.network.describePartitions()}`);
    } else if (roll < 0.42) {
      const leader = this.currentLeader();
      if (leader === undefined) return;
      const mode = r.pick(['both', 'inbound', 'outbound'] as const);
      for (const other of ids) {
        if (other === leader.id) continue;
        if (mode !== 'inbound') this.network.blockOneWay(leader.id, other);
        if (mode !== 'outbound') this.network.blockOneWay(other, leader.id);
      }
      this.stats.partitions++;
      this.record(`fault isolate leader ${leader.id} (${mode})`);
    } else if (roll < 0.6) {
      this.network.healPartitions();
      this.record('fault heal partitions');
    } else if (roll < 0.78) {
      const leader = this.currentLeader();
      const victim = leader !== undefined && r.chance(0.5) ? leader : r.pick(this.nodes);
      if (victim.up) this.crash(victim, 'fault');
    } else if (roll < 0.9) {
      this.network.conditions = r.chance(0.3) ? { ...calmNetwork } : this.randomConditions();
      const c = this.network.conditions;
      this.record(`fault network loss=${c.lossRate.toFixed(2)} dup=${c.duplicateRate.toFixed(2)} delay=${c.minDelayMs.toFixed(0)}..${c.maxDelayMs.toFixed(0)}`);
    } else if (roll < 0.95) {
      const node = r.pick(this.nodes);
      node.setClockRate(this.clocks.between(...this.clockRates), this.queue.now);
      this.record(`fault clock ${node.id} x${node.clockRate.toFixed(2)}`);
    } else {
      const node = r.pick(this.nodes);
      this.diskMaxDelayMs.set(node, r.chance(0.5) ? r.between(50, 400) : r.between(1, 20));
      this.record(`fault disk ${node.id} up to ${this.diskMaxDelayMs.get(node)!.toFixed(0)}ms`);
    }
  }

  private crash(node: SimNode, why: string, restart = true): void {
    if (node.sendingSnapshotTo.size > 0) this.stats.installCrashesLeader++;
    const writing = node.disk.writingSnapshot;
    if (writing === 'install') this.stats.installCrashesFollower++;
    else if (writing === 'take') this.stats.takeCrashes++;
    const lost = node.crash();
    this.stats.crashes++;
    this.stats.lostWrites += lost;
    this.diskFreeAt.delete(node);
    this.record(`crash ${node.id} (${why}, ${lost} writes lost)`);
    if (restart) this.queue.push(this.queue.now + this.faults.between(50, 1500), { kind: 'restart', node, incarnation: node.incarnation });
  }

  /**
   * Figure 8's shape, on purpose: `leader` just learned that the entry at `index`, of an older term, is on a majority
   * of its voters, while nothing of its own term is committed yet. A correct leader must not count that majority; one
   * that does commits the entry and, if it dies now with its last messages, leaves a committed entry that a node
   * holding a conflicting entry of a newer term can still be elected to overwrite.
   */
  private maybeFigure8Crash(leader: SimNode, index: number): void {
    if (!this.figure8Faults || this.phase !== 'faults') return;
    const core = leader.core;
    if (core === null || core.role !== 'leader') return;
    const term = core.termAt(index);
    if (term === undefined || term >= core.term || core.termAt(core.commitIndex) === core.term) return;
    const chain = leader.mirror.chainAt(index);
    const voters = core.members.voters;
    let holders = 0;
    for (const id of voters) if (this.byId.get(id)!.mirror.chainAt(index) === chain) holders++;
    if (holders < majority(voters.length) || !this.faults.chance(this.figure8Chance)) return;
    this.stats.figure8Crashes++;
    this.silenced.add(`${leader.id}:${leader.incarnation}`);
    this.crash(leader, `Figure 8: index ${index} of term ${term} is on ${holders}/${voters.length} voters`);
  }

  /**
   * Crashes aimed at snapshot transfers: right after `follower` took a chunk (its write queued, not durable yet), or
   * the leader that sent it, mid-transfer.
   */
  private maybeCrashDuringInstall(follower: SimNode, leaderId: NodeId, leaderIncarnation: number): void {
    if (this.phase !== 'faults' || !this.faults.chance(this.snapshotCrashChance)) return;
    const leader = this.byId.get(leaderId)!;
    const victim = this.faults.chance(0.5) || leader.incarnation !== leaderIncarnation ? follower : leader;
    this.queue.push(this.queue.now + this.faults.between(0, 20), { kind: 'crash', node: victim, incarnation: victim.incarnation });
  }

  private randomConditions() {
    const r = this.faults;
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

  /** Every fault ends: the network is whole and reliable again, every node is up, disks are fast. */
  private heal(): void {
    this.phase = 'heal';
    this.healedAt = this.queue.now;
    this.network.healPartitions();
    this.network.conditions = { ...calmNetwork };
    for (const node of this.nodes) this.diskMaxDelayMs.set(node, Math.min(this.diskMaxDelayMs.get(node)!, 20));
    // A slow disk may have a backlog of seconds of writes queued under load; the healed disk works through it at its
    // new speed (otherwise a node could stay unable to acknowledge anything for longer than the liveness bound).
    this.diskEpoch++;
    for (const node of this.nodes) {
      this.diskFreeAt.delete(node);
      if (!node.up) continue;
      for (const seq of node.disk.pendingSeqs()) {
        const done = Math.max(this.diskFreeAt.get(node) ?? 0, this.queue.now) + this.diskRandom.between(0.2, this.diskMaxDelayMs.get(node)!);
        this.diskFreeAt.set(node, done);
        this.queue.push(done, { kind: 'diskDone', node, incarnation: node.incarnation, seq, diskEpoch: this.diskEpoch });
      }
    }
    this.record('heal');
    for (const node of this.nodes) if (!node.up && !node.decommissioned) node.start();
    this.queue.push(this.queue.now, { kind: 'probe' });
  }

  private allCaughtUp(): boolean {
    const committed = this.checker.committedIndex;
    return this.finalMembers().every((node) => node.stateMachine.lastApplied >= committed);
  }

  /**
   * The nodes liveness is checked on: every node, or with a membership schedule the members of the configuration the
   * leader has committed (none while there is no leader, which keeps the run going).
   */
  private finalMembers(): SimNode[] {
    if (this.schedule === null) return this.nodes;
    const leader = this.currentLeader();
    if (leader === undefined) return [];
    const members = this.checker.committedMembership(leader.running.commitIndex, this.initialMembership);
    const nodes = [...members.voters, ...members.learners].map((id) => this.byId.get(id)!);
    return nodes.length === 0 ? [] : nodes;
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

  private clientHost(): ClientHost {
    const simulation = this;
    return {
      get now() {
        return simulation.queue.now;
      },
      get accepting() {
        return simulation.phase === 'faults';
      },
      ledger: this.ledger,
      schedule: (time, _what, run) => this.queue.push(time, { kind: 'action', run }),
      reachableNodes: () => this.nodes.filter((node) => node.up && !node.decommissioned),
      node: (id) => this.byId.get(id),
      currentLeader: () => this.currentLeader(),
      record: (line) => this.record(line),
    };
  }

  private membershipHost(): MembershipHost {
    const simulation = this;
    return {
      get now() {
        return simulation.queue.now;
      },
      change: (leader: NodeId, id: string, change: MembershipChange, promoteWhenCaughtUp: boolean) => {
        this.record(`membership: ${leader} ${change.type} ${change.id} (${id})`);
        this.byId.get(leader)!.input((core) => core.changeMembership(id, change, { promoteWhenCaughtUp }));
      },
      // Only during the fault phase: after the heal the schedule finishes as fast as it can.
      pauseAfterGoalMs: () => (this.phase === 'faults' ? this.membershipRandom.between(0, 2 * this.config.electionTimeoutMs) : 0),
      decommission: (id: NodeId) => {
        const node = this.byId.get(id)!;
        this.pendingDecommissions++;
        this.queue.push(this.queue.now + this.membershipRandom.between(0, 2 * this.config.electionTimeoutMs), { kind: 'decommission', node });
      },
      committedMembership: (leader) => this.checker.committedMembership(leader.commitIndex, this.initialMembership),
      record: (line) => this.record(line),
    };
  }

  /** Propose a fresh command to the current leader, unless a recent probe is still undecided. */
  private probe(): void {
    const leader = this.currentLeader();
    if (leader === undefined) return;
    for (const command of this.probeAppliedOn.keys()) {
      const record = this.ledger.byCommand(command)!;
      if (record.status === 'pending' && this.queue.now - record.proposedAt < 2 * this.config.electionTimeoutMs) return;
    }
    const proposal = this.ledger.create(leader.id, this.queue.now, 'live');
    this.probeAppliedOn.set(proposal.data, new Set());
    this.record(`probe ${leader.id} ${proposal.id}=${proposal.data}`);
    leader.input((core) => core.propose([proposal]));
  }

  /** The leader with the highest term among running nodes. */
  private currentLeader(): SimNode | undefined {
    let leader: SimNode | undefined;
    for (const node of this.nodes) {
      if (node.core?.role === 'leader' && (leader === undefined || node.core.term > leader.running.term)) leader = node;
    }
    return leader;
  }

  private result(failure?: SimFailure): SimResult {
    const stats = this.stats;
    stats.steps = this.step;
    stats.virtualTimeMs = Math.round(this.queue.now);
    stats.recoveryMs = this.liveAt === null ? -1 : Math.round(this.liveAt - this.healedAt);
    stats.leaderTerms = this.checker.leaderTermCount;
    stats.highestTerm = Math.max(0, ...this.nodes.map((node) => node.core?.term ?? node.disk.hardState.term));
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
      traceHash: this.hash.digest('hex'),
      ...(failure === undefined ? {} : { failure }),
      stats,
      clients: this.clientCount,
      membership: this.membershipName,
      snapshots: this.snapshots,
      leaseReads: this.leaseReads,
      linearizabilityCheckMs: this.linearizabilityCheckMs,
      ...(this.trace === undefined ? {} : { trace: this.trace }),
    };
  }
}

/** Membership changes are proposed with ids of their own, outside the client ledger. */
function isMembershipChange(id: string): boolean {
  return id.startsWith('m');
}
