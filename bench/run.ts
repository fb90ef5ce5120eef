/**
 * `npm run bench`: run the benchmarks and print Markdown tables of figures to paste into BENCHMARKS.md, with the
 * machine they ran on (USAGE below; bench/kvLoad.ts, bench/failover.ts and bench/multiraft.ts for the process ones).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseCommandLine, refuse } from '../src/cli/commandLine.js';
import { benchCluster } from './cluster.js';
import { benchFailover, failoverMarkdown, type FailureMode } from './failover.js';
import { benchKvLoad, kvLoadMarkdown } from './kvLoad.js';
import { benchLogStore } from './logStore.js';
import { benchMultiraft, multiraftMarkdown } from './multiraft.js';
import { benchNetwork } from './network.js';
import { benchSharedLogStore, sharedLogStoreMarkdown } from './sharedLogStore.js';
import { benchSim } from './sim.js';
import { benchSnapshotTransfer } from './snapshot.js';

const USAGE = `
npm run bench [-- --only cluster,sim,logstore,sharedlogstore,network,snapshot] [--seconds S] [--snapshot-mib M]
              [--snapshot-chunk-kib K]
  in-process benchmarks (all of them without --only)

Process benchmarks of the KV example from the build, named first:
  npm run bench -- kv-load [--compare etcd] [--seconds S] [--sustained [--sustained-seconds S]]
                   [--scenarios 1,16,64,256,mix,sustained] [--cpu-prof DIR] [--node-options FLAGS] [--kv-flags FLAGS]
                   [--json FILE] [--no-build]
  npm run bench -- failover [--compare etcd] [--kills N] [--modes SIGKILL,SIGSTOP] [--detector phi|fixed]
                   [--skip-xraft] [--json FILE] [--no-build]
  npm run bench -- multiraft [--groups 1000,10000] [--seconds S] [--cpu-prof DIR] [--node-options FLAGS]
                   [--json FILE] [--no-build]
`;

const { values, positionals } = parseCommandLine(USAGE, {
  allowPositionals: true,
  options: {
    only: { type: 'string' },
    seconds: { type: 'string' },
    'snapshot-mib': { type: 'string', default: '1024' },
    'snapshot-chunk-kib': { type: 'string' },
    compare: { type: 'string' },
    json: { type: 'string' },
    sustained: { type: 'boolean', default: false },
    'sustained-seconds': { type: 'string', default: '60' },
    scenarios: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'node-options': { type: 'string' },
    'kv-flags': { type: 'string' },
    kills: { type: 'string', default: '20' },
    modes: { type: 'string', default: 'SIGKILL,SIGSTOP' },
    detector: { type: 'string', default: 'phi' },
    'no-build': { type: 'boolean', default: false },
    'skip-xraft': { type: 'boolean', default: false },
    groups: { type: 'string', default: '1000,10000' },
  },
});
const command = positionals[0] ?? null;
if (command !== null && command !== 'kv-load' && command !== 'failover' && command !== 'multiraft') {
  refuse(`unknown benchmark ${command}: kv-load, failover or multiraft (or none, with --only)`);
}
if (values.compare !== undefined && values.compare !== 'etcd') refuse(`--compare ${values.compare}: only etcd`);
const only = values.only?.split(',') ?? null;
const seconds = Number(values.seconds ?? (command === 'kv-load' || command === 'multiraft' ? '10' : '3'));
const wanted = (name: string): boolean => command === null && (only === null || only.includes(name));

console.log(`# xraft benchmarks, ${new Date().toISOString().slice(0, 10)}`);
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`);
// Other work on the machine skews every figure here; say how busy it was.
const loadAverage = (): string => os.loadavg().map((load) => load.toFixed(1)).join(' ');
console.log(`load average at start: ${loadAverage()}`);
if (command !== null) {
  // The build is of the working tree: say which commit, and whether it had uncommitted changes.
  const git = (...args: string[]): string => spawnSync('git', args, { encoding: 'utf8' }).stdout.trim();
  console.log(`source: ${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no', 'src', 'actors', 'examples/kv') === '' ? '' : ' with uncommitted changes in src/, actors/ or examples/kv/'}`);
}
console.log();

/** JSON to `--json FILE`, or to stdout after the Markdown. */
const writeJson = (report: unknown): void => {
  const text = JSON.stringify(report, null, 2);
  if (values.json !== undefined) writeFileSync(values.json, `${text}\n`), console.log(`JSON: ${values.json}`);
  else console.log(`\n\`\`\`json\n${text}\n\`\`\``);
};
const log = (line: string): void => void process.stderr.write(`${line}\n`);

if (command === 'kv-load') {
  const scenarios = values.scenarios?.split(',') ?? ['1', '16', '64', '256', 'mix', ...(values.sustained ? ['sustained'] : [])];
  const report = await benchKvLoad({
    seconds, sustainedSeconds: Number(values['sustained-seconds']), scenarios, compareEtcd: values.compare === 'etcd',
    build: !values['no-build'], ...(values['cpu-prof'] === undefined ? {} : { cpuProfDir: values['cpu-prof'] }), log,
    nodeOptions: values['node-options']?.split(' ').filter((flag) => flag !== '') ?? [],
    kvFlags: values['kv-flags']?.split(' ').filter((flag) => flag !== '') ?? [],
  });
  console.log(`## KV example under closed-loop HTTP load: 3 processes from the build${report.runs.some((run) => run.system === 'etcd') ? ' vs etcd ' + (report.etcd as { version: string }).version : ''}, 100-byte values, ${scenarios.filter((name) => name !== 'sustained').length > 0 ? `${seconds} s per scenario` : `${values['sustained-seconds']} s`}`);
  console.log(kvLoadMarkdown(report));
  console.log(`\nload average at the end: ${loadAverage()}`);
  writeJson(report);
}

if (command === 'failover') {
  const modes = values.modes.split(',') as FailureMode[];
  if (!modes.every((mode) => mode === 'SIGKILL' || mode === 'SIGSTOP')) throw new Error(`--modes ${values.modes}: SIGKILL and/or SIGSTOP`);
  const report = await benchFailover({ kills: Number(values.kills), compareEtcd: values.compare === 'etcd', build: !values['no-build'], modes, skipXraft: values['skip-xraft'], detector: values.detector === 'fixed' ? 'fixed' : 'phi', log });
  console.log('## Failover: leader signalled, open-loop writes every 10 ms (500 ms deadline) to the survivors');
  console.log(failoverMarkdown(report));
  console.log(`\nload average at the end: ${loadAverage()}`);
  writeJson(report);
}

if (command === 'multiraft') {
  const groups = values.groups.split(',').map(Number);
  if (!groups.every((count) => Number.isInteger(count) && count >= 1)) throw new Error(`--groups ${values.groups}: a list of group counts`);
  const report = await benchMultiraft({
    groups, seconds, build: !values['no-build'], ...(values['cpu-prof'] === undefined ? {} : { cpuProfDir: values['cpu-prof'] }), log,
    nodeOptions: values['node-options']?.split(' ').filter((flag) => flag !== '') ?? [],
  });
  console.log('## Multi-Raft: 3 sharded KV processes from the build (`--groups N`), loopback, LevelDB logs');
  console.log(multiraftMarkdown(report));
  console.log(`\nload average at the end: ${loadAverage()}`);
  writeJson(report);
}

if (wanted('cluster')) {
  console.log('## In-process 3-node cluster, memory actors, 100-byte commands');
  console.log('| concurrent proposals | committed/s | p50 latency | p99 latency | CPU per proposal | committed per CPU-second |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const concurrency of [1, 64, 1024]) {
    const result = await benchCluster(concurrency, seconds);
    console.log(
      `| ${concurrency} | ${Math.round(result.perSecond).toLocaleString('en-US')} | ${result.p50Ms.toFixed(2)} ms | ${result.p99Ms.toFixed(2)} ms | ` +
        `${result.cpuMicrosPerProposal.toFixed(1)} µs | ${Math.round(result.perCpuSecond).toLocaleString('en-US')} |`,
    );
  }
  console.log();
}

if (wanted('sim')) {
  console.log('## Deterministic simulator: events per second of wall time, safety checks after every step included');
  console.log('| nodes | seeds × 2000 steps | events | virtual time | wall time | events/s |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const nodes of [3, 5] as const) {
    const result = await benchSim(nodes, 300);
    console.log(
      `| ${nodes} | ${result.seeds} | ${result.events.toLocaleString('en-US')} | ${Math.round(result.virtualSeconds).toLocaleString('en-US')} s | ` +
        `${result.wallSeconds.toFixed(2)} s | ${Math.round(result.eventsPerSecond).toLocaleString('en-US')} |`,
    );
  }
  console.log();
}

if (wanted('logstore')) {
  const format = (perSecond: number): string => Math.round(perSecond).toLocaleString('en-US');
  console.log(`## Log store: LevelLogStore on classic-level, synced batches, 100-byte commands (data in ${os.tmpdir()})`);
  console.log('Durable entries/s (acknowledged by LogSaved). Raw: fs.writeSync of the same bytes + fs.fsyncSync in a loop, the');
  console.log('one-fsync-per-write limit of this disk; "of raw" compares the store\'s one-write-in-flight fsyncs/s to it.');
  console.log();
  console.log('| entries per write | 1 write in flight | 64 writes in flight (group commit) | store fsyncs/s (64 in flight) | raw write+fsync/s | raw limit, entries/s at 1 in flight | 1 in flight, of raw |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const batchSize of [1, 16, 256]) {
    const result = await benchLogStore(batchSize, seconds);
    const rawEntries = result.rawFsyncsPerSecond * batchSize;
    console.log(
      `| ${batchSize} | ${format(result.serialPerSecond)} | ${format(result.pipelinedPerSecond)} | ${format(result.pipelinedBatchesPerSecond)} | ` +
        `${format(result.rawFsyncsPerSecond)} | ${format(rawEntries)} | ${Math.round((100 * result.serialPerSecond) / rawEntries)}% |`,
    );
  }
  console.log();
}

if (wanted('sharedlogstore')) {
  const options = { groups: 1000, inflight: 64, entryBytes: 150, seconds };
  console.log(sharedLogStoreMarkdown(options, await benchSharedLogStore(options)));
  console.log();
}

if (wanted('network')) {
  console.log('## Three xraft-node processes on loopback: HTTP/2, LevelDB logs (synced), 100-byte values, clients over HTTP/2');
  console.log('| concurrent proposals | committed/s | p50 latency | p90 latency | p99 latency | failed |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const result of await benchNetwork([1, 64, 256], seconds)) {
    console.log(
      `| ${result.concurrency} | ${Math.round(result.perSecond).toLocaleString('en-US')} | ${result.p50Ms.toFixed(2)} ms | ` +
        `${result.p90Ms.toFixed(2)} ms | ${result.p99Ms.toFixed(2)} ms | ${result.failed} |`,
    );
  }
  console.log();
}

if (wanted('snapshot')) {
  const mib = Number(values['snapshot-mib']);
  const chunkKib = values['snapshot-chunk-kib'] === undefined ? undefined : Number(values['snapshot-chunk-kib']);
  const chunks = chunkKib === undefined ? 'default chunks' : `${chunkKib} KiB chunks`;
  console.log(`## Snapshot transfer: ${mib} MiB between two nodes (one process), LevelLogStore on disk, HTTP/2 on loopback, ${chunks}`);
  console.log('| snapshot | take (state machine -> store) | transfer + install + restore | rate | RSS at start | peak RSS growth: taking | peak RSS growth: transferring | of it anonymous | of it file-backed |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const result = await benchSnapshotTransfer(mib * 2 ** 20, chunkKib === undefined ? undefined : chunkKib * 1024);
  const { take, transfer } = result;
  console.log(
    `| ${mib} MiB | ${result.takeSeconds.toFixed(1)} s | ${result.transferSeconds.toFixed(1)} s | ${result.megabytesPerSecond.toFixed(1)} MB/s | ` +
      `${result.startRssMiB.toFixed(0)} MiB | ${take.rssMiB.toFixed(0)} MiB | ${transfer.rssMiB.toFixed(0)} MiB | ${transfer.anonymousMiB.toFixed(0)} MiB | ${transfer.fileMiB.toFixed(0)} MiB |`,
  );
  console.log();
}
