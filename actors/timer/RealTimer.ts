/** A timer on the process clock (setTimeout). */
import { TimerActor, type TimerName } from './TimerActor.js';

export class RealTimer extends TimerActor {
  private readonly handles = new Map<TimerName, NodeJS.Timeout>();

  now(): number {
    return performance.now();
  }

  protected arm(timer: TimerName, afterMs: number): void {
    this.disarm(timer);
    const handle = setTimeout(() => {
      this.handles.delete(timer);
      this.fire(timer);
    }, afterMs);
    this.handles.set(timer, handle);
  }

  protected disarm(timer: TimerName): void {
    const handle = this.handles.get(timer);
    if (handle !== undefined) clearTimeout(handle);
    this.handles.delete(timer);
  }
}
