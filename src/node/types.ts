/**
 * Types shared by the node's parts: what a node is built from (`NodeInput`) and the units of work its runtime hands to
 * the statechart's dispatch (`NodeEffect`).
 */
import type { Effect, NodeId, RaftConfig, RandomSource, SnapshotMeta } from '../core/index.js';
import type { CommandCodec } from '../codec.js';
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
  /** Where the initial members are reached (recorded in the configuration for nodes that join later). */
  readonly addresses?: Readonly<Record<NodeId, string>>;
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

/** How a node came by a snapshot: its own state machine's (`taken`), the leader's (`installed`), its store's on start (`restored`). */
export type SnapshotOrigin = 'taken' | 'installed' | 'restored';

/** The replies that move snapshots along (taking, sending, installing, restoring). */
export type SnapshotReply = SnapshotChunkTaken | SnapshotFailed | SnapshotChunkConsumed | SnapshotRestored | SnapshotChunkStored | SnapshotChunkLoaded;

/** Core effects that the snapshot flow turns into messages for the log store and the state machine. */
export type SnapshotCommand = Extract<Effect, { type: 'takeSnapshot' | 'compactLog' | 'readSnapshotChunk' | 'writeSnapshotChunk' | 'restoreSnapshot' }>;

/** A unit of work for the statechart's dispatch action, in order. */
export type NodeEffect<Result, AppError> =
  | Effect
  | { readonly type: 'settle'; readonly results: readonly ProposalResult<Result, AppError>[] }
  | { readonly type: 'toLogStore'; readonly message: LogStoreMessage }
  | { readonly type: 'toStateMachine'; readonly message: StateMachineMessage }
  /** Stop the node with `reason` (a failed restore, a core that threw). */
  | { readonly type: 'fail'; readonly reason: string }
  | { readonly type: 'snapshot'; readonly how: SnapshotOrigin; readonly meta: SnapshotMeta }
  | { readonly type: 'snapshotFailed'; readonly meta: SnapshotMeta; readonly message: string; readonly unsupported: boolean };
