/**
 * When simulated disks complete their operations: in order, one after another, each taking a seeded time up to the
 * disk's current maximum (which the nemesis raises for slow disks). A crash forgets the disk's queue; at the heal every
 * disk becomes fast and works through its backlog at its new speed (the older completions are void: `epoch`).
 */
import type { EventQueue } from './eventQueue.js';
import type { RandomStream } from './randomStreams.js';
import type { SimHost } from './simHost.js';
import type { SimEvent } from './world.js';

export class DiskTiming {
  /** The earliest time each disk may complete its next operation. */
  private readonly freeAt = new Map<SimHost, number>();
  private readonly maxDelayMs = new Map<SimHost, number>();
  /** Bumped at the heal, when queued operations are rescheduled; older completions are void. */
  epoch = 0;

  constructor(
    private readonly queue: EventQueue<SimEvent>,
    private readonly random: RandomStream,
  ) {}

  /** A new disk, 1 to 40 ms per operation. */
  add(host: SimHost): void {
    this.maxDelayMs.set(host, this.random.between(1, 40));
  }

  setMaxDelay(host: SimHost, maxMs: number): void {
    this.maxDelayMs.set(host, maxMs);
  }

  crashed(host: SimHost): void {
    this.freeAt.delete(host);
  }

  /** Schedule the completion of operation `seq`; returns its time. */
  schedule(host: SimHost, seq: number): number {
    const earliest = Math.max(this.freeAt.get(host) ?? 0, this.queue.now);
    const done = earliest + this.random.between(0.2, this.maxDelayMs.get(host)!);
    this.freeAt.set(host, done);
    this.queue.push(done, { kind: 'disk', host, incarnation: host.incarnation, seq, diskEpoch: this.epoch });
    return done;
  }

  /**
   * Every disk becomes fast (20 ms at most). A slow disk may have seconds of operations queued under load: they are
   * rescheduled at the new speed (otherwise a node could stay unable to acknowledge anything past the liveness bound).
   */
  heal(hosts: readonly SimHost[]): void {
    for (const host of hosts) this.maxDelayMs.set(host, Math.min(this.maxDelayMs.get(host)!, 20));
    this.epoch++;
    for (const host of hosts) {
      this.freeAt.delete(host);
      if (!host.up) continue;
      for (const seq of host.disk.pendingSeqs()) this.schedule(host, seq);
    }
  }
}
