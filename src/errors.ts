/**
 * Errors a caller of xraft can receive. Each has a stable `code` to switch on; messages are for people.
 */
import type { NodeId } from './core/index.js';

export type XraftErrorCode =
  | 'NOT_LEADER'
  | 'TIMEOUT'
  | 'STOPPED'
  | 'REJECTED'
  | 'INVALID_COMMAND'
  | 'STORE_CORRUPTED'
  | 'OVERLOADED'
  | 'SESSION_EXPIRED'
  | 'MEMBERSHIP'
  | 'TRANSFER_ABORTED'
  | 'INVALID_CONFIG'
  | 'CLOSE_FAILED'
  | 'SNAPSHOT_FAILED'
  | 'UNKNOWN_GROUP';

export abstract class XraftError extends Error {
  abstract readonly code: XraftErrorCode;
}

/**
 * The node is not the leader. `outcome` says what happened to the proposal:
 * - `not-appended`: it never takes effect: it reached no log, or its entry was left out of the log a later leader
 *   committed (the proposer applied that leader's entries without it); retrying elsewhere is safe.
 * - `unknown`: leadership was lost after the entry was appended, and nothing the node saw could tell whether a later
 *   leader commits it.
 */
export class NotLeaderError extends XraftError {
  readonly code = 'NOT_LEADER';
  constructor(
    readonly leaderHint: NodeId | null,
    readonly outcome: 'not-appended' | 'unknown',
  ) {
    super(
      outcome === 'not-appended'
        ? `not the leader${leaderHint === null ? ' (leader unknown)' : `; try ${leaderHint}`}`
        : `leadership was lost before the proposal committed; it may still be committed by a later leader`,
    );
    this.name = 'NotLeaderError';
  }
}

export class TimeoutError extends XraftError {
  readonly code = 'TIMEOUT';
  constructor(readonly afterMs: number) {
    super(`no answer within ${afterMs} ms; the operation may still take effect`);
    this.name = 'TimeoutError';
  }
}

export class StoppedError extends XraftError {
  readonly code = 'STOPPED';
  constructor(reason = 'the node is stopped') {
    super(reason);
    this.name = 'StoppedError';
  }
}

/** The state machine refused the command; `cause` is what its `apply` threw. */
export class RejectedError<AppError> extends XraftError {
  readonly code = 'REJECTED';
  constructor(override readonly cause: AppError) {
    super(`the state machine rejected the command: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'RejectedError';
  }
}

/** A proposed command failed the node's command schema; nothing was proposed. */
export class InvalidCommandError extends XraftError {
  readonly code = 'INVALID_COMMAND';
  constructor(
    message: string,
    readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[],
  ) {
    super(message);
    this.name = 'InvalidCommandError';
  }
}


/** Too many proposals and reads are already waiting on this node; nothing was done. Back off and retry. */
export class OverloadedError extends XraftError {
  readonly code = 'OVERLOADED';
  constructor(readonly limit: number) {
    super(`more than ${limit} operations are waiting on this node`);
    this.name = 'OverloadedError';
  }
}

/**
 * The client session is unknown to the replicated state (never opened, or expired after its time to live): the
 * request was not applied. Open a new session; whether earlier requests of the old one applied cannot be known.
 */
export class SessionExpiredError extends XraftError {
  readonly code = 'SESSION_EXPIRED';
  constructor(readonly client: string) {
    super(`session ${client} is unknown or expired`);
    this.name = 'SessionExpiredError';
  }
}

/** A membership change that cannot be made (see `reason`: ALREADY_MEMBER, NOT_A_MEMBER, LAST_VOTER, ...). */
export class MembershipChangeError extends XraftError {
  readonly code = 'MEMBERSHIP';
  constructor(
    readonly reason: 'ALREADY_MEMBER' | 'NOT_A_MEMBER' | 'NOT_A_LEARNER' | 'LAST_VOTER' | 'CHANGE_IN_PROGRESS' | 'ADDRESS_TAKEN',
    message: string,
  ) {
    super(message);
    this.name = 'MembershipChangeError';
  }
}

/** A leadership transfer did not complete (the target was unreachable or left); the old leader leads on. */
export class TransferAbortedError extends XraftError {
  readonly code = 'TRANSFER_ABORTED';
  constructor(reason: string) {
    super(`leadership transfer aborted: ${reason}`);
    this.name = 'TransferAbortedError';
  }
}

/** Taking a snapshot failed (`unsupported`: the state machine implements no snapshots). The node goes on. */
export class SnapshotFailedError extends XraftError {
  readonly code = 'SNAPSHOT_FAILED';
  constructor(
    readonly index: number,
    reason: string,
    readonly unsupported: boolean,
  ) {
    super(`snapshot at ${index} failed: ${reason}`);
    this.name = 'SnapshotFailedError';
  }
}

/** `createRaftNode` was given options it cannot run with; thrown before anything starts. The message names each field. */
export class InvalidConfigError extends XraftError {
  readonly code = 'INVALID_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidConfigError';
  }
}

/**
 * `stop()` stopped the node, but an actor failed to release what it held (a database that did not close, a server
 * that did not shut down). `actors` names each one ('timer', 'network', 'logStore', 'stateMachine'); `causes` holds
 * what each close threw, in the same order.
 */
export class CloseFailedError extends XraftError {
  readonly code = 'CLOSE_FAILED';
  constructor(
    readonly actors: readonly string[],
    readonly causes: readonly unknown[],
  ) {
    super(
      `the node stopped, but closing failed: ${actors
        .map((actor, i) => `${actor} (${causes[i] instanceof Error ? (causes[i] as Error).message : String(causes[i])})`)
        .join(', ')}`,
    );
    this.name = 'CloseFailedError';
  }
}

/** A `RaftHost` was asked about a group it does not host (never created, or removed). */
export class UnknownGroupError extends XraftError {
  readonly code = 'UNKNOWN_GROUP';
  constructor(readonly group: string) {
    super(`this host has no group ${JSON.stringify(group)}`);
    this.name = 'UnknownGroupError';
  }
}
