/**
 * Issue 16's acceptance, the client half: a script using `xraft/client` with a session appends 200 suffixes to one
 * key of three KV example processes while the leader is SIGKILLed and restarted mid-run; afterwards the key holds
 * each suffix exactly once, in order. The kill and the restart are triggered by the count of acknowledged appends,
 * not by time; every wait is bounded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KvCommand } from '../../examples/kv/store.js';
import { createClient } from '../../src/client/index.js';
import { KvProcess, leaderOf } from '../examples/support.js';
import { freePorts, waitFor } from '../network/support.js';

const dir = mkdtempSync(join(tmpdir(), 'xraft-client-'));
const nodes: KvProcess[] = [];

beforeAll(async () => {
  const ports = await freePorts(6);
  const peers = ['n1', 'n2', 'n3'].map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
  for (const [i, id] of ['n1', 'n2', 'n3'].entries()) {
    nodes.push(new KvProcess(id, `127.0.0.1:${ports[i]}`, `127.0.0.1:${ports[i + 3]}`, ['--peers', peers, '--data', join(dir, id), '--election-timeout-ms', '400', '--cluster', 'client-e2e']));
  }
  await Promise.all(nodes.map((node) => node.start()));
}, 20_000);

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  rmSync(dir, { recursive: true, force: true });
});

it('appends 200 suffixes through a session exactly once, in order, across a SIGKILLed and restarted leader', { timeout: 30_000 }, async () => {
  const client = createClient<KvCommand, string | null>({ nodes: nodes.map((node) => node.raft), timeoutMs: 15_000 });
  const suffixes = Array.from({ length: 200 }, (_, i) => `<${i}>`);
  let victim: KvProcess | null = null;
  let killed: Promise<void> | null = null;
  let restarted: Promise<void> | null = null;
  try {
    const session = await client.openSession({ timeoutMs: 15_000, attemptTimeoutMs: 1500 });
    let expected = '';
    for (const [i, suffix] of suffixes.entries()) {
      // Killed while the appends go on (not between two of them), so that some are in flight when it dies.
      if (i === 60) killed = leaderOf(nodes).then((leader) => (victim = leader).kill());
      // Restarted while the appends go on; it catches up from the new leader.
      if (i === 120) restarted = killed!.then(() => victim!.start());
      expected += suffix;
      // Each answer is the key's value after that append: a duplicate or a loss would show at once.
      expect(await session.propose({ op: 'append', key: 'log', suffix })).toBe(expected);
    }
    await restarted;
    expect(victim!.alive).toBe(true);

    const leader = await leaderOf(nodes);
    const value = (await leader.request('GET', '/kv/log')).body;
    for (const suffix of suffixes) expect(value.split(suffix)).toHaveLength(2);
    expect(value).toBe(suffixes.join(''));
    // The restarted node holds the same, once it has caught up.
    await waitFor(async () => (await victim!.request('GET', '/kv/log?consistency=stale')).body === value, 'the restarted node catching up', 10_000);
  } finally {
    client.close();
  }
});
