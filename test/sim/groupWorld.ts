/**
 * One Raft group of a multi-group run: its nodes (one per host, `SimHost` as in a single-group run), its safety
 * checker, client ledger, key-value clients and liveness probe, exactly the parts a single-group run checks with, on
 * the run's shared scheduler and the hosts' shared network (hostFabric.ts). Messages travel between hosts: a message
 * of this group is lost, duplicated, delayed or cut like every other message between the same two hosts, and it
 * reaches the group's node through the host (waking it when it sleeps), as `RaftHost` delivers it.
 */
import type { NodeId, RaftConfig, RaftMessage, Role } from '../../src/core/types.js';
import type { NodeEmitted } from '../../src/node/machine.js';
import { DiskTiming } from './diskTiming.js';
import type { EventQueue } from './eventQueue.js';
import type { HostFabric } from './hostFabric.js';
import { KvWorkload } from './kvClients.js';
import { deriveSeed, RandomStream } from './randomStreams.js';
import { RunWorld } from './runWorld.js';
import { SafetyChecker } from './safetyChecker.js';
import { SimHost } from './simHost.js';
import type { TraceRecorder } from './traceRecorder.js';
import { LivenessProbe } from './workload.js';
import type { SimEvent } from './world.js';
import { describeMessage } from './describe.js';
import { FixedTimeout } from '../../actors/timer/FailureDetector.js';

/** A group's faults come from the hosts (hostFaults.ts), never from the group: these hooks do nothing. */
const noGroupNemesis = {
  filter: (_from: SimHost, _to: NodeId, message: RaftMessage): RaftMessage | null => message,
  extraDelay: (): number => 0,
  restartDelay: (): number => 0,
  roleChanged: (_host: SimHost, _role: Role): void => undefined,
  otherEvent: (_host: SimHost, _event: NodeEmitted): void => undefined,
  stepped: (_host: SimHost): void => undefined,
  snapshotStoring: (_host: SimHost, _done: number): void => undefined,
};

export interface GroupWorldOptions {
  readonly group: number;
  readonly seed: number;
  readonly config: RaftConfig;
  /** Key-value clients on this group (0: an idle group, woken only by faults and the final probe). */
  readonly clients: number;
  /** Break the clients' protocol on purpose (see KvWorkloadOptions), to show the per-group checks catch it. */
  readonly sabotage?: 'stale-reads' | 'no-sessions';
}

export class GroupWorld extends RunWorld<typeof noGroupNemesis> {
  readonly group: number;
  readonly workload: KvWorkload | null;
  readonly livenessProbe: LivenessProbe;

  constructor(
    queue: EventQueue<SimEvent>,
    private readonly fabric: HostFabric,
    private readonly sharedTrace: TraceRecorder,
    options: GroupWorldOptions,
  ) {
    super(queue);
    this.group = options.group;
    this.config = options.config;
    this.trace = sharedTrace;
    this.network = fabric.network;
    this.nemesis = noGroupNemesis;
    const stream = (purpose: number) => new RandomStream(deriveSeed(options.seed, purpose * 1000 + options.group));
    this.diskRandom = stream(2);
    this.disks = new DiskTiming(queue, this.diskRandom);
    this.hosts = fabric.ids.map((id, number) => {
      let host: SimHost | null = null;
      host = new SimHost(
        id,
        fabric.ids,
        this.config,
        this,
        (incarnation) => new RandomStream(deriveSeed(options.seed, 100_000 + options.group * 1000 + number * 100 + incarnation)).next,
        () => new FixedTimeout(),
        fabric.timerFor(id, options.group, () => host!),
      );
      host.snapshotChunkBytes = 128;
      this.disks.add(host);
      this.byId.set(id, host);
      fabric.addNode(id, host);
      return host;
    });
    this.checker = new SafetyChecker(this.hosts, this.ledger);
    this.probe = new LivenessProbe(this, () => this.hosts);
    this.livenessProbe = this.probe;
    this.workload = options.clients === 0 ? null : new KvWorkload(this, stream(7), {
      clients: options.clients,
      keys: ['x', 'y', 'z'],
      operationDeadlineMs: 20 * this.config.electionTimeoutMs,
      attemptTimeoutMs: stream(4).pick([0.25, 0.5, 1.5]) * this.config.electionTimeoutMs,
      leaseReads: false,
      ...(options.sabotage === undefined ? {} : { sabotage: options.sabotage }),
    });
  }

  get diskEpoch(): number {
    return this.disks.epoch;
  }

  /** Throw the first broken promise of the last event, if any. */
  checkViolation(): void {
    this.throwViolation();
  }

  /** What RaftHost does with a node's `applied` event: a follower's pending quiesce notice is decided. */
  override emitted(host: SimHost, event: NodeEmitted): void {
    super.emitted(host, event);
    if (event.type === 'applied') this.fabric.quiescence(host.id, this.group)?.applied(event.index);
  }

  override record(line: string): void {
    this.sharedTrace.record(this.queue.now, `[g${this.group}] ${line}`);
  }

  /** The group's node sent a message to host `to`: it travels between the hosts, tagged with this group. */
  override send(from: SimHost, to: NodeId, message: RaftMessage): void {
    this.stats.messagesSent++;
    const delays = this.network.deliveryDelays();
    if (delays.length === 0) this.stats.messagesDropped++;
    if (delays.length > 1) this.stats.messagesDuplicated++;
    // Messages still in flight when their sender crashes arrive all the same (a crash does not recall packets).
    for (const delay of delays) {
      this.queue.push(this.queue.now + delay, { kind: 'action', run: () => this.deliver(from.id, to, message) });
    }
  }

  /** Heal the group's disks (the hosts heal the network). */
  healDisks(): void {
    this.phase = 'heal';
    this.disks.heal(this.hosts);
    this.probe.healedAt = this.queue.now;
  }

  allCaughtUp(): boolean {
    const committed = this.checker.committedIndex;
    return this.hosts.every((host) => host.stateMachine.lastApplied >= committed);
  }

  private deliver(from: NodeId, to: NodeId, message: RaftMessage): void {
    const host = this.host(to);
    if (!host.up || this.network.isBlocked(from, to)) {
      this.stats.messagesDropped++;
      this.record(`drop ${from}->${to} ${describeMessage(message)}`);
      return;
    }
    this.fabric.heard(to, from);
    this.record(`recv ${from}->${to} ${describeMessage(message)}`);
    if (message.type === 'InstallSnapshotResponse' && message.installed) host.sendingSnapshotTo.delete(from);
    // The host wakes the group before its node hears the message (RaftHost.received does the same).
    this.fabric.quiescence(to, this.group)?.arrived(from, message);
    host.deliver(from, message);
    this.fabric.quiescence(to, this.group)?.heard(message);
  }
}

