/**
 * Joining built into the framework (issue 16), with the key-value example as processes: the first node bootstraps
 * alone, the next two join through any member (the framework's join, through `xraft/client`: the leader adds each as
 * a learner with its raft address in the configuration and promotes it once caught up); a fourth joins, is removed,
 * and says `removed`. Every member's address comes from the log: the state machine holds none.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePorts, waitFor } from '../network/support.js';
import { KvProcess, leaderOf } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'xraft-kv-join-'));
const nodes: KvProcess[] = [];
const flags = ['--election-timeout-ms', '400', '--cluster', 'kv-join'];

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  rmSync(dir, { recursive: true, force: true });
});

it('bootstraps one node, joins two through any member and a fourth that is then removed and says so', { timeout: 60_000 }, async () => {
  const ports = await freePorts(8);
  const start = async (id: string, at: number, via: KvProcess | null): Promise<KvProcess> => {
    const node = new KvProcess(id, `127.0.0.1:${ports[at]}`, `127.0.0.1:${ports[at + 4]}`, [...(via === null ? [] : ['--join', via.raft]), '--data', join(dir, id), ...flags]);
    nodes.push(node);
    await node.start();
    return node;
  };
  const n1 = await start('n1', 0, null);
  await leaderOf([n1]);
  expect((await n1.request('PUT', '/kv/first', 'one')).status).toBe(204);
  const n2 = await start('n2', 1, n1);
  await waitFor(async () => (await n2.status())?.members.includes('n2'), 'n2 promoted', 15_000, 50);
  // Through a member that is not the leader: it points the joiner's client to the leader.
  const leader = await leaderOf([n1, n2]);
  const n3 = await start('n3', 2, leader === n1 ? n2 : n1);
  await waitFor(async () => (await n3.status())?.members.includes('n3'), 'n3 promoted', 15_000, 50);
  const three = [n1, n2, n3];
  // Every node knows every address, from the configuration in its log; n3 serves what was written before it came.
  for (const node of three) {
    const status = (await node.status()) as unknown as { members: string[]; addresses: Record<string, string> };
    expect(status.members.sort()).toEqual(['n1', 'n2', 'n3']);
    expect(status.addresses).toEqual({ n1: n1.raft, n2: n2.raft, n3: n3.raft });
  }
  expect(await n3.request('GET', '/kv/first')).toMatchObject({ status: 200, body: 'one' });

  const n4 = await start('n4', 3, n3);
  await waitFor(async () => (await n4.status())?.members.includes('n4'), 'n4 promoted', 15_000, 50);
  expect((await n2.request('DELETE', '/admin/members/n4')).status).toBe(204);
  await waitFor(async () => (await n4.status())?.role === 'removed', 'n4 to say it was removed', 15_000, 50);
  for (const node of three) await waitFor(async () => (await node.status())?.members.length === 3, `${node.id} to see n4 gone`, 15_000, 50);
  // The cluster goes on without it.
  expect((await n1.request('PUT', '/kv/after', 'four left')).status).toBe(204);
  expect(await n3.request('GET', '/kv/after')).toMatchObject({ status: 200, body: 'four left' });
});
