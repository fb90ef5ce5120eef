/**
 * `npm start` (examples/local-cluster.ts) as a new user would use it: three node processes come up and print their
 * addresses, a write on one node is read on another, a SIGKILLed node leaves the other two serving, SIGINT stops
 * everything, and a second run recovers the data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, waitFor } from '../network/support.js';
import { repoRoot } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'xraft-start-'));
const launched: ChildProcess[] = [];

afterAll(() => {
  for (const child of launched) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Start the launcher; resolve once it has printed that a node leads, with what it printed. */
async function launch(ports: number[]): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'examples/local-cluster.ts'), '--raft-ports', ports.slice(0, 3).join(','), '--http-ports', ports.slice(3).join(','), '--data', join(dir, 'data')],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  launched.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  await waitFor(() => output.includes('Ctrl-C stops the cluster.'), 'the launcher to report a leader', 20_000, 50);
  return { child, output: () => output, exited };
}

const get = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(8000) });

describe('npm start', () => {
  it('runs a 3-process cluster that survives a killed node, stops on SIGINT and recovers its data', { timeout: 60_000 }, async () => {
    const ports = await freePorts(6);
    const http = ports.slice(3);
    const first = await launch(ports);
    for (const [i, port] of http.entries()) expect(first.output()).toContain(`n${i + 1}  http://127.0.0.1:${port}`);

    expect((await fetch(`http://127.0.0.1:${http[0]}/kv/greeting`, { method: 'PUT', body: 'hello' })).status).toBe(204);
    expect(await (await get(http[1]!, '/kv/greeting')).text()).toBe('hello');

    // Kill n3's process by the pid the launcher printed: the other two keep serving.
    const pid = Number(first.output().match(/^n3 .*pid (\d+)/m)![1]);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => first.output().includes('n3 exited (SIGKILL)'), 'the launcher noticing n3 died');
    expect(first.output()).toMatch(/Restart it with:\n {2}npm run kv -- --id n3 /);
    // If n3 led, the write may race the election and come back 503 (outcome unknown); a PUT is idempotent, so a client
    // may retry it. Bounded: a new leader is elected within a few election timeouts.
    let afterKill = await fetch(`http://127.0.0.1:${http[1]}/kv/after`, { method: 'PUT', body: 'kill' });
    for (let attempt = 0; attempt < 20 && afterKill.status === 503; attempt++) {
      afterKill = await fetch(`http://127.0.0.1:${http[1]}/kv/after`, { method: 'PUT', body: 'kill' });
    }
    expect(afterKill.status, await afterKill.text()).toBe(204);
    expect(await (await get(http[0]!, '/kv/after')).text()).toBe('kill');

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);

    const second = await launch(ports);
    expect(await (await get(http[2]!, '/kv/greeting')).text()).toBe('hello');
    expect(await (await get(http[2]!, '/kv/after')).text()).toBe('kill');
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });
});
