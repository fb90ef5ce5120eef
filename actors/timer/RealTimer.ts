/** A timer on the process clock (setTimeout). By default its election timer learns the leader's rhythm (φ accrual). */
import { PhiAccrualDetector } from './FailureDetector.js';
import { TimerActor, type TimerName, type TimerOptions } from './TimerActor.js';

export class RealTimer extends TimerActor {
  private readonly handles = new Map<TimerName, NodeJS.Timeout>();
  private readonly pending = new Map<TimerName, NodeJS.Immediate>();

  constructor(options: TimerOptions = {}) {
    super({ failureDetector: options.failureDetector ?? new PhiAccrualDetector() });
  }

  now(): number {
    return performance.now();
  }

  protected arm(timer: TimerName, afterMs: number): void {
    this.disarm(timer);
    const handle = setTimeout(() => {
      this.handles.delete(timer);
      // A timer that fires late because this process was paused (a long GC, a slow synchronous step) may have
      // messages waiting behind it that would have re-armed it: let pending I/O through first (an immediate runs
      // after it), so that a local pause does not make this node campaign against a leader it can hear.
      this.pending.set(
        timer,
        setImmediate(() => {
          this.pending.delete(timer);
          this.fire(timer);
        }),
      );
    }, afterMs);
    this.handles.set(timer, handle);
  }

  protected disarm(timer: TimerName): void {
    const handle = this.handles.get(timer);
    if (handle !== undefined) clearTimeout(handle);
    this.handles.delete(timer);
    const immediate = this.pending.get(timer);
    if (immediate !== undefined) clearImmediate(immediate);
    this.pending.delete(timer);
  }
}
