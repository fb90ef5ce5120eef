/**
 * Http2Network under real nodes in one process, on loopback: elections and replication over HTTP/2, coalescing of
 * a turn's messages into one request, snapshot chunks as raw bytes on their own route, refusal of bad requests, and
 * PeerUnreachable then reconnection when a peer comes and goes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Http2Network, MESSAGES_PATH, SNAPSHOT_CHUNK_PATH } from '../../actors/network/Http2Network.js';
import { createRaftNode, type NetworkReply, type NodeId, type RaftConfig, type RaftMessage } from '../../src/index.js';
import { encodeBatch, encodeSnapshotChunkRequest } from '../../src/wire.js';
import { counterCommand, counterMachine, type CounterNode } from '../support/cluster.js';
import { freePorts, RawClient, waitFor } from './support.js';

const config = { electionTimeoutMs: 150, heartbeatIntervalMs: 30 };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** How many InstallSnapshot messages a network delivered to its node (whatever route they came by). */
const chunksDelivered = new WeakMap<Http2Network, number>();

/** An Http2Network that counts the snapshot chunks it delivers. */
class ObservedNetwork extends Http2Network {
  protected override delivered(from: NodeId, message: RaftMessage): void {
    if (message.type === 'InstallSnapshot') chunksDelivered.set(this, (chunksDelivered.get(this) ?? 0) + 1);
    super.delivered(from, message);
  }
}

interface MemberOptions {
  readonly config?: Partial<RaftConfig>;
  readonly snapshotChunkBytes?: number;
}

interface Member {
  readonly id: NodeId;
  readonly network: Http2Network;
  readonly node: CounterNode;
  readonly stateMachine: ReturnType<typeof counterMachine>;
}

async function startCluster(ids: readonly NodeId[], clusterId = 'net-test'): Promise<{ members: Member[]; ports: Map<NodeId, number> }> {
  const portList = await freePorts(ids.length);
  const ports = new Map(ids.map((id, i) => [id, portList[i]!]));
  const members: Member[] = [];
  for (const id of ids) members.push(await startMember(id, ids, ports, clusterId));
  return { members, ports };
}

async function startMember(id: NodeId, ids: readonly NodeId[], ports: Map<NodeId, number>, clusterId = 'net-test', options: MemberOptions = {}): Promise<Member> {
  const peers = Object.fromEntries(ids.filter((peer) => peer !== id).map((peer) => [peer, `127.0.0.1:${ports.get(peer)}`]));
  const network = new ObservedNetwork({ id, clusterId, peers, listen: { port: ports.get(id)! }, backoff: { initialMs: 20, maxMs: 200 } });
  await network.listen();
  const stateMachine = counterMachine();
  const node = createRaftNode({
    id,
    members: ids,
    commandSchema: counterCommand,
    stateMachine,
    network,
    config: { ...config, ...options.config },
    snapshotChunkBytes: options.snapshotChunkBytes,
  });
  cleanups.push(async () => {
    await node.stop();
    await network.close();
  });
  return { id, network, node, stateMachine };
}

const leaderOf = (members: readonly Member[]): Member | undefined => {
  const leaders = members.filter(({ node }) => node.status().role === 'leader');
  return leaders.length === 1 ? leaders[0] : undefined;
};

describe('Http2Network', () => {
  it('elects a leader and replicates proposals over HTTP/2', async () => {
    const { members } = await startCluster(['n1', 'n2', 'n3']);
    const leader = await waitFor(() => leaderOf(members), 'a leader');
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => leader.node.propose({ op: 'add', by: i })));
    expect(Math.max(...results)).toBe((199 * 200) / 2);
    await waitFor(() => members.every(({ node }) => node.status().appliedIndex === leader.node.status().appliedIndex), 'every node applied');
    expect(members.every(({ network }) => network.stats.requestsRefused === 0)).toBe(true);
  });

  it('refuses requests from another cluster, to another node or from a stranger, with a 4xx and a JSON error', async () => {
    const { members, ports } = await startCluster(['n1', 'n2']);
    const target = members[0]!;
    const client = new RawClient(`http://127.0.0.1:${ports.get('n1')}`);
    cleanups.push(() => client.close());
    const vote = { type: 'RequestVote', term: 99, lastLogIndex: 99, lastLogTerm: 99, preVote: false } as const;
    const post = (batch: object) => client.request('POST', MESSAGES_PATH, JSON.stringify(batch), { 'content-type': 'application/json' });
    const cases = {
      WRONG_CLUSTER: await post({ clusterId: 'other', from: 'n2', to: 'n1', messages: [vote] }),
      WRONG_NODE: await post({ clusterId: 'net-test', from: 'n2', to: 'n9', messages: [vote] }),
      UNKNOWN_SENDER: await post({ clusterId: 'net-test', from: 'mallory', to: 'n1', messages: [vote] }),
      INVALID_MESSAGE: await post({ clusterId: 'net-test', from: 'n2', to: 'n1', messages: [{ ...vote, term: -1 }] }),
      MALFORMED_JSON: await client.request('POST', MESSAGES_PATH, '{"clusterId":'),
      NOT_FOUND: await client.request('GET', '/nope'),
      METHOD_NOT_ALLOWED: await client.request('GET', MESSAGES_PATH),
    };
    for (const [code, answer] of Object.entries(cases)) {
      expect(answer.status, code).toBeGreaterThanOrEqual(400);
      expect(answer.status, code).toBeLessThan(500);
      expect(JSON.parse(answer.body).error.code).toBe(code);
    }
    expect(target.node.status().term).toBeLessThan(99);
    const preVote = { ...vote, preVote: true, term: 1, lastLogIndex: 0, lastLogTerm: 0 };
    const ok = await client.request('POST', MESSAGES_PATH, encodeBatch({ clusterId: 'net-test', from: 'n2', to: 'n1', messages: [preVote] }));
    expect(ok.status).toBe(204);
  });

  it('catches up a follower that missed the compacted log with a snapshot whose chunks travel as raw bytes on their own route', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const portList = await freePorts(ids.length);
    const ports = new Map(ids.map((id, i) => [id, portList[i]!]));
    // Tiny chunks: the counter's snapshot takes several of them, so the window and the framing both get exercised.
    const options = { config: { snapshotThreshold: 20, snapshotTrailingEntries: 5 }, snapshotChunkBytes: 8 };
    const early = [await startMember('n1', ids, ports, 'net-test', options), await startMember('n2', ids, ports, 'net-test', options)];
    const leader = await waitFor(() => leaderOf(early), 'a leader of two');
    for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, () => leader.node.propose({ op: 'add', by: 1 })));
    await waitFor(() => early.every(({ node }) => node.status().snapshotIndex >= 150), 'both nodes compacted their logs');

    const late = await startMember('n3', ids, ports, 'net-test', options);
    expect(late.network.stats.messagesReceived).toBe(0);
    await waitFor(() => late.stateMachine.state === 200 && late.node.status().appliedIndex === leader.node.status().appliedIndex, 'n3 caught up');
    expect(late.node.status().snapshotIndex).toBeGreaterThanOrEqual(150);
    expect(late.network.stats.messagesReceived).toBeGreaterThan(0);
    expect(late.network.stats.chunksReceived).toBeGreaterThan(1);
    // And replication goes on from the snapshot.
    await leader.node.propose({ op: 'add', by: 5 });
    await waitFor(() => late.stateMachine.state === 205, 'n3 applied the next write');

    const members = [...early, late];
    expect(members.map(({ stateMachine }) => stateMachine.state)).toEqual([205, 205, 205]);
    for (const { id, network } of members) {
      // Every chunk came on the chunk route, as bytes: none inside a frame or batch.
      expect(chunksDelivered.get(network) ?? 0, id).toBe(network.stats.chunksReceived);
      expect(network.stats.requestsRefused, id).toBe(0);
      expect(network.stats.requestsRefusedByPeers, id).toBe(0);
    }
  });

  it('refuses bad snapshot chunk requests with a 4xx and a JSON error, and changes nothing', async () => {
    const { members, ports } = await startCluster(['n1', 'n2']);
    // Sent to the follower as if from the leader, so that the well-formed chunk at the end is one it can take calmly.
    const leader = await waitFor(() => leaderOf(members), 'a leader');
    const target = members.find((member) => member !== leader)!;
    const [from, to] = [leader.id, target.id];
    const client = new RawClient(`http://127.0.0.1:${ports.get(to)}`);
    cleanups.push(() => client.close());
    const before = target.node.status();
    const message = { type: 'InstallSnapshot', term: 99, round: 0, meta: { index: 500, term: 99, voters: ['n1', 'n2'], learners: [] }, chunk: 0, data: new Uint8Array([1, 2, 3]), done: true } as const;
    const frame = (envelope: { clusterId: string; from: string; to: string }, term = 99) => Buffer.concat(encodeSnapshotChunkRequest({ ...envelope, message: { ...message, term } }));
    const octets = { 'content-type': 'application/octet-stream' };
    const post = (body: Buffer, headers = octets) => client.request('POST', SNAPSHOT_CHUNK_PATH, body, headers);
    const good = frame({ clusterId: 'net-test', from, to });
    const badHeader = Buffer.from('{"clusterId":');
    const notJson = Buffer.concat([Buffer.from([0, 0, 0, badHeader.length]), badHeader, Buffer.from([1, 2])]);
    const cases: [string, number, Awaited<ReturnType<typeof post>>][] = [
      ['MALFORMED_FRAME', 400, await post(Buffer.from([0, 0]))],
      ['MALFORMED_FRAME', 400, await post(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]))],
      ['MALFORMED_FRAME', 400, await post(good.subarray(0, 20))],
      ['MALFORMED_JSON', 400, await post(notJson)],
      ['INVALID_MESSAGE', 400, await post(frame({ clusterId: 'net-test', from, to }, -1))],
      ['UNSUPPORTED_MEDIA_TYPE', 415, await post(good, { 'content-type': 'application/json' })],
      ['WRONG_CLUSTER', 403, await post(frame({ clusterId: 'other', from, to }))],
      ['WRONG_NODE', 421, await post(frame({ clusterId: 'net-test', from, to: 'n9' }))],
      ['UNKNOWN_SENDER', 403, await post(frame({ clusterId: 'net-test', from: 'mallory', to }))],
      ['METHOD_NOT_ALLOWED', 405, await client.request('GET', SNAPSHOT_CHUNK_PATH)],
    ];
    for (const [code, status, answer] of cases) {
      expect(answer.status, code).toBe(status);
      expect(JSON.parse(answer.body).error.code, code).toBe(code);
    }
    expect(target.network.stats.requestsRefused).toBe(cases.length);
    // Nothing of the forged snapshot (term 99, index 500) reached the node. (Its own term and log may move meanwhile:
    // a real election or no-op is not the requests' doing, so only what they carried is checked.)
    const after = target.node.status();
    expect(after.term).toBeLessThan(99);
    expect(after.snapshotIndex).toBe(before.snapshotIndex);
    expect(after.lastIndex).toBeLessThan(500);
    // A well-formed chunk is delivered: chunk 1 of a snapshot the follower is not receiving, in the leader's term (a
    // chunk's term is at least its snapshot's, so a stale one cannot be made). The follower asks for chunk 0 again.
    const harmless = { ...message, term: leader.node.status().term, meta: { ...message.meta, index: 1, term: 1 }, chunk: 1, done: false };
    const ok = await post(Buffer.concat(encodeSnapshotChunkRequest({ clusterId: 'net-test', from, to, message: harmless })));
    expect(ok.status, ok.body).toBe(204);
    expect(target.network.stats.requestsRefused).toBe(cases.length);
  });

  it('logs each refused request with its sender and code, once per sender and code until a second has passed', async () => {
    const [port, peerPort] = await freePorts(2);
    const lines: string[] = [];
    const network = new Http2Network({ id: 'n1', clusterId: 'net-test', peers: { n2: `127.0.0.1:${peerPort}` }, listen: { port: port! }, log: (line) => lines.push(line) });
    await network.listen();
    const client = new RawClient(`http://127.0.0.1:${port}`);
    cleanups.push(async () => {
      client.close();
      await network.close();
    });
    const vote = { type: 'RequestVote', term: 2, lastLogIndex: 0, lastLogTerm: 0, preVote: true } as const;
    const post = (batch: object) => client.request('POST', MESSAGES_PATH, JSON.stringify(batch), { 'content-type': 'application/json' });
    // A sender known from the batch: named by its `from`, with the address it came from.
    for (let i = 0; i < 5; i++) expect((await post({ clusterId: 'other', from: 'n2', to: 'n1', messages: [vote] })).status).toBe(403);
    // Its message fails the schema, but its envelope still says who sent it.
    expect((await post({ clusterId: 'net-test', from: 'n2', to: 'n1', messages: [{ ...vote, term: -1 }] })).status).toBe(400);
    // Nothing decoded: named by its address.
    expect((await client.request('POST', MESSAGES_PATH, '{"clusterId":')).status).toBe(400);
    expect(network.stats.requestsRefused).toBe(7);
    expect(lines).toEqual([
      'refused a request from n2 (127.0.0.1): 403 WRONG_CLUSTER: this node belongs to another cluster than "other"',
      expect.stringMatching(/^refused a request from n2 \(127\.0\.0\.1\): 400 INVALID_MESSAGE: messages\.0/),
      expect.stringMatching(/^refused a request from 127\.0\.0\.1: 400 MALFORMED_JSON: body is not JSON/),
    ]);
    // The four later WRONG_CLUSTER refusals are logged as a count once their second is over.
    await waitFor(() => lines.length > 3, 'the count of suppressed refusals', 3000);
    expect(lines.slice(3)).toEqual(['refused 4 more request(s) from n2 with WRONG_CLUSTER within 1000 ms']);
  });

  it('reports PeerUnreachable for a peer that is down, reconnects once it is up, and sends the messages of one turn as one frame on its stream', async () => {
    const [p1, p2] = await freePorts(2);
    const replies: NetworkReply[] = [];
    const network = new Http2Network({ id: 'n1', clusterId: 'net-test', peers: { n2: `127.0.0.1:${p2}` }, listen: { port: p1! }, backoff: { initialMs: 10, maxMs: 50 } });
    await network.listen();
    network.attach((reply) => replies.push(reply));
    cleanups.push(() => {
      network.detach();
      return network.close();
    });
    const ping = { type: 'RequestVote', term: 1, lastLogIndex: 0, lastLogTerm: 0, preVote: true } as const;
    network.receive({ type: 'Send', to: 'n2', message: ping });
    await waitFor(() => replies.some((reply) => reply.type === 'PeerUnreachable' && reply.peer === 'n2'), 'PeerUnreachable');

    const received: NetworkReply[] = [];
    const peer = new Http2Network({ id: 'n2', clusterId: 'net-test', peers: { n1: `127.0.0.1:${p1}` }, listen: { port: p2! } });
    await peer.listen();
    peer.attach((reply) => received.push(reply));
    cleanups.push(() => {
      peer.detach();
      return peer.close();
    });
    await waitFor(() => {
      network.receive({ type: 'Send', to: 'n2', message: ping });
      return received.some((reply) => reply.type === 'Received' && reply.from === 'n1');
    }, 'delivery after the peer came up', 5000, 50);

    // Everything sent to a peer in one turn travels as one frame, in order.
    await new Promise((resolve) => setImmediate(resolve)); // the last probe above leaves the queue
    await waitFor(() => peer.stats.messagesReceived === network.stats.messagesSent, 'earlier requests answered');
    const before = { ...network.stats };
    received.length = 0;
    for (let term = 1; term <= 50; term++) network.receive({ type: 'Send', to: 'n2', message: { ...ping, term } });
    await waitFor(() => received.length >= 50, 'the burst');
    expect(network.stats.framesSent - before.framesSent).toBe(1);
    expect(network.stats.requestsSent - before.requestsSent).toBe(0); // the stream was already open
    expect(network.stats.messagesSent - before.messagesSent).toBe(50);
    expect(received.map((reply) => (reply.type === 'Received' ? reply.message.term : -1))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
});
