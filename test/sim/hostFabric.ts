/**
 * The hosts of a multi-group run (`--groups N`): each simulated host runs one node of every group, and what a real
 * process shares between its groups is shared here too. One network between hosts (the `SimulatedNetwork`: every
 * partition, loss, duplication and delay applies to a host pair, so to every group the two share); one failure
 * detector per host (`PeerLiveness`, fed by host-level beats once per heartbeat interval); the quiescing of idle
 * groups (`QuiescingTimer` around each node's `SimTimer`, driven by `GroupQuiescence`, exactly as `RaftHost` does);
 * and one fate: a crash takes every group's node on the host down at once, a restart brings them all back.
 */
import type { HostSignal } from '../../actors/network/HostNetwork.js';
import { GroupQuiescence, type QuiescentNode } from '../../src/host/groupQuiescence.js';
import { PeerLiveness } from '../../src/host/peerLiveness.js';
import { QuiescingTimer } from '../../src/host/QuiescingTimer.js';
import type { NodeId, RaftConfig } from '../../src/core/types.js';
import type { EventQueue } from './eventQueue.js';
import type { SimHost } from './simHost.js';
import type { SimulatedNetwork } from './simulatedNetwork.js';
import type { SimTimer } from './simTimer.js';
import type { SimEvent } from './world.js';

interface FabricHost {
  readonly id: NodeId;
  up: boolean;
  incarnation: number;
  liveness: PeerLiveness;
  /** The running incarnation's quiescing state of each group's node, by group number. */
  readonly groups: Map<number, GroupQuiescence>;
  /** Each group's node on this host, by group number. */
  readonly nodes: SimHost[];
}

export interface FabricStats {
  signalsSent: number;
  signalsDelivered: number;
  /** Quiesce notices sent by idle leaders (one per follower), and sleeping groups woken by a peer host's silence or restart. */
  quiesceNotices: number;
  wokenBySuspicion: number;
  crashes: number;
  partitions: number;
}

export class HostFabric {
  private readonly hosts = new Map<NodeId, FabricHost>();
  readonly stats: FabricStats = { signalsSent: 0, signalsDelivered: 0, quiesceNotices: 0, wokenBySuspicion: 0, crashes: 0, partitions: 0 };

  constructor(
    readonly ids: readonly NodeId[],
    readonly queue: EventQueue<SimEvent>,
    readonly network: SimulatedNetwork,
    private readonly config: RaftConfig,
    readonly quiesce: boolean,
    private readonly record: (line: string) => void,
  ) {
    for (const id of ids) this.hosts.set(id, { id, up: false, incarnation: 0, liveness: new PeerLiveness(config.electionTimeoutMs), groups: new Map(), nodes: [] });
  }

  /** Group `group`'s node on host `id` joins the host (the host starts and crashes it with the others). */
  addNode(id: NodeId, node: SimHost): void {
    this.host(id).nodes.push(node);
  }

  nodesOf(id: NodeId): readonly SimHost[] {
    return this.host(id).nodes;
  }

  isUp(id: NodeId): boolean {
    return this.host(id).up;
  }

  /**
   * The timer a group's node gets in each incarnation: its `SimTimer`, put to sleep and woken by the group's
   * quiescing state (registered with the host, for signals and suspicions to reach it).
   */
  timerFor(id: NodeId, group: number, node: () => SimHost): (timer: SimTimer) => QuiescingTimer | SimTimer {
    return (timer) => {
      if (!this.quiesce) return timer;
      const quiescing = new QuiescingTimer(timer);
      const view: QuiescentNode = {
        status: () => {
          const core = node().core;
          return core === null
            ? { role: 'follower', term: 0, leader: null, commitIndex: -1, lastIndex: -2, appliedIndex: -1 }
            : { role: core.role, term: core.term, leader: core.leader, commitIndex: core.commitIndex, lastIndex: core.lastIndex, appliedIndex: core.appliedIndex };
        },
        peers: () => {
          const members = node().core?.members;
          return members === undefined ? [] : [...members.voters, ...members.learners].filter((member) => member !== id);
        },
        waiting: () => node().runtime.waiters.size,
        commitNotice: (from, term, commit) => node().commitNotice(from, term, commit),
      };
      const quiescence = new GroupQuiescence(`g${group}`, id, view, quiescing, (to, signal) => this.signal(id, to, signal));
      this.host(id).groups.set(group, quiescence);
      return quiescing;
    };
  }

  /** Group `group`'s quiescing state on host `id`, while it runs. */
  quiescence(id: NodeId, group: number): GroupQuiescence | undefined {
    const host = this.host(id);
    return host.up ? host.groups.get(group) : undefined;
  }

  /** Start host `id` (a new process: a new incarnation, a fresh failure detector) and every group's node on it. */
  start(id: NodeId): void {
    const host = this.host(id);
    if (host.up) return;
    host.up = true;
    host.incarnation++;
    host.liveness = new PeerLiveness(this.config.electionTimeoutMs);
    host.groups.clear();
    const now = this.queue.now;
    for (const peer of this.ids) if (peer !== id) host.liveness.watch(peer, now);
    for (const node of host.nodes) if (!node.up) node.start();
    const incarnation = host.incarnation;
    const beat = (): void => {
      if (!host.up || host.incarnation !== incarnation) return;
      this.beat(host);
      this.queue.push(this.queue.now + this.config.heartbeatIntervalMs, { kind: 'action', run: beat });
    };
    this.queue.push(now + this.config.heartbeatIntervalMs, { kind: 'action', run: beat });
  }

  /** Host `id` loses power: every group's node on it crashes (`crashNode` does the bookkeeping of each). */
  crash(id: NodeId, crashNode: (node: SimHost) => void): void {
    const host = this.host(id);
    if (!host.up) return;
    host.up = false;
    host.groups.clear();
    this.stats.crashes++;
    for (const node of host.nodes) crashNode(node);
  }

  /** Send a host-level signal through the simulated network (lost, duplicated, delayed or cut like any message). */
  signal(from: NodeId, to: NodeId, signal: HostSignal): void {
    this.stats.signalsSent++;
    if (signal.type === 'quiesce') this.stats.quiesceNotices++;
    const sender = this.host(from);
    const fromIncarnation = sender.incarnation;
    for (const delay of this.network.deliveryDelays()) {
      this.queue.push(this.queue.now + delay, { kind: 'action', run: () => this.signalArrives(from, fromIncarnation, to, signal) });
    }
  }

  /** A group's node on `to` heard from host `from` (any Raft message counts as a sign of life). */
  heard(to: NodeId, from: NodeId): void {
    const host = this.host(to);
    if (host.up) host.liveness.heard(from, this.queue.now);
  }

  private signalArrives(from: NodeId, fromIncarnation: number, to: NodeId, signal: HostSignal): void {
    const host = this.host(to);
    if (!host.up || this.network.isBlocked(from, to) || this.host(from).incarnation !== fromIncarnation) return;
    this.stats.signalsDelivered++;
    if (signal.type === 'beat') {
      if (host.liveness.beat(from, signal.incarnation, this.queue.now)) this.suspect(host, from, 'restarted');
      return;
    }
    host.liveness.heard(from, this.queue.now);
    const group = Number(signal.group.slice(1));
    host.groups.get(group)?.notice(from, signal);
  }

  /** Once per heartbeat interval: a beat to every peer host, and a look for silent ones. */
  private beat(host: FabricHost): void {
    const signal: HostSignal = { type: 'beat', incarnation: `${host.id}#${host.incarnation}` };
    for (const peer of this.ids) if (peer !== host.id) this.signal(host.id, peer, signal);
    for (const peer of host.liveness.newlySilent(this.queue.now)) this.suspect(host, peer, 'silent');
  }

  private suspect(host: FabricHost, peer: NodeId, why: string): void {
    let woken = 0;
    for (const quiescence of host.groups.values()) {
      if (!quiescence.asleep) continue;
      quiescence.peerSilent(peer);
      if (!quiescence.asleep) woken++;
    }
    this.stats.wokenBySuspicion += woken;
    this.record(`${host.id} suspects ${peer} (${why}): ${woken} groups woken`);
  }

  private host(id: NodeId): FabricHost {
    const host = this.hosts.get(id);
    if (host === undefined) throw new RangeError(`unknown host ${id}`);
    return host;
  }
}
