/**
 * System calls per write of the KV example with one client: three KV processes from the build (as `kv-load` starts
 * them), `strace -c -f` attached to the leader and to one follower (every thread: the libuv pool's are where LevelDB
 * writes), then `--writes` sequential 100-byte PUTs through the leader. Prints each call's count per write. With
 * `--etcd`, the same against a local three-member etcd (its JSON gateway's put, as `kv-load --compare etcd` does).
 * Needs `strace` and the right to trace child processes (root, or ptrace_scope 0); strace slows the processes, so the
 * counts are what to read here, not the times. Not part of `npm run bench`.
 * Run: `npm run build && npx tsx bench/syscallsPerWrite.ts [--writes 1500] [--etcd]`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { BenchCluster } from './benchCluster.js';
import { EtcdCluster } from './etcd.js';
import { KvCluster } from './kvCluster.js';
import { makeTempDir, removeTempDir } from './processes.js';

const at = process.argv.indexOf('--writes');
const writes = at === -1 ? 1500 : Number(process.argv[at + 1]);
if (spawnSync('strace', ['-V']).status !== 0) throw new Error('strace is not on PATH (apt-get install strace)');

const cluster: BenchCluster = process.argv.includes('--etcd') ? await EtcdCluster.start() : await KvCluster.start({ build: false });
const base64 = (text: string): string => Buffer.from(text).toString('base64');
const dir = makeTempDir('xraft-bench-strace-');
const agent = new Agent({ connections: 1 });
try {
  const leader = await cluster.waitHealthy(30_000);
  const follower = cluster.members.find((member) => member !== leader)!;
  const value = 'v'.repeat(100);
  const put = async (i: number): Promise<void> => {
    const key = `k${i % 1000}`;
    const answer = cluster instanceof EtcdCluster
      ? await request(`${leader.clientUrl}${cluster.gateway}/kv/put`, { method: 'POST', body: JSON.stringify({ key: base64(key), value: base64(value) }), dispatcher: agent })
      : await request(`${leader.clientUrl}/kv/${key}`, { method: 'PUT', body: value, dispatcher: agent });
    await answer.body.dump();
    if (answer.statusCode !== (cluster instanceof EtcdCluster ? 200 : 204)) throw new Error(`put answered ${answer.statusCode}`);
  };
  for (let i = 0; i < 300; i++) await put(i); // warm-up: connections, JIT
  const traced = [leader, follower].map((member, i) => {
    const output = join(dir, `${i}.txt`);
    const tracer = spawn('strace', ['-c', '-f', '-p', String(member.process.pid), '-o', output], { stdio: ['ignore', 'ignore', 'pipe'] });
    // strace says on stderr when it has attached to the process (and to each of its threads): count from then on.
    let said = '';
    const attached = new Promise<void>((resolve, reject) => {
      const bound = setTimeout(() => reject(new Error(`strace did not attach to ${member.id} within 10 s: ${said}`)), 10_000);
      tracer.stderr.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        if (said.includes('attached')) {
          clearTimeout(bound);
          resolve();
        }
      });
    });
    return { name: i === 0 ? `leader ${member.id}` : `follower ${member.id}`, output, attached, exited: new Promise((resolve) => tracer.on('exit', resolve)), tracer };
  });
  await Promise.all(traced.map(({ attached }) => attached));
  for (let i = 0; i < writes; i++) await put(i);
  for (const { tracer } of traced) tracer.kill('SIGINT');
  await Promise.all(traced.map(({ exited }) => exited));
  for (const { name, output } of traced) {
    const rows = readFileSync(output, 'utf8')
      .split('\n')
      .filter((line) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(line))
      .map((line) => line.trim().split(/\s+/))
      .map((fields) => ({ call: fields[fields.length - 1]!, calls: Number(fields[3]) }))
      .filter(({ call, calls }) => call !== 'total' && calls / writes >= 0.01);
    console.log(`${name}: ${rows.map(({ call, calls }) => `${call} ${(calls / writes).toFixed(2)}`).join(', ')} per write`);
  }
} finally {
  await agent.close();
  await cluster.stop();
  removeTempDir(dir);
}
