/**
 * One simulated server: a `RaftCore` plus everything around it that the simulator owns: its disk, its volatile log
 * mirror, its state machine and its timer generations. It performs the core's effects through a `NodeDriver`, which
 * decides *when* things happen (the seeded simulation schedules them; the manual harness queues them for the test).
 *
 * A crash drops the core and everything volatile; a restart builds a new core from the disk's durable state only: the
 * state machine is restored from the stored snapshot first (the node runtime's order), then the core is built from
 * `{ hardState, snapshot, entries after it }`. `incarnation` grows on both, so events scheduled for an earlier life of
 * the node are recognised and ignored.
 *
 * Snapshot effects (as src/node/runtime.ts performs them): `takeSnapshot` runs the state machine's TakeSnapshot and
 * queues its chunks on the disk, `snapshotSaved` once the last is durable; `readSnapshotChunk` reads the disk's current
 * snapshot when the driver says so (`readSnapshotChunk()`), answered with `snapshotChunkRead`; `writeSnapshotChunk`
 * queues a chunk, answered with `snapshotChunkWritten` once durable; `restoreSnapshot` restores the state machine from
 * the disk's current snapshot, answered with `snapshotRestored`; `compactLog` queues a compaction. The state machine
 * works on promises: after an input that started a snapshot job the driver drains the microtask queue and calls
 * `finishSnapshotJob()` (`snapshotJobPending` says when), before any other event.
 */
import { RaftCore } from '../../src/core/raft.js';
import type { Effect, Entry, HardState, NodeId, ProposalFailure, RaftConfig, RaftMessage, RandomSource, RecoveredState, SnapshotMeta } from '../../src/core/types.js';
import type { ProposalResult } from '../../actors/state-machine/StateMachine.js';
import { KvStateMachine } from './kvStateMachine.js';
import { LogMirror } from './logMirror.js';
import { RecordingStateMachine } from './recordingStateMachine.js';
import { SafetyViolation } from './safetyViolation.js';
import { sameMeta, SimulatedDisk, type DiskOperation, type PersistEffect } from './simulatedDisk.js';

export type TimerKind = 'election' | 'heartbeat';

/** How a node's effects reach the outside world. */
export interface NodeDriver {
  send(from: SimNode, to: NodeId, message: RaftMessage): void;
  /** A write was queued on the node's disk; the driver decides when it becomes durable (see `completeWrite`). */
  writeQueued(node: SimNode, write: PersistEffect): void;
  /** A snapshot chunk or a compaction was queued on the node's disk; it becomes durable like a write. */
  diskQueued(node: SimNode, operation: DiskOperation): void;
  /** The core asked for a chunk of the stored snapshot; the driver calls `readSnapshotChunk` when the read is done. */
  snapshotChunkRequested(node: SimNode, to: NodeId, chunk: number): void;
  /**
   * The hash of the committed prefix a snapshot covers, for the node's log mirror. The checker vouches for it: it
   * throws unless the snapshot's last entry is the committed entry at its index.
   */
  snapshotChain(node: SimNode, meta: SnapshotMeta): number;
  /** The state machine was restored from a snapshot (installed from the leader, or at a restart). */
  snapshotRestored(node: SimNode, meta: SnapshotMeta, why: 'install' | 'recovery'): void;
  /** A snapshot the node took itself is durable. */
  snapshotSaved(node: SimNode, meta: SnapshotMeta): void;
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
  /** Local timers run this much slower (> 1) or faster (< 1) than virtual time: clock skew. Set with `setClockRate`. */
  clockRate = 1;
  /** The local clock at the last rate change, and the virtual time of that change. */
  private clockAnchor = { local: 0, virtual: 0 };
  /** The largest user chunk of a snapshot this node takes (the session header is chunk 0 whatever its size). */
  snapshotChunkBytes = 256;
  /** Followers this node (as leader) has asked snapshot chunks for since it last heard one installed. */
  readonly sendingSnapshotTo = new Set<NodeId>();
  /** Recovered state waiting for the state machine's restore before the core is built. */
  private recovering: RecoveredState | null = null;

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

  /** Change the clock's rate from virtual time `now` on; the local clock stays continuous (it never jumps). */
  setClockRate(rate: number, now: number): void {
    this.clockAnchor = { local: this.localNow(now), virtual: now };
    this.clockRate = rate;
  }

  /** This node's clock at virtual time `now`: what its timer actor's `now()` would say (a crash does not reset it). */
  localNow(now: number): number {
    return this.clockAnchor.local + (now - this.clockAnchor.virtual) / this.clockRate;
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
    const snapshot = recovered.snapshot ?? null;
    this.mirror = snapshot === null
      ? LogMirror.fromEntries(recovered.entries)
      : LogMirror.fromSnapshot(snapshot.index, snapshot.term, this.driver.snapshotChain(this, snapshot), recovered.entries);
    this.stateMachine = new RecordingStateMachine(snapshot?.index ?? 0);
    this.kv = this.newStateMachine();
    this.answered = [];
    this.sendingSnapshotTo.clear();
    if (snapshot === null) {
      this.buildCore(recovered);
      return;
    }
    // The state machine first, from the stored snapshot; the core once it is restored (finishSnapshotJob).
    this.recovering = recovered;
    this.kv.restoreFrom(snapshot, this.disk.snapshot!.chunks);
  }

  private buildCore(recovered: RecoveredState): void {
    this.core = new RaftCore({
      id: this.id,
      voters: this.voters,
      config: this.config,
      random: this.randomFor(this.incarnation),
      recovered,
    });
    this.input((core) => core.start());
  }

  /** A snapshot job of the state machine is waiting for the microtask queue (see `finishSnapshotJob`). */
  get snapshotJobPending(): boolean {
    return this.kv.busy;
  }

  /** Whether the node is restoring its stored snapshot on the way up. */
  get starting(): boolean {
    return this.recovering !== null;
  }

  /** After the microtask queue ran: carry a finished snapshot job on. */
  finishSnapshotJob(): void {
    const outcome = this.kv.finishJob();
    if (outcome === null) return;
    if (outcome.kind === 'failed') {
      // The key-value state always snapshots and restores: a failure is a bug in the state machine layer.
      throw new SafetyViolation('Snapshot Job', `${this.id}: snapshot ${outcome.meta.index}: ${outcome.message}`);
    }
    if (outcome.kind === 'taken') {
      // The chunks go to the disk in order with the log writes; the core hears once the last one is durable.
      outcome.chunks.forEach((data, chunk) =>
        this.queueDisk({ kind: 'chunk', source: 'take', meta: outcome.meta, chunk, data, done: chunk === outcome.chunks.length - 1 }),
      );
      return;
    }
    if (this.recovering !== null) {
      const recovered = this.recovering;
      this.recovering = null;
      this.driver.snapshotRestored(this, outcome.meta, 'recovery');
      this.buildCore(recovered);
      return;
    }
    this.driver.snapshotRestored(this, outcome.meta, 'install');
    this.input((core) => core.snapshotRestored(outcome.meta));
  }

  /** The driver's read of a snapshot chunk for follower `to` is done: answer the core with what the disk holds now. */
  readSnapshotChunk(to: NodeId, chunk: number): void {
    const stored = this.disk.snapshot;
    const data = stored?.chunks[chunk];
    // As the node runtime does, a read of a chunk the current snapshot does not have is dropped.
    if (stored === null || data === undefined) return;
    this.input((core) => core.snapshotChunkRead(to, stored.meta, chunk, data, chunk === stored.chunks.length - 1));
  }

  private queueDisk(operation: Parameters<SimulatedDisk['enqueue']>[0]): void {
    this.driver.diskQueued(this, this.disk.enqueue(operation));
  }

  /** Power loss: the core, the volatile log and the state machine vanish with every write not yet durable. */
  crash(): number {
    if (this.core === null) return 0;
    this.core = null;
    this.recovering = null;
    this.sendingSnapshotTo.clear();
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

  /** Make the oldest queued disk operation durable and tell the core what it waits for. */
  completeWrite(): void {
    const completed = this.disk.completeNext();
    switch (completed.kind) {
      case 'persist': {
        const { write, previous } = completed;
        this.driver.writeDurable(this, write, previous);
        if (this.core !== null) this.input((core) => core.persisted(write.writeId));
        return;
      }
      case 'chunk': {
        const { source, meta, chunk, done } = completed.operation;
        if (source === 'take') {
          if (!done) return;
          this.driver.snapshotSaved(this, meta);
          if (this.core !== null) this.input((core) => core.snapshotSaved(meta));
        } else if (this.core !== null) {
          this.input((core) => core.snapshotChunkWritten(meta, chunk, done));
        }
        return;
      }
      case 'compact':
        return;
    }
  }

  private perform(effects: readonly Effect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'persist':
          // The core's log changes at once; the disk catches up later.
          this.mirror.apply(effect.truncateFrom, effect.entries);
          this.driver.writeQueued(this, effect);
          this.driver.diskQueued(this, this.disk.write(effect));
          break;
        case 'send':
          this.driver.send(this, effect.to, effect.message);
          break;
        case 'takeSnapshot':
          this.kv.takeSnapshot(effect.meta, this.snapshotChunkBytes);
          break;
        case 'compactLog':
          this.queueDisk({ kind: 'compact', through: effect.through });
          break;
        case 'readSnapshotChunk':
          this.sendingSnapshotTo.add(effect.to);
          this.driver.snapshotChunkRequested(this, effect.to, effect.chunk);
          break;
        case 'writeSnapshotChunk':
          this.queueDisk({ kind: 'chunk', source: 'install', meta: effect.meta, chunk: effect.chunk, data: effect.data, done: effect.done });
          break;
        case 'restoreSnapshot': {
          const stored = this.disk.snapshot;
          if (stored === null || !sameMeta(stored.meta, effect.meta)) {
            throw new SafetyViolation('Snapshot Contract', `${this.id} asked to restore snapshot ${effect.meta.index}@${effect.meta.term}, the disk's current one is ${stored === null ? 'none' : `${stored.meta.index}@${stored.meta.term}`}`);
          }
          // The core's log starts over at the snapshot; so do the mirror and the record of applied entries.
          this.mirror.rebase(effect.meta.index, effect.meta.term, this.driver.snapshotChain(this, effect.meta));
          this.stateMachine = new RecordingStateMachine(effect.meta.index);
          this.kv.restoreFrom(effect.meta, stored.chunks);
          break;
        }
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
          if (effect.role !== 'leader') this.sendingSnapshotTo.clear();
          this.driver.observed(this, effect);
          break;
        case 'leaderChanged':
        case 'membershipChanged':
          this.driver.observed(this, effect);
          break;
      }
    }
  }
}
