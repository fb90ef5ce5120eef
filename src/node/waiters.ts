/**
 * The callers waiting on a node: proposals until the state machine answers them, reads until their index is confirmed
 * and applied, and sleepers (a session's retry backoff) until a time on the timer's clock. Deadlines are on the
 * timer's clock too, swept after every event the node handles.
 *
 * Invariants: every waiter is in `waiters` until it is settled, exactly once; `readsAwaitingApply` holds only ids of
 * read waiters whose index is known; `earliestDeadline` is at most the smallest deadline in `waiters`.
 */
import type { NodeId, Proposal } from '../core/index.js';
import {
  NotLeaderError,
  OverloadedError,
  RejectedError,
  SessionExpiredError,
  StoppedError,
  TimeoutError,
  type XraftError,
} from '../errors.js';
import type { ProposalResult, StateMachine } from '../../actors/state-machine/StateMachine.js';

interface Waiter {
  readonly reject: (error: XraftError) => void;
  /** Timer clock time after which the caller gets TimeoutError. */
  readonly deadline: number;
  readonly timeoutMs: number;
}

interface ProposalWaiter<Result> extends Waiter {
  readonly kind: 'proposal';
  readonly resolve: (result: Result) => void;
  /** Proposed again once a leader is known when it failed for want of one (absent: fail fast). */
  readonly retry: Proposal | undefined;
  /** The proposed data and exactly what decoding it gives, when the caller's node had that already (handed out once). */
  decoded: { readonly data: string; readonly command: unknown } | undefined;
}

interface ReadWaiter<Command, Result, AppError> extends Waiter {
  readonly kind: 'read';
  readonly query: (stateMachine: StateMachine<Command, Result, AppError>) => unknown;
  readonly resolve: (value: unknown) => void;
  /** The read index once confirmed; the read is served when the state machine has applied it. */
  index: number | null;
  /** Asked again once a leader is known when it failed for want of one (absent: fail fast). */
  readonly retry: { readonly lease: boolean } | undefined;
}

type AnyWaiter<Command, Result, AppError> = ProposalWaiter<Result> | ReadWaiter<Command, Result, AppError>;
type WaiterOf<Kind, Command, Result, AppError> = Kind extends 'proposal' ? ProposalWaiter<Result> : ReadWaiter<Command, Result, AppError>;

export class Waiters<Command, Result, AppError> {
  private readonly waiters = new Map<string, AnyWaiter<Command, Result, AppError>>();
  /** Reads whose index is known, waiting for the state machine to apply it. */
  private readonly readsAwaitingApply = new Set<string>();
  private earliestDeadline = Number.POSITIVE_INFINITY;
  /** Pauses on the timer's clock (retry backoff), woken by `sweep` once due. */
  private sleepers: { readonly until: number; readonly wake: () => void }[] = [];
  /** Proposals and reads that failed because no leader was known, waiting (until their deadline) for one. */
  private parked: string[] = [];

  constructor(
    /** Most proposals and reads waiting at once; beyond it callers get OverloadedError. */
    readonly maxPending: number,
    private readonly now: () => number,
  ) {}

  /** Operations waiting for an answer. */
  get size(): number {
    return this.waiters.size;
  }

  /** `decoded`: the proposal's data and its command as decoding the data gives it (see CommandCodec.encodeWithDecoded). */
  trackProposal(
    id: string,
    timeoutMs: number,
    resolve: (result: Result) => void,
    reject: (error: XraftError) => void,
    retry?: Proposal,
    decoded?: { readonly data: string; readonly command: Command },
  ): void {
    this.admit(id, { kind: 'proposal', resolve, reject, deadline: this.now() + timeoutMs, timeoutMs, retry, decoded });
  }

  /**
   * The command of the waiting proposal `id`, decoded when it was proposed, if `data` is what was proposed (an entry
   * carrying another proposal's id is decoded from its own data). Handed out once, as decoding gives a fresh command
   * each time: were the proposal ever applied twice, the second apply decodes.
   */
  decodedCommand(id: string, data: string): { readonly command: Command } | undefined {
    const waiter = this.waiters.get(id);
    if (waiter?.kind !== 'proposal' || waiter.decoded === undefined || waiter.decoded.data !== data) return undefined;
    const decoded = waiter.decoded as { readonly command: Command };
    waiter.decoded = undefined;
    return decoded;
  }

  trackRead(
    id: string,
    timeoutMs: number,
    query: (stateMachine: StateMachine<Command, Result, AppError>) => unknown,
    resolve: (value: unknown) => void,
    reject: (error: XraftError) => void,
    retry?: { readonly lease: boolean },
  ): void {
    this.admit(id, { kind: 'read', query, resolve, reject, deadline: this.now() + timeoutMs, timeoutMs, index: null, retry });
  }

  /** Whether operations wait for a leader to be known. */
  get anyParked(): boolean {
    return this.parked.length > 0;
  }

  /** The waiting operations to try again now that a leader is known (those still waiting: not timed out). */
  unpark(): { readonly proposals: Proposal[]; readonly reads: { readonly ids: string[]; readonly lease: boolean }[] } {
    const proposals: Proposal[] = [];
    const reads = [
      { ids: [] as string[], lease: false },
      { ids: [] as string[], lease: true },
    ];
    for (const id of this.parked) {
      const waiter = this.waiters.get(id);
      if (waiter?.kind === 'proposal' && waiter.retry !== undefined) proposals.push(waiter.retry);
      else if (waiter?.kind === 'read' && waiter.retry !== undefined) reads[waiter.retry.lease ? 1 : 0]!.ids.push(id);
    }
    this.parked = [];
    return { proposals, reads: reads.filter((batch) => batch.ids.length > 0) };
  }

  /** Answer the proposals the state machine applied. */
  settle(results: readonly ProposalResult<Result, AppError>[]): void {
    for (const { proposalId, outcome } of results) {
      const waiter = this.take(proposalId, 'proposal');
      if (waiter === undefined) continue;
      if (outcome.ok) waiter.resolve(outcome.value);
      else if (outcome.error instanceof SessionExpiredError) waiter.reject(outcome.error);
      else waiter.reject(new RejectedError(outcome.error));
    }
  }

  /** Reject one proposal (or membership change) with `error`. */
  rejectProposal(id: string, error: XraftError): void {
    this.take(id, 'proposal')?.reject(error);
  }

  /**
   * A proposal failed as NOT_LEADER. Certainly not appended, with no leader known (an election is under way), one that
   * may wait is parked until a leader is known (`unpark`) or its deadline passes; any other is rejected.
   */
  failProposal(id: string, leaderHint: NodeId | null, outcome: 'not-appended' | 'unknown'): void {
    const waiter = this.waiters.get(id);
    if (waiter?.kind === 'proposal' && waiter.retry !== undefined && outcome === 'not-appended' && leaderHint === null) {
      this.parked.push(id);
      return;
    }
    this.rejectProposal(id, new NotLeaderError(leaderHint, outcome));
  }

  /** The reads' index is confirmed: serve them once the state machine has applied it. */
  readReady(ids: readonly string[], index: number, appliedIndex: number, stateMachine: StateMachine<Command, Result, AppError>): void {
    for (const id of ids) {
      const waiter = this.waiters.get(id);
      if (waiter?.kind !== 'read') continue;
      waiter.index = index;
      this.readsAwaitingApply.add(id);
    }
    this.serveReads(appliedIndex, stateMachine);
  }

  /** Reads that could not be confirmed: parked until a leader is known when none is and they may wait (see failProposal). */
  failReads(ids: readonly string[], leaderHint: NodeId | null): void {
    for (const id of ids) {
      const waiter = this.waiters.get(id);
      if (waiter?.kind === 'read' && waiter.retry !== undefined && leaderHint === null) this.parked.push(id);
      else this.take(id, 'read')?.reject(new NotLeaderError(leaderHint, 'not-appended'));
    }
  }

  /** Run the queries of reads whose index the state machine has applied. */
  serveReads(appliedIndex: number, stateMachine: StateMachine<Command, Result, AppError>): void {
    if (this.readsAwaitingApply.size === 0) return;
    for (const id of this.readsAwaitingApply) {
      const waiter = this.waiters.get(id);
      if (waiter?.kind !== 'read' || waiter.index === null || waiter.index > appliedIndex) continue;
      this.readsAwaitingApply.delete(id);
      this.waiters.delete(id);
      let value: unknown;
      try {
        value = waiter.query(stateMachine);
      } catch (error) {
        waiter.reject(new RejectedError(error));
        continue;
      }
      waiter.resolve(value);
    }
  }

  /** Resolve after `ms` of the timer's clock (checked by `sweep`, so as fine as the node's traffic). */
  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ until: this.now() + ms, wake }));
  }

  /** Wake the sleepers that are due and time out the callers that waited past their deadline. */
  sweep(now: number): void {
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

  /** Reject every waiting caller with StoppedError and wake every sleeper: the node is stopping. */
  failAll(reason: string): void {
    for (const waiter of this.waiters.values()) waiter.reject(new StoppedError(reason));
    this.waiters.clear();
    this.readsAwaitingApply.clear();
    this.parked = [];
    for (const sleeper of this.sleepers.splice(0)) sleeper.wake();
  }

  /** Admit a new waiting operation, or refuse it when too many are waiting already. */
  private admit(id: string, waiter: AnyWaiter<Command, Result, AppError>): void {
    if (this.waiters.size >= this.maxPending) throw new OverloadedError(this.maxPending);
    this.waiters.set(id, waiter);
    this.earliestDeadline = Math.min(this.earliestDeadline, waiter.deadline);
  }

  private take<Kind extends 'proposal' | 'read'>(id: string, kind: Kind): WaiterOf<Kind, Command, Result, AppError> | undefined {
    const waiter = this.waiters.get(id);
    if (waiter?.kind !== kind) return undefined;
    this.waiters.delete(id);
    this.readsAwaitingApply.delete(id);
    return waiter as WaiterOf<Kind, Command, Result, AppError>;
  }
}
