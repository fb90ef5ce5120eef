/**
 * A cluster of real `xraft-node` processes on 127.0.0.1 for tests and benchmarks: free ports picked by the OS,
 * data directories in a temp dir, processes signalled by the PIDs this harness started (never by name), and clients
 * that follow the leader.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { SecureClientSessionOptions } from 'node:http2';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KvProcess, leaderOf } from '../examples/support.js';
import { freePorts, RawClient, waitFor, type HttpAnswer } from '../network/support.js';
import superjson from 'superjson';
import { listening, type StatusView } from '../support/processes.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const cli = join(repoRoot, 'src/process/cli.ts');

/** A client API propose request (src/clientApi.ts): the command as its superjson text. */
export const proposal = (command: unknown): { command: string } => ({ command: superjson.stringify(command) });

export interface Status extends StatusView {
  readonly lastIndex: number;
}

export interface ClusterOptions {
  readonly ids?: readonly string[];
  readonly clusterId?: string;
  /** Extra flags for every node. */
  readonly flags?: readonly string[];
  /** Per node TLS flags and the client options to reach it. */
  readonly tls?: { readonly flags: (id: string) => string[]; readonly client: SecureClientSessionOptions };
}

export class NodeProcess {
  child: ChildProcess | null = null;
  /** stderr of every incarnation, for failure messages. */
  log = '';
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  private client: RawClient | null = null;

  constructor(
    readonly id: string,
    readonly port: number,
    readonly dataDir: string,
    private readonly args: readonly string[],
    private readonly clientOptions: SecureClientSessionOptions | undefined,
  ) {}

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error(`${this.id} is not running`);
    return pid;
  }

  get authority(): string {
    return `${this.clientOptions === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}`;
  }

  /** Spawn the process and wait for its `listening` line. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...this.args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => (this.log += chunk.toString('utf8')));
    this.exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
    await listening(child, this.id, () => this.log);
  }

  /** Signal this process (by the PID we started). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async kill(): Promise<void> {
    if (this.child === null || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.signal('SIGKILL');
    await this.exited;
    this.dropClient();
  }

  /** SIGTERM, then SIGKILL when it does not exit within `graceMs`. */
  async stop(graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    if (child === null) return { code: null, signal: null };
    if (child.exitCode === null && child.signalCode === null) {
      this.signal('SIGCONT');
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.dropClient();
    return this.exited;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  rawClient(): RawClient {
    if (this.client === null || this.client.session.destroyed || this.client.session.closed) {
      this.client = new RawClient(this.authority, this.clientOptions);
    }
    return this.client;
  }

  dropClient(): void {
    this.client?.close();
    this.client = null;
  }

  async request(method: string, path: string, body?: unknown, timeoutMs = 2000): Promise<HttpAnswer> {
    try {
      return await this.rawClient().request(
        method,
        path,
        body === undefined ? undefined : JSON.stringify(body),
        body === undefined ? {} : { 'content-type': 'application/json' },
        timeoutMs,
      );
    } catch (error) {
      this.dropClient();
      throw error;
    }
  }

  /** The node's status, or null when it does not answer in time. */
  async status(timeoutMs = 1000): Promise<Status | null> {
    try {
      const answer = await this.request('GET', '/xraft/v1/client/status', undefined, timeoutMs);
      return answer.status === 200 ? (JSON.parse(answer.body) as Status) : null;
    } catch {
      return null;
    }
  }

  /** Every key-value pair this node has applied (a stale, local read). */
  async entries(): Promise<Record<string, string>> {
    const answer = await this.request('GET', '/client/kv?consistency=stale');
    if (answer.status !== 200) throw new Error(`${this.id}: GET /client/kv answered ${answer.status} ${answer.body}`);
    return (JSON.parse(answer.body) as { entries: Record<string, string> }).entries;
  }
}

/** Processes started together in a temporary directory: all of them start or none is left running; stopped together. */
abstract class ProcessGroup<Member extends { readonly id: string; readonly log: string; start(): Promise<unknown>; stop(): Promise<unknown> }> {
  readonly nodes: Member[] = [];

  protected constructor(readonly dir: string) {}

  /** Start every member; if one fails, stop them all and throw. */
  protected async startAll(): Promise<void> {
    try {
      await Promise.all(this.nodes.map((node) => node.start()));
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  get(id: string): Member {
    const node = this.nodes.find((candidate) => candidate.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every node's stderr, for failure messages. */
  logs(): string {
    return this.nodes.map((node) => `--- ${node.id}\n${node.log.split('\n').slice(-40).join('\n')}`).join('\n');
  }
}

export class ProcessCluster extends ProcessGroup<NodeProcess> {
  private constructor(readonly options: ClusterOptions) {
    super(mkdtempSync(join(tmpdir(), 'xraft-proc-')));
  }

  static async start(options: ClusterOptions = {}): Promise<ProcessCluster> {
    const cluster = new ProcessCluster(options);
    const ids = options.ids ?? ['n1', 'n2', 'n3'];
    const ports = await freePorts(ids.length);
    const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
    ids.forEach((id, i) => {
      const dataDir = join(cluster.dir, id);
      const args = [
        '--id', id,
        '--cluster-id', options.clusterId ?? 'proc-test',
        '--listen', `127.0.0.1:${ports[i]}`,
        '--peers', peers,
        '--data-dir', dataDir,
        '--election-timeout-ms', '400',
        '--heartbeat-interval-ms', '50',
        '--peer-timeout-ms', '1000',
        ...(options.flags ?? []),
        ...(options.tls?.flags(id) ?? []),
      ];
      cluster.nodes.push(new NodeProcess(id, ports[i]!, dataDir, args, options.tls?.client));
    });
    await cluster.startAll();
    return cluster;
  }

  /** Statuses of the nodes that answer. */
  async statuses(among: readonly NodeProcess[] = this.nodes): Promise<Status[]> {
    const all = await Promise.all(among.filter((node) => node.alive).map((node) => node.status()));
    return all.filter((status): status is Status => status !== null);
  }

  /** Wait until exactly one of `among` leads and every answering node of `among` follows it in the same term. */
  async leader(among: readonly NodeProcess[] = this.nodes, timeoutMs = 15_000): Promise<NodeProcess> {
    const id = await waitFor(async () => {
      const statuses = await this.statuses(among);
      const leaders = statuses.filter((status) => status.role === 'leader');
      if (leaders.length !== 1 || statuses.length < Math.floor(this.nodes.length / 2) + 1) return null;
      const { id: leaderId, term } = leaders[0]!;
      return statuses.every((status) => status.leader === leaderId && status.term === term) ? leaderId : null;
    }, 'a leader that the answering nodes agree on', timeoutMs, 50);
    return this.get(id);
  }

  /** Wait until every node of `among` has applied at least `index`. */
  async appliedEverywhere(index: number, among: readonly NodeProcess[] = this.nodes, timeoutMs = 15_000): Promise<void> {
    await waitFor(async () => {
      const statuses = await this.statuses(among);
      return statuses.length === among.length && statuses.every((status) => status.appliedIndex >= index);
    }, `every node applying index ${index}`, timeoutMs, 50);
  }

}

/**
 * Clients that keep proposing unique keys through whichever node they can reach, following leader hints, and
 * record every key whose proposal was acknowledged (200: committed and applied).
 */
export class Writer {
  readonly acked: string[] = [];
  private running = false;
  private sequence = 0;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly cluster: ProcessCluster,
    private readonly prefix: string,
  ) {}

  start(concurrency = 4): void {
    this.running = true;
    this.loops = Array.from({ length: concurrency }, (_, i) => this.loop(i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Wait until `more` proposals beyond the current count have been acknowledged. */
  async progress(more: number, timeoutMs = 15_000): Promise<void> {
    const target = this.acked.length + more;
    await waitFor(() => this.acked.length >= target, `${more} more acknowledged proposals`, timeoutMs, 20);
  }

  private async loop(offset: number): Promise<void> {
    let target = offset;
    while (this.running) {
      const node = this.cluster.nodes[target % this.cluster.nodes.length]!;
      if (!node.alive) {
        target++;
        continue;
      }
      const key = `${this.prefix}${this.sequence++}`;
      try {
        const answer = await node.request('POST', '/xraft/v1/client/propose', proposal({ op: 'set', key, value: key }), 2000);
        if (answer.status === 200) {
          this.acked.push(key);
          continue;
        }
        const hint = (JSON.parse(answer.body) as { error?: { leaderHint?: string | null } }).error?.leaderHint;
        const hinted = hint == null ? -1 : this.cluster.nodes.findIndex((candidate) => candidate.id === hint);
        target = hinted >= 0 && hinted !== target % this.cluster.nodes.length ? hinted : target + 1;
        if (hinted < 0) await new Promise((resolveLater) => setTimeout(resolveLater, 20)); // no leader yet: back off a little
      } catch {
        target++;
      }
    }
  }
}

/**
 * Processes of the key-value example (examples/kv/main.ts) with a static membership, each with a raft port (HTTP/2,
 * for peers) and an HTTP/1.1 client port: the example as a new user runs it, where xraft-node (`ProcessCluster`)
 * serves peers and clients on one port.
 */
export class KvCluster extends ProcessGroup<KvProcess> {
  private constructor() {
    super(mkdtempSync(join(tmpdir(), 'xraft-kv-proc-')));
  }

  /** Start every node (`flags` for all of them) and wait for each one's `listening` line. */
  static async start(options: { readonly ids?: readonly string[]; readonly clusterId?: string; readonly flags?: readonly string[] } = {}): Promise<KvCluster> {
    const cluster = new KvCluster();
    const ids = options.ids ?? ['n1', 'n2', 'n3'];
    const ports = await freePorts(2 * ids.length);
    const raft = (i: number): string => `127.0.0.1:${ports[i]}`;
    const peers = ids.map((id, i) => `${id}=${raft(i)}`).join(',');
    for (const [i, id] of ids.entries()) {
      const flags = ['--peers', peers, '--data', join(cluster.dir, id), '--cluster', options.clusterId ?? 'kv-proc-test', ...(options.flags ?? [])];
      cluster.nodes.push(new KvProcess(id, raft(i), `127.0.0.1:${ports[ids.length + i]}`, flags));
    }
    await cluster.startAll();
    return cluster;
  }

  /** Wait until one of `among` leads and every answering one of them follows it in the same term. */
  leader(among: readonly KvProcess[] = this.nodes, timeoutMs = 15_000): Promise<KvProcess> {
    return leaderOf(among, timeoutMs);
  }
}
