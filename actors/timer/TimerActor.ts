/**
 * The timer actor: the only source of time for a node. The core asks for its election timer and heartbeat timer to be
 * (re)armed; the timer answers when one fires. Re-arming a timer replaces it: a replaced timer never fires.
 *
 * After a message from the leader, the election timer asks its failure detector (FailureDetector.ts) how long the
 * leader may stay silent: `FixedTimeout` keeps the core's timeout, `PhiAccrualDetector` learns the leader's rhythm.
 */
import { Actor } from '../../src/actor.js';
import { FixedTimeout, type FailureDetector } from './FailureDetector.js';

export interface StartElectionTimer {
  readonly type: 'StartElectionTimer';
  /** The core's randomized timeout, in [T, 2T) for the base timeout T. */
  readonly afterMs: number;
  /** The base election timeout T (the detector's estimate is spread by the same random factor as `afterMs`). */
  readonly baseMs?: number;
  /** The timer is re-armed because the current leader was just heard from: the failure detector may fire it sooner. */
  readonly leaderHeard?: boolean;
}
export interface StartHeartbeatTimer {
  readonly type: 'StartHeartbeatTimer';
  readonly afterMs: number;
}
export interface CancelHeartbeatTimer {
  readonly type: 'CancelHeartbeatTimer';
}
export type TimerMessage = StartElectionTimer | StartHeartbeatTimer | CancelHeartbeatTimer;

export interface ElectionTimeout {
  readonly type: 'ElectionTimeout';
}
export interface HeartbeatDue {
  readonly type: 'HeartbeatDue';
}
export type TimerReply = ElectionTimeout | HeartbeatDue;

export type TimerName = 'election' | 'heartbeat';

export interface TimerOptions {
  /** When a follower suspects its leader. Default: `FixedTimeout` (the core's timeout); `RealTimer` defaults to φ accrual. */
  readonly failureDetector?: FailureDetector;
}

export abstract class TimerActor extends Actor<TimerMessage, TimerReply> {
  protected readonly failureDetector: FailureDetector;

  constructor(options: TimerOptions = {}) {
    super();
    this.failureDetector = options.failureDetector ?? new FixedTimeout();
  }

  receive(message: TimerMessage): void {
    switch (message.type) {
      case 'StartElectionTimer':
        return this.onStartElectionTimer(message);
      case 'StartHeartbeatTimer':
        return this.onStartHeartbeatTimer(message);
      case 'CancelHeartbeatTimer':
        return this.onCancelHeartbeatTimer(message);
    }
  }

  protected onStartElectionTimer(message: StartElectionTimer): void {
    this.arm('election', this.electionDelay(message));
  }

  /**
   * The core's timeout, or, right after a message from the leader, the failure detector's estimate of when to suspect
   * it, spread by the core's random factor (afterMs / baseMs) and never later than the core's timeout.
   */
  protected electionDelay({ afterMs, baseMs, leaderHeard }: StartElectionTimer): number {
    if (leaderHeard !== true || baseMs === undefined || baseMs <= 0) {
      this.failureDetector.reset();
      return afterMs;
    }
    this.failureDetector.heartbeat(this.now());
    return Math.min(afterMs, Math.round(this.failureDetector.suspectAfterMs(baseMs) * (afterMs / baseMs)));
  }

  protected onStartHeartbeatTimer(message: StartHeartbeatTimer): void {
    this.arm('heartbeat', message.afterMs);
  }

  protected onCancelHeartbeatTimer(_message: CancelHeartbeatTimer): void {
    this.disarm('heartbeat');
  }

  /**
   * The timer's clock in milliseconds (monotonic; any origin). The node reads it for lease reads and for the deadlines
   * of waiting operations, so that a simulated clock governs both.
   */
  abstract now(): number;

  /** Arm `timer` to fire once after `afterMs`, replacing a pending one. Call `fire(timer)` when it is due. */
  protected abstract arm(timer: TimerName, afterMs: number): void;

  /** Disarm `timer` if it is pending. */
  protected abstract disarm(timer: TimerName): void;

  protected fire(timer: TimerName): void {
    this.reply(timer === 'election' ? { type: 'ElectionTimeout' } : { type: 'HeartbeatDue' });
  }

  protected override onStop(): void {
    this.disarm('election');
    this.disarm('heartbeat');
  }
}
