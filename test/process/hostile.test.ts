/**
 * Hostile input against a running three-process cluster: more than 10,000 malformed, truncated, oversized,
 * wrong-type, wrong-cluster, wrong-addressee, unknown-sender, wrong-method and wrong-path requests, and garbage,
 * truncated, wrongly framed and invalid snapshot chunk requests, spread over the three nodes and pipelined. Every one
 * must get a 4xx, no process may die, and the log must not change.
 *
 * The inputs are generated from a seed. Valid-shaped messages in the refused categories carry a far higher term and
 * new entries (or a far later snapshot), so that a single one wrongly delivered would show as a changed term or log.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seededRandom } from '../../src/index.js';
import { decodeBatch, decodeSnapshotChunkRequest, encodeBatch, encodeSnapshotChunkRequest, type SnapshotChunkEnvelope } from '../../src/wire.js';
import { MESSAGES_PATH, SNAPSHOT_CHUNK_PATH } from '../../actors/network/Http2Network.js';
import { RawClient, waitFor } from '../network/support.js';
import { proposal, ProcessCluster, type Status } from './support.js';

const MAX_BODY = 64 * 1024;
const random = seededRandom(20_240_607);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const int = (below: number): number => Math.floor(random() * below);

interface Hostile {
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  readonly body?: string | Buffer;
  readonly headers?: Record<string, string>;
}

let cluster: ProcessCluster;
beforeAll(async () => {
  // A long election timeout: the flood loads both cores, and a spontaneous election would change the term.
  cluster = await ProcessCluster.start({ clusterId: 'hostile', flags: ['--election-timeout-ms', '3000', '--max-body-bytes', String(MAX_BODY)] });
});
afterAll(async () => {
  await cluster?.stop();
});

/** A batch the target would accept if it came from the right cluster, sender and addressee; term 1000. */
function plausibleBatch(to: string): { clusterId: string; from: string; to: string; messages: Record<string, unknown>[] } {
  const from = to === 'n1' ? 'n2' : 'n1';
  const messages: Record<string, unknown>[] = [
    {
      type: 'AppendEntries',
      term: 1000,
      prevLogIndex: 0,
      prevLogTerm: 0,
      leaderCommit: 3,
      round: 1,
      entries: [1, 2, 3].map((index) => ({ index, term: 1000, kind: 'command', data: '{"json":{"op":"set","key":"evil","value":"x"}}', id: `p${index}` })),
    },
    { type: 'RequestVote', term: 1000, lastLogIndex: 1e6, lastLogTerm: 1000, preVote: false },
    { type: 'ForwardProposals', term: 1000, proposals: [{ id: 'f1', data: '{"json":{"op":"set","key":"evil","value":"y"}}' }] },
    { type: 'TimeoutNow', term: 1000 },
  ];
  return { clusterId: 'hostile', from, to, messages: [pick(messages)] };
}

/** A snapshot chunk the target would accept from the right cluster, sender and addressee; term 1000. */
function plausibleChunk(to: string): SnapshotChunkEnvelope {
  const data = Buffer.alloc(int(200), 'x');
  const meta = { index: 1e6, term: 1000, voters: ['n1', 'n2', 'n3'], learners: [] };
  return { clusterId: 'hostile', from: to === 'n1' ? 'n2' : 'n1', to, message: { type: 'InstallSnapshot', term: 1000, round: 0, meta, chunk: int(3), data, done: random() < 0.5 } };
}

/** A snapshot chunk request body: the header length, `header` as JSON, `data`. */
function chunkFrame(header: unknown, data: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header) ?? 'undefined', 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(json.length);
  return Buffer.concat([prefix, json, data]);
}

const wrongValues: readonly unknown[] = ['1', -1, 1.5, null, {}, [], true, 2 ** 60, 'NaN', '', [[[]]]];

/** Replace one random field somewhere in `value` by a wrong value. */
function mutate(value: unknown): unknown {
  if (Array.isArray(value)) {
    if (value.length === 0 || random() < 0.2) return pick(wrongValues);
    const copy = [...value];
    const at = int(copy.length);
    copy[at] = mutate(copy[at]);
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const key = pick(keys);
    const roll = random();
    if (roll < 0.15) delete copy[key];
    else if (roll < 0.25) copy[key] = pick(wrongValues);
    else copy[key] = mutate(copy[key]);
    return copy;
  }
  return pick(wrongValues.filter((wrong) => wrong !== value));
}

function hostileRequest(to: string): Hostile {
  const post = (kind: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): Hostile => ({
    kind,
    method: 'POST',
    path: MESSAGES_PATH,
    body,
    headers,
  });
  const postChunk = (kind: string, body: Buffer): Hostile => ({ kind, method: 'POST', path: SNAPSHOT_CHUNK_PATH, body, headers: { 'content-type': 'application/octet-stream' } });
  const randomBytes = (): Buffer => {
    const bytes = Buffer.alloc(int(300));
    for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
    return bytes;
  };
  const batch = plausibleBatch(to);
  switch (int(16)) {
    case 0:
      return post('random bytes', randomBytes());
    case 12:
      return postChunk('chunk: random bytes', randomBytes());
    case 13: {
      // Cut anywhere before the chunk bytes: the header length promises more than arrives.
      const [prefix] = encodeSnapshotChunkRequest(plausibleChunk(to));
      return postChunk('chunk: truncated', prefix.subarray(0, int(prefix.length)));
    }
    case 14: {
      // A header length past the body, past 1 MiB, or short of the header (which cuts its JSON).
      const body = Buffer.concat(encodeSnapshotChunkRequest(plausibleChunk(to)));
      const headerLength = body.readUInt32BE(0);
      body.writeUInt32BE(pick([body.length - 3 + int(1000), 2 ** 20 + 1 + int(2 ** 31), 2 ** 32 - 1, int(headerLength)]), 0);
      return postChunk('chunk: wrong header length', body);
    }
    case 15: {
      const { message, ...envelope } = plausibleChunk(to);
      const { data, ...header } = message;
      for (;;) {
        const body = chunkFrame(mutate({ ...envelope, message: header }), data);
        if (!decodeSnapshotChunkRequest(body).ok) return postChunk('chunk: wrong type', body);
      }
    }
    case 1: {
      const text = encodeBatch(batch as never);
      return post('truncated', text.slice(0, int(text.length)));
    }
    case 2:
    case 3: {
      // Wrong types, missing fields, wrong shapes: anything the schema refuses.
      for (;;) {
        const mutated = mutate(batch);
        const text = JSON.stringify(mutated) ?? 'undefined';
        if (!decodeBatch(text).ok) return post('wrong type', text);
      }
    }
    case 4: {
      const huge = JSON.stringify({ ...batch, padding: 'x'.repeat(MAX_BODY + int(MAX_BODY)) });
      return post('oversized', huge, random() < 0.5 ? { 'content-type': 'application/json' } : { 'content-type': 'application/json', 'content-length': String(huge.length) });
    }
    case 5:
      return post('wrong cluster', encodeBatch({ ...batch, clusterId: pick(['other', 'HOSTILE', 'hostile ', 'x'.repeat(200)]) } as never));
    case 6:
      return post('unknown sender', encodeBatch({ ...batch, from: pick(['mallory', 'n4', 'N1', 'n1 ', 'n10']) } as never));
    case 7:
      return post('wrong addressee', encodeBatch({ ...batch, to: pick(['n9', 'nobody', ...['n1', 'n2', 'n3'].filter((id) => id !== to)]) } as never));
    case 8:
      return { kind: 'wrong method', method: pick(['GET', 'PUT', 'DELETE', 'PATCH']), path: MESSAGES_PATH, body: random() < 0.5 ? encodeBatch(batch as never) : undefined };
    case 9:
      return { kind: 'wrong path', method: pick(['GET', 'POST']), path: pick(['/', '/xraft', '/xraft/v2/messages', `/${'a'.repeat(int(2000))}`, '/client/../xraft/v1/messages', '/%00']) };
    case 10:
      return post('wrong content type', encodeBatch(batch as never), { 'content-type': pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) });
    default: {
      const depth = 1000 + int(20_000);
      return post('deep nesting', pick(['[', '{"a":']).repeat(depth));
    }
  }
}

async function fingerprint(): Promise<{ statuses: Status[]; entries: Record<string, string>[] }> {
  const statuses = await cluster.statuses();
  const entries = await Promise.all(cluster.nodes.map((node) => node.entries()));
  return {
    statuses: statuses.map(({ id, role, term, leader, commitIndex, appliedIndex, lastIndex }) => ({ id, role, term, leader, commitIndex, appliedIndex, lastIndex })),
    entries,
  };
}

it('answers 10,000 hostile requests with 4xx, never crashes, and keeps its log', { timeout: 60_000 }, async () => {
  const leader = await cluster.leader();
  for (let i = 0; i < 5; i++) {
    const answer = await leader.request('POST', '/xraft/v1/client/propose', proposal({ op: 'set', key: `k${i}`, value: `${i}` }));
    expect(answer.status).toBe(200);
  }
  const { commitIndex } = (await leader.status())!;
  await cluster.appliedEverywhere(commitIndex);
  const before = await fingerprint();

  const total = 10_500;
  const concurrency = 48;
  const statuses = new Map<string, Map<number, number>>();
  const failures: string[] = [];
  const clients = cluster.nodes.map((node) => new RawClient(node.authority));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const n = next++;
      const target = n % clients.length;
      const request = hostileRequest(cluster.nodes[target]!.id);
      let status: number;
      try {
        status = (await clients[target]!.request(request.method, request.path, request.body, request.headers ?? {}, 10_000)).status;
      } catch (error) {
        failures.push(`${request.kind}: ${(error as Error).message}`);
        continue;
      }
      const byStatus = statuses.get(request.kind) ?? new Map<number, number>();
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      statuses.set(request.kind, byStatus);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  for (const client of clients) client.close();

  const summary = Object.fromEntries([...statuses].map(([kind, byStatus]) => [kind, Object.fromEntries(byStatus)]));
  expect(failures.slice(0, 5), JSON.stringify(summary)).toEqual([]);
  const answered = [...statuses.values()].flatMap((byStatus) => [...byStatus]);
  expect(answered.reduce((sum, [, count]) => sum + count, 0)).toBe(total);
  for (const [status] of answered) {
    expect(status, JSON.stringify(summary)).toBeGreaterThanOrEqual(400);
    expect(status, JSON.stringify(summary)).toBeLessThan(500);
  }
  expect(statuses.size).toBe(15); // every kind of hostile request was tried

  expect(cluster.nodes.every((node) => node.alive)).toBe(true);
  expect(await fingerprint()).toEqual(before);
  // And the cluster still works.
  const answer = await (await cluster.leader()).request('POST', '/xraft/v1/client/propose', proposal({ op: 'set', key: 'after', value: 'flood' }));
  expect(answer.status, answer.body).toBe(200);
  await waitFor(async () => (await cluster.statuses()).every((status) => status.appliedIndex === commitIndex + 1), 'the write after the flood applied everywhere');
});
