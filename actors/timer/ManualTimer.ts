/**
 * A timer driven by hand: tests and simulations call `advance(ms)` to move its clock, and due timers fire in order.
 * Nothing fires on its own, so a test decides exactly when time passes.
 */
import { TimerActor, type TimerName } from './TimerActor.js';

export class ManualTimer extends TimerActor {
  private current = 0;
  private readonly deadlines = new Map<TimerName, number>();

  /** The timer's current time in milliseconds since it was created. */
  get time(): number {
    return this.current;
  }

  now(): number {
    return this.current;
  }

  /** When `timer` will fire, or undefined when it is not armed. */
  deadline(timer: TimerName): number | undefined {
    return this.deadlines.get(timer);
  }

  /** Move time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const until = this.current + ms;
    for (;;) {
      let next: { timer: TimerName; at: number } | null = null;
      for (const [timer, at] of this.deadlines) {
        if (at <= until && (next === null || at < next.at)) next = { timer, at };
      }
      if (next === null) break;
      this.current = next.at;
      this.deadlines.delete(next.timer);
      this.fire(next.timer);
    }
    this.current = until;
  }

  protected arm(timer: TimerName, afterMs: number): void {
    this.deadlines.set(timer, this.current + afterMs);
  }

  protected disarm(timer: TimerName): void {
    this.deadlines.delete(timer);
  }
}
