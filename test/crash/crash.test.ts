/**
 * Crash recovery with real processes and a real disk: a child process runs a three-node cluster on three
 * directories (one LevelLogStore, two FileLogStores) under heavy proposal load and is killed with SIGKILL at random moments, again and again
 * on the same directories. Every proposal the child acknowledged as committed before a kill must be applied after
 * the restart. The nodes snapshot every 1000 entries, so kills also land in snapshot writes and compaction.
 *
 * The kill moments are random: most at a random number of acknowledgements into the load, some at a random time
 * after spawning, which may land in recovery itself. The seed comes from XRAFT_SEED or the clock; it is printed at
 * the start and leads every failure message (see test/support/seed.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { seededRandom } from '../../src/index.js';
import { testSeed, withSeed } from '../support/seed.js';

const KILLS = 22;
const childScript = join(import.meta.dirname, 'child.ts');

/** A running child: complete stdout lines only (a line cut by the kill is not an acknowledgement). */
class Child {
  readonly process: ChildProcess;
  readonly acks: number[] = [];
  readonly lines: string[] = [];
  stderr = '';
  private partial = '';
  private listeners: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(dataDir: string, generation: number, mode: 'load' | 'verify') {
    this.process = spawn(process.execPath, ['--import', 'tsx', childScript, dataDir, String(generation), ...(mode === 'verify' ? ['verify'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const text = this.partial + chunk;
      const complete = text.split('\n');
      this.partial = complete.pop()!;
      for (const line of complete) {
        if (line.startsWith('ack ')) this.acks.push(Number(line.slice(4)));
        else this.lines.push(line);
      }
      for (const listener of this.listeners) listener();
    });
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.process.on('exit', (code) => {
      resolve(code);
      for (const listener of this.listeners) listener();
    }));
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Resolve once `condition` holds after some output; reject if the child exits first or after `maxMs`. */
  waitFor<T>(what: string, condition: () => T | undefined, maxMs = 20_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = condition();
        if (value !== undefined) return done(() => resolve(value));
        if (!this.running) done(() => reject(new Error(`the child exited (${this.process.exitCode}) before ${what}\n${this.lines.join('\n')}\n${this.stderr}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${maxMs} ms\n${this.lines.join('\n')}\n${this.stderr}`))), maxMs);
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((listener) => listener !== check);
        settle();
      };
      this.listeners.push(check);
      check();
    });
  }

  /** SIGKILL this child (by its own PID) and wait until it is gone. */
  async kill(): Promise<void> {
    if (this.running) this.process.kill('SIGKILL');
    await this.exited;
  }
}

function parseRanges(text: string): Set<number> {
  const ids = new Set<number>();
  for (const part of text.split(',').filter((p) => p.length > 0)) {
    const [from, to] = part.split('-').map(Number);
    for (let id = from!; id <= (to ?? from!); id++) ids.add(id);
  }
  return ids;
}

function missingFrom(recovered: Set<number>, acked: Iterable<number>): number[] {
  return [...acked].filter((id) => !recovered.has(id));
}

test(`every acknowledged proposal survives ${KILLS} SIGKILLs at random moments under load`, async () => {
  const run = testSeed('test/crash/crash.test.ts');
  await withSeed(run, () => crashAndRecover(run.seed));
}, 120_000);

async function crashAndRecover(seed: number): Promise<void> {
  const random = seededRandom(seed);
  const dataDir = mkdtempSync(join(tmpdir(), 'xraft-crash-'));
  const acked = new Set<number>();
  let live: Child | null = null;
  let verified = 0;
  let killedDuringLoad = 0;
  const context = () => `seed ${seed}, data ${dataDir}`;
  try {
    for (let generation = 1; generation <= KILLS; generation++) {
      const child: Child = new Child(dataDir, generation, 'load');
      live = child;
      if (random() < 0.2) {
        // A kill at a random time after spawning: during startup, recovery, the barrier or the load.
        const afterMs = Math.floor(random() * 1500);
        await new Promise((resolve) => setTimeout(resolve, afterMs)); // choosing the kill moment, not waiting for a state
      } else {
        const recoveredLine = await child.waitFor('recovery', () => child.lines.find((line) => line.startsWith('recovered ')));
        const missing = missingFrom(parseRanges(recoveredLine.slice('recovered '.length)), acked);
        expect(missing, `acknowledged before a kill, missing after restart ${generation} (${context()})`).toEqual([]);
        verified++;
        const atAcks = Math.floor(random() * 3000);
        await child.waitFor(`${atAcks} acknowledgements`, () => (child.acks.length >= atAcks ? true : undefined));
        killedDuringLoad++;
      }
      expect(child.lines.filter((line) => /^(corrupt|diverged|stopped) /.test(line)), context()).toEqual([]);
      await child.kill();
      expect(child.process.signalCode, `the child ended on its own: ${child.stderr}`).toBe('SIGKILL');
      for (const id of child.acks) acked.add(id);
    }
    const last: Child = new Child(dataDir, KILLS + 1, 'verify');
    live = last;
    const recoveredLine = await last.waitFor('final recovery', () => last.lines.find((line) => line.startsWith('recovered ')));
    expect(missingFrom(parseRanges(recoveredLine.slice('recovered '.length)), acked), `missing after the last restart (${context()})`).toEqual([]);
    // Snapshots were taken along the way, so every node came back from its snapshot files plus the log after them.
    const snapshotLine = await last.waitFor('snapshot line', () => last.lines.find((line) => line.startsWith('snapshot ')));
    expect(Number(snapshotLine.slice('snapshot '.length)), context()).toBeGreaterThan(0);
    expect(await last.exited).toBe(0);
    verified++;
  } finally {
    await live?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
  // The run was a real test: many kills under load, many acknowledgements checked.
  expect(killedDuringLoad).toBeGreaterThanOrEqual(10);
  expect(verified).toBeGreaterThanOrEqual(killedDuringLoad);
  expect(acked.size).toBeGreaterThan(5_000);
}
