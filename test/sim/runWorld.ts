/**
 * The shared state of a simulated run and what its parts act through: the scheduler, the nodes, the network, the
 * checks, the trace (`SimWorld`), and the answers to what the simulated actors ask of the run (`HostDriver`): when a
 * message arrives, a disk operation completes, a read answers, a timer fires. The Simulation (simulation.ts) builds it
 * and runs the loop.
 */
import type { TimerName } from '../../actors/timer/TimerActor.js';
import type { Entry, HardState, NodeId, RaftConfig, RaftMessage, SnapshotMeta } from '../../src/core/types.js';
import type { NodeEmitted } from '../../src/node/machine.js';
import { ClientLedger } from './clientLedger.js';
import { describeEntries, describeMessage } from './describe.js';
import type { DiskTiming } from './diskTiming.js';
import { EventQueue } from './eventQueue.js';
import type { Nemesis } from './nemesis.js';
import type { RandomStream } from './randomStreams.js';
import type { SafetyChecker } from './safetyChecker.js';
import { SafetyViolation } from './safetyViolation.js';
import type { HostDriver, SimHost } from './simHost.js';
import type { DiskOperation, PersistEffect } from './simulatedDisk.js';
import type { SimulatedNetwork } from './simulatedNetwork.js';
import { emptyStats, type SimStats } from './stats.js';
import type { TraceRecorder } from './traceRecorder.js';
import type { LivenessProbe } from './workload.js';
import type { Phase, SimEvent, SimWorld } from './world.js';

/** What the run's own steps ask of its nemesis (a multi-group run injects faults per host instead, see hostFaults.ts). */
export type NemesisHooks = Pick<Nemesis, 'filter' | 'extraDelay' | 'restartDelay' | 'roleChanged' | 'otherEvent' | 'stepped' | 'snapshotStoring'>;

export abstract class RunWorld<WorldNemesis extends NemesisHooks = Nemesis> implements HostDriver, SimWorld {
  /** The scheduler; the groups of a multi-group run share one. */
  readonly queue: EventQueue<SimEvent>;
  hosts: SimHost[] = [];
  protected readonly byId = new Map<NodeId, SimHost>();
  network!: SimulatedNetwork;
  readonly ledger = new ClientLedger();
  checker!: SafetyChecker;
  readonly stats: SimStats = emptyStats();
  config!: RaftConfig;
  phase: Phase = 'faults';
  /** The term of the first leader elected in this run (spurious elections are counted after it). */
  protected firstLeaderTerm: number | null = null;
  protected trace!: TraceRecorder;
  protected diskRandom!: RandomStream;
  protected disks!: DiskTiming;
  protected nemesis!: WorldNemesis;
  protected probe!: LivenessProbe;
  /** Removed nodes still to be stopped; the run does not end before they are. */
  pendingDecommissions = 0;
  /** The first broken promise of the current event, thrown once the event is handled. */
  protected violation: unknown = null;

  constructor(queue: EventQueue<SimEvent> = new EventQueue<SimEvent>()) {
    this.queue = queue;
  }

  protected throwViolation(): void {
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
    this.trace.record(this.queue.now, line);
  }

  setDiskDelay(host: SimHost, maxMs: number): void {
    this.disks.setMaxDelay(host, maxMs);
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
    this.disks.crashed(host);
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
    const done = this.disks.schedule(host, operation.seq);
    if (operation.kind === 'chunk') {
      this.record(`  ${host.id} store snapshot ${operation.meta.index}@${operation.meta.term} chunk ${operation.chunk}${operation.done ? ' done' : ''} (${operation.source})`);
      if (operation.source === 'take' && operation.chunk === 0) this.nemesis.snapshotStoring(host, done);
    } else if (operation.kind === 'compact') {
      this.record(`  ${host.id} compact through ${operation.through}`);
    }
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

  applied(host: SimHost, entries: readonly Entry[], refusedRetries: number): void {
    this.stats.staleRetriesRefused += refusedRetries;
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
        if (event.role === 'leader' && this.firstLeaderTerm === null) this.firstLeaderTerm = event.term;
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
      case 'applied':
        // The apply itself is in the trace already (see `applied`).
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
