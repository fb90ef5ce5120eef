/**
 * What every simulation run reports the same way, one group or many: the check of the clients' history, the
 * counts of what the checker, the ledger and the clients saw, and the result of the run.
 */
import { checkLinearizable } from '../support/linearizability.js';
import type { ClientLedger } from './clientLedger.js';
import type { KvWorkload } from './kvClients.js';
import type { SafetyChecker } from './safetyChecker.js';
import { SafetyViolation } from './safetyViolation.js';
import { optionFlags, type SimOptions } from './simOptions.js';
import type { SimFailure, SimResult, SimStats } from './stats.js';
import type { TraceRecorder } from './traceRecorder.js';

/**
 * Finish `workload` and check its history; throws a Linearizability violation (`where` says whose history) when it has
 * none. Returns the milliseconds the check took.
 */
export function checkHistory(workload: KvWorkload, where: string): number {
  workload.finish();
  const began = performance.now();
  const result = checkLinearizable(workload.history);
  const tookMs = performance.now() - began;
  if (!result.ok) {
    const ops = result.history!.map((entry) =>
      `${entry.client}:${entry.op.kind}${'value' in entry.op ? `(${entry.op.value})` : ''}@${entry.call.toFixed(0)}..${entry.ret === null ? '?' : entry.ret.toFixed(0)}=${entry.output ?? '-'}`,
    );
    throw new SafetyViolation('Linearizability', `${where}the history of key ${result.key} has no linearization: ${ops.join(' ')}`);
  }
  return tookMs;
}

/** Copy into `stats` what one group's checker, ledger and clients counted. */
export function countOutcomes(stats: SimStats, { checker, ledger, workload }: { checker: SafetyChecker; ledger: ClientLedger; workload: KvWorkload | null }): void {
  stats.leaderTerms = checker.leaderTermCount;
  stats.committedIndex = checker.committedIndex;
  stats.acknowledged = ledger.count('acknowledged');
  stats.failedNotAppended = ledger.count('failed-not-appended');
  stats.failedUnknown = ledger.count('failed-unknown');
  if (workload === null) return;
  stats.clientOperations = workload.stats.operations;
  stats.clientCompleted = workload.stats.completed;
  stats.clientAbandoned = workload.stats.abandoned;
  stats.clientAttempts = workload.stats.attempts;
  stats.leaseReads = workload.stats.leaseReads;
}

export interface RunIdentity {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly options: SimOptions;
  readonly trace: TraceRecorder;
  readonly linearizabilityCheckMs: number;
}

/** The result of a run: ok unless `failure`, with its trace hash (and trace, when recorded) and `stats`. */
export function simResult(run: RunIdentity, stats: SimStats, failure: SimFailure | undefined): SimResult {
  return {
    seed: run.seed,
    nodes: run.nodes,
    steps: run.steps,
    ok: failure === undefined,
    traceHash: run.trace.digest(),
    ...(failure === undefined ? {} : { failure }),
    stats,
    flags: optionFlags(run.options),
    linearizabilityCheckMs: run.linearizabilityCheckMs,
    ...(run.trace.lines === undefined ? {} : { trace: run.trace.lines }),
  };
}
