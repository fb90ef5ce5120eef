/**
 * One node of the replicated key-value store: a Raft node (LevelLogStore, Http2Network) and an HTTP/1.1 client API.
 *
 * Any node answers any request: writes and linearizable reads reach the leader through Raft itself (forwarded
 * proposals, ReadIndex); membership changes, which only the leader makes, are proxied to the leader's HTTP address
 * found in the replicated address book. Errors are JSON: `{ "error": { "code", "message", "leaderHint"? } }`.
 *
 * Joining: a node started with `join` (any member's raft address) posts its id and addresses to that member's
 * `/kv/v1/join` (on the raft port); the leader records the addresses, adds the node as a learner, and promotes it
 * once it has caught up. A node whose data directory already holds a log has joined before and does not ask again.
 */
import { createServer, type IncomingMessage } from 'node:http';
import http2 from 'node:http2';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { createRaftNode, FixedTimeout, MembershipChangeError, NotLeaderError, RealTimer, type RaftNode } from '../../src/index.js';
import { serveClientApi } from '../../src/clientApi.js';
import { errorResponse } from '../../src/process/index.js';
import { KvStore, kvCommand, type KvCommand, type NodeAddress } from './store.js';
import { createNodeFeed, fromLoopback, serveFeed } from '../../src/dashboard/index.js';
import { createNodeMetrics } from '../../src/metrics.js';
import { CuttableNetwork } from './cuttableNetwork.js';

export interface KvNodeOptions {
  readonly id: string;
  readonly raft: string; // host:port for peers and joining nodes
  readonly http: string; // host:port of the client API
  /** Static cluster: id -> raft address, this node included. Without it and without `join`: a one-node cluster. */
  readonly peers?: Readonly<Record<string, string>>;
  readonly join?: string; // raft address of any member to join through
  readonly data: string;
  readonly clusterId?: string;
  readonly electionTimeoutMs?: number;
  /** How a follower suspects a silent leader: φ accrual (the default, adaptive) or the core's fixed timeout. */
  readonly failureDetector?: 'phi' | 'fixed';
  readonly snapshotEvery?: number; // entries between snapshots (default 8192), keeping a tenth of them behind
  readonly log?: (line: string) => void; // refusals (of ours by peers, of theirs by us) and connection problems
  /** Serve the node's inspection events and status at `GET /dashboard/feed` (SSE) for a dashboard to follow. */
  readonly dashboardFeed?: boolean;
}
export type KvNode = Awaited<ReturnType<typeof startKvNode>>;
/** A response: JSON `body`, or `text` (with its content type when proxied). */
type Answer = { status: number; body?: unknown; text?: string; type?: string };
class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); } // prettier-ignore
}
const pause = (ms: number): Promise<void> => new Promise((resume) => setTimeout(resume, ms));

export async function startKvNode(options: KvNodeOptions) {
  const { id, raft, http, clusterId = 'xraft-kv', electionTimeoutMs = 1000 } = options;
  const store = new KvStore();
  const metrics = createNodeMetrics({ labels: { node: id } });
  const feed = options.dashboardFeed === true ? createNodeFeed() : null;
  const logStore = new LevelLogStore({ location: options.data, identity: { clusterId, nodeId: id }, observer: metrics.logStoreObserver });
  const recovered = await logStore.open();
  const joined = recovered.entries.length > 0 || recovered.hardState.term > 0 || (recovered.snapshot ?? null) !== null;
  const peers = options.peers ?? (options.join === undefined ? { [id]: raft } : {});
  const network = new CuttableNetwork({ id, clusterId, peers, listen: split(raft), log: options.log });
  store.onAddress = (peer, address) => network.setPeer(peer, address.raft);
  await network.listen();
  const node: RaftNode<KvCommand, string | null, KvStore> = createRaftNode({
    id, members: id in peers ? Object.keys(peers) : [], commandSchema: kvCommand, stateMachine: store, network, logStore, inspect: feed?.inspect,
    timer: new RealTimer(options.failureDetector === 'fixed' ? { failureDetector: new FixedTimeout() } : {}),
    config: { electionTimeoutMs, heartbeatIntervalMs: Math.ceil(electionTimeoutMs / 8), ...(options.snapshotEvery === undefined ? {} : { snapshotThreshold: options.snapshotEvery, snapshotTrailingEntries: Math.floor(options.snapshotEvery / 10) }) },
  });

  // xraft/client's API on the raft port: proposals (commands as superjson text), sessions, status, membership.
  serveClientApi(network, node, { address: raft });

  /** Retry what was refused unlogged (no leader yet, or the one we knew is gone: an election is under way), 5 s at most. */
  async function withLeader<T>(operation: () => Promise<T>, deadline = Date.now() + 5000): Promise<T> {
    for (;;) {
      try {
        return await operation();
      } catch (error) {
        if (!(error instanceof NotLeaderError && error.outcome === 'not-appended') || Date.now() > deadline) throw error;
        await pause(50);
      }
    }
  }
  metrics.observe(node);
  feed?.attach(node);
  const propose = (command: KvCommand) => metrics.timeProposal(withLeader(() => node.propose(command)));

  /** Run `handle` on the leader: here when this node leads, else proxied once to the leader's HTTP address. */
  async function onLeader(request: IncomingMessage | null, body: string, path: string, handle: () => Promise<Answer>): Promise<Answer> {
    for (let deadline = Date.now() + 5000; node.status().leader === null && Date.now() < deadline; ) await pause(50);
    const { role, leader } = node.status();
    if (role === 'leader' || request?.headers['x-kv-forwarded'] !== undefined) return handle();
    const to = leader === null ? undefined : store.addresses.get(leader)?.http;
    if (to === undefined) throw new HttpError(503, 'NOT_LEADER', `no known leader to forward to (leader ${leader})`);
    const answer = await fetch(`http://${to}${path}`, { method: request?.method ?? 'POST', body: body === '' ? undefined : body, headers: { 'x-kv-forwarded': id } });
    return { status: answer.status, text: await answer.text(), type: answer.headers.get('content-type') ?? undefined };
  }

  /** The leader's side of a join: refuse a member or a taken address, record the addresses, add a learner. */
  async function addMember(body: string): Promise<Answer> {
    const parsed = kvCommand.safeParse({ ...(JSON.parse(body) as object), op: 'address' });
    if (!parsed.success || parsed.data.op !== 'address') throw new HttpError(400, 'BAD_REQUEST', 'expected { id, raft, http }');
    const joiner = parsed.data;
    const { voters, learners } = node.members();
    if ([...voters, ...learners].includes(joiner.id)) throw new HttpError(409, 'ALREADY_MEMBER', `${joiner.id} is already a member`);
    const taken = Object.entries({ ...network.peers(), [id]: raft }).find(([other, address]) => other !== joiner.id && address === joiner.raft);
    if (taken !== undefined) throw new HttpError(409, 'ADDRESS_CONFLICT', `${joiner.raft} is the address of ${taken[0]}`);
    await node.propose(joiner);
    await node.addLearner(joiner.id, { promote: true });
    return { status: 200, body: { clusterId, ...node.members(), addresses: Object.fromEntries(store.addresses) } };
  }
  network.route('POST', '/kv/v1/join', async ({ body }) => {
    const answer = await toRoute(() => onLeader(null, body.toString(), '/admin/members', () => addMember(body.toString())));
    return { status: answer.status, body: answer.text === undefined ? answer.body : JSON.parse(answer.text) };
  });

  async function serve(request: IncomingMessage, body: string): Promise<Answer> {
    const url = new URL(request.url ?? '/', 'http://kv');
    const route = `${request.method} ${url.pathname.replace(/^\/kv\/[^/]+/, '/kv/:key').replace(/^\/admin\/members\/[^/]+$/, '/admin/members/:id')}`;
    const [, , param = '', target = ''] = url.pathname.split('/').map(decodeURIComponent);
    const addresses = Object.fromEntries(store.addresses);
    switch (route) {
      case 'PUT /kv/:key':
        return await propose({ op: 'put', key: param, value: body }), { status: 204 };
      case 'POST /kv/:key/append':
        return { status: 200, text: (await propose({ op: 'append', key: param, suffix: body })) ?? '' };
      case 'DELETE /kv/:key':
        return await propose({ op: 'delete', key: param }), { status: 204 };
      case 'GET /kv/:key': {
        const consistency = url.searchParams.get('consistency') ?? 'linearizable';
        if (!['linearizable', 'lease', 'stale'].includes(consistency)) throw new HttpError(400, 'BAD_REQUEST', 'consistency is linearizable, lease or stale');
        const value = await withLeader(() => node.read((kv) => kv.data.get(param), { consistency: consistency as 'lease' }));
        if (value === undefined) throw new HttpError(404, 'NOT_FOUND', `no key ${JSON.stringify(param)}`);
        return { status: 200, text: value };
      }
      case 'GET /status':
        return { status: 200, body: { ...node.status(), clusterId, raft, http, addresses } };
      case 'GET /metrics':
        return { status: 200, text: await metrics.render(), type: metrics.contentType };
      case 'POST /admin/test/link': {
        // A test and demo control (the dashboard's cut and heal): loopback only.
        if (!fromLoopback(request)) throw new HttpError(403, 'FORBIDDEN', 'link controls answer loopback requests only');
        const peer = url.searchParams.get('peer') ?? '';
        network.setLinkCut(peer, url.searchParams.get('cut') === '1');
        return { status: 200, body: { cut: network.cutLinks() } };
      }
      case 'GET /admin/members':
        return { status: 200, body: { ...node.members(), addresses } };
      case 'POST /admin/members':
        return onLeader(request, body, url.pathname, () => addMember(body));
      case 'DELETE /admin/members/:id':
        return onLeader(request, body, url.pathname, async () => (await node.removeMember(target), { status: 204 }));
      case 'POST /admin/transfer-leader':
        return onLeader(request, body, url.pathname, async () => {
          await node.transferLeadership(body === '' ? undefined : (JSON.parse(body) as { to?: string }).to);
          return { status: 200, body: { leader: node.status().leader } };
        });
      default:
        throw new HttpError(404, 'NOT_FOUND', `no route ${request.method} ${url.pathname}`);
    }
  }
  const server = createServer((request, response) => {
    if (feed !== null && request.method === 'GET' && request.url === '/dashboard/feed') return serveFeed(feed, request, response);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void toRoute(() => serve(request, Buffer.concat(chunks).toString('utf8'))).then(({ status, body, text, type }) => {
        if (status === 204) response.writeHead(204).end();
        else if (text !== undefined) response.writeHead(status, { 'content-type': type ?? 'text/plain; charset=utf-8' }).end(text);
        else response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(split(http).port, split(http).host, resolve));
  let stopped = false;
  const stop = async (): Promise<void> => {
    stopped = true;
    server.closeAllConnections();
    feed?.close();
    await Promise.all([node.stop().then(() => logStore.close()), network.close(), new Promise((resolve) => server.close(resolve))]);
  };

  // Every node records its own addresses, so that proxies and nodes added later can find it.
  const register = (): void => {
    const known = store.addresses.get(id);
    if (stopped || (known?.raft === raft && known.http === http) || node.status().leader === null) return;
    node.propose({ op: 'address', id, raft, http }).catch(() => setTimeout(register, 500).unref());
  };
  node.on('leaderChanged', register);
  register();

  if (options.join !== undefined && !joined) {
    const answer = await post(options.join, '/kv/v1/join', JSON.stringify({ id, raft, http })).catch((error: Error) => ({ status: 0, text: JSON.stringify({ error: { code: 'UNREACHABLE', message: error.message } }) }));
    const parsed = JSON.parse(answer.text) as { clusterId?: string; addresses?: Record<string, NodeAddress>; error?: { code: string; message: string } };
    if (answer.status !== 200 || parsed.clusterId !== clusterId) {
      await stop();
      throw new Error(`cannot join through ${options.join}: ${parsed.error?.code ?? 'WRONG_CLUSTER'} ${parsed.error?.message ?? parsed.clusterId}`);
    }
    for (const [peer, address] of Object.entries(parsed.addresses ?? {})) network.setPeer(peer, address.raft);
  }
  return { node, store, network, http, metrics, stop };
}

/** A handler's answer, or its failure as a JSON error. */
async function toRoute(handle: () => Promise<Answer>): Promise<Answer> {
  try {
    return await handle();
  } catch (error) {
    if (error instanceof HttpError) return { status: error.status, body: { error: { code: error.code, message: error.message } } };
    if (error instanceof MembershipChangeError) return { status: 409, body: { error: { code: error.reason, message: error.message } } };
    if (error instanceof SyntaxError) return { status: 400, body: { error: { code: 'BAD_REQUEST', message: error.message } } };
    return errorResponse(error);
  }
}

function split(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

/** One HTTP/2 POST (the raft port speaks HTTP/2 only). */
function post(address: string, path: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`).on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' }).on('error', reject);
    const chunks: Buffer[] = [];
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status']))).on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => (session.close(), resolve({ status, text: Buffer.concat(chunks).toString('utf8') }))).end(body);
  });
}
