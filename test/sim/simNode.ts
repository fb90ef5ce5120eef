/**
 * One simulated server: a `RaftCore` plus everything around it that the simulator owns: its disk, its volatile log
 * mirror, its state machine and its timer generations. It performs the core's effects through a `NodeDriver`, which
 * decides *when* things happen (the seeded simulation schedules them; the manual harness queues them for the test).
 *
 * A crash drops the core and everything volatile; a restart builds a new core from the disk's durable state only.
 * `incarnation` grows on both, so events scheduled for an earlier life of the node are recognised and ignored.
 */
import { RaftCore } from '../../src/core/raft.js';
import type { Effect, Entry, HardState, NodeId, ProposalFailure, RaftConfig, RaftMessage, RandomSource } from '../../src/core/types.js';
import type { ProposalResult } from '../../actors/state-machine/StateMachine.js';
import { KvStateMachine } from './kvStateMachine.js';
import { LogMirror } from './logMirror.js';
import { RecordingStateMachine } from './recordingStateMachine.js';
import { SimulatedDisk, type PersistEffect } from './simulatedDisk.js';

export type TimerKind = 'election' | 'heartbeat';

/** How a node's effects reach the outside world. */
export interface NodeDriver {
  send(from: SimNode, to: NodeId, message: RaftMessage): void;
  /** A write was queued on the node's disk; the driver decides when it becomes durable (see `completeWrite`). */
  writeQueued(node: SimNode, write: PersistEffect): void;
  /** The oldest queued write just became durable (`previous` is the hard state it replaced), before the core hears. */
  writeDurable(node: SimNode, write: PersistEffect, previous: HardState): void;
  /** Entries were applied to the node's state machine; the driver reports `appliedTo` now or later. */
  applied(node: SimNode, entries: readonly Entry[], proposals: ReadonlyMap<number, string>): void;
  /** A timer was (re)armed; `generation` identifies this arming, later ones supersede it. */
  timerArmed(node: SimNode, timer: TimerKind, afterMs: number, generation: number): void;
  proposalFailed(node: SimNode, id: string, failure: ProposalFailure): void;
  /** The state machine answered proposals made on this node (after `applied` for the same entries). */
  proposalResults(node: SimNode, results: readonly ProposalResult<string | null, unknown>[]): void;
  /** Reads on this node may be served once its state machine has applied `index`. */
  readReady(node: SimNode, ids: readonly string[], index: number): void;
  readFailed(node: SimNode, ids: readonly string[], leaderHint: NodeId | null): void;
  /** Every other effect (role and leader changes), for traces. */
  observed(node: SimNode, effect: Effect): void;
  /** Called after every input the node handled and the effects were performed: the place for invariant checks. */
  stepped(node: SimNode): void;
}

export class SimNode {
  core: RaftCore | null = null;
  readonly disk = new SimulatedDisk();
  mirror = new LogMirror();
  stateMachine = new RecordingStateMachine();
  /** The application: a key-value store on the real `StateMachine` base class, rebuilt from the log on restart. */
  kv: KvStateMachine;
  private answered: ProposalResult<string | null, unknown>[] = [];
  incarnation = 0;
  /** Taken out of service for good (removed from the cluster): never restarted. */
  decommissioned = false;
  /** Timer generations: an expiry event fires only when it carries the current generation. */
  readonly timerGeneration: Record<TimerKind, number> = { election: 0, heartbeat: 0 };
  /** Local timers run this much slower (> 1) or faster (< 1) than virtual time: clock skew. */
  clockRate = 1;

  constructor(
    readonly id: NodeId,
    /** The initial configuration: the bootstrap voters, or [] for a node that joins a running cluster. */
    private readonly voters: readonly NodeId[],
    private readonly config: Partial<RaftConfig>,
    private readonly driver: NodeDriver,
    /** A fresh random source for each incarnation, so a restart does not replay the previous life's timeouts. */
    private readonly randomFor: (incarnation: number) => RandomSource,
  ) {
    this.kv = this.newStateMachine();
  }

  private newStateMachine(): KvStateMachine {
    return new KvStateMachine(this.id, (results) => this.answered.push(...results));
  }

  get up(): boolean {
    return this.core !== null;
  }

  /** The running core; calling it on a crashed node is a bug in the simulator, not in Raft. */
  get running(): RaftCore {
    if (this.core === null) throw new Error(`${this.id} is down`);
    return this.core;
  }

  /** (Re)start from durable state only: what a real process finds on disk after a crash. */
  start(): void {
    if (this.core !== null) throw new Error(`${this.id} is already up`);
    this.incarnation++;
    this.timerGeneration.election++;
    this.timerGeneration.heartbeat++;
    const recovered = this.disk.recovered();
    this.mirror = LogMirror.fromEntries(recovered.entries);
    this.stateMachine = new RecordingStateMachine();
    this.kv = this.newStateMachine();
    this.answered = [];
    this.core = new RaftCore({
      id: this.id,
      voters: this.voters,
      config: this.config,
      random: this.randomFor(this.incarnation),
      recovered,
    });
    this.input((core) => core.start());
  }

  /** Power loss: the core, the volatile log and the state machine vanish with every write not yet durable. */
  crash(): number {
    if (this.core === null) return 0;
    this.core = null;
    this.incarnation++;
    this.timerGeneration.election++;
    this.timerGeneration.heartbeat++;
    return this.disk.crash();
  }

  /** Feed one input to the core and perform the effects it returns. */
  input(call: (core: RaftCore) => Effect[]): void {
    const effects = call(this.running);
    this.perform(effects);
    this.driver.stepped(this);
  }

  /** Make the oldest queued write durable and tell the core. */
  completeWrite(): void {
    const { write, previous } = this.disk.completeNext();
    this.driver.writeDurable(this, write, previous);
    if (this.core !== null) this.input((core) => core.persisted(write.writeId));
  }

  private perform(effects: readonly Effect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'persist':
          // The core's log changes at once; the disk catches up later.
          this.mirror.apply(effect.truncateFrom, effect.entries);
          this.disk.write(effect);
          this.driver.writeQueued(this, effect);
          break;
        case 'send':
          this.driver.send(this, effect.to, effect.message);
          break;
        case 'apply':
          this.stateMachine.apply(effect.entries);
          this.kv.applyEntries(effect.entries, effect.proposals);
          this.driver.applied(this, effect.entries, effect.proposals);
          if (this.answered.length > 0) {
            const results = this.answered;
            this.answered = [];
            this.driver.proposalResults(this, results);
          }
          break;
        case 'readReady':
          this.driver.readReady(this, effect.ids, effect.index);
          break;
        case 'readFailed':
          this.driver.readFailed(this, effect.ids, effect.leaderHint);
          break;
        case 'resetElectionTimer':
          this.driver.timerArmed(this, 'election', effect.afterMs * this.clockRate, ++this.timerGeneration.election);
          break;
        case 'resetHeartbeatTimer':
          this.driver.timerArmed(this, 'heartbeat', effect.afterMs * this.clockRate, ++this.timerGeneration.heartbeat);
          break;
        case 'cancelHeartbeatTimer':
          this.timerGeneration.heartbeat++;
          break;
        case 'proposalFailed':
          this.driver.proposalFailed(this, effect.id, effect.failure);
          break;
        case 'roleChanged':
        case 'leaderChanged':
        case 'membershipChanged':
          this.driver.observed(this, effect);
          break;
      }
    }
  }
}
