/**
 * What one running node holds outside its statechart's context: the Raft core (with the log's in-memory tail), the
 * actors, and the callers waiting on proposals and reads. The statechart keeps only scalars in its context plus a
 * reference to this object, whose `toJSON` is a small summary so that an inspector never serializes the log.
 */
import {
  MembershipError,
  RaftCore,
  seededRandom,
  type Effect,
  type MembershipChange,
  type NodeId,
  type Proposal,
  type RaftConfig,
  type RandomSource,
  type RecoveredState,
  type SnapshotMeta,
} from '../core/index.js';
import type { CommandCodec } from '../codec.js';
import {
  MembershipChangeError,
  NotLeaderError,
  OverloadedError,
  RejectedError,
  SessionExpiredError,
  StoppedError,
  TimeoutError,
  TransferAbortedError,
  type XraftError,
} from '../errors.js';
import type { LogStore, LogStoreMessage, SnapshotChunkLoaded, SnapshotChunkStored } from '../../actors/log-store/LogStore.js';
import type { NetworkActor } from '../../actors/network/NetworkActor.js';
import type {
  ProposalResult,
  SnapshotChunkConsumed,
  SnapshotChunkTaken,
  SnapshotFailed,
  SnapshotRestored,
  StateMachine,
  StateMachineMessage,
} from '../../actors/state-machine/StateMachine.js';
import type { TimerActor } from '../../actors/timer/TimerActor.js';

/** Largest snapshot chunk stored or sent, unless the node is told otherwise (`snapshotChunkBytes`). */
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 128 * 1024;

export interface NodeActors<Command, Result, AppError> {
  readonly timer: TimerActor;
  readonly network: NetworkActor;
  readonly logStore: LogStore;
  readonly stateMachine: StateMachine<Command, Result, AppError>;
}

export interface NodeInput<Command, Result, AppError> {
  readonly id: NodeId;
  /** The initial voting members (this node included), or [] for a node that joins an existing cluster. */
  readonly members: readonly NodeId[];
  readonly actors: NodeActors<Command, Result, AppError>;
  readonly codec: CommandCodec<Command>;
  readonly config?: Partial<RaftConfig>;
  /** Randomness for election jitter; seeded from the node id and the clock when absent. */
  readonly random?: RandomSource;
  /** Most proposals and reads waiting at once; beyond it callers get OverloadedError. Default 10,000. */
  readonly maxPending?: number;
  /** Largest snapshot chunk stored or sent, in bytes. Default 128 KiB (measured in BENCHMARKS.md: larger is faster but holds more memory, smaller is slower). */
  readonly snapshotChunkBytes?: number;
}

/** How a read is served. */
export type ReadConsistency = 'linearizable' | 'lease' | 'stale';

interface Waiter {
  readonly reject: (error: XraftError) => void;
  /** Timer clock time after which the caller gets TimeoutError. */
  readonly deadline: number;
  readonly timeoutMs: number;
}

interface ProposalWaiter<Result> extends Waiter {
  readonly kind: 'proposal';
  readonly resolve: (result: Result) => void;
}

interface ReadWaiter<Command, Result, AppError> extends Waiter {
  readonly kind: 'read';
  readonly query: (stateMachine: StateMachine<Command, Result, AppError>) => unknown;
  readonly resolve: (value: unknown) => void;
  /** The read index once confirmed; the read is served when the state machine has applied it. */
  index: number | null;
}

/** A unit of work for the statechart's dispatch action, in order. */
export type NodeEffect<Result, AppError> =
  | Effect
  | { readonly type: 'settle'; readonly results: readonly ProposalResult<Result, AppError>[] }
  | { readonly type: 'toLogStore'; readonly message: LogStoreMessage }
  | { readonly type: 'toStateMachine'; readonly message: StateMachineMessage }
  | { readonly type: 'fail'; readonly reason: string }
  | { readonly type: 'snapshot'; readonly how: SnapshotOrigin; readonly meta: SnapshotMeta };

/** How a node came by a snapshot: its own state machine's (`taken`), the leader's (`installed`), its store's on start (`restored`). */
export type SnapshotOrigin = 'taken' | 'installed' | 'restored';

/** The replies that move snapshots along (taking, sending, installing, restoring). */
export type SnapshotReply = SnapshotChunkTaken | SnapshotFailed | SnapshotChunkConsumed | SnapshotRestored | SnapshotChunkStored | SnapshotChunkLoaded;

export class NodeRuntime<Command, Result, AppError> {
  readonly id: NodeId;
  readonly members: readonly NodeId[];
  readonly actors: NodeActors<Command, Result, AppError>;
  readonly codec: CommandCodec<Command>;
  readonly maxPending: number;
  private readonly config: Partial<RaftConfig>;
  private readonly random: RandomSource;
  private raft: RaftCore | null = null;
  private readonly waiters = new Map<string, ProposalWaiter<Result> | ReadWaiter<Command, Result, AppError>>();
  /** A leadership transfer this node started, settled when the target leads or the transfer aborts. */
  private transfer: { readonly target: NodeId; readonly resolve: () => void; readonly reject: (error: Error) => void } | null = null;
  /** Reads whose index is known, waiting for the state machine to apply it. */
  private readonly readsAwaitingApply = new Set<string>();
  private earliestDeadline = Number.POSITIVE_INFINITY;
  readonly snapshotChunkBytes: number;
  /** Load's answer, kept while the state machine is restored from its snapshot. */
  private recovering: RecoveredState | null = null;
  /** The restore being fed has been sent its last chunk. */
  private restoreLastChunkLoaded = false;
  /** Pauses on the timer's clock (retry backoff), woken after events once due. */
  private sleepers: { readonly until: number; readonly wake: () => void }[] = [];
  /** Effects produced by the last event, drained by the statechart's dispatch action. */
  outbox: NodeEffect<Result, AppError>[] = [];

  constructor(input: NodeInput<Command, Result, AppError>) {
    this.id = input.id;
    this.members = input.members;
    this.actors = input.actors;
    this.codec = input.codec;
    this.config = input.config ?? {};
    this.maxPending = input.maxPending ?? 10_000;
    this.snapshotChunkBytes = input.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
    this.random = input.random ?? seededRandom(hashSeed(`${input.id}:${Date.now()}:${Math.random()}`));
    input.actors.stateMachine.useDecoder(input.codec.decode);
  }

  /** The core, once the node has recovered its state. */
  get core(): RaftCore | null {
    return this.raft;
  }

  /** Operations waiting for an answer. */
  get pending(): number {
    return this.waiters.size;
  }

  now(): number {
    return this.actors.timer.now();
  }

  /** What Load returned: with a snapshot, the state machine is restored from it first, then the core starts. */
  loaded(state: RecoveredState): void {
    if (state.snapshot === undefined || state.snapshot === null) {
      this.recover(state);
      return;
    }
    this.recovering = state;
    this.outbox = this.beginRestore(state.snapshot);
  }

  private recover(state: RecoveredState): void {
    this.raft = new RaftCore({ id: this.id, voters: this.members, config: this.config, random: this.random, recovered: state });
    this.outbox = this.raft.start();
  }

  private beginRestore(meta: SnapshotMeta): NodeEffect<Result, AppError>[] {
    this.restoreLastChunkLoaded = false;
    return [
      { type: 'toStateMachine', message: { type: 'BeginRestore', meta } },
      { type: 'toLogStore', message: { type: 'ReadSnapshotChunk', ref: 'restore', chunk: 0 } },
    ];
  }

  /**
   * Move a snapshot along. Taking: state machine chunk -> store -> next chunk -> ... -> core.snapshotSaved.
   * Sending: store chunk -> core (which sends it). Installing: core -> store -> core. Restoring: store chunk ->
   * state machine -> next chunk -> ... -> core.snapshotRestored (or, while recovering, the core is built).
   */
  snapshotReply(reply: SnapshotReply): void {
    const raft = this.raft;
    this.outbox = [];
    switch (reply.type) {
      case 'SnapshotChunkTaken':
        this.outbox = [{ type: 'toLogStore', message: { type: 'WriteSnapshotChunk', ref: 'take', meta: reply.meta, chunk: reply.chunk, data: reply.data, done: reply.done } }];
        return;
      case 'SnapshotFailed':
        if (reply.message.startsWith('restore failed')) this.outbox = [{ type: 'fail', reason: `snapshot ${reply.meta.index}: ${reply.message}` }];
        else if (raft !== null) this.outbox = raft.snapshotFailed();
        return;
      case 'SnapshotChunkStored':
        if (reply.ref === 'take') {
          if (!reply.done) this.outbox = [{ type: 'toStateMachine', message: { type: 'NextSnapshotChunk', meta: reply.meta } }];
          else if (raft !== null) this.outbox = [...raft.snapshotSaved(reply.meta), { type: 'snapshot', how: 'taken', meta: reply.meta }];
        } else if (raft !== null) {
          this.outbox = raft.snapshotChunkWritten(reply.meta, reply.chunk, reply.done);
        }
        return;
      case 'SnapshotChunkLoaded':
        if (reply.ref === 'restore') {
          if (reply.meta === null) {
            this.outbox = [{ type: 'fail', reason: `the stored snapshot has no chunk ${reply.chunk}` }];
            return;
          }
          this.restoreLastChunkLoaded = reply.done;
          this.outbox = [{ type: 'toStateMachine', message: { type: 'RestoreSnapshotChunk', meta: reply.meta, chunk: reply.chunk, data: reply.data, done: reply.done } }];
        } else if (reply.ref.startsWith('send:') && raft !== null) {
          const to = reply.ref.slice('send:'.length);
          // No such chunk: the snapshot was replaced meanwhile (perhaps by a shorter one); the core starts over.
          this.outbox =
            reply.meta === null ? raft.snapshotChunkMissing(to, reply.chunk) : raft.snapshotChunkRead(to, reply.meta, reply.chunk, reply.data, reply.done);
        }
        return;
      case 'SnapshotChunkConsumed':
        if (!this.restoreLastChunkLoaded) this.outbox = [{ type: 'toLogStore', message: { type: 'ReadSnapshotChunk', ref: 'restore', chunk: reply.chunk + 1 } }];
        return;
      case 'SnapshotRestored':
        if (this.recovering !== null) {
          const state = this.recovering;
          this.recovering = null;
          this.recover(state);
          this.outbox.push({ type: 'snapshot', how: 'restored', meta: reply.meta });
        } else if (raft !== null) {
          this.outbox = [...raft.snapshotRestored(reply.meta), { type: 'snapshot', how: 'installed', meta: reply.meta }];
        }
        return;
    }
  }

  /** Turn the core's snapshot effects into messages for the store and the state machine. */
  snapshotCommand(
    effect: Extract<Effect, { type: 'takeSnapshot' | 'compactLog' | 'readSnapshotChunk' | 'writeSnapshotChunk' | 'restoreSnapshot' }>,
  ): NodeEffect<Result, AppError>[] {
    switch (effect.type) {
      case 'takeSnapshot':
        return [{ type: 'toStateMachine', message: { type: 'TakeSnapshot', meta: effect.meta, chunkBytes: this.snapshotChunkBytes } }];
      case 'compactLog':
        return [{ type: 'toLogStore', message: { type: 'CompactLog', through: effect.through } }];
      case 'readSnapshotChunk':
        return [{ type: 'toLogStore', message: { type: 'ReadSnapshotChunk', ref: `send:${effect.to}`, chunk: effect.chunk } }];
      case 'writeSnapshotChunk':
        return [{ type: 'toLogStore', message: { type: 'WriteSnapshotChunk', ref: 'install', meta: effect.meta, chunk: effect.chunk, data: effect.data, done: effect.done } }];
      case 'restoreSnapshot':
        return this.beginRestore(effect.meta);
    }
  }

  /** Run one core input and keep its effects for dispatch. */
  step(input: (core: RaftCore) => Effect[]): void {
    this.outbox = this.raft === null ? [] : input(this.raft);
  }

  /** Queue proposals; without a core yet (still recovering) they fail at once. */
  propose(proposals: readonly Proposal[]): void {
    if (this.raft === null) {
      this.outbox = proposals.map((proposal) => ({
        type: 'proposalFailed',
        id: proposal.id,
        failure: { code: 'NOT_LEADER', leaderHint: null, outcome: 'not-appended' },
      }));
      return;
    }
    this.outbox = this.raft.propose(proposals);
  }

  /** Propose a membership change; an invalid one rejects its caller at once. */
  changeMembership(id: string, change: MembershipChange, promoteWhenCaughtUp: boolean): void {
    if (this.raft === null) {
      this.outbox = [{ type: 'proposalFailed', id, failure: { code: 'NOT_LEADER', leaderHint: null, outcome: 'not-appended' } }];
      return;
    }
    try {
      this.outbox = this.raft.changeMembership(id, change, { promoteWhenCaughtUp });
    } catch (error) {
      this.outbox = [];
      if (!(error instanceof MembershipError)) throw error;
      this.take(id, 'proposal')?.reject(new MembershipChangeError(error.code, error.message));
    }
  }

  /** Start a leadership transfer; the caller learns the outcome through `trackTransfer`. */
  transferLeadership(target: NodeId | undefined): void {
    if (this.raft === null) {
      this.outbox = [];
      this.transfer?.reject(new NotLeaderError(null, 'not-appended'));
      this.transfer = null;
      return;
    }
    try {
      this.outbox = this.raft.transferLeadership(target);
    } catch (error) {
      this.outbox = [];
      if (!(error instanceof MembershipError)) throw error;
      this.transfer?.reject(new MembershipChangeError(error.code, error.message));
      this.transfer = null;
    }
  }

  trackTransfer(target: NodeId, resolve: () => void, reject: (error: Error) => void): void {
    if (this.transfer !== null) throw new MembershipChangeError('CHANGE_IN_PROGRESS', 'a leadership transfer is already under way');
    this.transfer = { target, resolve, reject };
  }

  /** The leader changed: a transfer to that node is complete. */
  leaderChanged(leader: NodeId | null): void {
    if (this.transfer !== null && leader !== null && (leader === this.transfer.target || this.transfer.target === '')) {
      this.transfer.resolve();
      this.transfer = null;
    }
  }

  transferAborted(reason: string): void {
    this.transfer?.reject(new TransferAbortedError(reason));
    this.transfer = null;
  }

  read(ids: readonly string[], lease: boolean): void {
    if (this.raft === null) {
      this.outbox = [{ type: 'readFailed', ids, leaderHint: null }];
      return;
    }
    this.outbox = this.raft.readIndex(ids, { lease, now: this.now() });
  }

  /** Record the state machine's progress and queue the settlement of the proposals it answered. */
  applied(index: number, results: readonly ProposalResult<Result, AppError>[]): void {
    this.outbox = this.raft === null ? [] : this.raft.appliedTo(index);
    if (results.length > 0) this.outbox.push({ type: 'settle', results });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Callers

  /** Admit a new waiting operation, or refuse it when too many are waiting already. */
  private admit(id: string, waiter: ProposalWaiter<Result> | ReadWaiter<Command, Result, AppError>): void {
    if (this.waiters.size >= this.maxPending) throw new OverloadedError(this.maxPending);
    this.waiters.set(id, waiter);
    this.earliestDeadline = Math.min(this.earliestDeadline, waiter.deadline);
  }

  trackProposal(id: string, timeoutMs: number, resolve: (result: Result) => void, reject: (error: XraftError) => void): void {
    this.admit(id, { kind: 'proposal', resolve, reject, deadline: this.now() + timeoutMs, timeoutMs });
  }

  trackRead(
    id: string,
    timeoutMs: number,
    query: (stateMachine: StateMachine<Command, Result, AppError>) => unknown,
    resolve: (value: unknown) => void,
    reject: (error: XraftError) => void,
  ): void {
    this.admit(id, { kind: 'read', query, resolve, reject, deadline: this.now() + timeoutMs, timeoutMs, index: null });
  }

  settle(results: readonly ProposalResult<Result, AppError>[]): void {
    for (const { proposalId, outcome } of results) {
      const waiter = this.take(proposalId, 'proposal');
      if (waiter === undefined) continue;
      if (outcome.ok) waiter.resolve(outcome.value);
      else if (outcome.error instanceof SessionExpiredError) waiter.reject(outcome.error);
      else waiter.reject(new RejectedError(outcome.error));
    }
  }

  failProposal(id: string, leaderHint: NodeId | null, outcome: 'not-appended' | 'unknown'): void {
    this.take(id, 'proposal')?.reject(new NotLeaderError(leaderHint, outcome));
  }

  readReady(ids: readonly string[], index: number): void {
    for (const id of ids) {
      const waiter = this.waiters.get(id);
      if (waiter?.kind !== 'read') continue;
      waiter.index = index;
      this.readsAwaitingApply.add(id);
    }
    this.serveReads();
  }

  failReads(ids: readonly string[], leaderHint: NodeId | null): void {
    for (const id of ids) this.take(id, 'read')?.reject(new NotLeaderError(leaderHint, 'not-appended'));
  }

  /**
   * Resolve after `ms` of the timer's clock. Checked after every event, so the resolution is as fine as the node's
   * traffic (at least every heartbeat on a leader, every election timeout elsewhere).
   */
  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ until: this.now() + ms, wake }));
  }

  /** After every event: serve reads whose index is applied, wake sleepers, time out what waited too long. */
  afterEvent(): void {
    this.serveReads();
    const now = this.now();
    if (this.sleepers.length > 0) {
      const due = this.sleepers.filter((sleeper) => sleeper.until <= now);
      if (due.length > 0) {
        this.sleepers = this.sleepers.filter((sleeper) => sleeper.until > now);
        for (const sleeper of due) sleeper.wake();
      }
    }
    if (now < this.earliestDeadline) return;
    this.earliestDeadline = Number.POSITIVE_INFINITY;
    for (const [id, waiter] of this.waiters) {
      if (waiter.deadline <= now) {
        this.waiters.delete(id);
        this.readsAwaitingApply.delete(id);
        waiter.reject(new TimeoutError(waiter.timeoutMs));
      } else {
        this.earliestDeadline = Math.min(this.earliestDeadline, waiter.deadline);
      }
    }
  }

  /** Reject every waiting caller: the node is stopping. */
  failAll(reason: string): void {
    for (const waiter of this.waiters.values()) waiter.reject(new StoppedError(reason));
    this.waiters.clear();
    this.readsAwaitingApply.clear();
    for (const sleeper of this.sleepers.splice(0)) sleeper.wake();
    this.transfer?.reject(new StoppedError(reason));
    this.transfer = null;
  }

  toJSON(): object {
    return this.raft?.status() ?? { id: this.id, recovering: true };
  }

  private serveReads(): void {
    if (this.readsAwaitingApply.size === 0 || this.raft === null) return;
    const applied = this.raft.appliedIndex;
    for (const id of this.readsAwaitingApply) {
      const waiter = this.waiters.get(id);
      if (waiter?.kind !== 'read' || waiter.index === null || waiter.index > applied) continue;
      this.readsAwaitingApply.delete(id);
      this.waiters.delete(id);
      let value: unknown;
      try {
        value = waiter.query(this.actors.stateMachine);
      } catch (error) {
        waiter.reject(new RejectedError(error));
        continue;
      }
      waiter.resolve(value);
    }
  }

  private take<Kind extends 'proposal' | 'read'>(
    id: string,
    kind: Kind,
  ): (Kind extends 'proposal' ? ProposalWaiter<Result> : ReadWaiter<Command, Result, AppError>) | undefined {
    const waiter = this.waiters.get(id);
    if (waiter?.kind !== kind) return undefined;
    this.waiters.delete(id);
    this.readsAwaitingApply.delete(id);
    return waiter as Kind extends 'proposal' ? ProposalWaiter<Result> : ReadWaiter<Command, Result, AppError>;
  }
}

/** FNV-1a, to turn a string into a 32-bit seed. */
function hashSeed(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
