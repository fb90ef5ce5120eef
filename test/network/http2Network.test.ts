/**
 * Http2Network under real nodes in one process, on loopback: elections and replication over HTTP/2, coalescing of
 * a turn's messages into one request, refusal of bad requests, and PeerUnreachable then reconnection when a peer
 * comes and goes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Http2Network, MESSAGES_PATH } from '../../actors/network/Http2Network.js';
import { createRaftNode, type NetworkReply, type NodeId } from '../../src/index.js';
import { encodeBatch } from '../../src/wire.js';
import { counterCommand, counterMachine, type CounterNode } from '../support/cluster.js';
import { freePorts, RawClient, waitFor } from './support.js';

const config = { electionTimeoutMs: 150, heartbeatIntervalMs: 30 };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Member {
  readonly id: NodeId;
  readonly network: Http2Network;
  readonly node: CounterNode;
}

async function startCluster(ids: readonly NodeId[], clusterId = 'net-test'): Promise<{ members: Member[]; ports: Map<NodeId, number> }> {
  const portList = await freePorts(ids.length);
  const ports = new Map(ids.map((id, i) => [id, portList[i]!]));
  const members: Member[] = [];
  for (const id of ids) members.push(await startMember(id, ids, ports, clusterId));
  return { members, ports };
}

async function startMember(id: NodeId, ids: readonly NodeId[], ports: Map<NodeId, number>, clusterId = 'net-test'): Promise<Member> {
  const peers = Object.fromEntries(ids.filter((peer) => peer !== id).map((peer) => [peer, `127.0.0.1:${ports.get(peer)}`]));
  const network = new Http2Network({ id, clusterId, peers, listen: { port: ports.get(id)! }, backoff: { initialMs: 20, maxMs: 200 } });
  await network.listen();
  const node = createRaftNode({ id, members: ids, commandSchema: counterCommand, stateMachine: counterMachine(), network, config });
  cleanups.push(async () => {
    await node.stop();
    await network.close();
  });
  return { id, network, node };
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
    const ok = await client.request('POST', MESSAGES_PATH, encodeBatch({ clusterId: 'net-test', from: 'n2', to: 'n1', messages: [{ ...vote, preVote: true, term: 1 }] }));
    expect(ok.status).toBe(204);
  });

  it('reports PeerUnreachable for a peer that is down, reconnects once it is up, and sends the messages of one turn as one request', async () => {
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

    // Everything sent to a peer in one turn travels as one request, in order.
    await new Promise((resolve) => setImmediate(resolve)); // the last probe above leaves the queue
    await waitFor(() => peer.stats.messagesReceived === network.stats.messagesSent, 'earlier requests answered');
    const before = { ...network.stats };
    received.length = 0;
    for (let term = 1; term <= 50; term++) network.receive({ type: 'Send', to: 'n2', message: { ...ping, term } });
    await waitFor(() => received.length >= 50, 'the burst');
    expect(network.stats.requestsSent - before.requestsSent).toBe(1);
    expect(network.stats.messagesSent - before.messagesSent).toBe(50);
    expect(received.map((reply) => (reply.type === 'Received' ? reply.message.term : -1))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
});
