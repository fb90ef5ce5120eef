/**
 * The server processes and temp dirs a benchmark starts, and what /proc says about them.
 *
 * Every process is spawned in a process group of its own (`detached`), recorded here, and signalled only by the PID
 * this module got back from spawn: a normal stop sends SIGTERM then SIGKILL; Ctrl-C, SIGTERM, an uncaught failure or
 * the exit of the benchmark itself SIGKILLs every group still alive and removes every temp dir it made.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..');

const liveGroups = new Set<number>();
const tempDirs = new Set<string>();
let cleanupInstalled = false;

/** SIGKILL every process group still alive and remove the temp dirs (synchronous: it runs on exit too). */
export function cleanupNow(): void {
  for (const group of liveGroups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveGroups.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Record a process group this benchmark created (the child was spawned `detached`), so that cleanup kills it. */
export function trackGroup(pid: number): void {
  installCleanup();
  liveGroups.add(pid);
}

export function untrackGroup(pid: number): void {
  liveGroups.delete(pid);
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', cleanupNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping every process this benchmark started\n`);
      cleanupNow();
      process.exit(130);
    });
  }
}

/** A temp dir removed when the benchmark ends, however it ends. */
export function makeTempDir(prefix: string): string {
  installCleanup();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Free loopback ports, held open together so that no two are the same, then released. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolveServer, reject) => {
      const server = net.createServer().once('error', reject);
      server.listen(0, '127.0.0.1', () => resolveServer(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

export const pause = (ms: number): Promise<void> => new Promise((resume) => setTimeout(resume, ms));

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes on this machine. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** One server process: its own process group, stderr (and stdout) appended to `logFile`. */
export class ServerProcess {
  private child: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    readonly logFile: string,
  ) {}

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined || !this.running) throw new Error(`${this.name} is not running`);
    return pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawn it; resolves once `ready(output so far)` holds, rejects on exit or after `timeoutMs`. */
  async start(ready: (output: string) => boolean, timeoutMs = 20_000): Promise<void> {
    installCleanup();
    const child = spawn(this.command, this.args, { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start ${this.name}: ${this.command}`);
    liveGroups.add(pid);
    const log = createWriteStream(this.logFile, { flags: 'a' });
    let output = '';
    this.exited = new Promise((done) => child.once('exit', () => (liveGroups.delete(pid), done())));
    await new Promise<void>((resolveStart, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} not ready within ${timeoutMs} ms:\n${output.slice(-2000)}`)), timeoutMs);
      const onData = (chunk: Buffer): void => {
        log.write(chunk);
        if (output.length < 100_000) output += chunk.toString('utf8');
        if (ready(output)) {
          clearTimeout(timer);
          resolveStart();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${signal ?? code}) before it was ready:\n${output.slice(-2000)}`));
      });
    });
    // Keep draining its output into the log after it is ready.
    child.stdout!.removeAllListeners('data').on('data', (chunk: Buffer) => log.write(chunk));
    child.stderr!.removeAllListeners('data').on('data', (chunk: Buffer) => log.write(chunk));
    // 'close', not 'exit': output can still arrive after the process exited, until its pipes close.
    child.once('close', () => log.end());
  }

  /** Send `signal` to this process (not its group): SIGKILL, SIGSTOP, SIGCONT in the failover trials. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, signal);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (after SIGCONT, should it be stopped), then SIGKILL to the group after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (child === null || !this.running) return;
    const group = child.pid!;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    try {
      process.kill(-group, 'SIGKILL'); // anything it left behind in its group
    } catch {
      // the group is empty
    }
  }
}

/** User + system CPU seconds of a process so far (fields 14 and 15 of /proc/PID/stat, in clock ticks). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) ", field 3 is at index 0
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * Seconds the threads of a process have spent runnable but waiting for a CPU (the second field of each
 * /proc/PID/task/TID/schedstat, in nanoseconds), or NaN where the kernel does not keep it. Over a run, against the CPU
 * used, it says how much the processes on this machine queue for its cores: the wait lands on every hop of a write.
 */
export function cpuWaitSeconds(pid: number): number {
  let nanos = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        nanos += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[1]);
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return Number.NaN;
  }
  return nanos / 1e9;
}

/** VmRSS and VmHWM (the kernel's peak) of a process, in MiB. */
export function residentMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** Samples VmRSS of some processes every `everyMs` and keeps each one's largest sample. */
export class RssSampler {
  readonly peakMiB = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(processes: () => ReadonlyArray<{ readonly name: string; readonly pid: number }>, everyMs = 250) {
    const sample = (): void => {
      for (const { name, pid } of processes()) {
        try {
          const { rss } = residentMiB(pid);
          this.peakMiB.set(name, Math.max(this.peakMiB.get(name) ?? 0, rss));
        } catch {
          // exited between listing and reading
        }
      }
    };
    sample();
    this.timer = setInterval(sample, everyMs);
  }

  stop(): Map<string, number> {
    clearInterval(this.timer);
    return this.peakMiB;
  }
}

/**
 * The KV example built into dist/: build it when dist/ is missing or older than a source file it is built from.
 * `build: false` only checks and says how to build.
 */
export function ensureBuild(build = true): string {
  const main = join(repoRoot, 'dist/examples/kv/main.js');
  const builtAt = existsSync(main) ? statSync(main).mtimeMs : 0;
  const newest = Math.max(...['src', 'actors', 'examples/kv'].map((dir) => newestMtime(join(repoRoot, dir))));
  if (builtAt >= newest) return main;
  const why = builtAt === 0 ? 'dist/ is missing' : 'dist/ is older than the sources';
  if (!build) throw new Error(`${why}: run \`npm run build\` first`);
  process.stderr.write(`${why}: building (npm run build)\n`);
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0 || !existsSync(main)) throw new Error('`npm run build` failed; fix the build (or pass --no-build to use dist/ as it is)');
  return main;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Percentiles of a sorted array of milliseconds. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}
