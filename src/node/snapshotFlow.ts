/**
 * Snapshot choreography between the core, the log store and the state machine:
 * - taking: core `takeSnapshot` -> state machine chunk -> store -> next chunk -> ... -> core.snapshotSaved;
 * - sending: core `readSnapshotChunk` -> store chunk -> core (which sends it);
 * - installing: core `writeSnapshotChunk` -> store -> core.snapshotChunkWritten;
 * - restoring: store chunk -> state machine -> next chunk -> ... -> core.snapshotRestored, or, while the node
 *   recovers from a stored snapshot, the core is built once the state machine holds it.
 *
 * Invariant: at most one restore runs at a time (the core asks for one only after the last completed, and recovery
 * runs before the core exists); `restoreLastChunkLoaded` belongs to it.
 */
import type { RaftCore, RecoveredState, SnapshotMeta } from '../core/index.js';
import type { NodeEffect, SnapshotCommand, SnapshotReply } from './types.js';

/** What the flow needs from its runtime: the core, once it exists, and a way to build it from Load's answer. */
export interface SnapshotFlowHost<Result, AppError> {
  core(): RaftCore | null;
  /** Build the core from the recovered state and return its first effects. */
  startCore(state: RecoveredState): NodeEffect<Result, AppError>[];
}

const snapshotCommandTypes: ReadonlySet<string> = new Set(['takeSnapshot', 'compactLog', 'readSnapshotChunk', 'writeSnapshotChunk', 'restoreSnapshot']);

/** Whether the effect is one the snapshot flow expands (rare: the dispatch checks before it copies). */
export function isSnapshotCommand(effect: { readonly type: string }): effect is SnapshotCommand {
  return snapshotCommandTypes.has(effect.type);
}

export class SnapshotFlow<Result, AppError> {
  /** Load's answer, kept while the state machine is restored from its snapshot. */
  private recovering: RecoveredState | null = null;
  /** The restore being fed has been sent its last chunk. */
  private restoreLastChunkLoaded = false;

  constructor(
    private readonly host: SnapshotFlowHost<Result, AppError>,
    /** Largest snapshot chunk the state machine is asked to produce, in bytes. */
    readonly chunkBytes: number,
  ) {}

  /** Recover from a stored snapshot: restore the state machine from it, then build the core (see `reply`). */
  recoverFrom(state: RecoveredState, snapshot: SnapshotMeta): NodeEffect<Result, AppError>[] {
    this.recovering = state;
    return this.beginRestore(snapshot);
  }

  /** Turn one of the core's snapshot effects into messages for the store and the state machine. */
  command(effect: SnapshotCommand): NodeEffect<Result, AppError>[] {
    switch (effect.type) {
      case 'takeSnapshot':
        return [{ type: 'toStateMachine', message: { type: 'TakeSnapshot', meta: effect.meta, chunkBytes: this.chunkBytes } }];
      case 'compactLog':
        return [{ type: 'toLogStore', message: { type: 'CompactLog', through: effect.through } }];
      case 'readSnapshotChunk':
        return [{ type: 'toLogStore', message: { type: 'ReadSnapshotChunk', ref: `send:${effect.to}`, chunk: effect.chunk } }];
      case 'writeSnapshotChunk':
        return [
          { type: 'toLogStore', message: { type: 'WriteSnapshotChunk', ref: 'install', meta: effect.meta, chunk: effect.chunk, data: effect.data, done: effect.done } },
        ];
      case 'restoreSnapshot':
        return this.beginRestore(effect.meta);
    }
  }

  /** Move a snapshot along after a reply from the store or the state machine. */
  reply(reply: SnapshotReply): NodeEffect<Result, AppError>[] {
    const core = this.host.core();
    switch (reply.type) {
      case 'SnapshotChunkTaken':
        return [{ type: 'toLogStore', message: { type: 'WriteSnapshotChunk', ref: 'take', meta: reply.meta, chunk: reply.chunk, data: reply.data, done: reply.done } }];
      case 'SnapshotFailed':
        if (reply.message.startsWith('restore failed')) return [{ type: 'fail', reason: `snapshot ${reply.meta.index}: ${reply.message}` }];
        return core === null ? [] : [...core.snapshotFailed(), { type: 'snapshotFailed', meta: reply.meta, message: reply.message, unsupported: reply.unsupported === true }];
      case 'SnapshotChunkStored':
        if (reply.ref === 'take') {
          if (!reply.done) return [{ type: 'toStateMachine', message: { type: 'NextSnapshotChunk', meta: reply.meta } }];
          return core === null ? [] : [...core.snapshotSaved(reply.meta), { type: 'snapshot', how: 'taken', meta: reply.meta }];
        }
        return core === null ? [] : core.snapshotChunkWritten(reply.meta, reply.chunk, reply.done);
      case 'SnapshotChunkLoaded':
        if (reply.ref === 'restore') {
          if (reply.meta === null) return [{ type: 'fail', reason: `the stored snapshot has no chunk ${reply.chunk}` }];
          this.restoreLastChunkLoaded = reply.done;
          return [{ type: 'toStateMachine', message: { type: 'RestoreSnapshotChunk', meta: reply.meta, chunk: reply.chunk, data: reply.data, done: reply.done } }];
        }
        if (reply.ref.startsWith('send:') && core !== null) {
          const to = reply.ref.slice('send:'.length);
          // No such chunk: the snapshot was replaced meanwhile (perhaps by a shorter one); the core starts over.
          return reply.meta === null ? core.snapshotChunkMissing(to, reply.chunk) : core.snapshotChunkRead(to, reply.meta, reply.chunk, reply.data, reply.done);
        }
        return [];
      case 'SnapshotChunkConsumed':
        if (this.restoreLastChunkLoaded) return [];
        return [{ type: 'toLogStore', message: { type: 'ReadSnapshotChunk', ref: 'restore', chunk: reply.chunk + 1 } }];
      case 'SnapshotRestored':
        if (this.recovering !== null) {
          const state = this.recovering;
          this.recovering = null;
          return [...this.host.startCore(state), { type: 'snapshot', how: 'restored', meta: reply.meta }];
        }
        return core === null ? [] : [...core.snapshotRestored(reply.meta), { type: 'snapshot', how: 'installed', meta: reply.meta }];
    }
  }

  private beginRestore(meta: SnapshotMeta): NodeEffect<Result, AppError>[] {
    this.restoreLastChunkLoaded = false;
    return [
      { type: 'toStateMachine', message: { type: 'BeginRestore', meta } },
      { type: 'toLogStore', message: { type: 'ReadSnapshotChunk', ref: 'restore', chunk: 0 } },
    ];
  }
}
