/**
 * One node of the system under test as a real process, in its test host's namespace, with its output kept in a log
 * file. Faults act only on processes this run started, by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { TestHost } from './testNetwork.js';

export type NodeState = 'running' | 'paused' | 'killed';

export class NodeProcess {
  private child: ChildProcess | null = null;
  private log: WriteStream;
  state: NodeState = 'killed';
  starts = 0;

  constructor(
    readonly host: TestHost,
    private readonly command: readonly string[],
    logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.state !== 'killed') return;
    const [program, ...args] = this.host.namespace === null ? this.command : ['ip', 'netns', 'exec', this.host.namespace, ...this.command];
    const child = spawn(program!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    this.starts++;
    this.log.write(`--- start ${this.starts} pid ${child.pid} at ${new Date().toISOString()}\n`);
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    child.on('exit', (code, signal) => {
      this.log.write(`--- exit code ${code} signal ${signal}\n`);
      if (this.child === child) {
        this.child = null;
        this.state = 'killed';
      }
    });
    this.child = child;
    this.state = 'running';
  }

  kill(): void {
    if (this.child === null) return;
    if (this.state === 'paused') this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    this.child = null;
    this.state = 'killed';
  }

  pause(): void {
    if (this.state !== 'running') return;
    this.child!.kill('SIGSTOP');
    this.state = 'paused';
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.child!.kill('SIGCONT');
    this.state = 'running';
  }

  /** Stop for good: SIGTERM (graceful), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    if (this.state === 'paused') child.kill('SIGCONT');
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.log.write('--- no exit within 5 s of SIGTERM: SIGKILL\n');
      child.kill('SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  }

  close(): void {
    this.log.end();
  }
}
