/** The options of a simulated run, its core configuration, and the command line that replays it. */
import type { SimWorld } from './world.js';
import type { NodeId, RaftConfig } from '../../src/core/types.js';
import type { MembershipScheduleName } from './membershipSchedule.js';

/** Ways to break the system on purpose, to show that the checks catch it. */
export type Sabotage =
  /** Clients serve a get from the local state machine at once (no ReadIndex). */
  | 'stale-reads'
  /** Clients retry writes without a session tag. */
  | 'no-sessions'
  /** The core commits entries of older terms by counting replicas (the rule of the paper's Figure 8, broken). */
  | 'old-term-commit';
export const sabotages: readonly Sabotage[] = ['stale-reads', 'no-sessions', 'old-term-commit'];

export interface SimOptions {
  readonly nodes?: 3 | 5;
  /** Events processed in the fault phase. */
  readonly steps?: number;
  /** Keep a readable log of every event. */
  readonly trace?: boolean;
  /** Called after every step (recorder.ts, `--record`); with `trace`, the trace so far. Off the hot path when absent. */
  readonly onStep?: (world: SimWorld, step: number, trace: readonly string[] | undefined) => void;
  /** Keep stack traces of errors (off by default: the nodes' refusals are errors, and stacks cost a third of a run). */
  readonly stacks?: boolean;
  readonly config?: Partial<RaftConfig>;
  /** Virtual time after the heal within which a fresh proposal must be applied on every node. */
  readonly livenessBoundMs?: number;
  /** Concurrent key-value clients with sessions, whose history must be linearizable (0: none). Default 6. */
  readonly clients?: number;
  /** A membership schedule carried out under the faults (see membershipSchedule.ts). Default none. */
  readonly membership?: MembershipScheduleName | 'none';
  /**
   * Figure 8 timing: crash a leader (its in-flight messages lost with it) right after an entry of an older term reaches
   * a majority while nothing of its own term is committed yet. Default on.
   */
  readonly figure8Faults?: boolean;
  /**
   * The scripted Figure 8 schedule (nemesis/figure8Script.ts): partitions and crashes that build the figure's logs on
   * purpose, several times per run. Default off.
   */
  readonly figure8Script?: boolean;
  /** Break something on purpose (tests of the checks themselves). */
  readonly sabotage?: Sabotage;
  /**
   * Snapshots and log compaction with a small seed-chosen threshold, and crashes aimed at snapshot transfers.
   * Default on; off keeps every log whole (snapshotThreshold 0).
   */
  readonly snapshots?: boolean;
  /**
   * Lease reads on (`config.leaseReads`), asked for by half of the clients' reads, with clock rates kept within
   * [1 / (1 + d/2), 1 + d/2] for the drift bound d (`leaseClockDrift`), where leases are safe. Default off.
   */
  readonly leaseReads?: boolean;
  /** Clock rates to draw from, overriding the default (0.8 to 1.25, or the lease bound above). */
  readonly clockRates?: readonly [number, number];
  /**
   * Leadership transfers under the faults: targeted and untargeted, the target crashed mid-transfer, TimeoutNow held
   * back and delivered late, and (with lease reads) lease reads right after a transfer. Every transfer must settle.
   * Default off.
   */
  readonly transfers?: boolean;
  /** Remove a voter (the leader, or a follower) that keeps running; it must stop campaigning. Default off. */
  readonly removals?: boolean;
  /** A misbehaving peer injects messages that pass the schema but break an invariant. Default off. */
  readonly forge?: boolean;
  /** The election timer's failure detector: the core's fixed timeout, or φ accrual (RealTimer's default). Default fixed. */
  readonly detector?: 'fixed' | 'phi';
  /**
   * A calm run for counting spurious elections: no crashes, partitions, loss, duplication or clock skew; only the
   * network's delays jitter (now and then far beyond a heartbeat interval) and disks turn slow. Default off.
   */
  readonly jitter?: boolean;
  /**
   * Multi-Raft: this many groups on the same hosts, every host running one node of each over one host-level network,
   * faults per host (multiGroupSimulation.ts). Absent: one group, the single-group run.
   */
  readonly groups?: number;
  /** With `groups`: idle groups quiesce (as RaftHost makes them). Default on. */
  readonly quiesce?: boolean;
}

/** The core configuration of simulated runs: short enough timeouts for several elections per run. */
export const simConfig: Partial<RaftConfig> = {
  electionTimeoutMs: 1000,
  heartbeatIntervalMs: 250,
  maxEntriesPerMessage: 8,
  maxInflightMessages: 4,
};

export const defaultClients = 6;

export const nodeIds = (count: number): NodeId[] => Array.from({ length: count }, (_, i) => `n${i + 1}`);

/** The CLI flags that select `options` (beyond seed, nodes and steps). */
export function optionFlags(options: SimOptions): string {
  const flags: string[] = [];
  if (options.clients !== undefined && options.clients !== defaultClients) flags.push(`--clients ${options.clients}`);
  if (options.membership !== undefined && options.membership !== 'none') flags.push(`--membership ${options.membership}`);
  if (options.snapshots === false) flags.push('--no-snapshots');
  if (options.leaseReads === true) flags.push('--lease-reads');
  if (options.figure8Faults === false) flags.push('--no-figure8');
  if (options.figure8Script === true) flags.push('--figure8-script');
  if (options.transfers === true) flags.push('--transfers');
  if (options.removals === true) flags.push('--removals');
  if (options.forge === true) flags.push('--forge');
  if (options.detector === 'phi') flags.push('--detector phi');
  if (options.jitter === true) flags.push('--jitter');
  if (options.sabotage !== undefined) flags.push(`--sabotage ${options.sabotage}`);
  if (options.groups !== undefined) flags.push(`--groups ${options.groups}`);
  if (options.quiesce === false) flags.push('--no-quiesce');
  return flags.join(' ');
}

/** The command that replays a seed from the command line. */
export function replayCommand(seed: number, nodes: number, steps: number, options: SimOptions = {}): string {
  const flags = optionFlags(options);
  return `npm run sim -- --seed ${seed} --nodes ${nodes} --steps ${steps}${flags === '' ? '' : ` ${flags}`}`;
}

/** The replay command of a result. */
export function replayCommandOf(result: { readonly seed: number; readonly nodes: number; readonly steps: number; readonly flags: string }): string {
  return `npm run sim -- --seed ${result.seed} --nodes ${result.nodes} --steps ${result.steps}${result.flags === '' ? '' : ` ${result.flags}`}`;
}
