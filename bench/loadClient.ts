/**
 * The load generator process (forked by LoadClient in bench/loadDriver.ts): undici connections to the targets (one per
 * closed-loop client, a pool for open-loop writes), closed-loop clients or open-loop writes as the benchmark asks over
 * IPC. It exits when the benchmark disconnects.
 *
 * Requests, 100-byte values by default over `keys` keys:
 *   xraft: `PUT /kv/k<n>` (body = value, 204), `GET /kv/k<n>?consistency=linearizable` (200, or 404 before a write);
 *   etcd:  `POST <gateway>/kv/put` {key, value} base64 (200), `POST <gateway>/kv/range` {key} base64 (200; linearizable
 *          is etcd's default for range).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client, Pool, type Dispatcher } from 'undici';
import type { ClosedLoopJob, ClosedLoopResult, LatencySummary, LoadReply, LoadRequest, OpenLoopStart, OpenLoopWrite, Target } from './loadDriver.js';

const epochMs = (): number => performance.timeOrigin + performance.now();

const pools = new Map<string, Pool>();
/** A pool for open-loop writes, whose requests overlap without bound. */
function poolFor(url: string): Pool {
  let pool = pools.get(url);
  if (pool === undefined) {
    pool = new Pool(url, { connections: 1024, pipelining: 1, keepAliveTimeout: 4000 });
    pools.set(url, pool);
  }
  return pool;
}

const connections = new Map<string, Client[]>();
/**
 * Closed-loop client `at`'s own connection to `url` (HTTP/1.1 keep-alive, no pipelining), kept from one run to the
 * next so that a scenario's warm-up opens the connections its measured run uses. A connection per client rather than
 * one pool for all: a pool looks for a free connection on every request, and at 256 clients that made the load
 * generator's CPU per request about a quarter higher (it shares the two cores with the servers it measures).
 */
function connectionFor(url: string, at: number): Client {
  let list = connections.get(url);
  if (list === undefined) connections.set(url, (list = []));
  return (list[at] ??= new Client(url, { pipelining: 1, keepAliveTimeout: 4000 }));
}

/** Requests for one target, with keys and bodies encoded once. */
class RequestMaker {
  private readonly keyNames: string[];
  private readonly etcdKeys: string[];
  private readonly value: string;
  private readonly etcdValue: string;

  constructor(readonly target: Target, keys: number, valueBytes: number) {
    this.keyNames = Array.from({ length: keys }, (_, at) => `k${at}`);
    this.etcdKeys = this.keyNames.map((key) => Buffer.from(key).toString('base64'));
    this.value = 'v'.repeat(valueBytes);
    this.etcdValue = Buffer.from(this.value).toString('base64');
  }

  /** Send one request on `dispatcher` (a pool or one connection): null when acknowledged, else the reason why not. */
  async send(dispatcher: Dispatcher, read: boolean, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<string | null> {
    const keyAt = Math.floor(Math.random() * this.keyNames.length);
    const timeouts = options.timeoutMs === undefined ? {} : { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs };
    const signal = options.signal === undefined ? {} : { signal: options.signal };
    try {
      if (this.target.system === 'xraft') {
        const key = this.keyNames[keyAt]!;
        const answer = read
          ? await dispatcher.request({ method: 'GET', path: `/kv/${key}?consistency=linearizable`, ...timeouts, ...signal })
          : await dispatcher.request({ method: 'PUT', path: `/kv/${key}`, body: this.value, ...timeouts, ...signal });
        await answer.body.dump();
        const ok = read ? answer.statusCode === 200 || answer.statusCode === 404 : answer.statusCode === 204;
        return ok ? null : `status ${answer.statusCode}`;
      }
      const body = read ? `{"key":"${this.etcdKeys[keyAt]}"}` : `{"key":"${this.etcdKeys[keyAt]}","value":"${this.etcdValue}"}`;
      const path = `${this.target.gateway}/kv/${read ? 'range' : 'put'}`;
      const answer = await dispatcher.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json' }, ...timeouts, ...signal });
      await answer.body.dump();
      return answer.statusCode === 200 ? null : `status ${answer.statusCode}`;
    } catch (error) {
      const { code, name } = error as { code?: string; name?: string };
      return code ?? name ?? 'error';
    }
  }
}

/** A growable array of latencies in milliseconds. */
class Latencies {
  private values = new Float64Array(1 << 16);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  summary(): LatencySummary {
    const sorted = this.values.slice(0, this.length).sort();
    const at = (q: number): number => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!);
    let sum = 0;
    for (const value of sorted) sum += value;
    return { count: sorted.length, mean: sorted.length === 0 ? Number.NaN : sum / sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]! };
  }
}

/** The `size` slowest requests seen: a request slower than the fastest of them takes its place. */
class Slowest {
  private readonly kept: { sentAt: number; ms: number }[] = [];

  constructor(private readonly size: number) {}

  offer(sent: number, ms: number): void {
    if (this.kept.length === this.size && ms <= this.kept[this.kept.length - 1]!.ms) return;
    if (this.kept.length === this.size) this.kept.pop();
    this.kept.push({ sentAt: performance.timeOrigin + sent, ms });
    this.kept.sort((a, b) => b.ms - a.ms);
  }

  get list(): readonly { readonly sentAt: number; readonly ms: number }[] {
    return this.kept;
  }
}

const cpuSeconds = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

async function closedLoop(job: ClosedLoopJob): Promise<ClosedLoopResult> {
  const makers = job.targets.map((target) => new RequestMaker(target, job.keys, job.valueBytes));
  const all = new Latencies();
  const writes = new Latencies();
  const reads = new Latencies();
  const errors: Record<string, number> = {};
  const timeline: number[] = [];
  const slowest = new Slowest(20);
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const cpuBefore = cpuSeconds();
  const started = performance.now();
  const until = started + job.seconds * 1000;
  const client = async (at: number): Promise<void> => {
    const maker = makers[at % makers.length]!;
    const connection = connectionFor(maker.target.url, at);
    while (performance.now() < until) {
      const read = Math.random() < job.readFraction;
      const sent = performance.now();
      const failure = await maker.send(connection, read, { timeoutMs: job.timeoutMs });
      const done = performance.now();
      if (failure !== null) {
        errors[failure] = (errors[failure] ?? 0) + 1;
        if (done - sent < 5) await new Promise((resume) => setTimeout(resume, 5)); // a refusing server is not a busy loop
        continue;
      }
      const latency = done - sent;
      all.push(latency);
      slowest.offer(sent, latency);
      (read ? reads : writes).push(latency);
      const second = Math.floor((done - started) / 1000);
      if (done < until) timeline[second] = (timeline[second] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, (_, at) => client(at)));
  const seconds = (performance.now() - started) / 1000;
  loopDelay.disable();
  return {
    seconds,
    ok: all.length,
    perSecond: all.length / seconds,
    latency: all.summary(),
    writes: writes.summary(),
    reads: reads.summary(),
    errors,
    perSecondTimeline: Array.from({ length: Math.floor(job.seconds) }, (_, at) => timeline[at] ?? 0),
    clientCpuSeconds: cpuSeconds() - cpuBefore,
    clientLoopDelayMaxMs: loopDelay.max / 1e6,
    slowest: slowest.list,
  };
}

/** Open-loop writes: one every `intervalMs` to the current targets in turn, whatever happened to the last ones. */
class OpenLoop {
  private makers: RequestMaker[];
  private readonly writes: Array<{ sentAt: number; ackedAt: number | null; error: string | null; settled: boolean }> = [];
  private timer: NodeJS.Timeout | null = null;
  private sent = 0;

  constructor(private readonly start: OpenLoopStart) {
    this.makers = start.targets.map((target) => new RequestMaker(target, start.keys, start.valueBytes));
    const began = performance.now();
    // Scheduled against the clock, so a late turn does not shift every later write.
    const tick = (): void => {
      this.fire();
      const next = began + (this.sent + 1) * start.intervalMs - performance.now();
      this.timer = setTimeout(tick, Math.max(0, next));
    };
    tick();
  }

  retarget(targets: readonly Target[]): void {
    this.makers = targets.map((target) => new RequestMaker(target, this.start.keys, this.start.valueBytes));
  }

  private fire(): void {
    const maker = this.makers[this.sent++ % this.makers.length];
    if (maker === undefined) return;
    const write = { sentAt: epochMs(), ackedAt: null as number | null, error: null as string | null, settled: false };
    this.writes.push(write);
    void maker.send(poolFor(maker.target.url), false, { signal: AbortSignal.timeout(this.start.deadlineMs) }).then((failure) => {
      const now = epochMs();
      write.settled = true;
      // An answer after the deadline does not count: the client gave up on it.
      if (failure === null && now - write.sentAt <= this.start.deadlineMs) write.ackedAt = now;
      else write.error = failure ?? 'late';
    });
  }

  /** The writes sent at or after `since`; older settled ones are forgotten. */
  since(since: number): { writes: OpenLoopWrite[]; pending: number } {
    const kept = this.writes.filter((write) => write.sentAt >= since || !write.settled);
    this.writes.length = 0;
    this.writes.push(...kept);
    const recent = kept.filter((write) => write.sentAt >= since);
    return {
      writes: recent.filter((write) => write.settled).map(({ sentAt, ackedAt, error }) => ({ sentAt, ackedAt, error })),
      pending: recent.filter((write) => !write.settled).length,
    };
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }
}

let openLoop: OpenLoop | null = null;

async function handle(request: LoadRequest): Promise<LoadReply> {
  switch (request.kind) {
    case 'closed':
      return { kind: 'closed', result: await closedLoop(request) };
    case 'open-start':
      openLoop?.stop();
      openLoop = new OpenLoop(request);
      return { kind: 'ok' };
    case 'open-targets':
      if (openLoop === null) return { kind: 'error', message: 'no open loop running' };
      openLoop.retarget(request.targets);
      return { kind: 'ok' };
    case 'open-since':
      if (openLoop === null) return { kind: 'error', message: 'no open loop running' };
      return { kind: 'writes', ...openLoop.since(request.since) };
    case 'open-stop':
      openLoop?.stop();
      openLoop = null;
      return { kind: 'ok' };
  }
}

process.on('message', (message: { id: number; request: LoadRequest }) => {
  void handle(message.request).then(
    (reply) => process.send?.({ id: message.id, reply }),
    (error: Error) => process.send?.({ id: message.id, reply: { kind: 'error', message: error.stack ?? error.message } }),
  );
});
process.on('disconnect', () => {
  openLoop?.stop();
  void Promise.all([...pools.values(), ...[...connections.values()].flat()].map((dispatcher) => dispatcher.destroy())).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
