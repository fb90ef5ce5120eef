/**
 * Many Raft groups in one process (multi-Raft), sharing what a process has one of: one network endpoint for every
 * group (`HostNetwork`: group id in every message, everything for one peer in one turn sent together), one timer
 * (`TimerWheel`), and one failure detector per peer host instead of heartbeats per group. Each group is an ordinary
 * node (`createRaftNode`: its own statechart and core, unchanged), member `<host id>` of its group.
 *
 * Idle groups quiesce (groupQuiescence.ts): no timers, no heartbeats, until a message, a local operation or a peer
 * host's failure wakes them. Hosts beat to each other once per heartbeat interval (peerLiveness.ts), which carries
 * the liveness of every group they share. Leaders spread over the hosts by a per-group preference (leaderSpread.ts).
 *
 * @example
 * const hub = new MemoryHostNetworkHub();
 * const host = new RaftHost<Put, Kv>({ id: 'n1', network: hub.endpoint('n1') });
 * host.createGroup('users-0', { members: ['n1', 'n2', 'n3'], commandSchema, stateMachine: new Kv() });
 * await host.propose('users-0', { key: 'a', value: '1' });
 */
import { randomUUID } from 'node:crypto';
import { groupIdSchema, type GroupId, type HostNetwork, type HostSignal } from '../../actors/network/HostNetwork.js';
import type { LogStore } from '../../actors/log-store/LogStore.js';
import { MemoryLogStore } from '../../actors/log-store/MemoryLogStore.js';
import type { StateMachine } from '../../actors/state-machine/StateMachine.js';
import type { TimerActor } from '../../actors/timer/TimerActor.js';
import { defaultRaftConfig, type NodeId, type RaftConfig, type RaftMessage } from '../core/index.js';
import { createRaftNode } from '../createRaftNode.js';
import { InvalidConfigError, UnknownGroupError } from '../errors.js';
import type { NodeStatus, ProposeOptions, RaftNode, RaftNodeOptions, ReadOptions, ResultOf } from '../raftNode.js';
import { GroupNetwork } from './GroupNetwork.js';
import { retryThroughHandover } from './handoverRetry.js';
import { GroupQuiescence } from './groupQuiescence.js';
import { LeaderBalancer } from './leaderBalancer.js';
import { PREFERRED_PRIORITY, preferredLeader } from './leaderSpread.js';
import { PeerLiveness } from './peerLiveness.js';
import { QuiescingTimer } from './QuiescingTimer.js';
import { TimerWheel, WheelTimer } from './TimerWheel.js';

export interface RaftHostOptions {
  /** This host's id: the member id of its node in every group it hosts. */
  readonly id: NodeId;
  readonly network: HostNetwork;
  /** Raft settings for every group (a group's own `config` overrides them). Its timings drive the host's beats. */
  readonly config?: Partial<RaftConfig>;
  /** The timer of every group. Default: a new wheel on the process clock. */
  readonly wheel?: TimerWheel;
  /** Put idle groups to sleep. Default true. */
  readonly quiesce?: boolean;
  /**
   * Most groups campaigning at once on this host; a follower whose election timer fires beyond it waits a little
   * (a fraction of an election timeout) and tries again. Keeps a cold start of thousands of groups from flooding the
   * process with votes that arrive after their elections timed out. Default 100.
   */
  readonly maxCampaigns?: number;
  /**
   * Spread leaders by a per-group preferred member (unless a group sets `config.electionPriority`), and move the
   * leadership of a group led here to its preferred member once it has led for an election timeout. Default true.
   */
  readonly spreadLeaders?: boolean;
  /** Changes at every start of the host process, so peers notice a quick restart. Default: a random UUID. */
  readonly incarnation?: string;
  /**
   * The log store of each group created without one, e.g. `(group) => shared.store(group)` for one LevelDB shared by
   * every group (SharedLevelLogStores). Default: a `MemoryLogStore` per group.
   */
  readonly logStore?: (group: GroupId) => LogStore;
}

/** A group's options: a node's, without what the host provides (its id, network and timer). */
export type GroupOptions<Command, SM extends StateMachine<Command, unknown, unknown>> = Omit<RaftNodeOptions<Command, SM>, 'id' | 'network' | 'timer'>;

export interface GroupStatus extends NodeStatus {
  readonly group: GroupId;
  /** Asleep: no timers, no heartbeats, until something wakes it. */
  readonly quiesced: boolean;
}

export interface HostStatus {
  readonly id: NodeId;
  readonly groups: {
    readonly total: number;
    /** Groups whose node here knows a leader. */
    readonly withLeader: number;
    /** Groups led by this host. */
    readonly leading: number;
    readonly quiesced: number;
  };
  /** Peer hosts currently suspected (silent for an election timeout, or unreachable). */
  readonly suspectedPeers: readonly NodeId[];
  /** Messages that arrived for groups this host does not have. */
  readonly unknownGroupMessages: number;
}

interface HostedGroup<Command, Result, SM> {
  readonly node: RaftNode<Command, Result, SM>;
  readonly network: GroupNetwork;
  readonly quiescence: GroupQuiescence | null;
}

export class RaftHost<Command, SM extends StateMachine<Command, unknown, unknown>> {
  readonly id: NodeId;
  readonly incarnation: string;
  private readonly network: HostNetwork;
  private readonly wheel: TimerWheel;
  private readonly config: Partial<RaftConfig>;
  private readonly quiesce: boolean;
  private readonly spreadLeaders: boolean;
  private readonly logStoreFor: (group: GroupId) => LogStore;
  private readonly groups = new Map<GroupId, HostedGroup<Command, ResultOf<SM>, SM>>();
  private readonly liveness: PeerLiveness;
  private readonly balancer: LeaderBalancer | null;
  private readonly heartbeatMs: number;
  /** Ends the pauses of operations retried through a handover (handoverRetry.ts) when the host closes. */
  private readonly pauses = new Set<() => void>();
  private readonly retryClock = {
    now: () => this.wheel.now(),
    pause: (ms: number): Promise<void> =>
      new Promise<void>((resume) => {
        if (this.closed) return resume();
        const end = (): void => {
          this.pauses.delete(end);
          this.wheel.cancel(entry);
          resume();
        };
        const entry = this.wheel.schedule(ms, end);
        this.pauses.add(end);
      }),
  };
  private unknownGroupMessages = 0;
  /** Groups whose node here is campaigning (pre-candidate or candidate), for campaign admission. */
  private readonly campaigning = new Set<GroupId>();
  private readonly maxCampaigns: number;
  private readonly electionTimeoutMs: number;
  /** When the last beat ran, to tell a stall of this process from the silence of its peers. */
  private lastBeatAt: number;
  private closed = false;

  constructor(options: RaftHostOptions) {
    this.id = options.id;
    this.network = options.network;
    this.wheel = options.wheel ?? new TimerWheel();
    this.config = options.config ?? {};
    this.quiesce = options.quiesce ?? true;
    this.spreadLeaders = options.spreadLeaders ?? true;
    this.incarnation = options.incarnation ?? randomUUID();
    this.logStoreFor = options.logStore ?? (() => new MemoryLogStore());
    const timings = { ...defaultRaftConfig, ...this.config };
    this.heartbeatMs = timings.heartbeatIntervalMs;
    this.electionTimeoutMs = timings.electionTimeoutMs;
    this.maxCampaigns = options.maxCampaigns ?? 100;
    this.liveness = new PeerLiveness(timings.electionTimeoutMs);
    // At most 20 transfers per heartbeat interval: a few hundred per second at the default timings.
    this.balancer = this.spreadLeaders ? new LeaderBalancer(this.id, timings.electionTimeoutMs, 20) : null;
    this.network.attach({
      received: (from, group, message) => this.received(from, group, message),
      signalled: (from, signal) => this.signalled(from, signal),
      unreachable: (peer) => this.unreachable(peer),
    });
    this.lastBeatAt = this.wheel.now();
    this.wheel.schedule(this.heartbeatMs, () => this.beat());
  }

  /**
   * Start hosting group `id` with this host as member `this.id`, and return its node. `members` are host ids.
   * Throws InvalidConfigError for an invalid or already hosted id (and whatever `createRaftNode` throws).
   */
  createGroup(id: GroupId, options: GroupOptions<Command, SM>): RaftNode<Command, ResultOf<SM>, SM> {
    if (this.closed) throw new InvalidConfigError('the host is closed');
    if (!groupIdSchema.safeParse(id).success) throw new InvalidConfigError(`invalid group id ${JSON.stringify(id)}: 1 to 256 characters`);
    if (this.groups.has(id)) throw new InvalidConfigError(`group ${JSON.stringify(id)} already exists on host ${this.id}`);
    const now = this.wheel.now();
    for (const member of options.members) if (member !== this.id) this.liveness.watch(member, now);
    // A quiescing group learns commits from the notice that puts it to sleep, not from an append per commit.
    const given: Partial<RaftConfig> = { ...(this.quiesce ? { commitHeartbeats: false } : {}), ...this.config, ...options.config };
    const config: Partial<RaftConfig> = this.spreadLeaders && given.electionPriority === undefined
      ? { ...given, electionPriority: preferredLeader(id, options.members) === this.id ? PREFERRED_PRIORITY : 1 }
      : given;
    const wheelTimer = new WheelTimer(this.wheel);
    const timer: TimerActor = this.quiesce ? new QuiescingTimer(wheelTimer) : wheelTimer;
    let quiescence: GroupQuiescence | null = null;
    const network = new GroupNetwork((to, message) => this.network.send(to, id, message));
    const node = createRaftNode<Command, SM>({ ...options, logStore: options.logStore ?? this.logStoreFor(id), id: this.id, network, timer, config });
    if (timer instanceof QuiescingTimer) {
      quiescence = new GroupQuiescence(
        id,
        this.id,
        {
          status: () => node.status(),
          peers: () => {
            const { voters, learners } = node.members();
            return [...voters, ...learners].filter((member) => member !== this.id);
          },
          waiting: () => node.actor.getSnapshot().context.runtime.waiters.size,
          commitNotice: (from, term, commit) => {
            const notice = { type: 'xraft.commitNotice', from, term, commit } as const;
            const { inbox } = node.actor.getSnapshot().context.runtime;
            if (inbox === null) node.actor.send(notice);
            else inbox(notice);
          },
        },
        timer,
        (to, signal) => this.network.signal(to, signal),
        () => (this.campaigning.size < this.maxCampaigns ? 0 : Math.round(this.electionTimeoutMs * (0.25 + 0.5 * Math.random()))),
      );
    }
    node.on('applied', ({ index }) => quiescence?.applied(index));
    node.on('roleChanged', ({ role }) => {
      if (role === 'preCandidate' || role === 'candidate') this.campaigning.add(id);
      else this.campaigning.delete(id);
    });
    this.groups.set(id, { node, network, quiescence });
    const balancer = this.balancer;
    if (balancer !== null && options.config?.electionPriority === undefined) {
      node.on('leaderChanged', ({ leader }) => balancer.leaderChanged(id, leader, preferredLeader(id, node.members().voters), this.wheel.now()));
    }
    return node;
  }

  /** Stop hosting group `id` (its node stops; its log store closes). Resolves once stopped. */
  async removeGroup(id: GroupId): Promise<void> {
    const group = this.groups.get(id);
    if (group === undefined) throw new UnknownGroupError(id);
    this.groups.delete(id);
    this.campaigning.delete(id);
    this.balancer?.forget(id);
    await group.node.stop();
  }

  /** The node of group `id` on this host, if hosted. Operations through it wake the group as well. */
  group(id: GroupId): RaftNode<Command, ResultOf<SM>, SM> | undefined {
    return this.groups.get(id)?.node;
  }

  /** Group ids hosted here. */
  groupIds(): GroupId[] {
    return [...this.groups.keys()];
  }

  /**
   * Propose `command` to group `id` (see RaftNode.propose); rejects with UnknownGroupError for an unknown group. A
   * refusal while the group's leadership is handed over (the balancer moves leaders) is retried until the deadline.
   */
  propose(id: GroupId, command: Command, options?: ProposeOptions): Promise<ResultOf<SM>> {
    const group = this.groups.get(id);
    if (group === undefined) return Promise.reject(new UnknownGroupError(id));
    group.quiescence?.wakeLocally();
    return retryThroughHandover(this.retryClock, this.heartbeatMs, options, (attempt) => group.node.propose(command, attempt));
  }

  /** Read from group `id` (see RaftNode.read): a quiesced group wakes first, and serves as an awake one would. */
  read<T>(id: GroupId, query: (stateMachine: SM) => T, options?: ReadOptions): Promise<T> {
    const group = this.groups.get(id);
    if (group === undefined) return Promise.reject(new UnknownGroupError(id));
    group.quiescence?.wakeLocally();
    return retryThroughHandover(this.retryClock, this.heartbeatMs, options, (attempt) => group.node.read(query, { ...options, ...attempt }));
  }

  /** Wake group `id` now (before a membership change or a transfer through its node, for instance). */
  wake(id: GroupId): void {
    const group = this.groups.get(id);
    if (group === undefined) throw new UnknownGroupError(id);
    group.quiescence?.wakeLocally();
  }

  groupStatus(id: GroupId): GroupStatus {
    const group = this.groups.get(id);
    if (group === undefined) throw new UnknownGroupError(id);
    return { ...group.node.status(), group: id, quiesced: group.quiescence?.asleep ?? false };
  }

  status(): HostStatus {
    let withLeader = 0;
    let leading = 0;
    let quiesced = 0;
    for (const group of this.groups.values()) {
      const { leader } = group.node.actor.getSnapshot().context;
      if (leader !== null) withLeader++;
      if (leader === this.id) leading++;
      if (group.quiescence?.asleep === true) quiesced++;
    }
    return {
      id: this.id,
      groups: { total: this.groups.size, withLeader, leading, quiesced },
      suspectedPeers: this.liveness.peers().filter((peer) => this.liveness.isSuspected(peer)),
      unknownGroupMessages: this.unknownGroupMessages,
    };
  }

  /** Stop every group, the wheel and the transport. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const nodes = [...this.groups.values()].map((group) => group.node);
    this.groups.clear();
    const stopped = await Promise.allSettled(nodes.map((node) => node.stop()));
    for (const end of [...this.pauses]) end();
    this.wheel.close();
    await this.network.close();
    const failure = stopped.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }

  private received(from: NodeId, id: GroupId, message: RaftMessage): void {
    this.liveness.heard(from, this.wheel.now());
    const group = this.groups.get(id);
    if (group === undefined) {
      this.unknownGroupMessages++;
      return;
    }
    group.quiescence?.arrived(from, message);
    group.network.deliver(from, message);
    group.quiescence?.heard(message);
  }

  private signalled(from: NodeId, signal: HostSignal): void {
    const now = this.wheel.now();
    if (signal.type === 'beat') {
      if (this.liveness.beat(from, signal.incarnation, now)) this.peerSuspected(from);
      return;
    }
    this.liveness.heard(from, now);
    this.groups.get(signal.group)?.quiescence?.notice(from, signal);
  }

  private unreachable(peer: NodeId): void {
    if (!this.liveness.unreachable(peer)) return;
    for (const group of this.groups.values()) group.network.peerUnreachable(peer);
    this.peerSuspected(peer);
  }

  /** `peer` may have failed or restarted: wake every sleeping group it leads or is a member of led here. */
  private peerSuspected(peer: NodeId): void {
    for (const group of this.groups.values()) group.quiescence?.peerSilent(peer);
  }

  /** Hand a few misplaced leaderships to their preferred members (see leaderBalancer.ts). */
  private moveMisplacedLeaders(): void {
    if (this.balancer === null) return;
    for (const { group: id, target } of this.balancer.due(this.wheel.now(), (peer) => this.liveness.isSuspected(peer))) {
      const group = this.groups.get(id);
      if (group === undefined || group.node.status().role !== 'leader') continue;
      group.quiescence?.wakeLocally();
      // A refused or aborted transfer leaves this leader in place; the balancer tries again later.
      group.node.transferLeadership(target).catch(() => undefined);
    }
  }

  /** Once per heartbeat interval: one beat to each peer host, and a look for silent ones. */
  private beat(): void {
    if (this.closed) return;
    const beat: HostSignal = { type: 'beat', incarnation: this.incarnation };
    for (const peer of this.liveness.peers()) this.network.signal(peer, beat);
    const now = this.wheel.now();
    // A beat late by more than an interval means this process stalled: that time is not the peers' silence.
    this.liveness.excuse(now - this.lastBeatAt - 2 * this.heartbeatMs, now);
    this.lastBeatAt = now;
    for (const peer of this.liveness.newlySilent(now)) this.peerSuspected(peer);
    this.moveMisplacedLeaders();
    this.wheel.schedule(this.heartbeatMs, () => this.beat());
  }
}
