/**
 * The sharded key-value example across processes (`--groups N`): every node hosts every group; every group elects a
 * leader and the leaders spread over the nodes; a key written through any node reads back from any node; a group
 * whose leader's process dies elects another leader among the survivors, quiesced or not; the process comes back
 * with every group's log from its one LevelDB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, waitFor } from '../network/support.js';
import { KvProcess } from './support.js';

const GROUPS = 48;
const dir = mkdtempSync(join(tmpdir(), 'xraft-kv-sharded-'));
const nodes: KvProcess[] = [];

interface ShardedStatus {
  readonly id: string;
  readonly groups: { readonly total: number; readonly withLeader: number; readonly leading: number; readonly quiesced: number };
  readonly suspectedPeers: readonly string[];
}

const statusOf = async (node: KvProcess): Promise<ShardedStatus | null> => {
  try {
    const answer = await node.request('GET', '/status');
    return answer.status === 200 ? (JSON.parse(answer.body) as ShardedStatus) : null;
  } catch {
    return null;
  }
};

/**
 * PUT `value`, trying again (a few times) while the answer is NOT_LEADER: a write racing a leader change may be refused,
 * perhaps applied anyway, and a put of the same value is safe to send again, as a client would.
 */
async function put(node: KvProcess, key: string, value: string): Promise<void> {
  let answer = await node.request('PUT', `/kv/${key}`, value);
  for (let tries = 1; answer.status === 503 && tries < 5; tries++) answer = await node.request('PUT', `/kv/${key}`, value);
  expect(answer.status, answer.body).toBe(204);
}

beforeAll(async () => {
  const ports = await freePorts(6);
  const peers = ['n1', 'n2', 'n3'].map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
  for (const [i, id] of ['n1', 'n2', 'n3'].entries()) {
    const flags = ['--peers', peers, '--groups', String(GROUPS), '--data', join(dir, id), '--election-timeout-ms', '400', '--cluster', 'kv-sharded'];
    nodes.push(new KvProcess(id, `127.0.0.1:${ports[i]}`, `127.0.0.1:${ports[i + 3]}`, flags));
  }
  await Promise.all(nodes.map((node) => node.start()));
});

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('the sharded key-value example', () => {
  it('elects a leader for every group on every node, spread over the nodes, and reports them on /status', { timeout: 30_000 }, async () => {
    // The first elections may all go one node's way (whichever started first); the leader balancer then moves each
    // group's leadership to its preferred member, which spreads them.
    const statuses = await waitFor(async () => {
      const all = await Promise.all(nodes.map(statusOf));
      const spread = all.every((status) => status?.groups.withLeader === GROUPS && status.groups.leading > 0);
      return spread ? (all as ShardedStatus[]) : null;
    }, 'every group with a leader on every node, and groups led by every node', 25_000, 100);
    expect(statuses.map(({ groups }) => groups.total)).toEqual([GROUPS, GROUPS, GROUPS]);
    expect(statuses.map(({ groups }) => groups.leading).reduce((sum, count) => sum + count, 0)).toBe(GROUPS);
    // Each process serves its own memory and GC metrics, labelled with its node id.
    const metrics = await nodes[0]!.request('GET', '/metrics');
    expect(metrics.status).toBe(200);
    // The GC histogram has samples only once a collection ran after the metrics were registered: its type line is there
    // from the start.
    expect(metrics.body).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
    expect(metrics.body).toMatch(/^nodejs_heap_size_used_bytes\{node="n1"\} \d+/m);
  });

  it('reads back from any node what was written through any node, across groups', { timeout: 30_000 }, async () => {
    // Once the leaderships have settled where the groups prefer them (every group asleep).
    await waitFor(async () => (await Promise.all(nodes.map(statusOf))).every((status) => status?.groups.quiesced === GROUPS), 'every group quiesced', 20_000, 100);
    const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
    await Promise.all(keys.map((key, i) => put(nodes[i % 3]!, key, `value-${i}`)));
    for (const [i, key] of keys.entries()) {
      expect(await nodes[(i + 1) % 3]!.request('GET', `/kv/${key}`)).toMatchObject({ status: 200, body: `value-${i}` });
    }
    expect(await nodes[2]!.request('POST', '/kv/key-0/append', '!')).toMatchObject({ status: 200, body: 'value-0!' });
    expect((await nodes[1]!.request('GET', '/kv/never-written')).status).toBe(404);
  });

  it('gives the groups a killed process led new leaders among the survivors, and they keep serving', { timeout: 40_000 }, async () => {
    // Let the groups fall asleep first: a quiesced group must still notice its leader's process is gone.
    await waitFor(async () => (await Promise.all(nodes.map(statusOf))).every((status) => status?.groups.quiesced === GROUPS), 'every group quiesced', 20_000, 100);
    const victim = nodes[0]!;
    await victim.kill();
    const survivors = nodes.slice(1);
    await waitFor(async () => {
      const all = await Promise.all(survivors.map(statusOf));
      return all.every((status) => status !== null && status.groups.withLeader === GROUPS) &&
        all.reduce((sum, status) => sum + status!.groups.leading, 0) === GROUPS;
    }, 'the survivors leading every group', 20_000, 100);
    for (let i = 0; i < 30; i++) await put(survivors[i % 2]!, `after-${i}`, `${i}`);
    expect(await survivors[1]!.request('GET', '/kv/key-5')).toMatchObject({ status: 200, body: 'value-5' });
  });

  it('brings the killed process back with every group recovered from its LevelDB, caught up and serving', { timeout: 40_000 }, async () => {
    const victim = nodes[0]!;
    await victim.start();
    await waitFor(async () => (await statusOf(victim))?.groups.withLeader === GROUPS, 'every group of the restarted node with a leader', 25_000, 100);
    for (let i = 0; i < 30; i++) {
      await waitFor(async () => (await victim.request('GET', `/kv/after-${i}`)).body === `${i}`, `after-${i} read through the restarted node`, 10_000, 50);
    }
    expect(await victim.request('GET', '/kv/key-7')).toMatchObject({ status: 200, body: 'value-7' });
  });
});
