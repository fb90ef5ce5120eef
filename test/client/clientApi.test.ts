/**
 * The client API (src/clientApi.ts) and `xraft/client` against three in-process nodes on real HTTP/2 (127.0.0.1):
 * the boundary refuses what is malformed with a stable code and changes nothing; the client finds and follows the
 * leader through transfers and a stopped leader; errors arrive as the node's typed errors.
 */
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http2Network } from '../../actors/network/Http2Network.js';
import { KvStore, kvCommand, type KvCommand } from '../../examples/kv/store.js';
import { clientApiPaths, serveClientApi } from '../../src/clientApi.js';
import { createClient, InvalidCommandError, MembershipChangeError } from '../../src/client/index.js';
import { createRaftNode, type RaftNode } from '../../src/index.js';
import { freePorts, RawClient, waitFor } from '../network/support.js';

interface Member {
  readonly id: string;
  readonly address: string;
  readonly store: KvStore;
  readonly network: Http2Network;
  readonly node: RaftNode<KvCommand, string | null, KvStore>;
  stopped: boolean;
}

const members: Member[] = [];
const raw: RawClient[] = [];

beforeAll(async () => {
  const ports = await freePorts(3);
  const ids = ['n1', 'n2', 'n3'];
  const addressOf = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
  for (const [i, id] of ids.entries()) {
    const peers = Object.fromEntries(ids.filter((peer) => peer !== id).map((peer) => [peer, addressOf[peer]!]));
    const network = new Http2Network({ id, clusterId: 'client-api', peers, listen: { port: ports[i] } });
    await network.listen();
    const store = new KvStore();
    const node = createRaftNode({
      id, members: ids, commandSchema: kvCommand, stateMachine: store, network,
      config: { electionTimeoutMs: 300, heartbeatIntervalMs: 40 },
    });
    serveClientApi(network, node, { address: addressOf[id] });
    members.push({ id, address: addressOf[id]!, store, network, node, stopped: false });
  }
});

afterAll(async () => {
  for (const client of raw) client.close();
  await Promise.all(members.filter((member) => !member.stopped).map(async (member) => {
    await member.node.stop().catch(() => undefined);
    await member.network.close();
  }));
});

const leader = (): Promise<Member> =>
  waitFor(() => members.find((member) => !member.stopped && member.node.status().role === 'leader'), 'a leader', 10_000);

function post(member: Member, path: string, body: string): Promise<{ status: number; error: Record<string, unknown> | undefined; body: string }> {
  const client = new RawClient(`http://${member.address}`);
  raw.push(client);
  return client.request('POST', path, body, { 'content-type': 'application/json' }, 5000).then((answer) => ({
    status: answer.status,
    body: answer.body,
    error: (JSON.parse(answer.body) as { error?: Record<string, unknown> }).error,
  }));
}

describe('the client API at the boundary', () => {
  it('refuses malformed JSON, a request of the wrong shape, an invalid command and an unknown session, and changes nothing', { timeout: 15_000 }, async () => {
    const target = await leader();
    const follower = members.find((member) => member !== target)!;
    const data = (): string => JSON.stringify(members.map((member) => [...member.store.data]));
    const before = data();

    const notJson = await post(target, clientApiPaths.propose, '{"command": ');
    expect(notJson).toMatchObject({ status: 400, error: { code: 'BAD_REQUEST', message: 'the body is not JSON' } });
    const wrongShape = await post(target, clientApiPaths.propose, JSON.stringify({ command: 42, extra: true }));
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.error?.code).toBe('BAD_REQUEST');
    expect(wrongShape.error?.message).toMatch(/command/);
    const noCommand = await post(follower, clientApiPaths.propose, JSON.stringify({}));
    expect(noCommand.error?.code).toBe('BAD_REQUEST');

    const invalid = await post(follower, clientApiPaths.propose, JSON.stringify({ command: superjson.stringify({ op: 'explode', key: 'k' }) }));
    expect(invalid.status).toBe(400);
    expect(invalid.error).toMatchObject({ code: 'INVALID_COMMAND', issues: [expect.objectContaining({ path: ['op'] })] });
    const notSuperjson = await post(target, clientApiPaths.propose, JSON.stringify({ command: 'put k v' }));
    expect(notSuperjson).toMatchObject({ status: 400, error: { code: 'INVALID_COMMAND' } });
    const registrationWithCommand = await post(target, clientApiPaths.propose, JSON.stringify({ command: 'x', session: { client: 'c', seq: 0, ack: 0 } }));
    expect(registrationWithCommand.error?.code).toBe('BAD_REQUEST');

    const valid = superjson.stringify({ op: 'put', key: 'ghost', value: 'boo' } satisfies KvCommand);
    const unknownSession = await post(target, clientApiPaths.propose, JSON.stringify({ command: valid, session: { client: 'never-opened', seq: 1, ack: 1 } }));
    expect(unknownSession).toMatchObject({ status: 410, error: { code: 'SESSION_EXPIRED' } });
    const badMember = await post(target, clientApiPaths.removeMember, JSON.stringify({ id: '' }));
    expect(badMember.error?.code).toBe('BAD_REQUEST');

    // Nothing reached any state machine. (The unknown session's entry is in the log, and was refused when applied.)
    const { commitIndex } = target.node.status();
    await waitFor(() => members.every((member) => member.node.status().appliedIndex >= commitIndex), 'every node applying the refusals');
    expect(data()).toBe(before);
    expect(members.some((member) => member.store.data.has('ghost'))).toBe(false);
  });

  it('hands the client the same typed errors as the node', { timeout: 15_000 }, async () => {
    const client = createClient<KvCommand, string | null>({ nodes: members.map((member) => member.address), timeoutMs: 5000 });
    try {
      await expect(client.propose({ op: 'explode' } as unknown as KvCommand)).rejects.toBeInstanceOf(InvalidCommandError);
      await expect(client.removeMember('n9')).rejects.toMatchObject({ constructor: MembershipChangeError, reason: 'NOT_A_MEMBER' });
      const withSchema = createClient<KvCommand, string | null>({ nodes: [members[0]!.address], commandSchema: kvCommand });
      // Checked before anything is sent.
      await expect(withSchema.propose({ op: 'put' } as KvCommand)).rejects.toBeInstanceOf(InvalidCommandError);
      withSchema.close();
      const session = await client.openSession();
      await expect(session.propose({ op: 'put', key: 's', value: '1' })).resolves.toBe('1');
      expect(session.id).toMatch(/^[\w-]{21}$/);
      await expect(client.status({ node: '127.0.0.1:1', timeoutMs: 500 })).rejects.toMatchObject({ code: 'TIMEOUT' });
      await expect(client.transferLeadership('n9')).rejects.toBeInstanceOf(MembershipChangeError);
    } finally {
      client.close();
    }
  });
});

describe('following the leader', () => {
  it('finds the leader through a follower, follows a transfer, and a stopped leader, within the deadline', { timeout: 25_000 }, async () => {
    const first = await leader();
    const follower = members.find((member) => member !== first)!;
    const client = createClient<KvCommand, string | null>({ nodes: [follower.address], timeoutMs: 8000 });
    try {
      const status = await client.status();
      expect(status).toMatchObject({ id: first.id, role: 'leader', members: ['n1', 'n2', 'n3'] });
      expect(status.addresses).toEqual(Object.fromEntries(members.map((member) => [member.id, member.address])));
      expect(await client.propose({ op: 'put', key: 'a', value: '1' })).toBe('1');
      expect(client.leaderAddress).toBe(first.address);
      expect(await client.members()).toMatchObject({ voters: ['n1', 'n2', 'n3'], learners: [] });

      // A transfer through the client: it reaches the leader, and the client goes to the new one.
      const target = members.find((member) => member !== first && member !== follower)!;
      expect(await client.transferLeadership(target.id)).toBe(target.id);
      expect(client.leaderAddress).toBe(target.address);
      expect(await client.propose({ op: 'append', key: 'a', suffix: '2' })).toBe('12');

      // The leader stops: the client's next proposal finds whoever leads next.
      target.stopped = true;
      await target.node.stop();
      await target.network.close();
      expect(await client.propose({ op: 'append', key: 'a', suffix: '3' })).toBe('123');
      const next = await leader();
      expect(client.leaderAddress).toBe(next.address);
      expect(next.store.data.get('a')).toBe('123');
    } finally {
      client.close();
    }
  });
});
