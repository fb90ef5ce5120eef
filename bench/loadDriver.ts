/**
 * The load generator as seen from the benchmark: a process of its own (bench/loadClient.ts, forked), so that its CPU
 * is not the servers' and its event loop is not the benchmark's, driven by typed messages over IPC.
 *
 * Two kinds of load: closed-loop (`concurrency` clients, each with one request outstanding, for `seconds`) and
 * open-loop writes (one every `intervalMs`, each with its own deadline, acknowledged or not) for failover trials.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { SystemName } from './benchCluster.js';
import { repoRoot, trackGroup, untrackGroup } from './processes.js';

/** Where requests go: the KV example's HTTP API, or etcd's JSON gateway (`gateway` is its prefix, `/v3`). */
export interface Target {
  readonly system: SystemName;
  readonly url: string;
  readonly gateway: string;
}

export interface ClosedLoopJob {
  readonly kind: 'closed';
  readonly targets: readonly Target[]; // clients spread over them round-robin
  readonly concurrency: number;
  readonly seconds: number;
  readonly keys: number;
  readonly valueBytes: number;
  /** Fraction of requests that are linearizable reads (the rest are writes). */
  readonly readFraction: number;
  /** Per-request bound (headers and body), so every loop ends. */
  readonly timeoutMs: number;
}

/** Latencies in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface ClosedLoopResult {
  readonly seconds: number;
  readonly ok: number;
  readonly perSecond: number;
  readonly latency: LatencySummary;
  readonly writes: LatencySummary;
  readonly reads: LatencySummary;
  /** Failed requests by reason (`status 503`, `UND_ERR_HEADERS_TIMEOUT`, ...). */
  readonly errors: Readonly<Record<string, number>>;
  /** Acknowledged requests in each whole second of the run: stalls show here. */
  readonly perSecondTimeline: readonly number[];
  /** CPU seconds (user + system) the load generator itself used. */
  readonly clientCpuSeconds: number;
  /**
   * The load generator's longest event-loop delay over the run, in ms: a stall of the client's own (its garbage
   * collection, or waiting for a core) adds to the latency of every request in flight, whichever system it measures.
   */
  readonly clientLoopDelayMaxMs: number;
  /** The slowest requests of the run, slowest first: when each was sent (epoch ms) and how long it took (ms). */
  readonly slowest: readonly { readonly sentAt: number; readonly ms: number }[];
}

export interface OpenLoopStart {
  readonly kind: 'open-start';
  readonly targets: readonly Target[];
  readonly intervalMs: number;
  readonly deadlineMs: number;
  readonly keys: number;
  readonly valueBytes: number;
}

/** One open-loop write: when it was sent and acknowledged (epoch ms), or why it failed. */
export interface OpenLoopWrite {
  readonly sentAt: number;
  readonly ackedAt: number | null;
  readonly error: string | null;
}

export type LoadRequest =
  | ClosedLoopJob
  | OpenLoopStart
  | { readonly kind: 'open-targets'; readonly targets: readonly Target[] }
  | { readonly kind: 'open-since'; readonly since: number } // the writes sent at or after `since`, settled or not
  | { readonly kind: 'open-stop' };

export type LoadReply =
  | { readonly kind: 'closed'; readonly result: ClosedLoopResult }
  | { readonly kind: 'writes'; readonly writes: readonly OpenLoopWrite[]; readonly pending: number }
  | { readonly kind: 'ok' }
  | { readonly kind: 'error'; readonly message: string };

export class LoadClient {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (reply: LoadReply) => void; reject: (error: Error) => void }>();
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: { id: number; reply: LoadReply }) => {
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      waiter?.resolve(message.reply);
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      untrackGroup(child.pid!);
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`load client exited (${signal ?? code})`));
      this.waiting.clear();
    });
  }

  /** Fork the load generator (TypeScript through tsx, like the benchmark itself). */
  static start(): LoadClient {
    const child = fork(join(repoRoot, 'bench/loadClient.ts'), [], {
      cwd: repoRoot,
      execArgv: ['--import', 'tsx'],
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    trackGroup(child.pid!);
    return new LoadClient(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Send a request and wait for its reply, at most `timeoutMs`. */
  ask(request: LoadRequest, timeoutMs: number): Promise<LoadReply> {
    if (this.exited) return Promise.reject(new Error('load client has exited'));
    const id = this.nextId++;
    return new Promise<LoadReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`load client: no answer to ${request.kind} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (reply) => (clearTimeout(timer), reply.kind === 'error' ? reject(new Error(`load client: ${reply.message}`)) : resolve(reply)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.child.send({ id, request });
    });
  }

  async closedLoop(job: Omit<ClosedLoopJob, 'kind'>): Promise<ClosedLoopResult> {
    const reply = await this.ask({ kind: 'closed', ...job }, (job.seconds + 2 * job.timeoutMs / 1000 + 30) * 1000);
    if (reply.kind !== 'closed') throw new Error(`load client answered ${reply.kind} to a closed-loop job`);
    return reply.result;
  }

  async writesSince(since: number): Promise<{ writes: readonly OpenLoopWrite[]; pending: number }> {
    const reply = await this.ask({ kind: 'open-since', since }, 10_000);
    if (reply.kind !== 'writes') throw new Error(`load client answered ${reply.kind} to open-since`);
    return reply;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((done) => this.child.once('exit', done));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
