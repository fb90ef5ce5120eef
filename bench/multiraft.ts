/**
 * `npm run bench -- multiraft [--groups 1000,10000] [--seconds S] [--cpu-prof DIR] [--node-options FLAGS] [--no-build]`: three sharded KV processes from the
 * build (`--groups N`, examples/kv/shardedNode.ts) on loopback, for each N:
 * - cold start: from spawning the processes until every node knows a leader for every group;
 * - idle: once every group has quiesced and the leader balancer is done, 10 s on, the CPU each process uses over 10 s (% of one core), and its resident memory
 *   (per group: the process's RSS above a one-group process's, divided by N);
 * - load: closed-loop writes (64 clients, 100-byte values, 100,000 keys) spread over the three nodes, against one
 *   group's throughput under the same load in the same run;
 * - read back: 300 keys, each written through one node and read (linearizable) through another.
 * With the load, each process's garbage collection and largest event-loop delay, from its `/metrics` (processMetrics.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { LoadClient, type ClosedLoopResult, type Target } from './loadDriver.js';
import { overRun, scrapeProcess, type ProcessMemory } from './processMetrics.js';
import { cpuSeconds, ensureBuild, freePorts, makeTempDir, pause, removeTempDir, residentMiB, ServerProcess } from './processes.js';

export interface MultiraftOptions {
  readonly groups: readonly number[];
  readonly seconds: number;
  readonly build: boolean;
  /** Write each process's V8 CPU profile into this directory (`--cpu-prof`). */
  readonly cpuProfDir?: string;
  /** Node options for every KV process, one group's included (`--node-options`, e.g. `--max-semi-space-size=64`). */
  readonly nodeOptions?: readonly string[];
  readonly log: (line: string) => void;
}

interface GroupCounts {
  readonly total: number;
  readonly withLeader: number;
  readonly leading: number;
  readonly quiesced: number;
}

interface Traffic {
  readonly messages: number;
  readonly signals: number;
  readonly frames: number;
}

export interface MultiraftRun {
  readonly groups: number;
  /** Seconds from spawn until every node knew a leader of every group (null: not within the bound). */
  readonly coldStartSeconds: number | null;
  /** Groups led by each node once the balancer was done. */
  readonly leading: readonly number[];
  /** Seconds until every group on every node had quiesced after the cold start (null: not within the bound). */
  readonly quiescedAfterSeconds: number | null;
  /** Seconds after the cold start until the leader balancer stopped moving leaderships (null: not within the bound). */
  readonly balancedAfterSeconds: number | null;
  readonly idleCpuPercent: readonly number[];
  readonly rssMiB: readonly number[];
  readonly load: ClosedLoopResult;
  /** CPU time of the three processes together during the load, per committed write, in µs. */
  readonly cpuMicrosPerWrite: number;
  /** Raft messages, host signals and frames sent between the nodes during the load, per committed write. */
  readonly perWrite: Traffic;
  /** Each process during the load: its GC time and pauses and largest event-loop delay (null: no /metrics). */
  readonly processes: readonly (ProcessMemory | null)[];
  /** Keys written through one node and read back, linearizably, through the next: how many came back as written. */
  readonly readBack: { readonly written: number; readonly matched: number };
}

const STEP_MS = 250;
/** How long the processes rest after every group quiesced before idle CPU is measured. */
const SETTLE_MS = 10_000;

class ShardedCluster {
  private constructor(readonly processes: readonly ServerProcess[], readonly httpUrls: readonly string[], private readonly dir: string) {}

  static async start(main: string, groups: number, nodeOptions: readonly string[]): Promise<ShardedCluster> {
    const dir = makeTempDir('xraft-bench-multiraft-');
    const ids = ['n1', 'n2', 'n3'];
    const ports = await freePorts(6);
    const peers = ids.map((id, at) => `${id}=127.0.0.1:${ports[at]}`).join(',');
    const processes = ids.map((id, at) => {
      mkdirSync(join(dir, id));
      const args = [...nodeOptions, main, '--id', id, '--raft', `127.0.0.1:${ports[at]}`, '--http', `127.0.0.1:${ports[at + 3]}`, '--data', join(dir, id, 'data'), '--peers', peers, '--groups', String(groups)];
      return new ServerProcess(`xraft ${id}`, process.execPath, args, join(dir, `${id}.log`));
    });
    const cluster = new ShardedCluster(processes, ids.map((_, at) => `http://127.0.0.1:${ports[at + 3]}`), dir);
    try {
      await Promise.all(processes.map((server) => server.start((output) => output.includes('"event":"listening"'), 600_000)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Each node's group counts, or null for a node that did not answer in time. */
  async counts(): Promise<(GroupCounts | null)[]> {
    return Promise.all(
      this.httpUrls.map(async (url) => {
        try {
          const answer = await request(`${url}/status`, { signal: AbortSignal.timeout(5000) });
          if (answer.statusCode !== 200) return (await answer.body.dump(), null);
          return ((await answer.body.json()) as { groups: GroupCounts }).groups;
        } catch {
          return null;
        }
      }),
    );
  }

  /** Raft messages, signals and frames the three nodes have sent so far (from `/status`). */
  async sentSoFar(): Promise<Traffic> {
    const totals = { messages: 0, signals: 0, frames: 0 };
    for (const url of this.httpUrls) {
      const answer = await request(`${url}/status`, { signal: AbortSignal.timeout(5000) });
      const { network } = (await answer.body.json()) as { network: { messagesSent: number; signalsSent: number; framesSent: number } };
      totals.messages += network.messagesSent;
      totals.signals += network.signalsSent;
      totals.frames += network.framesSent;
    }
    return totals;
  }

  /**
   * Seconds since `since` until every group is asleep on every node and no node's count of groups led changed for
   * 5 s (the balancer has finished), or null after `boundMs`.
   */
  async waitUntilBalanced(since: number, boundMs: number): Promise<number | null> {
    let last = '';
    let stableSince = performance.now();
    while (performance.now() - since < boundMs) {
      const counts = await this.counts();
      const leading = counts.map((count) => (count === null ? 'down' : `${count.leading}/${count.quiesced === count.total}`)).join(',');
      if (leading !== last) {
        last = leading;
        stableSince = performance.now();
      } else if (performance.now() - stableSince >= 5000 && counts.every((count) => count !== null && count.quiesced === count.total)) {
        return (stableSince - since) / 1000;
      }
      await pause(STEP_MS);
    }
    return null;
  }

  /** Poll until `done(counts)` holds for every node; the seconds it took since `since`, or null after `boundMs`. */
  async waitFor(done: (counts: GroupCounts) => boolean, since: number, boundMs: number): Promise<number | null> {
    while (performance.now() - since < boundMs) {
      const counts = await this.counts();
      if (counts.every((count) => count !== null && done(count))) return (performance.now() - since) / 1000;
      await pause(STEP_MS);
    }
    return null;
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((server) => server.stop()));
    removeTempDir(this.dir);
  }
}

export async function benchMultiraft(options: MultiraftOptions): Promise<{ baselineRssMiB: readonly number[]; runs: MultiraftRun[] }> {
  const main = ensureBuild(options.build);
  const client = LoadClient.start();
  const runs: MultiraftRun[] = [];
  let baselineRssMiB: number[] = [];
  try {
    for (const groups of [1, ...options.groups.filter((count) => count !== 1)]) {
      options.log(`${groups} group(s) per process: starting 3 processes`);
      const started = performance.now();
      const profile = options.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir];
      const cluster = await ShardedCluster.start(main, groups, [...(options.nodeOptions ?? []), ...profile]);
      try {
        const coldStartSeconds = await cluster.waitFor((count) => count.withLeader === groups, started, 600_000);
        options.log(`  all leaders after ${coldStartSeconds?.toFixed(1) ?? 'more than 600'} s`);
        const settled = performance.now();
        const quiescedAfterSeconds = await cluster.waitFor((count) => count.quiesced === groups, settled, 120_000);
        // The leader balancer moves misplaced leaderships for a while after a cold start (each move wakes a group).
        const balancedAfterSeconds = await cluster.waitUntilBalanced(settled, 300_000);
        const leading = (await cluster.counts()).map((count) => count?.leading ?? 0);
        const pids = cluster.processes.map((server) => server.pid);
        // Idle is the steady state: let the cold start's aftermath (garbage collection, LevelDB compactions) pass first.
        await pause(SETTLE_MS);
        const cpuBefore = pids.map(cpuSeconds);
        const idleFrom = performance.now();
        await pause(10_000);
        const idleSeconds = (performance.now() - idleFrom) / 1000;
        const idleCpuPercent = pids.map((pid, at) => (100 * (cpuSeconds(pid) - cpuBefore[at]!)) / idleSeconds);
        const rssMiB = pids.map((pid) => residentMiB(pid).rss);
        if (groups === 1) baselineRssMiB = rssMiB;
        options.log(`  quiesced after ${quiescedAfterSeconds?.toFixed(1) ?? 'more than 120'} s, balanced after ${balancedAfterSeconds?.toFixed(1) ?? 'more than 300'} s; leading ${leading.join(' / ')}; idle CPU ${idleCpuPercent.map((cpu) => cpu.toFixed(1)).join(' / ')} %; RSS ${rssMiB.map(Math.round).join(' / ')} MiB`);
        const targets: Target[] = cluster.httpUrls.map((url) => ({ system: 'xraft', url, gateway: '' }));
        const job = { targets, concurrency: 64, keys: 100_000, valueBytes: 100, readFraction: 0, timeoutMs: 10_000 };
        await client.closedLoop({ ...job, seconds: 1 }); // warm-up: connections, JIT, waking groups
        const cpuBeforeLoad = pids.map(cpuSeconds);
        const sentBefore = await cluster.sentSoFar();
        const scrapedBefore = await Promise.all(cluster.httpUrls.map(scrapeProcess));
        const load = await client.closedLoop({ ...job, seconds: options.seconds });
        const scrapedAfter = await Promise.all(cluster.httpUrls.map(scrapeProcess));
        const processes = scrapedAfter.map((after, at) => overRun(scrapedBefore[at]!, after));
        const sentAfter = await cluster.sentSoFar();
        const writes = Math.max(1, load.perSecond * options.seconds);
        const loadCpuSeconds = pids.reduce((sum, pid, at) => sum + cpuSeconds(pid) - cpuBeforeLoad[at]!, 0);
        const cpuMicrosPerWrite = (1e6 * loadCpuSeconds) / writes;
        const perWrite = {
          messages: (sentAfter.messages - sentBefore.messages) / writes,
          signals: (sentAfter.signals - sentBefore.signals) / writes,
          frames: (sentAfter.frames - sentBefore.frames) / writes,
        };
        options.log(
          `  load: ${Math.round(load.perSecond)} writes/s, p50 ${load.latency.p50.toFixed(2)} ms, p99 ${load.latency.p99.toFixed(2)} ms; ` +
            `per write: ${Math.round(cpuMicrosPerWrite)} µs CPU (3 processes), ${perWrite.messages.toFixed(1)} messages, ${perWrite.signals.toFixed(1)} signals, ${perWrite.frames.toFixed(2)} frames`,
        );
        options.log(`  during the load, per process: ${processes.map(pauses).join(' / ')}`);
        const readBack = await writeAndReadBack(cluster.httpUrls, `rb${groups}`, 300);
        options.log(`  read back ${readBack.matched} of ${readBack.written} keys written through another node`);
        runs.push({ groups, coldStartSeconds, leading, quiescedAfterSeconds, balancedAfterSeconds, idleCpuPercent, rssMiB, load, cpuMicrosPerWrite, perWrite, processes, readBack });
      } finally {
        await cluster.stop();
      }
    }
  } finally {
    await client.close();
  }
  return { baselineRssMiB, runs };
}

export function multiraftMarkdown({ baselineRssMiB, runs }: { baselineRssMiB: readonly number[]; runs: readonly MultiraftRun[] }): string {
  const single = runs.find((run) => run.groups === 1);
  const lines = [
    '| groups per process | all leaders after (cold start) | groups led per node | all quiesced after | leaders balanced after | idle CPU per process (% of a core) | RSS per process MiB | RSS per group KiB | writes/s (64 clients over 3 nodes) | p50 / p99 ms | per write: CPU µs, messages, signals | vs one group | during the load, per process: GC s (major), pauses ≥ 100 ms, largest event-loop delay | read back through another node |',
    '|---:|---:|---|---:|---:|---|---|---:|---:|---|---:|---:|---|---:|',
  ];
  for (const run of runs) {
    const perGroupKiB = run.groups === 1 ? '-' : Math.round((1024 * mean(run.rssMiB.map((rss, at) => rss - (baselineRssMiB[at] ?? 0)))) / run.groups).toString();
    const seconds = (value: number | null): string => (value === null ? 'not reached' : `${value.toFixed(1)} s`);
    lines.push(
      `| ${run.groups.toLocaleString('en-US')} | ${seconds(run.coldStartSeconds)} | ${run.leading.join(' / ')} | ${seconds(run.quiescedAfterSeconds)} | ${seconds(run.balancedAfterSeconds)} | ` +
        `${run.idleCpuPercent.map((cpu) => cpu.toFixed(1)).join(' / ')} | ${run.rssMiB.map(Math.round).join(' / ')} | ${perGroupKiB} | ` +
        `${Math.round(run.load.perSecond).toLocaleString('en-US')} | ${run.load.latency.p50.toFixed(1)} / ${run.load.latency.p99.toFixed(1)} | ${Math.round(run.cpuMicrosPerWrite)}, ${run.perWrite.messages.toFixed(1)}, ${run.perWrite.signals.toFixed(1)} | ` +
        `${single === undefined ? '-' : (run.load.perSecond / single.load.perSecond).toFixed(2)} | ${run.processes.map(pauses).join(' / ')} | ${run.readBack.matched} / ${run.readBack.written} |`,
    );
  }
  return lines.join('\n');
}

/** Write `count` keys, each through node i mod 3, and read each back (linearizable) through the next node. */
async function writeAndReadBack(urls: readonly string[], prefix: string, count: number): Promise<{ written: number; matched: number }> {
  let matched = 0;
  for (let i = 0; i < count; i++) {
    const key = `${prefix}-${i}`;
    try {
      const put = await request(`${urls[i % urls.length]}/kv/${key}`, { method: 'PUT', body: `value-${i}`, signal: AbortSignal.timeout(10_000) });
      await put.body.dump();
      if (put.statusCode !== 204) continue;
      const got = await request(`${urls[(i + 1) % urls.length]}/kv/${key}`, { signal: AbortSignal.timeout(10_000) });
      if (got.statusCode === 200 && (await got.body.text()) === `value-${i}`) matched++;
      else await got.body.dump();
    } catch {
      // counted as not read back
    }
  }
  return { written: count, matched };
}

/** A process's collections and stalls during the load: `GC s (major), pauses ≥ 100 ms, largest event-loop delay`. */
function pauses(memory: ProcessMemory | null): string {
  if (memory === null) return 'no metrics';
  return `${memory.gcSeconds.toFixed(2)} s (${memory.gcMajorSeconds.toFixed(2)}), ${memory.gcPausesOver100ms}, ${Math.round(memory.loopDelayMaxMs)} ms`;
}

const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
