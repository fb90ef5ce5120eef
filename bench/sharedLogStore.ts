/**
 * Many groups' log stores on one LevelDB (SharedLevelLogStores), under load spread over the groups as a multi-Raft
 * process sees it: `groups` stores, `inflight` SaveLogs of one entry (`entryBytes` of command text) outstanding at any
 * time, each sent to the next group in turn (so concurrent writes land in different groups), for `seconds`.
 *
 * Reports durable writes per second (acknowledged by LogSaved) and the CPU each write cost: the whole process
 * (`process.cpuUsage`, which includes LevelDB's own threads) and the main thread alone (Linux: its
 * `/proc/self/task/<pid>/stat` ticks; the event loop's utilisation elsewhere), the share the per-group batches weigh on.
 *
 * `npm run bench -- --only sharedlogstore [--seconds S]`, or `npx tsx bench/sharedLogStore.ts [seconds]` alone.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { LevelLogStore } from '../actors/log-store/LevelLogStore.js';
import { SharedLevelLogStores } from '../actors/log-store/SharedLevelLogStores.js';
import type { Entry, LogStoreReply } from '../src/index.js';

export interface SharedLogStoreBenchOptions {
  readonly groups: number;
  readonly inflight: number;
  readonly entryBytes: number;
  readonly seconds: number;
}

export interface SharedLogStoreBenchResult {
  readonly writesPerSecond: number;
  /** Process CPU (user + system, every thread) per durable write, µs. */
  readonly processCpuMicrosPerWrite: number;
  /** Main-thread CPU per durable write, µs (null where /proc is not available). */
  readonly mainThreadCpuMicrosPerWrite: number | null;
  /** Event-loop utilisation over the run, 0..1. */
  readonly eventLoopUtilization: number;
  /** Synced writes of the shared database per second. */
  readonly syncsPerSecond: number;
}

/** CPU time of the main thread (its task id is the process id), µs; null off Linux. */
function mainThreadCpuMicros(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1e6) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

export async function benchSharedLogStore(options: SharedLogStoreBenchOptions, baseDirectory = tmpdir()): Promise<SharedLogStoreBenchResult> {
  const directory = mkdtempSync(join(baseDirectory, 'xraft-bench-shared-'));
  const shared = new SharedLevelLogStores({ location: directory, clusterId: 'bench', nodeId: 'n1' });
  try {
    const stores: LevelLogStore[] = [];
    for (let group = 0; group < options.groups; group++) stores.push(shared.store(`g${group}`));
    for (const store of stores) await store.open();
    const payload = `"${'x'.repeat(options.entryBytes - 2)}"`;
    const nextIndex = new Array<number>(options.groups).fill(1);
    let nextGroup = 0;
    let outstanding = 0;
    let acknowledged = 0;
    let failure: Error | null = null;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    let until = Infinity;
    const send = (): void => {
      const group = nextGroup;
      nextGroup = (nextGroup + 1) % options.groups;
      const index = nextIndex[group]!++;
      const entry: Entry = { index, term: 1, kind: 'command', data: payload };
      outstanding++;
      stores[group]!.receive({ type: 'SaveLog', writeId: index, truncateFrom: null, entries: [entry], hardState: { term: 1, votedFor: 'n1', commit: index - 1 } });
    };
    for (const store of stores) {
      // writeId is the entry's index: a LogSaved for it acknowledges every write of the group up to it.
      let saved = 0;
      store.attach((reply: LogStoreReply) => {
        if (reply.type === 'StoreFailed') {
          failure ??= new Error(reply.cause.message);
          return done();
        }
        if (reply.type !== 'LogSaved') return;
        const newly = reply.writeId - saved;
        saved = reply.writeId;
        acknowledged += newly;
        outstanding -= newly;
        if (performance.now() < until) while (outstanding < options.inflight) send();
        else if (outstanding === 0) done();
      });
    }
    const syncsBefore = shared.syncCount;
    const cpuBefore = process.cpuUsage();
    const mainBefore = mainThreadCpuMicros();
    const eluBefore = performance.eventLoopUtilization();
    const started = performance.now();
    until = started + options.seconds * 1000;
    for (let i = 0; i < options.inflight; i++) send();
    await finished;
    if (failure !== null) throw failure;
    const elapsed = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const mainAfter = mainThreadCpuMicros();
    const elu = performance.eventLoopUtilization(eluBefore);
    for (const store of stores) await store.detach();
    return {
      writesPerSecond: acknowledged / elapsed,
      processCpuMicrosPerWrite: (cpu.user + cpu.system) / acknowledged,
      mainThreadCpuMicrosPerWrite: mainBefore === null || mainAfter === null ? null : (mainAfter - mainBefore) / acknowledged,
      eventLoopUtilization: elu.utilization,
      syncsPerSecond: (shared.syncCount - syncsBefore) / elapsed,
    };
  } finally {
    await shared.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

export function sharedLogStoreMarkdown(options: SharedLogStoreBenchOptions, result: SharedLogStoreBenchResult): string {
  const main = result.mainThreadCpuMicrosPerWrite === null ? 'n/a' : result.mainThreadCpuMicrosPerWrite.toFixed(1);
  return [
    `## Shared log store: ${options.groups} LevelLogStores on one SharedLevelLogStores (classic-level), ${options.inflight} one-entry SaveLogs (${options.entryBytes}-byte commands) in flight, each in the next group`,
    '| durable writes/s | main-thread CPU µs/write | process CPU µs/write | event-loop utilisation | synced writes/s |',
    '|---:|---:|---:|---:|---:|',
    `| ${Math.round(result.writesPerSecond).toLocaleString('en-US')} | ${main} | ${result.processCpuMicrosPerWrite.toFixed(1)} | ${(100 * result.eventLoopUtilization).toFixed(0)}% | ${Math.round(result.syncsPerSecond).toLocaleString('en-US')} |`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = { groups: 1000, inflight: 64, entryBytes: 150, seconds: Number(process.argv[2] ?? '3') };
  console.log(sharedLogStoreMarkdown(options, await benchSharedLogStore(options)));
}
