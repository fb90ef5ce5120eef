/**
 * The state machine actor's messages: what the node sends it (apply committed entries, take or restore a snapshot
 * chunk by chunk) and what it answers (results, snapshot chunks, failures).
 */
import type { Entry, SnapshotMeta } from '../../src/core/index.js';
import type { SessionExpiredError } from '../../src/errors.js';
import type { CommandDecodeError } from './StateMachine.js';

export interface Apply {
  readonly type: 'Apply';
  readonly entries: readonly Entry[];
  /** Entry index -> id of the proposal made on this node, for the entries that have one. */
  readonly proposals: ReadonlyMap<number, string>;
}
/** Snapshot the state once every earlier Apply is applied; answer chunk by chunk (see NextSnapshotChunk). */
export interface TakeSnapshot {
  readonly type: 'TakeSnapshot';
  readonly meta: SnapshotMeta;
  readonly chunkBytes: number;
}
/** The previous chunk is stored: produce the next one. */
export interface NextSnapshotChunk {
  readonly type: 'NextSnapshotChunk';
  readonly meta: SnapshotMeta;
}
/** Replace the state with a snapshot whose chunks follow as RestoreSnapshotChunk; later Applies wait for it. */
export interface BeginRestore {
  readonly type: 'BeginRestore';
  readonly meta: SnapshotMeta;
}
export interface RestoreSnapshotChunk {
  readonly type: 'RestoreSnapshotChunk';
  readonly meta: SnapshotMeta;
  readonly chunk: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}
export type StateMachineMessage = Apply | TakeSnapshot | NextSnapshotChunk | BeginRestore | RestoreSnapshotChunk;

export type ApplyOutcome<Result, AppError> =
  | { readonly ok: true; readonly value: Result }
  | { readonly ok: false; readonly error: AppError | CommandDecodeError | SessionExpiredError };

export interface ProposalResult<Result, AppError> {
  readonly proposalId: string;
  readonly index: number;
  readonly outcome: ApplyOutcome<Result, AppError>;
}

export interface Applied<Result, AppError> {
  readonly type: 'Applied';
  /** Every entry up to this index has been applied. */
  readonly index: number;
  readonly results: readonly ProposalResult<Result, AppError>[];
}
export interface SnapshotChunkTaken {
  readonly type: 'SnapshotChunkTaken';
  readonly meta: SnapshotMeta;
  readonly chunk: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}
export interface SnapshotFailed {
  readonly type: 'SnapshotFailed';
  readonly meta: SnapshotMeta;
  readonly message: string;
  /** The state machine implements no snapshots at all (SnapshotsUnsupportedError): trying again will not help. */
  readonly unsupported?: boolean;
}
/** A restore took chunk `chunk`: send the next one. */
export interface SnapshotChunkConsumed {
  readonly type: 'SnapshotChunkConsumed';
  readonly meta: SnapshotMeta;
  readonly chunk: number;
}
export interface SnapshotRestored {
  readonly type: 'SnapshotRestored';
  readonly meta: SnapshotMeta;
}
export type StateMachineReply<Result, AppError> =
  | Applied<Result, AppError>
  | SnapshotChunkTaken
  | SnapshotFailed
  | SnapshotChunkConsumed
  | SnapshotRestored;
