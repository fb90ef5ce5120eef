/**
 * Processes of the key-value example (examples/kv/main.ts) for end-to-end tests: free ports from the OS, data in a
 * temp dir, signals only to the PIDs started here, HTTP/1.1 through fetch, bounded waits on real conditions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { waitFor } from '../network/support.js';
import { listening, type StatusView } from '../support/processes.js';

export const repoRoot = resolve(import.meta.dirname, '../..');
const main = resolve(repoRoot, 'examples/kv/main.ts');

export interface KvStatus extends StatusView {
  readonly members: string[];
  readonly learners: string[];
}

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly type: string | null;
}

export class KvProcess {
  child: ChildProcess | null = null;
  log = '';
  exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly id: string,
    readonly raft: string,
    readonly http: string,
    readonly args: readonly string[],
  ) {}

  get url(): string {
    return `http://${this.http}`;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawn; resolve on the `listening` line, reject (with its stderr) when it exits first. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', main, '--id', this.id, '--raft', this.raft, '--http', this.http, ...this.args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => (this.log += chunk.toString('utf8')));
    this.exited = new Promise((done) => child.once('exit', (code) => done(code)));
    await listening(child, this.id, () => this.log);
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (graceful), SIGKILL after 5 s. */
  async stop(): Promise<number | null> {
    if (this.alive) {
      this.child!.kill('SIGTERM');
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }

  async request(method: string, path: string, body?: string): Promise<Answer> {
    const response = await fetch(`${this.url}${path}`, { method, body, signal: AbortSignal.timeout(8000) });
    return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
  }

  async status(): Promise<KvStatus | null> {
    try {
      const answer = await this.request('GET', '/status');
      return answer.status === 200 ? (JSON.parse(answer.body) as KvStatus) : null;
    } catch {
      return null;
    }
  }
}

/** Wait until one of `nodes` leads and every answering one of them follows it in the same term. */
export async function leaderOf(nodes: readonly KvProcess[], timeoutMs = 15_000): Promise<KvProcess> {
  return waitFor(async () => {
    const statuses = (await Promise.all(nodes.filter((node) => node.alive).map((node) => node.status()))).filter((status) => status !== null);
    const leaders = statuses.filter((status) => status.role === 'leader');
    if (leaders.length !== 1 || statuses.length < Math.floor(nodes.length / 2) + 1) return null;
    const { id, term } = leaders[0]!;
    return statuses.every((status) => status.leader === id && status.term === term) ? nodes.find((node) => node.id === id) : null;
  }, 'a leader the answering nodes agree on', timeoutMs, 50);
}

/** Run the `xraft` command (src/cli/main.ts through tsx); resolves with its exit code and output. */
export function xraft(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return runScript('src/cli/main.ts', args, env);
}

/** Run a TypeScript entry point of the repository (`file`, from its root) through tsx, to its exit. */
export function runScript(file: string, args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(repoRoot, file), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}
