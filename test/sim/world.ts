/**
 * What the parts of a simulated run share: the scheduler's events, and the view of the run that the nemesis, the
 * workload and the schedules act through (`SimWorld`, implemented by the Simulation).
 */
import type { TimerName } from '../../actors/timer/TimerActor.js';
import type { NodeId, RaftConfig, RaftMessage } from '../../src/core/types.js';
import type { ClientLedger } from './clientLedger.js';
import type { EventQueue } from './eventQueue.js';
import type { SafetyChecker } from './safetyChecker.js';
import type { SimHost } from './simHost.js';
import type { SimulatedNetwork } from './simulatedNetwork.js';
import type { SimStats } from './stats.js';

/** One scheduled event. Events that name an incarnation are void once that incarnation has ended. */
export type SimEvent =
  | { readonly kind: 'deliver'; readonly from: NodeId; readonly fromIncarnation: number; readonly to: NodeId; readonly message: RaftMessage }
  | { readonly kind: 'disk'; readonly host: SimHost; readonly incarnation: number; readonly seq: number; readonly diskEpoch: number }
  | { readonly kind: 'read'; readonly host: SimHost; readonly incarnation: number; readonly answer: () => void }
  | { readonly kind: 'timer'; readonly host: SimHost; readonly incarnation: number; readonly timer: TimerName; readonly generation: number }
  /** `silence`: the node's messages still in flight are lost with it. */
  | { readonly kind: 'crash'; readonly host: SimHost; readonly incarnation: number; readonly silence?: boolean; readonly why?: string }
  | { readonly kind: 'restart'; readonly host: SimHost; readonly incarnation: number }
  /** Anything else (clients, faults, schedules): a named step of one of the run's parts. */
  | { readonly kind: 'action'; readonly run: () => void };

export type Phase = 'faults' | 'heal';

export interface SimWorld {
  readonly queue: EventQueue<SimEvent>;
  readonly hosts: readonly SimHost[];
  readonly network: SimulatedNetwork;
  readonly stats: SimStats;
  readonly config: RaftConfig;
  readonly phase: Phase;
  readonly checker: SafetyChecker;
  readonly ledger: ClientLedger;
  host(id: NodeId): SimHost;
  /** The running leader with the highest term. */
  currentLeader(): SimHost | undefined;
  /** Run `run` at virtual time `time`. */
  at(time: number, run: () => void): void;
  /** Crash `host` now (and restart it later unless told not to). */
  crash(host: SimHost, why: string, restart?: boolean): void;
  /** Make `host`'s disk take up to `maxMs` per operation from now on. */
  setDiskDelay(host: SimHost, maxMs: number): void;
  /** Stop a removed node for good, `afterMs` from now; the run does not end before. */
  decommission(id: NodeId, afterMs: number): void;
  record(line: string): void;
  /** Fail the run with `error` after the current event. */
  fail(error: unknown): void;
}
