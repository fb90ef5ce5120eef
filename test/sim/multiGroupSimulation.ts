/**
 * A seeded multi-group run (`npm run sim -- --groups N`): N Raft groups on the same hosts, each host running one node
 * of every group over one host-level network, one failure detector and one fate (hostFabric.ts), under faults
 * injected per host (hostFaults.ts), with idle groups quiescing as `RaftHost` makes them.
 *
 * Every group keeps every check of a single-group run (groupWorld.ts reuses them): the safety checker after every
 * step of every node, the client outcomes, and at the end the liveness probe (a fresh proposal applied on every node
 * of every group within the bound after the heal), no acknowledged write lost, and the linearizability of the
 * key-value clients' history, per group. Clients run on every `clientEvery`-th group; the others stay idle, so they
 * quiesce, and only the faults and the final probe wake them.
 */
import { defaultRaftConfig, type RaftConfig } from '../../src/core/types.js';
import { EventQueue } from './eventQueue.js';
import { GroupWorld } from './groupWorld.js';
import { HostFabric } from './hostFabric.js';
import { HostFaults } from './hostFaults.js';
import { deriveSeed, RandomStream, StreamPurpose } from './randomStreams.js';
import { SafetyViolation } from './safetyViolation.js';
import { SimulatedNetwork } from './simulatedNetwork.js';
import { defaultClients, nodeIds, simConfig, type SimOptions } from './simOptions.js';
import { checkHistory, countOutcomes, simResult } from './simOutcome.js';
import { emptyStats, type SimFailure, type SimResult, type SimStats } from './stats.js';
import { TraceRecorder } from './traceRecorder.js';
import type { SimEvent } from './world.js';

/** Clients run on one group in this many (the rest stay idle and quiesce). */
const clientEvery = 5;

export interface MultiGroupStats {
  readonly quiesceNotices: number;
  readonly signalsDelivered: number;
  readonly wokenBySuspicion: number;
  /** Groups asleep on every host at the end of the fault phase. */
  readonly quiescedAtHeal: number;
}

export async function runMultiGroupSeed(seed: number, options: SimOptions): Promise<SimResult & { readonly multiGroup: MultiGroupStats }> {
  const stackTraceLimit = Error.stackTraceLimit;
  if (options.stacks !== true) Error.stackTraceLimit = 0;
  try {
    return await new MultiGroupSimulation(seed, options).run();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

class MultiGroupSimulation {
  private readonly queue = new EventQueue<SimEvent>();
  private readonly trace: TraceRecorder;
  private readonly fabric: HostFabric;
  private readonly faults: HostFaults;
  private readonly worlds: GroupWorld[];
  private readonly worldOf = new Map<object, GroupWorld>();
  private readonly config: RaftConfig;
  private readonly steps: number;
  private readonly nodeCount: number;
  private phase: 'faults' | 'heal' = 'faults';
  private step = 0;
  private linearizabilityCheckMs = 0;
  private quiescedAtHeal = 0;

  constructor(
    private readonly seed: number,
    private readonly options: SimOptions,
  ) {
    this.nodeCount = options.nodes ?? 3;
    this.steps = options.steps ?? 2000;
    this.trace = new TraceRecorder(options.trace === true);
    const snapshots = options.snapshots ?? true;
    this.config = {
      ...defaultRaftConfig,
      ...simConfig,
      snapshotThreshold: snapshots ? 20 : 0,
      snapshotTrailingEntries: 2,
      // As RaftHost does: quiescing groups learn commits from the notices that put them to sleep.
      commitHeartbeats: options.quiesce === false,
      ...options.config,
    };
    const ids = nodeIds(this.nodeCount);
    const network = new SimulatedNetwork(ids, new RandomStream(deriveSeed(seed, StreamPurpose.Network)));
    this.fabric = new HostFabric(ids, this.queue, network, this.config, options.quiesce !== false, (line) => this.record(line));
    const groups = options.groups ?? 1;
    const clients = options.clients ?? defaultClients;
    this.worlds = Array.from({ length: groups }, (_, group) => new GroupWorld(this.queue, this.fabric, this.trace, {
      group,
      seed,
      config: this.config,
      clients: group % clientEvery === 0 ? clients : 0,
      ...(options.sabotage === 'stale-reads' || options.sabotage === 'no-sessions' ? { sabotage: options.sabotage } : {}),
    }));
    for (const world of this.worlds) for (const host of world.hosts) this.worldOf.set(host, world);
    const run = this;
    this.faults = new HostFaults(
      this.fabric,
      {
        get now() {
          return run.queue.now;
        },
        get inFaultPhase() {
          return run.phase === 'faults';
        },
        at: (time, run) => this.queue.push(time, { kind: 'action', run }),
        crash: (id) => this.crash(id),
        restart: (id) => this.restart(id),
        record: (line) => this.record(line),
      },
      new RandomStream(deriveSeed(seed, StreamPurpose.Faults)),
      [0.8, 1.25],
    );
  }

  async run(): Promise<SimResult & { readonly multiGroup: MultiGroupStats }> {
    try {
      for (const id of this.fabric.ids) this.fabric.start(id);
      await this.settleAsyncWork();
      for (const world of this.worlds) world.workload?.start();
      this.faults.start();
      while (this.step < this.steps) {
        this.processNext();
        if (this.asyncWorkPending()) await this.settleAsyncWork();
      }
      this.quiescedAtHeal = this.worlds.filter((world) => this.fabric.ids.every((id) => this.fabric.quiescence(id, world.group)?.asleep === true)).length;
      this.heal();
      await this.settleAsyncWork();
      const bound = this.options.livenessBoundMs ?? 30 * this.config.electionTimeoutMs;
      const deadline = this.queue.now + bound;
      while (!this.worlds.every((world) => world.livenessProbe.live && world.allCaughtUp())) {
        if (this.queue.now > deadline) {
          const stuck = this.worlds.filter((world) => !world.livenessProbe.live || !world.allCaughtUp());
          throw new SafetyViolation('Liveness', `${stuck.length} groups not live within ${bound} ms of the heal, e.g. g${stuck[0]!.group}: ${stuck[0]!.hosts.map((h) => `${h.id}:${h.state}@t${h.core?.term ?? '-'}${this.fabric.quiescence(h.id, stuck[0]!.group)?.asleep === true ? '(asleep)' : ''}`).join(' ')}`);
        }
        this.processNext();
        if (this.asyncWorkPending()) await this.settleAsyncWork();
      }
      for (const world of this.worlds) {
        world.checker.checkNoAcknowledgedWriteLost(world.hosts);
        this.checkLinearizability(world);
      }
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
      for (const world of this.worlds) for (const host of world.hosts) host.crash();
    }
  }

  private record(line: string): void {
    this.trace.record(this.queue.now, line);
  }

  private crash(id: string): void {
    this.record(`crash host ${id}`);
    this.fabric.crash(id, (node) => this.worldOf.get(node)!.crash(node, `host ${id} crashed`, false));
  }

  private restart(id: string): void {
    if (this.fabric.isUp(id)) return;
    this.record(`restart host ${id}`);
    this.fabric.start(id);
  }

  private heal(): void {
    this.phase = 'heal';
    this.faults.heal();
    this.record('heal');
    for (const world of this.worlds) {
      world.healDisks();
      world.livenessProbe.start();
    }
  }

  private asyncWorkPending(): boolean {
    for (const world of this.worlds) for (const host of world.hosts) if (host.asyncWork) return true;
    return false;
  }

  private async settleAsyncWork(): Promise<void> {
    for (let round = 0; this.asyncWorkPending(); round++) {
      if (round > 100) throw new Error('snapshot work does not settle');
      for (const world of this.worlds) for (const host of world.hosts) host.asyncWork = false;
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (const world of this.worlds) world.checkViolation();
    }
  }

  private processNext(): void {
    const scheduled = this.queue.pop();
    if (scheduled === undefined) throw new Error('the event queue ran dry');
    this.step++;
    const event = scheduled.event;
    switch (event.kind) {
      case 'action':
        event.run();
        break;
      case 'timer':
        if (event.host.incarnation === event.incarnation) event.host.fireTimer(event.timer, event.generation);
        break;
      case 'disk': {
        const world = this.worldOf.get(event.host)!;
        if (event.host.incarnation !== event.incarnation || event.diskEpoch !== world.diskEpoch) break;
        event.host.completeDisk();
        break;
      }
      case 'read':
        if (event.host.incarnation === event.incarnation) event.answer();
        break;
      default:
        throw new Error(`a multi-group run schedules no ${event.kind} events`);
    }
    for (const world of this.worlds) world.checkViolation();
  }

  private checkLinearizability(world: GroupWorld): void {
    if (world.workload !== null) this.linearizabilityCheckMs += checkHistory(world.workload, `group g${world.group}: `);
  }

  private result(failure?: SimFailure): SimResult & { readonly multiGroup: MultiGroupStats } {
    const stats: SimStats = emptyStats();
    for (const world of this.worlds) {
      const own = world.stats;
      countOutcomes(own, world);
      for (const key of Object.keys(stats) as (keyof SimStats)[]) stats[key] += own[key];
      stats.highestTerm = Math.max(stats.highestTerm, ...world.hosts.map((host) => host.core?.term ?? host.disk.hardState.term));
      stats.recoveryMs = Math.max(stats.recoveryMs, world.livenessProbe.recoveryMs);
    }
    stats.steps = this.step;
    stats.virtualTimeMs = Math.round(this.queue.now);
    stats.crashes = this.fabric.stats.crashes;
    stats.partitions = this.fabric.stats.partitions;
    const run = { seed: this.seed, nodes: this.nodeCount, steps: this.steps, options: this.options, trace: this.trace, linearizabilityCheckMs: this.linearizabilityCheckMs };
    return {
      ...simResult(run, stats, failure),
      multiGroup: {
        quiesceNotices: this.fabric.stats.quiesceNotices,
        signalsDelivered: this.fabric.stats.signalsDelivered,
        wokenBySuspicion: this.fabric.stats.wokenBySuspicion,
        quiescedAtHeal: this.quiescedAtHeal,
      },
    };
  }
}
