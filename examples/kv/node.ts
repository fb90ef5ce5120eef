/**
 * One node of the replicated key-value store: a Raft node (FileLogStore or LevelLogStore, Http2Network) and an
 * HTTP/1.1 client API.
 *
 * Any node answers any request: writes and linearizable reads reach the leader through Raft itself (forwarded
 * proposals, ReadIndex); membership changes, which only the leader makes, go to it through `xraft/client` on the
 * raft ports. Errors are JSON: `{ "error": { "code", "message", "leaderHint"? } }`.
 *
 * Joining is the framework's: a node started with `join` (any member's raft address) asks through `xraft/client`;
 * the leader adds it as a learner with its raft address, recorded in the configuration (so every node, a later one
 * too, learns where it is from the log), and promotes it once it has caught up. A node whose data directory already
 * holds a log has joined before and does not ask again. The state machine holds no addresses.
 */
import type { IncomingMessage } from 'node:http';
import http2 from 'node:http2';
import { openDiskLogStore } from '../../actors/log-store/diskLogStore.js';
import { createRaftNode, FixedTimeout, RealTimer, type RaftNode } from '../../src/index.js';
import { serveClientApi } from '../../src/clientApi.js';
import { KvStore, kvCommand, type KvCommand } from './store.js';
import { createClient } from '../../src/client/index.js';
import { createNodeFeed, fromLoopback, serveFeed } from '../../src/dashboard/index.js';
import { createNodeMetrics } from '../../src/metrics.js';
import { splitAddress } from '../../src/process/index.js';
import { CuttableNetwork } from './cuttableNetwork.js';
import { HttpError, serveHttp, type Answer, type RequestTarget } from './http.js';

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
  readonly snapshotEvery?: number; // entries between snapshots (default SNAPSHOT_EVERY), keeping a tenth of them behind
  /**
   * Where the log lives: `file` (the default), one file written and synced on the event loop (FileLogStore: the
   * fewest thread hops, for SSDs), or `level`, LevelDB (LevelLogStore: writes off the event loop, for slow disks).
   * A data directory that already holds one keeps it; asking for the other there is an error.
   */
  readonly logStore?: 'file' | 'level';
  readonly log?: (line: string) => void; // refusals (of ours by peers, of theirs by us) and connection problems
  /** Serve the node's inspection events and status at `GET /dashboard/feed` (SSE) for a dashboard to follow. */
  readonly dashboardFeed?: boolean;
}
export type KvNode = Awaited<ReturnType<typeof startKvNode>>;
const SNAPSHOT_CHUNK_BYTES = 1 << 20;
/**
 * A KV snapshot writes every key: at 100,000 keys (12 MB) the framework's default of a snapshot every 8,192 entries
 * wrote 1.5 KB of snapshot per 100-byte write, and its bursts were most of a sustained load's stalls. Every 32,768
 * entries quarters that for about 10 MB more of log in memory (etcd 3.4 snapshots every 100,000).
 */
export const SNAPSHOT_EVERY = 32_768;

export async function startKvNode(options: KvNodeOptions) {
  const { id, raft, http, clusterId = 'xraft-kv', electionTimeoutMs = 1000, snapshotEvery = SNAPSHOT_EVERY } = options;
  const store = new KvStore();
  const metrics = createNodeMetrics({ labels: { node: id }, process: true }); // a process of its own: its memory and GC too
  const feed = options.dashboardFeed === true ? createNodeFeed() : null;
  const logStore = openDiskLogStore({ location: options.data, identity: { clusterId, nodeId: id }, observer: metrics.logStoreObserver }, options.logStore, 'file');
  const recovered = await logStore.open();
  const joined = recovered.entries.length > 0 || recovered.hardState.term > 0 || (recovered.snapshot ?? null) !== null;
  const peers = options.peers ?? (options.join === undefined ? { [id]: raft } : {});
  const network = new CuttableNetwork({ id, clusterId, peers, listen: splitAddress(raft), log: options.log });
  await network.listen();
  const bootstrap = id in peers;
  const node: RaftNode<KvCommand, string | null, KvStore> = createRaftNode({
    id, members: bootstrap ? Object.keys(peers) : [], ...(bootstrap ? { addresses: peers } : {}), commandSchema: kvCommand, stateMachine: store, network, logStore, inspect: feed?.inspect,
    timer: new RealTimer(options.failureDetector === 'fixed' ? { failureDetector: new FixedTimeout() } : {}),
    // A snapshot is stored chunk by chunk, each chunk a turn of the log store's write queue (behind the writes queued
    // before it): 1 MiB chunks make a 12 MB snapshot (100,000 keys) a dozen turns instead of the default's 90.
    snapshotChunkBytes: SNAPSHOT_CHUNK_BYTES,
    config: { electionTimeoutMs, heartbeatIntervalMs: Math.ceil(electionTimeoutMs / 8), snapshotThreshold: snapshotEvery, snapshotTrailingEntries: Math.floor(snapshotEvery / 10) },
  });

  // xraft/client's API on the raft port: proposals (commands as superjson text), sessions, status, membership.
  serveClientApi(network, node, { address: raft });

  // Proposals and reads made during an election wait for the new leader (the node does it: no retry loop here).
  metrics.observe(node);
  feed?.attach(node);
  const propose = (command: KvCommand) => metrics.timeProposal(node.propose(command));

  // Membership changes go to the leader through the client API on the raft ports (this node's own follows the leader).
  const members = createClient({ nodes: [raft] });
  /** Where every member's raft port is (the configuration's addresses, and the peers configured at start). */
  const addresses = (): Record<string, string> => ({ ...network.peers(), ...node.members().addresses, [id]: raft });
  /** Where members' HTTP APIs are, asked of their raft ports (`GET /kv/v1/about`) as they appear, for dashboards. */
  const httpAddresses = new Map<string, string>([[id, http]]);
  network.route('GET', '/kv/v1/about', () => ({ status: 200, body: { id, http } }));
  const learnHttpAddresses = (): void => {
    for (const [member, address] of Object.entries(addresses())) {
      if (httpAddresses.has(member)) continue;
      void get(address, '/kv/v1/about').then(
        ({ status, text }) => status === 200 && httpAddresses.set(member, (JSON.parse(text) as { http: string }).http),
        () => undefined,
      );
    }
  };

  async function serve(request: IncomingMessage, url: RequestTarget, body: string): Promise<Answer> {
    const segments = url.pathname.split('/');
    const route = `${request.method} ${routeOf(segments)}`;
    const [, , param = '', target = ''] = segments.map(decodeURIComponent);
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
        const value = await node.read((kv) => kv.data.get(param), { consistency: consistency as 'lease' });
        if (value === undefined) throw new HttpError(404, 'NOT_FOUND', `no key ${JSON.stringify(param)}`);
        return { status: 200, text: value };
      }
      case 'GET /status':
        return { status: 200, body: { ...node.status(), clusterId, raft, http, addresses: addresses() } };
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
        return { status: 200, body: { ...node.members(), addresses: addresses() } };
      case 'POST /admin/members': {
        const { id: joiner, raft: address } = JSON.parse(body) as { id?: unknown; raft?: unknown };
        if (typeof joiner !== 'string' || typeof address !== 'string') throw new HttpError(400, 'BAD_REQUEST', 'expected { id, raft }');
        const joined = await members.join({ id: joiner, address });
        return { status: 200, body: { clusterId, voters: joined.voters, learners: joined.learners, addresses: joined.addresses } };
      }
      case 'DELETE /admin/members/:id':
        return await members.removeMember(target), { status: 204 };
      case 'POST /admin/transfer-leader':
        return { status: 200, body: { leader: await members.transferLeadership(body === '' ? undefined : (JSON.parse(body) as { to?: string }).to) } };
      default:
        throw new HttpError(404, 'NOT_FOUND', `no route ${request.method} ${url.pathname}`);
    }
  }
  const server = await serveHttp(http, serve, (request, response) => {
    if (feed === null || request.method !== 'GET' || request.url !== '/dashboard/feed') return false;
    serveFeed(feed, request, response);
    return true;
  });
  const stop = async (): Promise<void> => {
    feed?.close();
    members.close();
    await Promise.all([node.stop().then(() => logStore.close()), network.close(), server.close()]);
  };

  node.on('membershipChanged', learnHttpAddresses);
  learnHttpAddresses();

  if (options.join !== undefined && !joined) {
    const through = createClient({ nodes: [options.join] });
    try {
      const answer = await through.join({ id, address: raft });
      // Until the log reaches this node, the members it will hear from are those the answer names.
      for (const [peer, address] of Object.entries(answer.addresses ?? {})) network.setPeer(peer, address);
    } catch (error) {
      await stop();
      const { reason, code } = error as { reason?: string; code?: string };
      throw new Error(`cannot join through ${options.join}: ${reason ?? code ?? 'ERROR'} ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      through.close();
    }
  }
  return { node, store, network, http, httpAddresses, metrics, stop };
}

/**
 * The route a path's segments (`pathname.split('/')`) take: `/kv/<key>...` as `/kv/:key...` and `/admin/members/<id>`
 * as `/admin/members/:id`, any other path as it is. No regular expression: a write to a key is most of the traffic.
 */
function routeOf(segments: readonly string[]): string {
  if (segments[1] === 'kv' && segments.length > 2 && segments[2] !== '') return ['/kv/:key', ...segments.slice(3)].join('/');
  if (segments.length === 4 && segments[1] === 'admin' && segments[2] === 'members' && segments[3] !== '') return '/admin/members/:id';
  return segments.join('/');
}

/** One HTTP/2 GET (the raft port speaks HTTP/2 only). */
function get(address: string, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`).on('error', reject);
    const stream = session.request({ ':method': 'GET', ':path': path }).on('error', (error) => (session.close(), reject(error)));
    const chunks: Buffer[] = [];
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status']))).on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => (session.close(), resolve({ status, text: Buffer.concat(chunks).toString('utf8') }))).end();
  });
}
