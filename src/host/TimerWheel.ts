/**
 * One timer for every group of a host. Thousands of groups each arming two timers would mean thousands of
 * `setTimeout`s; the wheel keeps their deadlines in slots of `tickMs` and holds a single `setTimeout`, for the
 * earliest slot. A deadline is rounded up to its slot, so a timer fires at most `tickMs` late, never early.
 *
 * `WheelTimer` is a group's `TimerActor` on the wheel.
 */
import { TimerActor, type TimerName, type TimerOptions } from '../../actors/timer/TimerActor.js';

export interface WheelEntry {
  readonly slot: number;
  readonly run: () => void;
}

export class TimerWheel {
  private readonly slots = new Map<number, Set<WheelEntry>>();
  /** Slot numbers with entries, as a binary min-heap (may hold emptied slots, skipped when reached). */
  private readonly heap: number[] = [];
  private handle: NodeJS.Timeout | null = null;
  /** The slot the pending `setTimeout` is for. */
  private armedSlot = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(
    readonly tickMs = 5,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  now(): number {
    return this.clock();
  }

  /** Entries waiting, for tests and status. */
  get size(): number {
    let size = 0;
    for (const entries of this.slots.values()) size += entries.size;
    return size;
  }

  /** Run `run` once, `afterMs` from now (rounded up to the wheel's tick). */
  schedule(afterMs: number, run: () => void): WheelEntry {
    const slot = Math.ceil((this.clock() + Math.max(0, afterMs)) / this.tickMs);
    const entry: WheelEntry = { slot, run };
    let entries = this.slots.get(slot);
    if (entries === undefined) {
      entries = new Set();
      this.slots.set(slot, entries);
      pushHeap(this.heap, slot);
    }
    entries.add(entry);
    if (slot < this.armedSlot) this.arm(slot);
    return entry;
  }

  cancel(entry: WheelEntry): void {
    this.slots.get(entry.slot)?.delete(entry);
  }

  /** Drop every entry and the timer. */
  close(): void {
    this.closed = true;
    if (this.handle !== null) clearTimeout(this.handle);
    this.handle = null;
    this.slots.clear();
    this.heap.length = 0;
  }

  private arm(slot: number): void {
    if (this.closed) return;
    if (this.handle !== null) clearTimeout(this.handle);
    this.armedSlot = slot;
    // Due entries run on the next immediate, not in the timeout's callback: a wheel that fires late because this
    // process was busy lets the I/O waiting behind it (answers, heartbeats) through first, so that a local stall
    // does not make groups time out on peers that did answer (RealTimer does the same).
    this.handle = setTimeout(() => setImmediate(() => this.turn()), Math.max(0, slot * this.tickMs - this.clock()));
  }

  /** Run every due slot, earliest first, then arm for the next one. */
  private turn(): void {
    this.handle = null;
    this.armedSlot = Number.POSITIVE_INFINITY;
    const due = Math.floor(this.clock() / this.tickMs);
    while (this.heap.length > 0 && this.heap[0]! <= due) {
      const slot = popHeap(this.heap);
      const entries = this.slots.get(slot);
      this.slots.delete(slot);
      if (entries === undefined) continue;
      for (const entry of entries) entry.run();
    }
    // Skip slots emptied by cancels so the next wake-up is for real work.
    while (this.heap.length > 0 && (this.slots.get(this.heap[0]!)?.size ?? 0) === 0) {
      this.slots.delete(popHeap(this.heap));
    }
    if (this.heap.length > 0) this.arm(this.heap[0]!);
  }
}

function pushHeap(heap: number[], value: number): void {
  heap.push(value);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function popHeap(heap: number[]): number {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const child = left + 1 < heap.length && heap[left + 1]! < heap[left]! ? left + 1 : left;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
  return top;
}

/** A timer of a `WheelTimer`: when it is due, and the wheel entry that will look at it. */
interface Armed {
  /** When the timer is due, on the wheel's clock. */
  due: number;
  /** The wheel entry, due at `entryDue` (at most `due`): when it runs early, it schedules the rest. */
  entry: WheelEntry;
  entryDue: number;
}

/**
 * A group's timer on the host's wheel. A follower re-arms its election timer on every message from its leader, and
 * each re-arm used to cancel and schedule a wheel entry (a slot lookup, a set insert, a heap push): a measurable part
 * of a message's cost with thousands of groups. Re-arming later only moves `due`; the entry already in the wheel
 * runs at the earlier time, sees the timer not due yet and schedules the rest. Re-arming earlier replaces the entry.
 * A timer still fires at most one tick after it is due, never before.
 */
export class WheelTimer extends TimerActor {
  private readonly armed: Record<TimerName, Armed | null> = { election: null, heartbeat: null };

  constructor(
    private readonly wheel: TimerWheel,
    options: TimerOptions = {},
  ) {
    super(options);
  }

  now(): number {
    return this.wheel.now();
  }

  protected arm(timer: TimerName, afterMs: number): void {
    const delay = Math.max(0, afterMs);
    const due = this.wheel.now() + delay;
    const armed = this.armed[timer];
    if (armed !== null && armed.entryDue <= due) {
      armed.due = due;
      return;
    }
    if (armed !== null) this.wheel.cancel(armed.entry);
    const next: Armed = { due, entryDue: due, entry: this.wheel.schedule(delay, () => this.check(timer, next)) };
    this.armed[timer] = next;
  }

  protected disarm(timer: TimerName): void {
    const armed = this.armed[timer];
    if (armed === null) return;
    this.wheel.cancel(armed.entry);
    this.armed[timer] = null;
  }

  /** `armed`'s wheel entry ran: fire, or, re-armed later since, wait for the rest. */
  private check(timer: TimerName, armed: Armed): void {
    if (this.armed[timer] !== armed) return;
    const now = this.wheel.now();
    if (now < armed.due) {
      armed.entryDue = armed.due;
      armed.entry = this.wheel.schedule(armed.due - now, () => this.check(timer, armed));
      return;
    }
    this.armed[timer] = null;
    this.fire(timer);
  }
}
