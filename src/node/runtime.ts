/**
 * What one running node holds outside its statechart's context: the Raft core (with the log's in-memory tail), the
 * actors, and the callers waiting on proposals. The statechart keeps only scalars in its context plus a reference
 * to this object, whose `toJSON` is a small summary so that an inspector never serializes the log.
 */
import { RaftCore, seededRandom, type Effect, type NodeId, type Proposal, type RaftConfig, type RandomSource, type RecoveredState } from '../core/index.js';
import type { CommandCodec } from '../codec.js';
import { NotLeaderError, RejectedError, StoppedError, type XraftError } from '../errors.js';
import type { LogStore } from '../../actors/log-store/LogStore.js';
import type { NetworkActor } from '../../actors/network/NetworkActor.js';
import type { ProposalResult, StateMachine } from '../../actors/state-machine/StateMachine.js';
import type { TimerActor } from '../../actors/timer/TimerActor.js';

export interface NodeActors<Command, Result, AppError> {
  readonly timer: TimerActor;
  readonly network: NetworkActor;
  readonly logStore: LogStore;
  readonly stateMachine: StateMachine<Command, Result, AppError>;
}

export interface NodeInput<Command, Result, AppError> {
  readonly id: NodeId;
  /** Every voting member, this node included. */
  readonly members: readonly NodeId[];
  readonly actors: NodeActors<Command, Result, AppError>;
  readonly codec: CommandCodec<Command>;
  readonly config?: Partial<RaftConfig>;
  /** Randomness for election jitter; seeded from the node id and the clock when absent. */
  readonly random?: RandomSource;
}

interface Waiter<Result> {
  readonly resolve: (result: Result) => void;
  readonly reject: (error: XraftError) => void;
}

/** A unit of work for the statechart's dispatch action, in order. */
export type NodeEffect<Result, AppError> =
  | Effect
  | { readonly type: 'settle'; readonly results: readonly ProposalResult<Result, AppError>[] };

export class NodeRuntime<Command, Result, AppError> {
  readonly id: NodeId;
  readonly members: readonly NodeId[];
  readonly actors: NodeActors<Command, Result, AppError>;
  readonly codec: CommandCodec<Command>;
  private readonly config: Partial<RaftConfig>;
  private readonly random: RandomSource;
  private raft: RaftCore | null = null;
  private readonly waiters = new Map<string, Waiter<Result>>();
  /** Effects produced by the last event, drained by the statechart's dispatch action. */
  outbox: NodeEffect<Result, AppError>[] = [];

  constructor(input: NodeInput<Command, Result, AppError>) {
    this.id = input.id;
    this.members = input.members;
    this.actors = input.actors;
    this.codec = input.codec;
    this.config = input.config ?? {};
    this.random = input.random ?? seededRandom(hashSeed(`${input.id}:${Date.now()}:${Math.random()}`));
    input.actors.stateMachine.useDecoder(input.codec.decode);
  }

  /** The core, once the node has recovered its state. */
  get core(): RaftCore | null {
    return this.raft;
  }

  recover(state: RecoveredState): void {
    this.raft = new RaftCore({ id: this.id, voters: this.members, config: this.config, random: this.random, recovered: state });
    this.outbox = this.raft.start();
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

  /** Record the state machine's progress and queue the settlement of the proposals it answered. */
  applied(index: number, results: readonly ProposalResult<Result, AppError>[]): void {
    this.outbox = this.raft === null ? [] : this.raft.appliedTo(index);
    if (results.length > 0) this.outbox.push({ type: 'settle', results });
  }

  /** Remember a caller waiting on proposal `id`. */
  track(id: string, waiter: Waiter<Result>): void {
    this.waiters.set(id, waiter);
  }

  /** Forget a waiter (its caller gave up, e.g. on a deadline). */
  untrack(id: string): void {
    this.waiters.delete(id);
  }

  settle(results: readonly ProposalResult<Result, AppError>[]): void {
    for (const { proposalId, outcome } of results) {
      const waiter = this.waiters.get(proposalId);
      if (waiter === undefined) continue;
      this.waiters.delete(proposalId);
      if (outcome.ok) waiter.resolve(outcome.value);
      else waiter.reject(new RejectedError(outcome.error));
    }
  }

  fail(id: string, leaderHint: NodeId | null, outcome: 'not-appended' | 'unknown'): void {
    const waiter = this.waiters.get(id);
    if (waiter === undefined) return;
    this.waiters.delete(id);
    waiter.reject(new NotLeaderError(leaderHint, outcome));
  }

  /** Reject every waiting caller: the node is stopping. */
  failAll(reason: string): void {
    for (const waiter of this.waiters.values()) waiter.reject(new StoppedError(reason));
    this.waiters.clear();
  }

  toJSON(): object {
    return this.raft?.status() ?? { id: this.id, recovering: true };
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
