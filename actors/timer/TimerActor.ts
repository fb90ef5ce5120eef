/**
 * The timer actor: the only source of time for a node. The core asks for its election timer and heartbeat timer to be
 * (re)armed; the timer answers when one fires. Re-arming a timer replaces it: a replaced timer never fires.
 */
import { Actor } from '../../src/actor.js';

export interface StartElectionTimer {
  readonly type: 'StartElectionTimer';
  readonly afterMs: number;
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

export abstract class TimerActor extends Actor<TimerMessage, TimerReply> {
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
    this.arm('election', message.afterMs);
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
