/**
 * The simulated network between nodes: random delays (which reorder messages), loss, duplication, and partitions of
 * any shape, symmetric or one-way. A partition is a set of blocked directed links, checked when a message is
 * *delivered*, so healing a partition lets through messages that were still in flight, and cutting a link drops
 * messages already on it, as on a real network.
 */
import type { NodeId } from '../../src/core/types.js';
import type { RandomStream } from './randomStreams.js';

export interface NetworkConditions {
  /** Probability that a message is lost. */
  lossRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Range of the ordinary one-way delay, in ms. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a message is stuck in a long delay, up to `longDelayMs` (reordering past later messages). */
  longDelayChance: number;
  longDelayMs: number;
}

export const calmNetwork: NetworkConditions = {
  lossRate: 0,
  duplicateRate: 0,
  minDelayMs: 1,
  maxDelayMs: 15,
  longDelayChance: 0.02,
  longDelayMs: 300,
};

export class SimulatedNetwork {
  conditions: NetworkConditions = { ...calmNetwork };
  private readonly indexOf = new Map<NodeId, number>();
  /** blocked[from][to]: messages on the directed link from -> to are dropped. */
  private readonly blocked: boolean[][];
  private blockedCount = 0;
  /** `node:incarnation` of crashed senders whose messages still in flight are lost with them. */
  private readonly silenced = new Set<string>();

  constructor(
    readonly ids: readonly NodeId[],
    private readonly random: RandomStream,
  ) {
    ids.forEach((id, i) => this.indexOf.set(id, i));
    this.blocked = ids.map(() => ids.map(() => false));
  }

  get hasPartition(): boolean {
    return this.blockedCount > 0;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blockedCount > 0 && this.blocked[this.index(from)]![this.index(to)]!;
  }

  /** The messages `id` sent during `incarnation` and still in flight are lost (it crashed with them). */
  silence(id: NodeId, incarnation: number): void {
    this.silenced.add(`${id}:${incarnation}`);
  }

  isSilenced(from: NodeId, incarnation: number): boolean {
    return this.silenced.size > 0 && this.silenced.has(`${from}:${incarnation}`);
  }

  blockOneWay(from: NodeId, to: NodeId): void {
    const row = this.blocked[this.index(from)]!;
    const to_ = this.index(to);
    if (from !== to && !row[to_]) {
      row[to_] = true;
      this.blockedCount++;
    }
  }

  /** Cut every link between `group` and the rest, in both directions. */
  isolateGroup(group: readonly NodeId[]): void {
    for (const inside of group) {
      for (const outside of this.ids) {
        if (group.includes(outside)) continue;
        this.blockOneWay(inside, outside);
        this.blockOneWay(outside, inside);
      }
    }
  }

  /** Split the cluster into groups that cannot talk to each other. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const group of groups) this.isolateGroup(group);
  }

  healPartitions(): void {
    for (const row of this.blocked) row.fill(false);
    this.blockedCount = 0;
  }

  /** Delays for one send: none when it is lost, two when it is duplicated. */
  deliveryDelays(): number[] {
    const c = this.conditions;
    if (this.random.chance(c.lossRate)) return [];
    const delays = [this.delay()];
    if (this.random.chance(c.duplicateRate)) delays.push(this.delay());
    return delays;
  }

  describePartitions(): string {
    const links: string[] = [];
    this.ids.forEach((from, i) =>
      this.ids.forEach((to, j) => {
        if (this.blocked[i]![j]) links.push(`${from}-x->${to}`);
      }),
    );
    return links.length === 0 ? 'none' : links.join(' ');
  }

  private delay(): number {
    const c = this.conditions;
    if (this.random.chance(c.longDelayChance)) return this.random.between(c.maxDelayMs, c.longDelayMs);
    return this.random.between(c.minDelayMs, c.maxDelayMs);
  }

  private index(id: NodeId): number {
    const i = this.indexOf.get(id);
    if (i === undefined) throw new RangeError(`unknown node ${id}`);
    return i;
  }
}
