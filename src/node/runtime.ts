/**
 * What one running node holds outside its statechart's context: the Raft core (with the log's in-memory tail), the
 * actors, and its named parts: the callers waiting on proposals and reads (`Waiters`), the leadership transfer
 * under way (`TransferTracker`) and the snapshot choreography (`SnapshotFlow`). The statechart keeps only scalars in
 * its context plus a reference to this object, whose `toJSON` is a small summary so that an inspector never
 * serializes the log.
 *
 * Every input goes to the core through `run`: an exception thrown by the core becomes a `fail` effect, which stops
 * the node with that error as its reason, instead of breaking the statechart.
 */
import {
  defaultRaftConfig,
  MembershipError,
  RaftCore,
  seededRandom,
  type MembershipChange,
  type NodeId,
  type Proposal,
  type ProposalFailure,
  type RaftConfig,
  type RaftMessage,
  type RandomSource,
  type RecoveredState,
} from '../core/index.js';
import type { CommandCodec } from '../codec.js';
import { CloseFailedError, MembershipChangeError, NotLeaderError } from '../errors.js';
import type { ProposalResult } from '../../actors/state-machine/StateMachine.js';
import { SnapshotFlow } from './snapshotFlow.js';
import { TransferTracker } from './transferTracker.js';
import type { NodeActors, NodeEffect, NodeInput, SnapshotCommand, SnapshotReply } from './types.js';
import { CommandIntake } from './commandIntake.js';
import { Waiters } from './waiters.js';
import type { ActorChild } from '../actor.js';
import type { ChildMessages, ChildReplies } from './effects.js';
import type { NodeEvent } from './machine.js';

export type { NodeActors, NodeEffect, NodeInput, ReadConsistency, SnapshotOrigin, SnapshotReply } from './types.js';

/** Largest snapshot chunk stored or sent, unless the node is told otherwise (`snapshotChunkBytes`). */
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 128 * 1024;

/** The scalars of the core that the statechart mirrors in its context (none before the core exists). */
export interface CoreScalars {
  readonly role: RaftCore['role'];
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  /** Index of the latest snapshot stored on this node (0 without one). */
  readonly snapshotIndex: number;
}

export class NodeRuntime<Command, Result, AppError> {
  readonly id: NodeId;
  readonly members: readonly NodeId[];
  private readonly addresses: Readonly<Record<NodeId, string>> | undefined;
  readonly actors: NodeActors<Command, Result, AppError>;
  readonly codec: CommandCodec<Command>;
  readonly maxPending: number;
  readonly snapshotChunkBytes: number;
  private readonly config: Partial<RaftConfig>;
  private readonly random: RandomSource;
  private raft: RaftCore | null = null;
  /** The callers waiting on this node (proposals, reads, sleepers). */
  readonly waiters: Waiters<Command, Result, AppError>;
  private readonly transfers: TransferTracker;
  private readonly snapshots: SnapshotFlow<Result, AppError>;
  /** The configured base election timeout T, which the timer's failure detector scales its own estimate by. */
  readonly electionTimeoutMs: number;
  /** The last leader this node knew of (the core forgets it when the node is removed; callers still get the hint). */
  private lastLeader: NodeId | null = null;
  /** Effects produced by the last event, drained by the statechart's dispatch action. */
  outbox: NodeEffect<Result, AppError>[] = [];
  /** A warning that the state machine cannot snapshot was issued (once per node). */
  private warnedNoSnapshots = false;
  private readonly intake: CommandIntake<Command>;
  /**
   * The node's inbox (inbox.ts), once it has one: the way in for every event, the actors' replies included (without
   * one they go to the statechart with xstate's `sendBack`).
   */
  inbox: ((event: NodeEvent<Result, AppError>) => void) | null = null;

  constructor(input: NodeInput<Command, Result, AppError>) {
    this.id = input.id;
    this.members = input.members;
    this.addresses = input.addresses;
    this.actors = input.actors;
    this.codec = input.codec;
    this.config = input.config ?? {};
    this.electionTimeoutMs = this.config.electionTimeoutMs ?? defaultRaftConfig.electionTimeoutMs;
    this.maxPending = input.maxPending ?? 10_000;
    this.snapshotChunkBytes = input.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
    this.random = input.random ?? seededRandom(hashSeed(`${input.id}:${Date.now()}:${Math.random()}`));
    this.waiters = new Waiters(this.maxPending, () => this.now());
    // The core aborts a transfer after an election timeout; the caller's backstop is twice that.
    this.transfers = new TransferTracker(input.id, 2 * this.electionTimeoutMs);
    this.snapshots = new SnapshotFlow<Result, AppError>({ core: () => this.raft, startCore: (state) => this.startCore(state) }, this.snapshotChunkBytes);
    this.intake = new CommandIntake(input.codec, (id, data) => this.waiters.decodedCommand(id, data));
    input.actors.stateMachine.useDecoder(this.intake.decode);
  }

  /** One of the actors as the statechart invokes it (see `fromActor`), its replies going to the inbox. */
  child<Name extends keyof NodeActors<Command, Result, AppError>>(name: Name): ActorChild<ChildMessages[Name], ChildReplies<Result, AppError>[Name]> {
    return { actor: this.actors[name] as unknown as ActorChild<ChildMessages[Name], ChildReplies<Result, AppError>[Name]>['actor'], node: this };
  }

  /** The core, once the node has recovered its state. */
  get core(): RaftCore | null {
    return this.raft;
  }

  now(): number {
    return this.actors.timer.now();
  }

  /** The core's scalars, for the statechart's context. */
  scalars(): CoreScalars | null {
    const core = this.raft;
    if (core === null) return null;
    return {
      role: core.role,
      term: core.term,
      leader: core.leader,
      commitIndex: core.commitIndex,
      appliedIndex: core.appliedIndex,
      lastIndex: core.lastIndex,
      snapshotIndex: core.snapshotIndex,
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Inputs: each leaves its effects in `outbox`.

  /** What Load returned: with a snapshot, the state machine is restored from it first, then the core starts. */
  loaded(state: RecoveredState): void {
    this.guarded(() => (state.snapshot === undefined || state.snapshot === null ? this.startCore(state) : this.snapshots.recoverFrom(state, state.snapshot)));
  }

  /** A store or state machine reply that moves a snapshot along. */
  snapshotReply(reply: SnapshotReply): void {
    this.guarded(() => this.snapshots.reply(reply));
  }

  /** Turn one of the core's snapshot effects into messages for the store and the state machine. */
  snapshotCommand(effect: SnapshotCommand): NodeEffect<Result, AppError>[] {
    return this.snapshots.command(effect);
  }

  /** A message from a peer; an AppendEntries whose commands do not decode is refused before the core sees it. */
  received(from: NodeId, message: RaftMessage): void {
    const problem = message.type === 'AppendEntries' ? this.intake.problem(message.entries) : null;
    if (problem !== null) this.outbox = [{ type: 'refused', from, messageType: message.type, reason: problem }];
    else this.run((core) => core.receive(from, message));
  }

  /** The network lost `peer` (a reset connection, a peer that stopped answering): the core may campaign at once. */
  peerUnreachable(peer: NodeId): void {
    this.run((core) => core.peerUnreachable(peer));
  }

  /** The leader's word that `commit` is committed in `term` (a multi-Raft quiesce notice; see RaftCore.commitNotice). */
  commitNotice(from: NodeId, term: number, commit: number): void {
    this.run((core) => core.commitNotice(from, term, commit));
  }

  electionTimeout(): void {
    this.run((core) => core.electionTimeout());
  }

  heartbeatDue(): void {
    this.run((core) => core.heartbeatDue(this.now()));
  }

  persisted(writeId: number): void {
    this.run((core) => core.persisted(writeId));
  }

  campaign(): void {
    this.run((core) => core.campaign());
  }

  snapshotNow(): void {
    this.run((core) => core.snapshotNow());
  }

  /** An event the node ignores in its current state. */
  idle(): void {
    this.outbox = [];
  }

  /** Queue proposals; without a core yet (still recovering), or on a removed node, they fail at once. */
  propose(proposals: readonly Proposal[]): void {
    const refusal = this.refusal();
    if (refusal !== null) {
      this.outbox = proposals.map((proposal) => ({ type: 'proposalFailed', id: proposal.id, failure: refusal }));
      return;
    }
    this.run((core) => core.propose(proposals));
  }

  /** Propose a membership change; an invalid one rejects its caller at once. */
  changeMembership(id: string, change: MembershipChange, promoteWhenCaughtUp: boolean): void {
    const refusal = this.refusal();
    if (refusal !== null) {
      this.outbox = [{ type: 'proposalFailed', id, failure: refusal }];
      return;
    }
    this.run((core) => {
      try {
        return core.changeMembership(id, change, { promoteWhenCaughtUp });
      } catch (error) {
        if (!(error instanceof MembershipError)) throw error;
        this.waiters.rejectProposal(id, new MembershipChangeError(error.code, error.message));
        return [];
      }
    });
  }

  read(ids: readonly string[], lease: boolean): void {
    const refusal = this.refusal();
    if (refusal !== null) {
      this.outbox = [{ type: 'readFailed', ids, leaderHint: refusal.leaderHint }];
      return;
    }
    this.run((core) => core.readIndex(ids, { lease, now: this.now() }));
  }

  /** Record the state machine's progress and queue the settlement of the proposals it answered. */
  applied(index: number, results: readonly ProposalResult<Result, AppError>[]): void {
    this.run((core) => core.appliedTo(index));
    if (results.length > 0) this.outbox.push({ type: 'settle', results });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Leadership transfer

  /** Track the caller of a transfer (before `transferLeadership` runs); `target` undefined: any other voter. */
  trackTransfer(target: NodeId | undefined, resolve: () => void, reject: (error: Error) => void): void {
    this.transfers.track(target ?? null, this.now(), resolve, reject);
  }

  /**
   * Start a leadership transfer; the caller learns the outcome through the tracker. A node that is not the leader
   * answers NotLeaderError with the leader it knows; a target that is no other voter, MembershipChangeError.
   */
  transferLeadership(target: NodeId | undefined): void {
    const core = this.raft;
    if (core === null) {
      this.outbox = [];
      this.transfers.fail(new NotLeaderError(null, 'not-appended'));
      return;
    }
    this.run(() => {
      try {
        return core.transferLeadership(target);
      } catch (error) {
        if (!(error instanceof MembershipError)) throw error;
        this.transfers.fail(core.role === 'leader' ? new MembershipChangeError(error.code, error.message) : new NotLeaderError(core.leader, 'not-appended'));
        return [];
      }
    });
  }

  /** The leader changed: a transfer to another node (the target, when named) is complete. */
  leaderChanged(leader: NodeId | null): void {
    if (leader !== null) this.lastLeader = leader;
    this.transfers.leaderChanged(leader);
  }

  transferAborted(reason: string): void {
    this.transfers.aborted(reason);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Callers

  /** A snapshot failed; one the state machine cannot take at all is worth a warning, once per node. */
  snapshotFailed(unsupported: boolean, message: string): void {
    if (!unsupported || this.warnedNoSnapshots) return;
    this.warnedNoSnapshots = true;
    process.emitWarning(`node ${this.id}: ${message}; its log is never compacted and grows in memory`, { type: 'XraftWarning', code: 'XRAFT_NO_SNAPSHOTS' });
  }

  /** A leader is known: propose and read again what waited for one (an election was under way when it was asked). */
  leaderKnown(): void {
    if (!this.waiters.anyParked || this.refusal() !== null) {
      this.outbox = [];
      return;
    }
    const { proposals, reads } = this.waiters.unpark();
    this.run((core) => [
      ...(proposals.length > 0 ? core.propose(proposals) : []),
      ...reads.flatMap(({ ids, lease }) => core.readIndex(ids, { lease, now: this.now() })),
    ]);
  }

  readReady(ids: readonly string[], index: number): void {
    this.waiters.readReady(ids, index, this.raft?.appliedIndex ?? 0, this.actors.stateMachine);
  }

  /** After every event: serve reads whose index is applied, wake sleepers, time out what waited too long. */
  afterEvent(): void {
    if (this.raft !== null) this.waiters.serveReads(this.raft.appliedIndex, this.actors.stateMachine);
    const now = this.now();
    this.waiters.sweep(now);
    this.transfers.sweep(now);
  }

  /** Reject every waiting caller and a transfer under way with StoppedError: the node is stopping. */
  failAll(reason: string): void {
    this.waiters.failAll(reason);
    this.transfers.stopped(reason);
  }

  /**
   * The node's xstate actor failed (an exception outside the core's guarded calls): xstate leaves its children
   * running, so detach them here, and reject every waiting caller.
   */
  crashed(reason: string): void {
    this.failAll(reason);
    for (const actor of [this.actors.timer, this.actors.network, this.actors.logStore, this.actors.stateMachine]) void actor.detach();
  }

  /**
   * Settles once every actor has closed after the node stopped them; rejects with CloseFailedError naming each actor
   * whose close failed.
   */
  async closed(): Promise<void> {
    const names = ['timer', 'network', 'logStore', 'stateMachine'] as const;
    const outcomes = await Promise.allSettled(names.map((name) => this.actors[name].closed()));
    const failed: string[] = [];
    const causes: unknown[] = [];
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'rejected') {
        failed.push(names[i]!);
        causes.push(outcome.reason);
      }
    });
    if (failed.length > 0) throw new CloseFailedError(failed, causes);
  }

  toJSON(): object {
    return this.raft?.status() ?? { id: this.id, recovering: true };
  }

  // ---------------------------------------------------------------------------------------------------------------

  private startCore(state: RecoveredState): NodeEffect<Result, AppError>[] {
    this.raft = new RaftCore({ id: this.id, voters: this.members, config: this.config, random: this.random, recovered: state, ...(this.addresses === undefined ? {} : { addresses: this.addresses }) });
    return this.raft.start();
  }

  /** Run one core input and keep its effects for dispatch; nothing without a core yet. */
  private run(input: (core: RaftCore) => NodeEffect<Result, AppError>[]): void {
    const core = this.raft;
    if (core === null) {
      this.outbox = [];
      return;
    }
    this.guarded(() => input(core));
  }

  /** Keep `produce`'s effects, or, when it throws (the core broke an invariant), a `fail` that stops the node. */
  private guarded(produce: () => NodeEffect<Result, AppError>[]): void {
    try {
      this.outbox = produce();
    } catch (error) {
      this.outbox = [{ type: 'fail', reason: `the core threw ${describe(error)}` }];
    }
  }

  /** Why this node refuses proposals and reads outright: no core yet, or removed from the cluster. */
  private refusal(): Extract<ProposalFailure, { outcome: 'not-appended' }> | null {
    const core = this.raft;
    if (core === null) return { code: 'NOT_LEADER', leaderHint: null, outcome: 'not-appended' };
    if (core.role === 'removed') {
      const known = core.leader ?? this.lastLeader;
      return { code: 'NOT_LEADER', leaderHint: known === this.id ? null : known, outcome: 'not-appended' };
    }
    return null;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
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
