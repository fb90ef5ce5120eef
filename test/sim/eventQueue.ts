/**
 * The simulator's scheduler: one queue of events ordered by (virtual time, sequence number).
 *
 * The sequence number breaks ties in scheduling order, so two events due at the same instant always run in the same
 * order and a seed replays exactly. A binary heap keeps push and pop at O(log n).
 */
export interface Scheduled<E> {
  readonly time: number;
  readonly seq: number;
  readonly event: E;
}

export class EventQueue<E> {
  private readonly heap: Scheduled<E>[] = [];
  private nextSeq = 0;
  /** The virtual time of the last event popped; events can never be scheduled before it. */
  private currentTime = 0;

  get now(): number {
    return this.currentTime;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Every scheduled event, in no particular order (for recorders; do not modify). */
  pending(): readonly Scheduled<E>[] {
    return this.heap;
  }

  /** Schedule `event` at `time` (clamped to now: the past cannot be scheduled). */
  push(time: number, event: E): void {
    const item: Scheduled<E> = { time: Math.max(time, this.currentTime), seq: this.nextSeq++, event };
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** Remove and return the earliest event, advancing virtual time to it. */
  pop(): Scheduled<E> | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    this.currentTime = top.time;
    return top;
  }
}

function before<E>(a: Scheduled<E>, b: Scheduled<E>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
