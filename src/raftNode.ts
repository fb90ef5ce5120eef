/**
 * The public face of a node: the options `createRaftNode` takes, and the handle it returns (`RaftNode`), with the
 * types of its calls, answers and events. createRaftNode.ts builds it.
 */
import type { Actor as XstateActor, InspectionEvent, Observer, Subscription } from 'xstate';
import type { z } from 'zod';
import type { LogStore } from '../actors/log-store/LogStore.js';
import type { NetworkActor } from '../actors/network/NetworkActor.js';
import type { StateMachine } from '../actors/state-machine/StateMachine.js';
import type { TimerActor } from '../actors/timer/TimerActor.js';
import type { NodeId, RaftConfig, RandomSource, SessionTag } from './core/index.js';
import type { createNodeMachine, NodeEmitted, NodeScalars } from './node/machine.js';
import type { ReadConsistency } from './node/types.js';
import type { ClientSession, SessionOptions } from './session.js';

/** The result type of a state machine class. */
export type ResultOf<SM> = SM extends StateMachine<infer _Command, infer Result, infer _AppError> ? Result : never;
/** The error type a state machine's `apply` throws. */
export type AppErrorOf<SM> = SM extends StateMachine<infer _Command, infer _Result, infer AppError> ? AppError : never;

export interface RaftNodeOptions<Command, SM extends StateMachine<Command, unknown, unknown>> {
  /** This node's id; unique in the cluster. */
  readonly id: NodeId;
  /** Every voting member of the cluster, this node included (or none, for a node that joins a running cluster). */
  readonly members: readonly NodeId[];
  /**
   * Where the members are reached (this node included), when the network needs addresses: recorded in the cluster's
   * configuration at its first change, so that nodes joining later learn every address from the log.
   */
  readonly addresses?: Readonly<Record<NodeId, string>>;
  /** The schema every command must satisfy: checked on every proposal and on every entry decoded from the log. */
  readonly commandSchema: z.ZodType<Command>;
  /** The application's replicated state: an instance of your `StateMachine` subclass. */
  readonly stateMachine: SM;
  /** How this node reaches its peers. */
  readonly network: NetworkActor;
  /** Where the log and hard state live. Default: a `MemoryLogStore` (not durable across processes). */
  readonly logStore?: LogStore;
  /** Where time comes from. Default: a `RealTimer`. */
  readonly timer?: TimerActor;
  readonly config?: Partial<RaftConfig>;
  /** Randomness for election jitter (inject a seeded source for reproducible runs). */
  readonly random?: RandomSource;
  /** Most proposals and reads waiting at once; beyond it they fail with OverloadedError at once. Default 10,000. */
  readonly maxPending?: number;
  /**
   * Largest command, in bytes of its encoded text; a larger one is refused with InvalidCommandError, nothing proposed.
   * Default 1 MiB. A command must fit in one network frame (the HTTP/2 transports' `maxBodyBytes`, 16 MiB by default)
   * with JSON's escaping: raise both together.
   */
  readonly maxCommandBytes?: number;
  /** Default deadline of `propose` and `read`, in ms of the timer's clock. Default 10,000. */
  readonly operationTimeoutMs?: number;
  /**
   * Fail `propose` and `read` at once with NotLeaderError while no leader is known (an election is under way),
   * instead of waiting for one within their deadline. Default false (wait); each call may override it.
   */
  readonly failFast?: boolean;
  /** Largest snapshot chunk stored or sent, in bytes. Default 128 KiB (measured in BENCHMARKS.md: larger is faster but holds more memory, smaller is slower). */
  readonly snapshotChunkBytes?: number;
  /** xstate inspection observer, e.g. `createBrowserInspector().inspect` from @statelyai/inspect. */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export interface NodeStatus extends NodeScalars {
  /** Voting members of the configuration in force. */
  readonly members: readonly NodeId[];
  /** Non-voting members receiving the log. */
  readonly learners: readonly NodeId[];
  /**
   * Proposals and reads made in this turn of the event loop, handed to the node together when the turn ends (one
   * append, one AppendEntries per follower); 0 between turns.
   */
  readonly queued: number;
}

export type RaftNodeEvent = NodeEmitted;

export interface ProposeOptions {
  /** Give up after this long (ms of the node's timer) with TimeoutError; the command may still commit later. */
  readonly timeoutMs?: number;
  /** Fail at once with NotLeaderError while no leader is known, instead of waiting for one (see RaftNodeOptions). */
  readonly failFast?: boolean;
}

export interface ReadOptions {
  /**
   * - `linearizable` (default): ReadIndex; the read reflects every write acknowledged before it began.
   * - `lease`: the leader answers without a round trip while its lease holds; linearizable as long as clocks drift
   *   less than `config.leaseClockDrift` (see the README).
   * - `stale`: the local state machine, now, whatever it has applied; may miss recent writes.
   */
  readonly consistency?: ReadConsistency;
  readonly timeoutMs?: number;
  /** Fail at once with NotLeaderError while no leader is known, instead of waiting for one (see RaftNodeOptions). */
  readonly failFast?: boolean;
}

export interface RaftNode<Command, Result, SM = StateMachine<Command, Result, unknown>> {
  readonly id: NodeId;
  /**
   * Replicate `command` and resolve with the state machine's result once it is committed and applied here. On a
   * follower the command is forwarded to the leader (unless `config.forwardToLeader` is false).
   * Rejects with `NotLeaderError` (see its `outcome`), `RejectedError` (the state machine threw),
   * `InvalidCommandError` (the schema refused it; nothing was proposed), `TimeoutError` (it may still commit),
   * `OverloadedError` (too many operations waiting; nothing was done) or `StoppedError`.
   */
  propose(command: Command, options?: ProposeOptions): Promise<Result>;
  /**
   * Propose a command that arrives already encoded with the node's codec (its superjson text), optionally as a request
   * of a client session: for servers that relay commands, such as the client API (src/clientApi.ts). The text is
   * decoded and checked against the command schema first (InvalidCommandError, nothing proposed), then proposed as
   * is. A session registration (`seq` 0) carries no command. Rejects like `propose`, and with SessionExpiredError.
   */
  proposeEncoded(data: string, options?: ProposeOptions & { readonly session?: SessionTag }): Promise<Result>;
  /**
   * Run `query` against the state machine at a point that is linearizable by default (see ReadOptions).
   *
   * @example
   * const value = await node.read((kv) => kv.get('a'));
   */
  read<T>(query: (stateMachine: SM) => T, options?: ReadOptions): Promise<T>;
  /**
   * Open a client session: its proposals are applied exactly once even when retried after a timeout or a leader
   * change (Raft thesis 6.3).
   */
  openSession(options?: SessionOptions): Promise<ClientSession<Command, Result>>;
  /**
   * Add a non-voting member that receives the log. With `promote`, it becomes a voter once it has caught up
   * (`config.promoteWithinEntries`). With `address`, the configuration records where it is reached, so that every
   * node's network learns it from the log (an address another member has is refused). Resolves once the change is
   * applied here. Call on the leader.
   */
  addLearner(id: NodeId, options?: { readonly promote?: boolean; readonly address?: string }): Promise<void>;
  /** Make a learner a voter. */
  promote(id: NodeId): Promise<void>;
  /** Remove a voter or learner; removing the leader makes it step down once the change commits. */
  removeMember(id: NodeId): Promise<void>;
  /** The configuration in force on this node. */
  members(): { readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[]; readonly addresses?: Readonly<Record<NodeId, string>> };
  /**
   * Hand leadership to `target` (default: the most up-to-date voter) and resolve once another node (the target, when
   * given) is known to lead. Every transfer settles: it rejects with TransferAbortedError when the core aborts it (no
   * new leader within an election timeout, this leader stepped down, the target left) or, at the latest, after two
   * election timeouts of the timer's clock; with NotLeaderError (naming the leader it knows) when this node is not the
   * leader; with StoppedError when the node stops meanwhile.
   *
   * @example
   * await leader.transferLeadership('n2');
   */
  transferLeadership(target?: NodeId): Promise<void>;
  /**
   * The node's role, term, leader and indexes. `role` is `'stopped'` once the node stopped, for any reason, and
   * `stopReason` then says why (null for `stop()`); `'removed'` once a committed configuration no longer holds it.
   */
  status(): NodeStatus;
  /**
   * The leader's id once one is known: at once if one is, or after the election under way. Rejects with TimeoutError
   * after `timeoutMs` (default `operationTimeoutMs`), StoppedError if the node stops first.
   *
   * @example
   * const leaderId = await node.whenLeader();
   */
  whenLeader(options?: { readonly timeoutMs?: number }): Promise<NodeId>;
  /**
   * Campaign at once instead of waiting for the election timeout (for example right after a bootstrap). Resolves
   * once this node leads; rejects with NotLeaderError when another node wins, TimeoutError after the deadline.
   */
  campaign(options?: { readonly timeoutMs?: number }): Promise<void>;
  /**
   * Snapshot the state machine and compact the log now. Resolves with the snapshot's index once it is stored (at
   * once when the current snapshot covers everything applied); rejects with SnapshotFailedError when it fails.
   */
  takeSnapshot(options?: { readonly timeoutMs?: number }): Promise<{ readonly index: number }>;
  /**
   * Stop the node: waiting operations reject with `StoppedError`, the actors are stopped, and the promise resolves
   * once each has closed (the log store flushed and closed, the network's server shut down). Rejects with
   * CloseFailedError naming each actor whose close failed; the node is stopped all the same.
   */
  stop(): Promise<void>;
  /** Observe role, leader, applied-index, snapshot, refused-message and stop events. */
  on<Type extends RaftNodeEvent['type']>(type: Type, listener: (event: Extract<RaftNodeEvent, { type: Type }>) => void): Subscription;
  /**
   * The underlying xstate actor, for composition and inspection. Observe the node with its own `on`, not the actor's:
   * `applied` events of the data path come from the node's inbox (see README, "How it is built"), and send it nothing:
   * events sent to the actor directly bypass the inbox's order.
   */
  readonly actor: XstateActor<ReturnType<typeof createNodeMachine>>;
}
