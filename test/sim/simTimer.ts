/**
 * The simulated timer: a real `TimerActor` on virtual time. Arming a timer becomes a scheduler event (the driver
 * decides when it is due); disarming or re-arming bumps the timer's generation so that the older event does nothing.
 * `now()` is the node's own clock, which may run slower or faster than virtual time (clock skew).
 */
import { TimerActor, type TimerName } from '../../actors/timer/TimerActor.js';
import type { FailureDetector } from '../../actors/timer/FailureDetector.js';

/**
 * A node's local clock: continuous, running at `rate` of virtual time's pace inverted (a rate above 1 is a slow clock:
 * its timers take longer in virtual time). It belongs to the machine, so a crash does not reset it.
 */
export class SkewedClock {
  /** Local timers run this much slower (> 1) or faster (< 1) than virtual time. */
  rate = 1;
  /** The local clock at the last rate change, and the virtual time of that change. */
  private anchorLocal = 0;
  private anchorVirtual = 0;

  /** Change the rate from virtual time `now` on; the local clock stays continuous (it never jumps). */
  setRate(rate: number, now: number): void {
    this.anchorLocal = this.localNow(now);
    this.anchorVirtual = now;
    this.rate = rate;
  }

  /** This clock's reading at virtual time `now`. */
  localNow(now: number): number {
    return this.anchorLocal + (now - this.anchorVirtual) / this.rate;
  }
}

/** What the timer needs from the simulation. */
export interface TimerHost {
  /** Virtual time now. */
  readonly virtualNow: number;
  readonly clock: SkewedClock;
  /** `timer` (arming number `generation`) is due after `afterVirtualMs` of virtual time. */
  timerArmed(timer: TimerName, afterVirtualMs: number, generation: number): void;
}

export class SimTimer extends TimerActor {
  /** The current arming of each timer; an expiry carrying an older one is void. */
  private readonly generation: Record<TimerName, number> = { election: 0, heartbeat: 0 };

  constructor(
    private readonly host: TimerHost,
    failureDetector?: FailureDetector,
  ) {
    super(failureDetector === undefined ? {} : { failureDetector });
  }

  now(): number {
    return this.host.clock.localNow(this.host.virtualNow);
  }

  protected arm(timer: TimerName, afterMs: number): void {
    this.host.timerArmed(timer, afterMs * this.host.clock.rate, ++this.generation[timer]);
  }

  protected disarm(timer: TimerName): void {
    this.generation[timer]++;
  }

  /** Fire `timer` now, armed or not (a hand-driven test standing in for the clock). */
  fireNow(timer: TimerName): void {
    if (this.attached) this.fire(timer);
  }

  /** The scheduler reached the expiry of arming `generation`: fire unless it was replaced or disarmed since. */
  expire(timer: TimerName, generation: number): boolean {
    if (this.generation[timer] !== generation || !this.attached) return false;
    this.fire(timer);
    return true;
  }
}
