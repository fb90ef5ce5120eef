/**
 * A timer on the process clock (setTimeout). By default its election timer learns the leader's rhythm (φ accrual).
 *
 * A follower re-arms its election timer on every message from its leader, each time a little later than before.
 * Replacing the process timeout every time (clearTimeout, setTimeout) costs more than the rest of handling a small
 * message; instead each timer keeps its due time, and a process timeout already set to wake it no later than that
 * stays: when it wakes and the due time was pushed back meanwhile, it sleeps again for the difference. Whether a
 * timer is due is decided by the process timeouts, as before, not by reading `now()` on waking, so fake timers in
 * tests (which may not fake `performance`) drive it as they drove setTimeout. A replaced or disarmed timer never fires.
 */
import { PhiAccrualDetector } from './FailureDetector.js';
import { TimerActor, type TimerName, type TimerOptions } from './TimerActor.js';

interface Armed {
  /** When the timer is due, on `now()`'s clock. */
  due: number;
  /** When the process timeout in `timeout` wakes, on the same clock (at or before `due`). */
  wakesAt: number;
  timeout: NodeJS.Timeout | null;
  /** The timer is due and fires on the next immediate (see `woke`). */
  immediate: NodeJS.Immediate | null;
}

export class RealTimer extends TimerActor {
  private readonly armed = new Map<TimerName, Armed>();

  constructor(options: TimerOptions = {}) {
    super({ failureDetector: options.failureDetector ?? new PhiAccrualDetector() });
  }

  now(): number {
    return performance.now();
  }

  protected arm(timer: TimerName, afterMs: number): void {
    const now = this.now();
    let armed = this.armed.get(timer);
    if (armed === undefined) {
      armed = { due: 0, wakesAt: 0, timeout: null, immediate: null };
      this.armed.set(timer, armed);
    }
    if (armed.immediate !== null) {
      clearImmediate(armed.immediate);
      armed.immediate = null;
    }
    armed.due = now + afterMs;
    if (armed.timeout !== null) {
      if (armed.wakesAt <= armed.due) return;
      clearTimeout(armed.timeout);
    }
    this.sleep(timer, armed, now, afterMs);
  }

  protected disarm(timer: TimerName): void {
    const armed = this.armed.get(timer);
    if (armed === undefined) return;
    if (armed.timeout !== null) clearTimeout(armed.timeout);
    if (armed.immediate !== null) clearImmediate(armed.immediate);
    this.armed.delete(timer);
  }

  /** Sleep `ms` from `from` (on `now()`'s clock), rounded up to setTimeout's whole milliseconds. */
  private sleep(timer: TimerName, armed: Armed, from: number, ms: number): void {
    const wholeMs = Math.max(1, Math.ceil(ms));
    armed.wakesAt = from + wholeMs;
    armed.timeout = setTimeout(() => this.woke(timer, armed), wholeMs);
  }

  private woke(timer: TimerName, armed: Armed): void {
    armed.timeout = null;
    if (this.armed.get(timer) !== armed) return;
    // Re-armed for later while asleep: sleep for the time it was pushed back by, or for what is left of it when this
    // wake came late (a paused process). A timer that was not pushed back fires whatever `now()` says.
    const rest = Math.min(armed.due - armed.wakesAt, armed.due - this.now());
    if (rest > 0) {
      this.sleep(timer, armed, armed.due - rest, rest);
      return;
    }
    // A timer that fires late because this process was paused (a long GC, a slow synchronous step) may have messages
    // waiting behind it that would have re-armed it: let pending I/O through first (an immediate runs after it), so
    // that a local pause does not make this node campaign against a leader it can hear.
    armed.immediate = setImmediate(() => {
      armed.immediate = null;
      if (this.armed.get(timer) !== armed) return;
      this.armed.delete(timer);
      this.fire(timer);
    });
  }
}
