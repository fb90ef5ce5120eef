/**
 * `npm run bench -- failover [--compare etcd] [--kills N]`: how long writes stop when the leader dies (SIGKILL: the
 * kernel resets its connections) or freezes (SIGSTOP: nothing resets, it just goes silent), for the KV example and,
 * with `--compare etcd`, a local etcd with its defaults.
 *
 * Each trial: wait until all three members agree on a leader and have caught up; point the open-loop writer (a write
 * every 10 ms, 500 ms deadline each, from a process of its own) at the two survivors; check writes are acknowledged;
 * signal the leader. Unavailability is the time from the signal to the acknowledgement of the first write SENT after
 * it; time to a new leader is the time until a survivor's status names another leader (polled every 10 ms). Then the
 * killed member is restarted on its data (the stopped one continued) before the next trial.
 */
import { readFileSync } from 'node:fs';
import type { BenchCluster, Member, SystemName } from './benchCluster.js';
import { EtcdCluster, findEtcd } from './etcd.js';
import { KvCluster } from './kvCluster.js';
import { LoadClient, type Target } from './loadDriver.js';
import { epochMs, pause, quantile } from './processes.js';

export type FailureMode = 'SIGKILL' | 'SIGSTOP';

export interface FailoverOptions {
  readonly kills: number;
  readonly compareEtcd: boolean;
  readonly build: boolean;
  readonly modes: readonly FailureMode[];
  /** Leave xraft out (with compareEtcd: etcd alone). */
  readonly skipXraft?: boolean;
  /** The KV nodes' failure detector (`--failure-detector`): φ accrual by default, or the fixed timeout. */
  readonly detector?: 'phi' | 'fixed';
  readonly log: (line: string) => void;
}

export interface Trial {
  readonly system: SystemName;
  readonly mode: FailureMode;
  readonly victim: string;
  /** Signal to the first acknowledged write sent after it, ms. */
  readonly unavailableMs: number;
  /** Signal to a survivor naming a new leader, ms. */
  readonly newLeaderMs: number;
  /** Writes sent after the signal, before the first acknowledged one, that failed (deadline or error). */
  readonly failedWrites: number;
  /** When the first acknowledged write was sent, ms after the signal. */
  readonly firstSentMs: number;
  /** Why the trial did not complete (no new leader or no acknowledged write within the bound), or null. */
  readonly error: string | null;
}

export interface FailoverSummary {
  readonly system: SystemName;
  readonly mode: FailureMode;
  readonly trials: number; // completed
  /** Trials with no new leader or no acknowledged write within 30 s (left out of the quantiles). */
  readonly failedTrials: number;
  readonly unavailableMs: Quantiles;
  readonly newLeaderMs: Quantiles;
}
export interface Quantiles {
  readonly median: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface FailoverReport {
  readonly etcd: { readonly version: string } | { readonly missing: string } | null;
  readonly trials: readonly Trial[];
  readonly summaries: readonly FailoverSummary[];
  /** Series ended early: the cluster did not become healthy again. */
  readonly aborted: readonly string[];
}

const trialBoundMs = 30_000;

export async function benchFailover(options: FailoverOptions): Promise<FailoverReport> {
  const trials: Trial[] = [];
  const aborted: string[] = [];
  let etcdInfo: FailoverReport['etcd'] = null;
  const systems: Array<() => Promise<BenchCluster>> = options.skipXraft === true ? [] : [() => KvCluster.start({ build: options.build, flags: ['--failure-detector', options.detector ?? 'phi'] })];
  if (options.compareEtcd) {
    const etcd = findEtcd();
    if ('missing' in etcd) {
      etcdInfo = etcd;
      options.log(`--compare etcd: ${etcd.missing}; running xraft alone`);
    } else {
      etcdInfo = { version: etcd.version };
      systems.push(() => EtcdCluster.start());
    }
  }
  for (const startCluster of systems) {
    const cluster = await startCluster();
    const client = LoadClient.start();
    try {
      const gateway = cluster instanceof EtcdCluster ? cluster.gateway : '';
      const target = (member: Member): Target => ({ system: cluster.system, url: member.clientUrl, gateway });
      await client.ask({ kind: 'open-start', targets: cluster.members.map(target), intervalMs: 10, deadlineMs: 500, keys: 1000, valueBytes: 100 }, 10_000);
      for (const mode of options.modes) {
        for (let trial = 1; trial <= options.kills; trial++) {
          const result = await runTrial(cluster, client, mode, target);
          if (result.error === null) {
            options.log(`${cluster.system} ${mode} ${trial}/${options.kills} (${result.victim}): unavailable ${Math.round(result.unavailableMs)} ms, new leader after ${Math.round(result.newLeaderMs)} ms, ${result.failedWrites} writes failed, the first acknowledged sent ${Math.round(result.firstSentMs)} ms after`);
          } else {
            options.log(`${cluster.system} ${mode} ${trial}/${options.kills} (${result.victim}) FAILED: ${result.error}\n${cluster.members.map((member) => `--- ${member.process.name}, last lines of its log:\n${logTail(member.process.logFile, 40)}`).join('\n')}`);
          }
          trials.push(result);
        }
      }
      await client.ask({ kind: 'open-stop' }, 10_000);
    } catch (error) {
      // A cluster that does not recover ends its own series, not the comparison.
      aborted.push(`${cluster.system}: ${(error as Error).message}`);
      options.log(`${cluster.system}: series aborted: ${(error as Error).message}\n${cluster.members.map((member) => `--- ${member.process.name}, last lines of its log:\n${logTail(member.process.logFile, 40)}`).join('\n')}`);
    } finally {
      await client.close();
      await cluster.stop();
    }
  }
  const summaries: FailoverSummary[] = [];
  for (const system of new Set(trials.map((trial) => trial.system))) {
    for (const mode of options.modes) {
      const all = trials.filter((trial) => trial.system === system && trial.mode === mode);
      const mine = all.filter((trial) => trial.error === null);
      if (all.length > 0) summaries.push({ system, mode, trials: mine.length, failedTrials: all.length - mine.length, unavailableMs: quantiles(mine.map((trial) => trial.unavailableMs)), newLeaderMs: quantiles(mine.map((trial) => trial.newLeaderMs)) });
    }
  }
  return { etcd: etcdInfo, trials, summaries, aborted };
}

async function runTrial(cluster: BenchCluster, client: LoadClient, mode: FailureMode, target: (member: Member) => Target): Promise<Trial> {
  const leader = await cluster.waitHealthy(60_000);
  const survivors = cluster.members.filter((member) => member !== leader);
  await client.ask({ kind: 'open-targets', targets: survivors.map(target) }, 10_000);
  // Writes through the survivors are being acknowledged before the leader goes.
  const flowing = epochMs();
  await until(async () => (await client.writesSince(flowing)).writes.some((write) => write.ackedAt !== null), 10_000, `${cluster.system}: no write acknowledged through the survivors`);

  const signalledAt = epochMs();
  leader.process.signal(mode);
  let newLeaderMs = Number.NaN;
  let unavailableMs = Number.NaN;
  let failedWrites = 0;
  let firstSentMs = Number.NaN;
  const watchLeader = until(async () => {
    const views = await Promise.all(survivors.map((member) => cluster.view(member, 200)));
    if (!views.some((view) => view !== null && view.leader !== null && view.leader !== leader.id)) return false;
    newLeaderMs = epochMs() - signalledAt;
    return true;
  }, trialBoundMs, `${cluster.system}: no new leader within ${trialBoundMs} ms of ${mode}`, 10);
  const watchWrites = until(async () => {
    const { writes } = await client.writesSince(signalledAt);
    const acked = writes.filter((write) => write.ackedAt !== null);
    if (acked.length === 0) return false;
    // Every write acknowledged by now has settled, so the earliest acknowledgement among them is the first one.
    const first = acked.reduce((earliest, write) => (write.ackedAt! < earliest.ackedAt! ? write : earliest));
    unavailableMs = first.ackedAt! - signalledAt;
    firstSentMs = first.sentAt - signalledAt;
    failedWrites = writes.filter((write) => write.ackedAt === null && write.sentAt < first.sentAt).length;
    return true;
  }, trialBoundMs, `${cluster.system}: no write acknowledged within ${trialBoundMs} ms of ${mode}`, 20);
  let error: string | null = null;
  try {
    // Both bounded by trialBoundMs; a failure of one leaves the other to finish on its own bound.
    const outcomes = await Promise.allSettled([watchLeader, watchWrites]);
    const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [(outcome.reason as Error).message] : []));
    if (failures.length > 0) error = failures.join('; ');
  } finally {
    if (mode === 'SIGKILL') {
      await leader.process.exited;
      await cluster.restart(leader);
    } else {
      leader.process.signal('SIGCONT');
    }
  }
  return { system: cluster.system, mode, victim: leader.id, unavailableMs, newLeaderMs, failedWrites, firstSentMs, error };
}

/** Poll `condition` every `everyMs` until it holds; throw `failure` after `timeoutMs`. */
async function until(condition: () => Promise<boolean>, timeoutMs: number, failure: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await pause(everyMs);
  }
  throw new Error(failure);
}

function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

export function failoverMarkdown(report: FailoverReport): string {
  const seconds = (value: number): string => (value / 1000).toFixed(2);
  const lines = [
    '| system | signal to leader | trials (failed) | unavailable: median | p90 | p99 | max | new leader: median | p90 | p99 | max |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { system, mode, trials, failedTrials, unavailableMs: down, newLeaderMs: elected } of report.summaries) {
    lines.push(
      `| ${system} | ${mode} | ${trials}${failedTrials > 0 ? ` (${failedTrials} failed)` : ''} | ${seconds(down.median)} s | ${seconds(down.p90)} s | ${seconds(down.p99)} s | ${seconds(down.max)} s | ` +
        `${seconds(elected.median)} s | ${seconds(elected.p90)} s | ${seconds(elected.p99)} s | ${seconds(elected.max)} s |`,
    );
  }
  for (const reason of report.aborted) lines.push('', `Series aborted: ${reason}`);
  if (report.etcd !== null && 'missing' in report.etcd) lines.push('', `etcd: ${report.etcd.missing}; xraft ran alone.`);
  return lines.join('\n');
}

function logTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
