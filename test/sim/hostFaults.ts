/**
 * The faults of a multi-group run, injected per host (never per group): partitions of every shape between hosts
 * (isolated hosts, splits, one-way links), a lossy, duplicating and reordering network, host crashes with restarts
 * (every group's node on the host at once), and clock skew per host. Each fault hits every group the hosts share,
 * which is what a real multi-Raft process lives through.
 */
import type { NodeId } from '../../src/core/types.js';
import type { HostFabric } from './hostFabric.js';
import type { RandomStream } from './randomStreams.js';
import { calmNetwork } from './simulatedNetwork.js';

export interface HostFaultsDriver {
  readonly now: number;
  readonly inFaultPhase: boolean;
  at(time: number, run: () => void): void;
  crash(host: NodeId): void;
  restart(host: NodeId): void;
  record(line: string): void;
}

export class HostFaults {
  constructor(
    private readonly fabric: HostFabric,
    private readonly driver: HostFaultsDriver,
    private readonly random: RandomStream,
    private readonly clockRates: readonly [number, number],
  ) {}

  start(): void {
    this.driver.at(this.driver.now + this.random.between(200, 1500), () => this.tick());
  }

  /** Every fault ends: the network is whole and calm, every host is up. */
  heal(): void {
    this.fabric.network.healPartitions();
    this.fabric.network.conditions = { ...calmNetwork };
    for (const id of this.fabric.ids) if (!this.fabric.isUp(id)) this.driver.restart(id);
  }

  private tick(): void {
    if (!this.driver.inFaultPhase) return;
    this.inject();
    this.driver.at(this.driver.now + this.random.between(200, 2000), () => this.tick());
  }

  private inject(): void {
    const ids = this.fabric.ids;
    const network = this.fabric.network;
    const roll = this.random.next();
    if (roll < 0.25) {
      const shape = this.random.int(0, 2);
      if (shape === 0) {
        const host = this.random.pick(ids);
        network.isolateGroup([host]);
        this.driver.record(`fault: isolate ${host}`);
      } else if (shape === 1) {
        const from = this.random.pick(ids);
        const to = this.random.pick(ids.filter((id) => id !== from));
        network.blockOneWay(from, to);
        this.driver.record(`fault: cut ${from}->${to}`);
      } else {
        const shuffled = [...ids].sort(() => this.random.next() - 0.5);
        const cut = this.random.int(1, ids.length - 1);
        network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        this.driver.record(`fault: split ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
      }
      this.fabric.stats.partitions++;
    } else if (roll < 0.45) {
      network.healPartitions();
      this.driver.record('fault: partitions healed');
    } else if (roll < 0.6) {
      network.conditions = {
        lossRate: this.random.pick([0, 0.05, 0.15, 0.3]),
        duplicateRate: this.random.pick([0, 0.05, 0.15]),
        minDelayMs: 1,
        maxDelayMs: this.random.pick([15, 50, 150]),
        longDelayChance: this.random.pick([0.02, 0.05, 0.1]),
        longDelayMs: this.random.pick([300, 1000, 2500]),
      };
      this.driver.record(`fault: network ${JSON.stringify(network.conditions)}`);
    } else if (roll < 0.7) {
      network.conditions = { ...calmNetwork };
      this.driver.record('fault: network calm');
    } else if (roll < 0.9) {
      const up = ids.filter((id) => this.fabric.isUp(id));
      if (up.length === 0) return;
      const host = this.random.pick(up);
      this.driver.crash(host);
      const downFor = this.random.between(100, 4000);
      this.driver.at(this.driver.now + downFor, () => {
        if (this.driver.inFaultPhase) this.driver.restart(host);
      });
    } else {
      const host = this.random.pick(ids);
      const rate = this.random.between(...this.clockRates);
      for (const node of this.fabric.nodesOf(host)) node.clock.setRate(rate, this.driver.now);
      this.driver.record(`fault: clock of ${host} at rate ${rate.toFixed(2)}`);
    }
  }
}
