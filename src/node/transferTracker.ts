/**
 * The caller of `transferLeadership()` waiting for its outcome. Every transfer settles: it succeeds when a leader
 * other than this node is known (the target, when one was named), and fails when this node or another than the
 * target leads, when the core reports `transferAborted`, when the node stops, or at the latest at its deadline on the
 * timer's clock (a backstop: the core aborts a transfer after an election timeout, the tracker gives up after two).
 *
 * Invariant: at most one transfer is tracked; `transfer` is null once it has settled.
 */
import type { NodeId } from '../core/index.js';
import { MembershipChangeError, StoppedError, TransferAbortedError } from '../errors.js';

interface TrackedTransfer {
  /** The node asked to take over, or null for "the most up-to-date voter". */
  readonly target: NodeId | null;
  /** Timer clock time after which the caller gets TransferAbortedError. */
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class TransferTracker {
  private transfer: TrackedTransfer | null = null;

  constructor(
    /** This node: a transfer never succeeds by this node leading again. */
    private readonly self: NodeId,
    /** How long a transfer may take before its caller gives up, in ms of the timer's clock. */
    readonly deadlineMs: number,
  ) {}

  /** Whether a transfer is waiting for its outcome. */
  get active(): boolean {
    return this.transfer !== null;
  }

  /** Start tracking a transfer; only one at a time (CHANGE_IN_PROGRESS otherwise). */
  track(target: NodeId | null, now: number, resolve: () => void, reject: (error: Error) => void): void {
    if (this.transfer !== null) throw new MembershipChangeError('CHANGE_IN_PROGRESS', 'a leadership transfer is already under way');
    this.transfer = { target, deadline: now + this.deadlineMs, resolve, reject };
  }

  /**
   * A leader is known: the transfer succeeded if it is another node (and the target, when one was named); it failed
   * if this node leads again, or another node than the target leads.
   */
  leaderChanged(leader: NodeId | null): void {
    const transfer = this.transfer;
    if (transfer === null || leader === null) return;
    if (leader === this.self) return this.aborted('this node leads again');
    if (transfer.target !== null && leader !== transfer.target) return this.aborted(`${leader} leads, not ${transfer.target}`);
    this.transfer = null;
    transfer.resolve();
  }

  /** The transfer failed: reject its caller with `error`. */
  fail(error: Error): void {
    const transfer = this.transfer;
    this.transfer = null;
    transfer?.reject(error);
  }

  aborted(reason: string): void {
    this.fail(new TransferAbortedError(reason));
  }

  /** The backstop: a transfer still unsettled at its deadline is aborted. */
  sweep(now: number): void {
    if (this.transfer !== null && now >= this.transfer.deadline) {
      this.aborted(`no other leader within ${this.deadlineMs} ms`);
    }
  }

  stopped(reason: string): void {
    this.fail(new StoppedError(reason));
  }
}
