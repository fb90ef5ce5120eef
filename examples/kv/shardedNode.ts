/**
 * One node of the sharded key-value store (`npm run kv -- --groups N ...`): N Raft groups on one `RaftHost`, sharing
 * one HTTP/2 endpoint for peers (`Http2HostNetwork`), one LevelDB for every group's log, and one timer wheel. Keys
 * are hashed to groups, so the keyspace is spread over N independent logs, whose leaders spread over the nodes.
 *
 * The HTTP API is the single-group node's (`PUT|GET|DELETE /kv/:key`, `POST /kv/:key/append`), and every node
 * answers every key: a write on a node that does not lead the key's group is forwarded within the group, a read is a
 * linearizable ReadIndex of the group (or `?consistency=lease|stale`). `GET /status` says how the groups stand:
 * `groups: { total, withLeader, leading, quiesced }`; `GET /status/groups/:group` shows one group.
 *
 * The cluster is static (`--peers`): every node hosts every group, with the same members.
 */
import type { IncomingMessage } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { SharedLevelLogStores } from '../../actors/log-store/SharedLevelLogStores.js';
import { Http2HostNetwork } from '../../actors/network/Http2HostNetwork.js';
import { RaftHost } from '../../src/index.js';
import { splitAddress } from '../../src/process/index.js';
import { groupOfKey } from './shards.js';
import { KvStore, kvCommand, type KvCommand } from './store.js';
import { HttpError, serveHttp, type Answer, type RequestTarget } from './http.js';

export interface ShardedKvNodeOptions {
  readonly id: string;
  readonly raft: string; // host:port for peer hosts
  readonly http: string; // host:port of the client API
  /** Every node: id -> raft address, this node included. */
  readonly peers: Readonly<Record<string, string>>;
  readonly groups: number;
  readonly data: string;
  readonly clusterId?: string;
  /** Default 1000 ms, 3000 ms beyond 1,000 groups. */
  readonly electionTimeoutMs?: number;
  readonly log?: (line: string) => void;
}
export type ShardedKvNode = Awaited<ReturnType<typeof startShardedKvNode>>;

/** Most groups one node hosts (each costs a statechart and a core). */
export const MAX_GROUPS = 100_000;
/** Beyond this many groups the default election timeout is 3 s instead of 1 s. */
const MANY_GROUPS = 1000;

export async function startShardedKvNode(options: ShardedKvNodeOptions) {
  const { id, raft, http, peers, groups, clusterId = 'xraft-kv' } = options;
  // A cold start runs an election per group: with thousands of groups a process cannot answer every group's
  // heartbeats within a 1 s timeout until they quiesce, and followers would campaign again and again.
  const electionTimeoutMs = options.electionTimeoutMs ?? (groups > MANY_GROUPS ? 3000 : 1000);
  if (!Number.isInteger(groups) || groups < 1 || groups > MAX_GROUPS) throw new Error(`--groups is an integer in 1..${MAX_GROUPS}, not ${groups}`);
  if (!(id in peers)) throw new Error(`--peers must name this node (${id}) too: a sharded cluster is static`);
  const members = Object.keys(peers);
  const network = new Http2HostNetwork({ id, clusterId, peers, listen: splitAddress(raft), log: options.log });
  await network.listen();
  const stores = new SharedLevelLogStores({ location: options.data, clusterId, nodeId: id });
  const host = new RaftHost<KvCommand, KvStore>({
    id, network, logStore: (group) => stores.store(group), config: { electionTimeoutMs, heartbeatIntervalMs: Math.ceil(electionTimeoutMs / 8) },
  });
  const names = Array.from({ length: groups }, (_, shard) => `kv-${shard}`);
  for (const name of names) host.createGroup(name, { members, commandSchema: kvCommand, stateMachine: new KvStore() });
  const groupOf = (key: string): string => names[groupOfKey(key, groups)]!;
  // The process's own metrics (memory, GC pauses, event-loop delay): with thousands of groups the heap is large, and
  // its collections are what to watch. Per-group metrics would be thousands of series; /status has the counts.
  const processMetrics = new Registry();
  processMetrics.setDefaultLabels({ node: id });
  collectDefaultMetrics({ register: processMetrics });

  async function serve({ method = 'GET' }: IncomingMessage, url: RequestTarget, body: string): Promise<Answer> {
    const [, first = '', param = '', rest = ''] = url.pathname.split('/').map(decodeURIComponent);
    const route = first === 'kv' && param !== '' ? `${method} /kv/:key${rest === '' ? '' : `/${rest}`}` : `${method} ${url.pathname.replace(/^\/status\/groups\/[^/]+$/, '/status/groups/:group')}`;
    switch (route) {
      case 'PUT /kv/:key':
        return await host.propose(groupOf(param), { op: 'put', key: param, value: body }), { status: 204 };
      case 'POST /kv/:key/append':
        return { status: 200, text: (await host.propose(groupOf(param), { op: 'append', key: param, suffix: body })) ?? '' };
      case 'DELETE /kv/:key':
        return await host.propose(groupOf(param), { op: 'delete', key: param }), { status: 204 };
      case 'GET /kv/:key': {
        const consistency = url.searchParams.get('consistency') ?? 'linearizable';
        if (!['linearizable', 'lease', 'stale'].includes(consistency)) throw new HttpError(400, 'BAD_REQUEST', 'consistency is linearizable, lease or stale');
        const value = await host.read(groupOf(param), (kv) => kv.data.get(param), { consistency: consistency as 'lease' });
        if (value === undefined) throw new HttpError(404, 'NOT_FOUND', `no key ${JSON.stringify(param)}`);
        return { status: 200, text: value };
      }
      case 'GET /status':
        return { status: 200, body: { ...host.status(), clusterId, raft, http, members, network: network.stats } };
      case 'GET /metrics':
        return { status: 200, text: await processMetrics.metrics(), type: processMetrics.contentType };
      case 'GET /status/groups/:group': {
        const group = decodeURIComponent(url.pathname.slice('/status/groups/'.length));
        if (host.group(group) === undefined) throw new HttpError(404, 'NOT_FOUND', `no group ${JSON.stringify(group)}`);
        return { status: 200, body: host.groupStatus(group) };
      }
      default:
        throw new HttpError(404, 'NOT_FOUND', `no route ${method} ${url.pathname}`);
    }
  }
  const server = await serveHttp(http, serve);
  const stop = async (): Promise<void> => {
    await Promise.all([host.close().then(() => stores.close()), server.close()]);
  };
  return { host, network, http, groupOf, stop };
}
