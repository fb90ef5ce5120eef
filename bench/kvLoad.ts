/**
 * `npm run bench -- kv-load [--compare etcd] [--seconds S] [--sustained] [--scenarios 1,16,64,256,mix,sustained]
 * [--cpu-prof DIR] [--node-options FLAGS] [--kv-flags FLAGS]`:
 * the KV example (three processes from the build, its default log store on disk, HTTP/2 between them) under
 * closed-loop HTTP load from a process of its own, and with `--compare etcd` a local three-member etcd under the same
 * load, scenario by scenario, interleaved. Writes go to the leader (found from /status, or etcd's maintenance
 * status); 100-byte values.
 *
 * Each scenario: wait until the cluster is healthy and every member caught up, one second of warm-up, then `seconds`
 * measured: acknowledged requests per second, latency percentiles, each server's CPU (user + system from
 * /proc/PID/stat, the difference over the measured run), the time its threads and the load client's waited for a CPU
 * (/proc/PID/task/TID/schedstat) and its peak resident memory (VmRSS sampled every 250 ms);
 * for xraft also its GC time and pauses, largest event-loop delay, heap at the end, synced log-store batches and
 * proposal times, from its /metrics (processMetrics.ts). The load client reports its own longest event-loop delay, and
 * (in the JSON) the run's 20 slowest requests with when each was sent, to set beside what the servers did then.
 */
import type { BenchCluster, Member, SystemName } from './benchCluster.js';
import { EtcdCluster, findEtcd } from './etcd.js';
import { KvCluster } from './kvCluster.js';
import { LoadClient, type ClosedLoopResult, type Target } from './loadDriver.js';
import { overRun, scrapeProcess, type ProcessMemory } from './processMetrics.js';
import { cpuSeconds, cpuWaitSeconds, RssSampler } from './processes.js';

export interface Scenario {
  readonly name: string; // `1`, `16`, `64`, `256`, `mix`, `sustained`
  readonly title: string;
  readonly concurrency: number;
  readonly readFraction: number;
  readonly keys: number;
  readonly seconds: number;
}

export interface KvLoadOptions {
  readonly seconds: number;
  readonly sustainedSeconds: number;
  readonly scenarios: readonly string[];
  readonly compareEtcd: boolean;
  readonly build: boolean;
  /** Write a V8 CPU profile of every xraft process into this directory (on their exit). */
  readonly cpuProfDir?: string;
  /** Node flags for every xraft process (`--node-options '--trace-gc --max-semi-space-size=32'`). */
  readonly nodeOptions?: readonly string[];
  /** Flags for every KV process (`--kv-flags '--snapshot-every 32768'`). */
  readonly kvFlags?: readonly string[];
  readonly log: (line: string) => void;
}

export interface ProcessFigures {
  readonly member: string;
  readonly pid: number; // names its profile with --cpu-prof
  readonly leader: boolean;
  readonly cpuSeconds: number;
  readonly cpuMsPerOp: number;
  /** Time its threads were runnable but waited for a CPU (see cpuWaitSeconds). */
  readonly cpuWaitSeconds: number;
  readonly peakRssMiB: number;
  /** GC, event-loop delay and memory over the run, from the process's /metrics (xraft only). */
  readonly memory: ProcessMemory | null;
}

export interface ScenarioRun {
  readonly system: SystemName;
  readonly scenario: Scenario;
  readonly result: ClosedLoopResult;
  readonly processes: readonly ProcessFigures[];
  /** The load client's threads' wait for a CPU over the run. */
  readonly clientCpuWaitSeconds: number;
}

export interface KvLoadReport {
  readonly etcd: { readonly version: string; readonly gateway: string } | { readonly missing: string } | null;
  readonly runs: readonly ScenarioRun[];
}

export const allScenarios = ['1', '16', '64', '256', 'mix', 'sustained'] as const;

export function scenarioFor(name: string, seconds: number, sustainedSeconds: number): Scenario {
  if (name === 'mix') return { name, title: '90% linearizable reads / 10% writes, 64 clients', concurrency: 64, readFraction: 0.9, keys: 1000, seconds };
  if (name === 'sustained') return { name, title: `sustained writes, 64 clients, 100,000 keys, ${sustainedSeconds} s`, concurrency: 64, readFraction: 0, keys: 100_000, seconds: sustainedSeconds };
  const concurrency = Number(name);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`unknown scenario ${name} (one of ${allScenarios.join(', ')}, or a number of clients)`);
  return { name, title: `writes, ${concurrency} client${concurrency === 1 ? '' : 's'}`, concurrency, readFraction: 0, keys: 1000, seconds };
}

export async function benchKvLoad(options: KvLoadOptions): Promise<KvLoadReport> {
  const scenarios = options.scenarios.map((name) => scenarioFor(name, options.seconds, options.sustainedSeconds));
  let etcdInfo: KvLoadReport['etcd'] = null;
  const clusters: BenchCluster[] = [];
  const client = LoadClient.start();
  try {
    options.log('starting 3 xraft KV processes');
    const profile = options.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir];
    clusters.push(await KvCluster.start({ build: options.build, nodeOptions: [...profile, ...(options.nodeOptions ?? [])], flags: options.kvFlags ?? [] }));
    if (options.compareEtcd) {
      const etcd = findEtcd();
      if ('missing' in etcd) {
        etcdInfo = etcd;
        options.log(`--compare etcd: ${etcd.missing}; running xraft alone`);
      } else {
        options.log(`starting 3 etcd ${etcd.version} members`);
        const cluster = await EtcdCluster.start();
        etcdInfo = { version: cluster.version, gateway: cluster.gateway };
        clusters.push(cluster);
      }
    }
    const runs: ScenarioRun[] = [];
    for (const scenario of scenarios) {
      for (const cluster of clusters) {
        const run = await runScenario(cluster, client, scenario);
        options.log(`${cluster.system}, ${scenario.title}: ${Math.round(run.result.perSecond)}/s, p50 ${run.result.latency.p50.toFixed(2)} ms, p99 ${run.result.latency.p99.toFixed(2)} ms`);
        runs.push(run);
      }
    }
    return { etcd: etcdInfo, runs };
  } finally {
    await client.close();
    await Promise.all(clusters.map((cluster) => cluster.stop()));
  }
}

async function runScenario(cluster: BenchCluster, client: LoadClient, scenario: Scenario): Promise<ScenarioRun> {
  const leader = await cluster.waitHealthy(60_000);
  const gateway = cluster instanceof EtcdCluster ? cluster.gateway : '';
  const targets: Target[] = [{ system: cluster.system, url: leader.clientUrl, gateway }];
  const job = { targets, concurrency: scenario.concurrency, keys: scenario.keys, valueBytes: 100, readFraction: scenario.readFraction, timeoutMs: 10_000 };
  await client.closedLoop({ ...job, seconds: 1 }); // warm-up: connections, JIT, caches
  const members = cluster.members;
  const scrapesBefore = await Promise.all(members.map((member) => scrapeProcess(member.clientUrl)));
  const cpuBefore = members.map((member) => cpuSeconds(member.process.pid));
  const waitBefore = [...members.map((member) => cpuWaitSeconds(member.process.pid)), cpuWaitSeconds(client.pid)];
  const sampler = new RssSampler(() => members.map((member) => ({ name: member.id, pid: member.process.pid })));
  const result = await client.closedLoop({ ...job, seconds: scenario.seconds });
  const peaks = sampler.stop();
  const cpuAfter = members.map((member) => cpuSeconds(member.process.pid));
  const waitAfter = [...members.map((member) => cpuWaitSeconds(member.process.pid)), cpuWaitSeconds(client.pid)];
  const scrapesAfter = await Promise.all(members.map((member) => scrapeProcess(member.clientUrl)));
  const processes = members.map((member: Member, at): ProcessFigures => {
    const used = cpuAfter[at]! - cpuBefore[at]!;
    const memory = overRun(scrapesBefore[at]!, scrapesAfter[at]!);
    return { member: member.id, pid: member.process.pid, leader: member === leader, cpuSeconds: used, cpuMsPerOp: (1000 * used) / Math.max(1, result.ok), cpuWaitSeconds: waitAfter[at]! - waitBefore[at]!, peakRssMiB: peaks.get(member.id) ?? Number.NaN, memory };
  });
  return { system: cluster.system, scenario, result, processes, clientCpuWaitSeconds: waitAfter[members.length]! - waitBefore[members.length]! };
}

const count = (value: number): string => Math.round(value).toLocaleString('en-US');
const ms = (value: number): string => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));

/** The Markdown summary: figures per system and scenario, then xraft and etcd side by side. */
export function kvLoadMarkdown(report: KvLoadReport): string {
  const lines: string[] = [];
  const sustained = report.runs.some((run) => run.scenario.name === 'sustained');
  lines.push('| system | scenario | acknowledged/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | CPU s per process (L = leader) | CPU ms per op (L / followers) | client CPU s | client max event-loop delay ms | CPU wait s per process, client last |' + (sustained ? ' peak RSS MiB |' : ''));
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|' + (sustained ? '---|' : ''));
  const seconds = (value: number): string => (Number.isNaN(value) ? '-' : value.toFixed(1));
  for (const { system, scenario, result, processes, clientCpuWaitSeconds } of report.runs) {
    const errors = Object.entries(result.errors).map(([reason, times]) => `${times} ${reason}`).join(', ') || '0';
    const cpu = processes.map((figures) => `${figures.member}${figures.leader ? ' (L)' : ''} ${figures.cpuSeconds.toFixed(1)}`).join(', ');
    const leader = processes.find((figures) => figures.leader);
    const followers = processes.filter((figures) => !figures.leader).map((figures) => figures.cpuMsPerOp.toFixed(2));
    const perOp = `${leader?.cpuMsPerOp.toFixed(2) ?? '-'} / ${followers.join(', ')}`;
    const waits = [...processes.map((figures) => `${figures.member}${figures.leader ? ' (L)' : ''} ${seconds(figures.cpuWaitSeconds)}`), `client ${seconds(clientCpuWaitSeconds)}`].join(', ');
    const rss = sustained ? ` ${processes.map((figures) => `${figures.member} ${Math.round(figures.peakRssMiB)}`).join(', ')} |` : '';
    lines.push(
      `| ${system} | ${scenario.title} | ${count(result.perSecond)} | ${ms(result.latency.p50)} | ${ms(result.latency.p90)} | ${ms(result.latency.p99)} | ` +
        `${ms(result.latency.p999)} | ${ms(result.latency.max)} | ${errors} | ${cpu} | ${perOp} | ${result.clientCpuSeconds.toFixed(1)} | ${ms(result.clientLoopDelayMaxMs)} | ${waits} |${rss}`,
    );
  }
  const withMemory = report.runs.filter((run) => run.processes.some((figures) => figures.memory !== null));
  if (withMemory.length > 0) {
    lines.push('', 'Per process over the run, from its /metrics (heap, external and RSS as at the end of the run; a synced batch is timed from the write to its callback on the event loop):', '');
    lines.push('| system | scenario | process | GC s (major) | GC pauses ≥ 100 ms | max event-loop delay ms | peak RSS MiB | RSS MiB | heap used / total MiB | external MiB | synced batches, mean ms | entries per batch | proposals, mean ms |');
    lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const { system, scenario, processes } of withMemory) {
      for (const { member, leader, peakRssMiB, memory } of processes) {
        if (memory === null) continue;
        lines.push(
          `| ${system} | ${scenario.title} | ${member}${leader ? ' (L)' : ''} | ${memory.gcSeconds.toFixed(2)} (${memory.gcMajorSeconds.toFixed(2)}) | ${memory.gcPausesOver100ms} | ` +
            `${ms(memory.loopDelayMaxMs)} | ${Math.round(peakRssMiB)} | ${Math.round(memory.rssMiB)} | ${Math.round(memory.heapUsedMiB)} / ${Math.round(memory.heapTotalMiB)} | ${Math.round(memory.externalMiB)} | ` +
            `${count(memory.syncedBatches)}, ${ms(memory.syncedBatchMeanMs)} | ${ms(memory.entriesPerBatch)} | ${memory.proposals === 0 ? '-' : `${count(memory.proposals)}, ${ms(memory.proposalMeanMs)}`} |`,
        );
      }
    }
  }
  const names = [...new Set(report.runs.map((run) => run.scenario.name))];
  const etcdRuns = report.runs.filter((run) => run.system === 'etcd');
  if (etcdRuns.length > 0) {
    lines.push('', '| scenario | etcd | xraft | xraft/etcd (throughput) | xraft/etcd (p99) |', '|---|---:|---:|---:|---:|');
    const cell = (run: ScenarioRun): string => `${count(run.result.perSecond)}/s, p50 ${ms(run.result.latency.p50)} ms, p99 ${ms(run.result.latency.p99)} ms`;
    for (const name of names) {
      const xraft = report.runs.find((run) => run.system === 'xraft' && run.scenario.name === name);
      const etcd = etcdRuns.find((run) => run.scenario.name === name);
      if (xraft === undefined || etcd === undefined) continue;
      lines.push(
        `| ${xraft.scenario.title} | ${cell(etcd)} | ${cell(xraft)} | ${(xraft.result.perSecond / etcd.result.perSecond).toFixed(2)} | ` +
          `${(xraft.result.latency.p99 / etcd.result.latency.p99).toFixed(2)} |`,
      );
    }
  } else if (report.etcd !== null && 'missing' in report.etcd) {
    lines.push('', `etcd: ${report.etcd.missing}; xraft ran alone.`);
  }
  return lines.join('\n');
}
