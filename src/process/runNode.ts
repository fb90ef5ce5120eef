/**
 * Run one Raft node as a process: a LevelLogStore in the data directory, an Http2Network on the listen address
 * (TLS when configured), and on the same HTTP/2 server:
 *
 * - the client API of `xraft/client` under `/xraft/v1/client/` (src/clientApi.ts): proposals, sessions, status,
 *   membership changes, leadership transfers;
 * - whatever routes the app adds (the built-in key-value app: `GET /client/kv[?key=K][&consistency=stale|lease]`);
 * - `GET /metrics`: the node's metrics in the Prometheus text format (src/metrics.ts), client API proposals timed;
 * - with `dashboardFeed`, `GET /dashboard/feed`: the node's inspection events and status as SSE (src/dashboard/).
 *
 * `stop()` is the graceful shutdown: the node stops (waiting callers get STOPPED), the log store finishes and syncs
 * the writes it was given and closes, and every HTTP/2 session is closed.
 *
 * @example
 * const running = await startNodeProcess(loadConfig('node.json'));
 * process.once('SIGTERM', () => void running.stop().then(() => process.exit(0)));
 */
import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerHttp2Stream } from 'node:http2';
import type { z } from 'zod';
import type { FileLogStore } from '../../actors/log-store/FileLogStore.js';
import { openDiskLogStore } from '../../actors/log-store/diskLogStore.js';
import type { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { Http2Network, NetworkListenError, type RouteHandler, type RouteResponse } from '../../actors/network/Http2Network.js';
import type { StateMachine } from '../../actors/state-machine/StateMachine.js';
import { createRaftNode, type RaftNode, type ResultOf } from '../createRaftNode.js';
import { clientErrorResponse, serveClientApi } from '../clientApi.js';
import { createNodeFeed, type NodeFeed } from '../dashboard/nodeFeed.js';
import { createNodeMetrics, type NodeMetrics } from '../metrics.js';
import { DEFAULT_SNAPSHOT_CHUNK_BYTES } from '../node/runtime.js';
import { NodeProcessError, splitAddress, type NodeProcessConfig } from './config.js';
import { KeyValueStateMachine, keyValueCommandSchema, type KeyValueCommand } from './KeyValueStateMachine.js';

/** What a process runs: the command schema, a fresh state machine, and optional extra client routes. */
export interface NodeProcessApp<Command, SM extends StateMachine<Command, unknown, unknown>> {
  readonly commandSchema: z.ZodType<Command>;
  createStateMachine(): SM;
  /** Add routes to the node's HTTP/2 server (paths under `/client/` by convention). */
  routes?(add: (method: string, path: string, handler: RouteHandler) => void, node: RaftNode<Command, ResultOf<SM>, SM>, stateMachine: SM): void;
}

/** The built-in app: a key-value map, with `GET /client/kv`. */
export const keyValueApp: NodeProcessApp<KeyValueCommand, KeyValueStateMachine> = {
  commandSchema: keyValueCommandSchema,
  createStateMachine: () => new KeyValueStateMachine(),
  routes(add, node) {
    add('GET', '/client/kv', async ({ query }) => {
      const consistency = query.get('consistency') ?? 'linearizable';
      if (consistency !== 'linearizable' && consistency !== 'lease' && consistency !== 'stale') {
        return { status: 400, body: { error: { code: 'BAD_REQUEST', message: 'consistency is linearizable, lease or stale' } } };
      }
      const key = query.get('key');
      try {
        const body = await node.read((kv) => (key === null ? { entries: Object.fromEntries(kv.data) } : { value: kv.data.get(key) ?? null }), { consistency });
        return { status: 200, body };
      } catch (error) {
        return errorResponse(error);
      }
    });
  },
};

export interface RunningNode<Command, SM extends StateMachine<Command, unknown, unknown>> {
  readonly node: RaftNode<Command, ResultOf<SM>, SM>;
  readonly network: Http2Network;
  readonly store: LevelLogStore | FileLogStore;
  readonly stateMachine: SM;
  /** What `GET /metrics` serves. */
  readonly metrics: NodeMetrics;
  /** What `GET /dashboard/feed` serves, when the config asks for it. */
  readonly feed: NodeFeed | null;
  /** The port the node listens on. */
  readonly port: number;
  /** Graceful shutdown. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions<Command, SM extends StateMachine<Command, unknown, unknown>> {
  readonly app?: NodeProcessApp<Command, SM>;
  readonly log?: (line: string) => void;
}

export function startNodeProcess(config: NodeProcessConfig, options?: { log?: (line: string) => void }): Promise<RunningNode<KeyValueCommand, KeyValueStateMachine>>;
export function startNodeProcess<Command, SM extends StateMachine<Command, unknown, unknown>>(
  config: NodeProcessConfig,
  options: StartOptions<Command, SM> & { readonly app: NodeProcessApp<Command, SM> },
): Promise<RunningNode<Command, SM>>;
/** Open the store, listen, and start the node. Rejects with `NodeProcessError` and a clear message when it cannot. */
export async function startNodeProcess<Command, SM extends StateMachine<Command, unknown, unknown>>(
  config: NodeProcessConfig,
  options: StartOptions<Command, SM> = {},
): Promise<RunningNode<Command, SM>> {
  const app = (options.app ?? keyValueApp) as unknown as NodeProcessApp<Command, SM>;
  const log = options.log ?? (() => undefined);
  const members = [...new Set([config.id, ...Object.keys(config.peers)])].sort();
  const peers = Object.fromEntries(Object.entries(config.peers).filter(([id]) => id !== config.id));
  const tls = config.tls === undefined ? undefined : readTlsFiles(config.tls);

  checkDataDir(config.dataDir);
  const metrics = createNodeMetrics({ labels: { node: config.id } });
  const feed = config.dashboardFeed ? createNodeFeed() : null;
  let store: LevelLogStore | FileLogStore;
  try {
    // The store the data directory holds; for a new one, the configured kind (LevelDB unless `logStore` says file).
    store = openDiskLogStore({ location: config.dataDir, identity: { clusterId: config.clusterId, nodeId: config.id, members }, observer: metrics.logStoreObserver }, config.logStore, 'level');
  } catch (error) {
    throw new NodeProcessError('STORE_FAILED', `cannot open the log in ${config.dataDir}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await store.open();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw new NodeProcessError('STORE_FAILED', `cannot open the log in ${config.dataDir}: ${(error as Error).message}`, { cause: error });
  }

  const listen = splitAddress(config.listen);
  const network = new Http2Network({
    id: config.id,
    clusterId: config.clusterId,
    peers,
    listen,
    tls,
    ...config.network,
    log: (line) => log(line),
  });
  let port: number;
  try {
    port = await network.listen();
  } catch (error) {
    await store.close().catch(() => undefined);
    feed?.close();
    if (error instanceof NetworkListenError) {
      throw new NodeProcessError(error.code === 'PORT_IN_USE' ? 'PORT_IN_USE' : 'LISTEN_FAILED', error.message, { cause: error });
    }
    throw error;
  }

  const stateMachine = app.createStateMachine();
  const node = createRaftNode({
    id: config.id,
    members,
    commandSchema: app.commandSchema,
    stateMachine,
    network,
    logStore: store,
    inspect: feed?.inspect,
    config: config.raft,
    // A chunk and its header must fit in a peer's request body limit (taken to be this node's), or it is refused forever.
    ...(config.network.maxBodyBytes === undefined ? {} : { snapshotChunkBytes: Math.min(DEFAULT_SNAPSHOT_CHUNK_BYTES, Math.floor(config.network.maxBodyBytes / 2)) }),
  });

  metrics.observe(node);
  feed?.attach(node);
  // The client API (xraft/client): proposals, sessions, status with the members' addresses, membership changes.
  // Its proposals are the ones this process receives: they are counted and timed.
  serveClientApi(network, node, { address: advertisedAddress(config.listen, port), observeProposal: (proposal) => metrics.timeProposal(proposal) });
  app.routes?.((method, path, handler) => network.route(method, path, handler), node, stateMachine);
  network.route('GET', '/metrics', async () => ({ status: 200, contentType: metrics.contentType, body: await metrics.render() }));
  const feedStreams = new Set<ServerHttp2Stream>();
  if (feed !== null) network.rawRoute('GET', '/dashboard/feed', (stream) => serveFeedStream(feed, stream, feedStreams));

  let stopping: Promise<void> | null = null;
  return {
    node,
    network,
    store,
    stateMachine,
    metrics,
    feed,
    port,
    stop() {
      stopping ??= (async () => {
        feed?.close();
        for (const stream of feedStreams) stream.end();
        await node.stop();
        await Promise.all([store.close(), network.close()]);
      })();
      return stopping;
    },
  };
}

/** The address clients reach this node at: the listen address, with the port taken when it was 0. */
function advertisedAddress(listen: string, port: number): string | undefined {
  const { host } = splitAddress(listen);
  if (host === '0.0.0.0' || host === '::') return undefined; // every interface: no one address to give out
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The node's feed as SSE on an HTTP/2 stream, as src/dashboard/feedRoute.ts serves it over HTTP/1.1: a comment line,
 * then one `data:` frame per batch until the client goes away or the process stops (`open` holds the live streams).
 */
function serveFeedStream(feed: NodeFeed, stream: ServerHttp2Stream, open: Set<ServerHttp2Stream>): void {
  stream.respond({ ':status': 200, 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  stream.write(': xraft node feed\n\n');
  open.add(stream);
  const unsubscribe = feed.subscribe((batch) => {
    if (!stream.destroyed && !stream.writableEnded) stream.write(`data: ${JSON.stringify(batch)}\n\n`);
  });
  stream.once('close', () => {
    unsubscribe();
    open.delete(stream);
  });
}

/** A proposal's or read's failure as an HTTP answer: the client API's error format (src/clientApi.ts). */
export function errorResponse(error: unknown): RouteResponse {
  return clientErrorResponse(error);
}

/** Create the data directory when missing and make sure it is a readable, writable directory. */
function checkDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true });
    if (!statSync(dataDir).isDirectory()) throw new Error('it is not a directory');
    accessSync(dataDir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'EEXIST' || (error as NodeJS.ErrnoException).code === 'ENOTDIR'
      ? 'a file is in the way'
      : (error as Error).message;
    throw new NodeProcessError('DATA_DIR_UNUSABLE', `the data directory ${dataDir} cannot be used: ${reason}`, { cause: error });
  }
}

function readTlsFiles(tls: NonNullable<NodeProcessConfig['tls']>) {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new NodeProcessError('TLS_FILES_UNREADABLE', `cannot read the TLS ${what} ${path}: ${(error as Error).message}`, { cause: error });
    }
  };
  return {
    cert: read('certificate', tls.cert),
    key: read('key', tls.key),
    ca: tls.ca === undefined ? undefined : read('CA', tls.ca),
    requireClientCert: tls.requireClientCert,
    peerIdentity: tls.peerIdentity,
  };
}
