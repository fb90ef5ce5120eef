/**
 * The key-value example end to end: three `examples/kv/main.ts` processes with a static membership, driven through
 * their HTTP API only; a fourth joins with `--join`; the leader is SIGKILLed and comes back; the `xraft` command lists
 * and changes the members. Every wait is bounded and on a real condition.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKvNode } from '../../examples/kv/node.js';
import { freePorts, waitFor } from '../network/support.js';
import { KvProcess, leaderOf, xraft } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'xraft-kv-'));
const nodes: KvProcess[] = [];
const flags = ['--election-timeout-ms', '400', '--cluster', 'kv-e2e'];
let ports: number[] = [];
const nodeAt = (id: string): KvProcess => nodes.find((node) => node.id === id)!;

beforeAll(async () => {
  ports = await freePorts(10);
  const peers = ['n1', 'n2', 'n3'].map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
  for (const [i, id] of ['n1', 'n2', 'n3'].entries()) {
    nodes.push(new KvProcess(id, `127.0.0.1:${ports[i]}`, `127.0.0.1:${ports[i + 5]}`, ['--peers', peers, '--data', join(dir, id), ...flags]));
  }
  await Promise.all(nodes.map((node) => node.start()));
});

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('the key-value example across processes', () => {
  it('serves the HTTP API on every node: writes anywhere, linearizable reads of them anywhere, JSON errors', { timeout: 20_000 }, async () => {
    await leaderOf(nodes);
    const [n1, n2, n3] = nodes as [KvProcess, KvProcess, KvProcess];
    expect((await n2.request('PUT', '/kv/greeting', 'hello')).status).toBe(204);
    expect(await n3.request('GET', '/kv/greeting')).toMatchObject({ status: 200, body: 'hello' });
    expect(await n1.request('POST', '/kv/greeting/append', ', world')).toMatchObject({ status: 200, body: 'hello, world' });
    expect(await n3.request('GET', '/kv/greeting')).toMatchObject({ status: 200, body: 'hello, world' });
    const leader = await leaderOf(nodes);
    expect(await leader.request('GET', '/kv/greeting?consistency=lease')).toMatchObject({ status: 200, body: 'hello, world' });
    // A stale read answers from the local state machine: once this node has applied the append, it shows it.
    await waitFor(async () => (await n2.request('GET', '/kv/greeting?consistency=stale')).body === 'hello, world', 'n2 applying the append');
    expect((await n3.request('PUT', '/kv/a%2Fb', 'slash')).status).toBe(204);
    expect(await n1.request('GET', '/kv/a%2Fb')).toMatchObject({ status: 200, body: 'slash' });
    expect((await n1.request('DELETE', '/kv/greeting')).status).toBe(204);

    const missing = await n2.request('GET', '/kv/greeting');
    expect(missing.status).toBe(404);
    expect(missing.type).toBe('application/json');
    expect(JSON.parse(missing.body)).toEqual({ error: { code: 'NOT_FOUND', message: 'no key "greeting"' } });
    expect(JSON.parse((await n2.request('GET', '/kv/x?consistency=psychic')).body).error.code).toBe('BAD_REQUEST');
    expect(JSON.parse((await n2.request('PATCH', '/kv/x')).body).error.code).toBe('NOT_FOUND');
    expect(await n2.request('GET', '/kv/a%E0%A4%A')).toMatchObject({ status: 400, body: expect.stringContaining('BAD_REQUEST') });
    expect(await n2.request('PUT', '/kv/a%E0%A4%A', 'v')).toMatchObject({ status: 400, body: expect.stringContaining('BAD_REQUEST') });
    // A key path with more segments is no key: PUT /kv/a/b is not found.
    expect(JSON.parse((await n2.request('PUT', '/kv/a/b', 'v')).body).error.code).toBe('NOT_FOUND');
    // A body beyond 1 MiB is refused before it is read whole, and nothing is written.
    const large = await n1.request('PUT', '/kv/large', 'v'.repeat(1024 * 1024 + 1));
    expect(large.status).toBe(413);
    expect(JSON.parse(large.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await n3.request('GET', '/kv/large')).status).toBe(404);

    const status = JSON.parse((await n3.request('GET', '/status')).body) as Record<string, unknown>;
    // (Under load a new election may have happened since: the status must agree with itself and name a member.)
    expect(status).toMatchObject({ id: 'n3', role: status.leader === 'n3' ? 'leader' : 'follower', members: ['n1', 'n2', 'n3'], learners: [] });
    expect(['n1', 'n2', 'n3']).toContain(status.leader);
    // Its own write of a/b (entry 4, after the no-op and the two greeting writes) was applied here before it answered.
    expect(status.commitIndex).toBeGreaterThanOrEqual(4);
    expect(status.appliedIndex).toBeTypeOf('number');
  });

  it('adds a 4th node with --join through a follower; it is promoted and serves reads; a taken id or address is refused', { timeout: 30_000 }, async () => {
    const leader = await leaderOf(nodes);
    const follower = nodes.find((node) => node !== leader)!;
    const n4 = new KvProcess('n4', `127.0.0.1:${ports[3]}`, `127.0.0.1:${ports[8]}`, ['--join', follower.raft, '--data', join(dir, 'n4'), ...flags]);
    nodes.push(n4);
    await n4.start();
    await waitFor(async () => (await n4.status())?.members.includes('n4'), 'n4 promoted to voter', 15_000, 50);
    expect((await nodes[0]!.request('PUT', '/kv/joined', 'yes')).status).toBe(204);
    expect(await n4.request('GET', '/kv/joined')).toMatchObject({ status: 200, body: 'yes' });
    expect(await n4.request('GET', '/kv/a%2Fb')).toMatchObject({ status: 200, body: 'slash' });

    // The same id again: a clear error, and the process exits without serving.
    const again = new KvProcess('n2', `127.0.0.1:${ports[4]}`, `127.0.0.1:${ports[9]}`, ['--join', nodes[0]!.raft, '--data', join(dir, 'n2-again'), ...flags]);
    await expect(again.start()).rejects.toThrow(/exited with 2/);
    expect(again.log).toMatch(/cannot join through .*: ALREADY_MEMBER n2 is already a member/);
    // Another id at a member's address, through the admin API of a follower (it goes to the leader).
    const conflict = await follower.request('POST', '/admin/members', JSON.stringify({ id: 'n5', raft: nodes[0]!.raft }));
    expect(conflict.status).toBe(409);
    expect(JSON.parse(conflict.body).error.code).toBe('ADDRESS_TAKEN');

    const listed = await xraft(['members', 'list', '--nodes', n4.raft]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^n4\\s+voter\\s+${n4.raft}$`, 'm'));
    expect(listed.stdout.match(/\svoter\s/g)).toHaveLength(4);
  });

  it('keeps serving when the leader is SIGKILLed, elects another, and the old leader catches up on restart', { timeout: 30_000 }, async () => {
    const old = await leaderOf(nodes);
    await old.kill();
    const rest = nodes.filter((node) => node !== old);
    const successor = await leaderOf(rest);
    expect(successor.id).not.toBe(old.id);
    for (const [i, node] of rest.entries()) expect((await node.request('PUT', `/kv/after-kill-${i}`, node.id)).status).toBe(204);
    for (const node of rest) expect(await node.request('GET', '/kv/after-kill-0')).toMatchObject({ status: 200, body: rest[0]!.id });

    await old.start();
    await waitFor(async () => (await old.request('GET', '/kv/after-kill-2?consistency=stale')).body === rest[2]!.id, `${old.id} catching up`, 15_000, 50);
    expect(await old.request('GET', '/kv/joined')).toMatchObject({ status: 200, body: 'yes' });
  });

  it('moves leadership and removes a member with the xraft command', { timeout: 30_000 }, async () => {
    const leader = await leaderOf(nodes);
    const target = nodes.find((node) => node !== leader)!;
    const moved = await xraft(['transfer-leader', target.id, '--nodes', nodes.find((node) => node !== leader && node !== target)!.raft]);
    expect(moved, moved.stderr).toMatchObject({ code: 0, stdout: `leader: ${target.id}\n` });
    expect((await leaderOf(nodes)).id).toBe(target.id);

    const removed = await xraft(['members', 'remove', 'n4'], { XRAFT_NODES: nodes[0]!.raft });
    expect(removed, removed.stderr).toMatchObject({ code: 0, stdout: 'removed n4\n' });
    await waitFor(async () => !(await nodes[0]!.status())?.members.includes('n4'), 'n4 out of the configuration');
    const refused = await xraft(['members', 'remove', 'n4', '--nodes', nodes[1]!.raft]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/: MEMBERSHIP NOT_A_MEMBER: /);

    const status = await xraft(['status', ...nodes.slice(0, 3).map((node) => node.raft)]);
    expect(status.code).toBe(0);
    expect(status.stdout.split('\n')[0]).toMatch(/^NODE\s+ROLE\s+TERM\s+LEADER\s+COMMIT\s+APPLIED\s+VOTERS\s+LEARNERS\s+ADDRESS$/);
    expect(status.stdout).toMatch(new RegExp(`^${target.id}\\s+leader\\s`, 'm'));
  });

  it('shows on /status that a removed member is removed, and logs why a node stops', { timeout: 20_000 }, async () => {
    const n4 = nodeAt('n4'); // removed above (unless that test failed first), still running
    if ((await nodes[0]!.status())?.members.includes('n4')) expect((await nodes[0]!.request('DELETE', '/admin/members/n4')).status).toBe(204);
    await waitFor(async () => (await n4.status())?.role === 'removed', 'n4 saying it was removed', 10_000, 50);
    expect(await n4.stop()).toBe(0);
    expect(n4.log).toMatch(/^\[n4\] stopped: on SIGTERM$/m);
  });

  it('shows a stopped node as stopped on /status, with the stopReason of node.status()', async () => {
    const kv = await startKvNode({ id: 'solo', raft: `127.0.0.1:${ports[4]}`, http: `127.0.0.1:${ports[9]}`, data: join(dir, 'solo') });
    try {
      await waitFor(() => kv.node.status().role === 'leader', 'a one-node cluster electing itself');
      await kv.node.stop();
      const status = (await (await fetch(`http://${kv.http}/status`)).json()) as Record<string, unknown>;
      expect(status).toMatchObject({ id: 'solo', role: 'stopped', stopReason: kv.node.status().stopReason });
    } finally {
      await kv.stop();
    }
  });
});
