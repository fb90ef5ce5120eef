/**
 * Independent seeded random streams, one per purpose.
 *
 * Every source of randomness in a simulated run (the network, the disks, the fault generator, the clients, each
 * node's core) draws from its own stream derived from the run's seed. A change in how often one consumer draws (say,
 * a node sends one more message) then does not shift the numbers every other consumer sees, which keeps failures
 * from evaporating when the code under test changes slightly, and keeps nodes from sharing a stream with the faults.
 */
import { seededRandom } from '../../src/core/random.js';
import type { RandomSource } from '../../src/core/types.js';

/** Mix a run seed with a purpose number into a new 32-bit seed (a splitmix32-style finalizer). */
export function deriveSeed(seed: number, purpose: number): number {
  let x = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(purpose + 1, 0x85ebca77)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97) >>> 0;
  return (x ^ (x >>> 15)) >>> 0;
}

/** Purposes of the streams of one run; node streams are `NodeCore + node number * 1000 + incarnation`. */
export const StreamPurpose = {
  Network: 1,
  Disk: 2,
  Faults: 3,
  Clients: 4,
  Apply: 5,
  Clocks: 6,
  KvClients: 7,
  Membership: 8,
  Snapshots: 9,
  Transfers: 10,
  Forgery: 11,
  Windows: 12,
  MessageBytes: 13,
  NodeCore: 100,
} as const;

/** Convenience draws over a `RandomSource`. */
export class RandomStream {
  readonly next: RandomSource;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** An integer in [min, max], inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A float in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(probability: number): boolean {
    return probability > 0 && this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }
}
