/**
 * The network actor over HTTP/2 (`node:http2`), with optional TLS and mutual TLS.
 *
 * Sending: one persistent HTTP/2 session per peer, opened on first use. Every message for a peer produced in one turn
 * of the event loop travels as one request (`POST /xraft/v1/messages`, a JSON `WireBatch`), except snapshot chunks:
 * each `InstallSnapshot` is a request of its own (`POST /xraft/v1/snapshot-chunk`, `application/octet-stream`: a
 * length-prefixed JSON header, then the chunk's bytes as they are; see `src/wire.ts`), so that its bytes are neither
 * base64-encoded nor copied into a JSON string. Requests are pipelined, up to `maxInflightRequests` per peer, without
 * waiting for earlier answers; a chunk may therefore arrive before or after the messages queued with it (Raft
 * tolerates reordering). While a peer cannot be reached its messages are dropped (Raft retries with its own
 * heartbeats) and the node hears `PeerUnreachable`; the session is reopened after a jittered exponential backoff.
 * A PING every `keepAliveMs` detects a peer that stopped answering (a paused process, a dead link) within
 * `peerTimeoutMs` and replaces its session.
 *
 * Receiving: both routes run the same checks before anything reaches the node: method and path, content type, body
 * size, the JSON (or the framing and the JSON header), the zod schema of every message (`src/wire.ts`), the cluster
 * id, the addressee, and that the sender is a member (and, with `tls.peerIdentity: 'common-name'`, that the client
 * certificate names the sender). A refused request gets a 4xx and a JSON body `{ error: { code, message } }`, and
 * changes nothing. Valid messages are delivered in order, whatever their term: answering stale terms is the core's
 * job. A chunk's `data` is a view of the request body, not a copy.
 *
 * Extension hooks:
 * - `route(method, path, handler)` serves small JSON requests on the same server (the process runner's client API).
 * - `rawRoute(method, path, handler)` hands over the unbuffered request stream, exempt from `maxBodyBytes`, for
 *   transfers too large to buffer; `openStream(peer, path)` is the matching sending side. (Unused so far: snapshot
 *   chunks are small enough for a buffered route.)
 * - `admitSender(from, request)` decides who may send (members by default); a join endpoint will widen it.
 * - `setPeer(id, address)` adds a peer (or changes its address) at run time, for members added after start.
 *
 * @example
 * const network = new Http2Network({ id: 'n1', clusterId: 'prod', listen: { port: 4001 },
 *   peers: { n2: '10.0.0.2:4001', n3: '10.0.0.3:4001' } });
 * await network.listen(); // rejects with NetworkListenError (code PORT_IN_USE, ...) before the node starts
 * const node = createRaftNode({ id: 'n1', members: ['n1', 'n2', 'n3'], network, ... });
 */
import http2 from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { NodeId, RaftMessage } from '../../src/core/index.js';
import { decodeBatch, decodeSnapshotChunkRequest, encodeBatch, encodeSnapshotChunkRequest, type DecodeResult } from '../../src/wire.js';
import { NetworkActor, type Send } from './NetworkActor.js';

/** The path Raft batches are posted to. */
export const MESSAGES_PATH = '/xraft/v1/messages';
/** The path snapshot chunks (`InstallSnapshot`, one per request, as raw bytes) are posted to. */
export const SNAPSHOT_CHUNK_PATH = '/xraft/v1/snapshot-chunk';

export interface Http2TlsOptions {
  /** This node's certificate (PEM), presented as a server and, to peers, as a client. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** The CA(s) that sign peer certificates (PEM). Default: the system's. */
  readonly ca?: string | Buffer;
  /** Mutual TLS: refuse any connection without a client certificate signed by `ca`. Default true. */
  readonly requireClientCert?: boolean;
  /**
   * `common-name`: a request's `from` must equal the subject CN of the client certificate, so that a member cannot
   * speak for another. Needs `requireClientCert`. Default `none`.
   */
  readonly peerIdentity?: 'none' | 'common-name';
}

export interface Http2NetworkOptions {
  readonly id: NodeId;
  /** Requests carrying another cluster id are refused (403), so two clusters cannot mix by a wrong address. */
  readonly clusterId: string;
  /** Every other member: id -> `host:port` (`[v6]:port` for IPv6). */
  readonly peers: Readonly<Record<NodeId, string>>;
  /** Where to listen. Default 127.0.0.1, port 0 (any free port; see `port`). */
  readonly listen?: { readonly host?: string; readonly port?: number };
  readonly tls?: Http2TlsOptions;
  /**
   * Largest request body accepted on buffered routes; larger gets 413. Default 16 MiB. A snapshot chunk request is
   * the node's `snapshotChunkBytes` plus a header of a few hundred bytes (more with many members): keep room for it.
   */
  readonly maxBodyBytes?: number;
  /** Requests to one peer awaiting an answer; more messages wait and join the next request. Default 64. */
  readonly maxInflightRequests?: number;
  /** Messages waiting for one peer; beyond it new ones are dropped (Raft resends). Default 65,536. */
  readonly maxQueuedMessages?: number;
  /** Reconnect backoff: first delay and cap, in ms; each delay is jittered to [50%, 100%]. Default 50 and 2000. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** PING interval on idle and busy sessions alike. Default 1000 ms. */
  readonly keepAliveMs?: number;
  /** A connect or PING unanswered this long closes the session. Default 3000 ms. */
  readonly peerTimeoutMs?: number;
  /** A request body that does not arrive within this time is cancelled (slow clients). Default 10,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Randomness for backoff jitter. */
  readonly random?: () => number;
  /** Where to report peer refusals and connection problems (rate-limited per peer). Default: nothing. */
  readonly log?: (line: string) => void;
}

/** Why `listen` failed, with a stable code. */
export class NetworkListenError extends Error {
  constructor(
    readonly code: 'PORT_IN_USE' | 'ADDRESS_UNAVAILABLE' | 'PERMISSION_DENIED' | 'LISTEN_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NetworkListenError';
  }
}

/** A refused request: an HTTP status and a stable code. */
export interface RequestRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** What a buffered route handler gets. */
export interface RouteRequest {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Subject CN of the client certificate, when the connection has one. */
  readonly peerCommonName: string | null;
}

export interface RouteResponse {
  readonly status: number;
  /** Serialized with JSON.stringify; omit for an empty body. */
  readonly body?: unknown;
}

export type RouteHandler = (request: RouteRequest) => RouteResponse | Promise<RouteResponse>;
export type RawRouteHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

/** Counters for tests and benchmarks. */
export interface Http2NetworkStats {
  /** Requests sent to peers, and the messages they carried (`messagesSent / requestsSent` is the coalescing). */
  requestsSent: number;
  messagesSent: number;
  /** Messages dropped because their peer was unreachable or its queue was full. */
  messagesDropped: number;
  /** Requests a peer answered with a non-2xx status. */
  requestsRefusedByPeers: number;
  /** Messages from peers delivered to the node. */
  messagesReceived: number;
  /** Requests this node refused (4xx). */
  requestsRefused: number;
  /** Sessions opened to peers. */
  connects: number;
}

type Route = { readonly kind: 'buffered'; readonly handler: RouteHandler } | { readonly kind: 'raw'; readonly handler: RawRouteHandler };

type LinkState = 'idle' | 'connecting' | 'connected' | 'backoff';

/** The sending side for one peer. */
interface PeerLink {
  readonly id: NodeId;
  readonly authority: string;
  state: LinkState;
  session: ClientHttp2Session | null;
  queue: RaftMessage[];
  inflight: number;
  /** Consecutive failed connects, for the backoff. */
  failures: number;
  /** Whether the node has been told the peer is unreachable since it was last reachable. */
  reported: boolean;
  timer: NodeJS.Timeout | null;
  keepAlive: NodeJS.Timeout | null;
  pingSentAt: number | null;
  lastRefusal: string | null;
}

const { NGHTTP2_CANCEL } = http2.constants;
const JSON_HEADERS = { 'content-type': 'application/json' } as const;
const OCTET_STREAM_HEADERS = { 'content-type': 'application/octet-stream' } as const;

export class Http2Network extends NetworkActor {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly stats: Http2NetworkStats = {
    requestsSent: 0,
    messagesSent: 0,
    messagesDropped: 0,
    requestsRefusedByPeers: 0,
    messagesReceived: 0,
    requestsRefused: 0,
    connects: 0,
  };
  protected readonly options: Http2NetworkOptions;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly routes = new Map<string, Route>();
  private readonly server: http2.Http2Server | http2.Http2SecureServer;
  private readonly serverSessions = new Set<ServerHttp2Session>();
  private flushScheduled = false;
  private closing: Promise<void> | null = null;
  private readonly maxBodyBytes: number;
  private readonly maxInflight: number;
  private readonly maxQueued: number;
  private readonly random: () => number;

  constructor(options: Http2NetworkOptions) {
    super();
    this.options = options;
    this.id = options.id;
    this.clusterId = options.clusterId;
    this.maxBodyBytes = options.maxBodyBytes ?? 16 * 2 ** 20;
    this.maxInflight = options.maxInflightRequests ?? 64;
    this.maxQueued = options.maxQueuedMessages ?? 65_536;
    this.random = options.random ?? Math.random;
    for (const [peer, address] of Object.entries(options.peers)) this.setPeer(peer, address);
    // Many pipelined requests per session are the point; the default of 100 concurrent streams would cap them.
    const settings = { maxConcurrentStreams: 4096 };
    const tls = options.tls;
    this.server =
      tls === undefined
        ? http2.createServer({ settings })
        : http2.createSecureServer({
            settings,
            cert: tls.cert,
            key: tls.key,
            ca: tls.ca,
            requestCert: true,
            rejectUnauthorized: tls.requireClientCert ?? true,
            allowHTTP1: false,
          });
    this.server.on('session', (session: ServerHttp2Session) => {
      this.serverSessions.add(session);
      session.on('error', () => undefined);
      session.on('close', () => this.serverSessions.delete(session));
    });
    this.server.on('stream', (stream, headers) => this.handleStream(stream, headers));
    this.server.on('sessionError', () => undefined);
    this.server.on('tlsClientError', () => undefined);
    this.route('POST', MESSAGES_PATH, (request) =>
      this.receiveMessages(request, JSON_HEADERS['content-type'], (body) => decodeBatch(body.toString('utf8'))),
    );
    this.route('POST', SNAPSHOT_CHUNK_PATH, (request) =>
      this.receiveMessages(request, OCTET_STREAM_HEADERS['content-type'], decodeSnapshotChunkRequest),
    );
  }

  /** The port the server listens on (after `listen`). */
  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the network is not listening');
    return (address as AddressInfo).port;
  }

  /** Start accepting peers. Rejects with `NetworkListenError` (for example code `PORT_IN_USE`). */
  listen(): Promise<number> {
    const host = this.options.listen?.host ?? '127.0.0.1';
    const port = this.options.listen?.port ?? 0;
    return new Promise<number>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        this.server.off('listening', onListening);
        reject(listenError(error, host, port));
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        this.server.on('error', (error) => this.options.log?.(`server error: ${error.message}`));
        resolve(this.port);
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(port, host);
    });
  }

  /**
   * Add a peer at run time, or give a known one a new address (a member added by a membership change): it may then
   * send to this node, and messages to it go to `address` (`host:port`). A changed address drops the old session.
   * This node's own id is ignored.
   */
  setPeer(peer: NodeId, address: string): void {
    if (peer === this.id) return;
    const authority = `${this.options.tls === undefined ? 'http' : 'https'}://${address}`;
    const previous = this.links.get(peer);
    if (previous?.authority === authority) return;
    if (previous !== undefined) {
      this.clearTimers(previous);
      previous.state = 'backoff'; // the old link never reconnects
      previous.session?.destroy();
      previous.session = null;
    }
    this.links.set(peer, {
      id: peer,
      authority,
      state: this.closing === null ? 'idle' : 'backoff',
      session: null,
      queue: [],
      inflight: 0,
      failures: 0,
      reported: false,
      timer: null,
      keepAlive: null,
      pingSentAt: null,
      lastRefusal: null,
    });
  }

  /** Every peer this node knows: id -> `host:port`. */
  peers(): Record<NodeId, string> {
    return Object.fromEntries([...this.links].map(([peer, link]) => [peer, link.authority.slice(link.authority.indexOf('://') + 3)]));
  }

  /** Serve `method path` with a handler that gets the whole (size-limited) body. */
  route(method: string, path: string, handler: RouteHandler): void {
    this.routes.set(`${method} ${path}`, { kind: 'buffered', handler });
  }

  /**
   * Serve `method path` with the raw request stream: nothing is buffered or size-limited, the handler owns the
   * stream and must answer it. Meant for transfers too large to buffer (snapshot chunks are not: they use a buffered
   * route). Sender checks are the handler's.
   */
  rawRoute(method: string, path: string, handler: RawRouteHandler): void {
    this.routes.set(`${method} ${path}`, { kind: 'raw', handler });
  }

  /**
   * Close every session and stop listening. Requests in flight are abandoned (Raft resends what matters).
   * Idempotent; called when the node stops the actor.
   */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const link of this.links.values()) {
        this.clearTimers(link);
        link.queue = [];
        link.state = 'backoff'; // never reconnect
        link.session?.destroy();
        link.session = null;
      }
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
      for (const session of this.serverSessions) session.close();
      // Peers that keep their sessions open (or are paused) must not hold the shutdown.
      const force = setTimeout(() => {
        for (const session of this.serverSessions) session.destroy();
      }, 200);
      force.unref();
    });
    return this.closing;
  }

  protected override onStop(): void {
    void this.close();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Sending

  protected onSend({ to, message }: Send): void {
    const link = this.links.get(to);
    if (link === undefined || this.closing !== null) {
      this.stats.messagesDropped++;
      this.unreachable(to);
      return;
    }
    if (link.state === 'backoff') {
      this.stats.messagesDropped++;
      this.reportUnreachable(link);
      return;
    }
    if (link.queue.length >= this.maxQueued) {
      this.stats.messagesDropped++;
      return;
    }
    link.queue.push(message);
    if (link.state === 'idle') this.connect(link);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      for (const link of this.links.values()) this.flush(link);
    });
  }

  /**
   * Send what is queued for `link`, if the session is up, while the window has room: every message but snapshot chunks
   * as one JSON batch, then each snapshot chunk as a request of its own. What does not fit waits for a free slot.
   * A chunk thus travels apart from the messages queued around it and may arrive before or after them: Raft tolerates
   * reordering (each message carries its term, each chunk its number and snapshot, and the follower says which chunk
   * it takes next).
   */
  private flush(link: PeerLink): void {
    const session = link.session;
    if (link.state !== 'connected' || session === null || link.queue.length === 0 || link.inflight >= this.maxInflight) return;
    const queued = link.queue;
    link.queue = [];
    // Replication is the hot path and rarely carries a snapshot chunk: then the queue goes as it is, uncopied.
    const requests = queued.some(isChunk) ? chunksApart(queued) : [queued];
    for (const [at, messages] of requests.entries()) {
      if (link.inflight >= this.maxInflight) {
        link.queue = requests.slice(at).flat();
        return;
      }
      if (!this.post(link, session, messages)) {
        // The session is closing; its close handler resets the link.
        this.stats.messagesDropped += requests.slice(at).flat().length;
        return;
      }
    }
  }

  /**
   * One request to `link`'s peer: `messages` as a JSON batch, or one InstallSnapshot as a snapshot chunk request.
   * False when the session no longer opens streams.
   */
  private post(link: PeerLink, session: ClientHttp2Session, messages: readonly RaftMessage[]): boolean {
    const envelope = { clusterId: this.clusterId, from: this.id, to: link.id };
    const [first] = messages;
    const chunk = messages.length === 1 && first?.type === 'InstallSnapshot' ? first : null;
    let stream: ClientHttp2Stream;
    try {
      const [path, headers] = chunk === null ? [MESSAGES_PATH, JSON_HEADERS] : [SNAPSHOT_CHUNK_PATH, OCTET_STREAM_HEADERS];
      stream = session.request({ ':method': 'POST', ':path': path, ...headers });
    } catch {
      return false;
    }
    link.inflight++;
    this.stats.requestsSent++;
    this.stats.messagesSent += messages.length;
    let status = 0;
    const answer: Buffer[] = [];
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (data: Buffer) => answer.length < 4 && answer.push(data));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      // A stream of a session since replaced must not free a slot of the new one.
      if (link.session === session) link.inflight--;
      if (status !== 0 && (status < 200 || status >= 300)) {
        this.stats.requestsRefusedByPeers++;
        const refusal = `${link.id} refused our messages with ${status}: ${Buffer.concat(answer).toString('utf8').slice(0, 300)}`;
        if (refusal !== link.lastRefusal) this.options.log?.(refusal);
        link.lastRefusal = refusal;
      }
      if (link.queue.length > 0) this.scheduleFlush();
    });
    if (chunk === null) stream.end(encodeBatch({ ...envelope, messages }));
    else {
      // Two writes, so that the chunk's bytes are not copied into one body.
      const [prefix, data] = encodeSnapshotChunkRequest({ ...envelope, message: chunk });
      stream.write(prefix);
      stream.end(data);
    }
    return true;
  }

  private connect(link: PeerLink): void {
    link.state = 'connecting';
    const tls = this.options.tls;
    const session = http2.connect(
      link.authority,
      tls === undefined ? {} : { cert: tls.cert, key: tls.key, ca: tls.ca, servername: undefined },
    );
    link.session = session;
    this.stats.connects++;
    const timeoutMs = this.options.peerTimeoutMs ?? 3000;
    link.timer = setTimeout(() => session.destroy(new Error(`no answer from ${link.id} within ${timeoutMs} ms`)), timeoutMs);
    link.timer.unref();
    session.on('error', (error) => {
      if (link.failures === 0 && link.state === 'connecting') this.options.log?.(`cannot reach ${link.id}: ${error.message}`);
    });
    session.on('goaway', () => session.close());
    session.once('connect', () => {
      if (link.session !== session) return;
      this.clearTimers(link);
      link.state = 'connected';
      link.failures = 0;
      link.reported = false;
      link.pingSentAt = null;
      link.keepAlive = setInterval(() => this.keepAlive(link, session), this.options.keepAliveMs ?? 1000);
      link.keepAlive.unref();
      this.flush(link);
    });
    session.once('close', () => {
      if (link.session !== session) return;
      this.lost(link);
    });
  }

  /** PING the peer; a ping still unanswered after `peerTimeoutMs` means the peer is gone or paused. */
  private keepAlive(link: PeerLink, session: ClientHttp2Session): void {
    const timeoutMs = this.options.peerTimeoutMs ?? 3000;
    if (link.pingSentAt !== null) {
      if (Date.now() - link.pingSentAt > timeoutMs) session.destroy(new Error(`${link.id} did not answer a PING within ${timeoutMs} ms`));
      return;
    }
    link.pingSentAt = Date.now();
    try {
      session.ping((error) => {
        if (error === null && link.session === session) link.pingSentAt = null;
      });
    } catch {
      session.destroy();
    }
  }

  /** The session to `link` ended: drop what was waiting, tell the node, and back off before the next connect. */
  private lost(link: PeerLink): void {
    this.clearTimers(link);
    link.session = null;
    link.inflight = 0;
    this.stats.messagesDropped += link.queue.length;
    link.queue = [];
    if (this.closing !== null) return;
    link.failures++;
    this.reportUnreachable(link);
    const initialMs = this.options.backoff?.initialMs ?? 50;
    const maxMs = this.options.backoff?.maxMs ?? 2000;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(link.failures - 1, 30));
    link.state = 'backoff';
    link.timer = setTimeout(() => {
      link.timer = null;
      // Reconnect lazily, on the next message: Raft sends heartbeats often enough, and idle links cost nothing.
      link.state = 'idle';
    }, ceiling * (0.5 + 0.5 * this.random()));
    link.timer.unref();
  }

  private reportUnreachable(link: PeerLink): void {
    if (link.reported) return;
    link.reported = true;
    this.unreachable(link.id);
  }

  private clearTimers(link: PeerLink): void {
    if (link.timer !== null) clearTimeout(link.timer);
    if (link.keepAlive !== null) clearInterval(link.keepAlive);
    link.timer = null;
    link.keepAlive = null;
  }

  /**
   * Open a request stream to `peer` on its session, for transfers too large to buffer: the caller writes the
   * body as it reads it, so nothing large is buffered. Null when the peer has no open session right now.
   */
  protected openStream(peer: NodeId, path: string, headers: Record<string, string> = {}): ClientHttp2Stream | null {
    const link = this.links.get(peer);
    if (link?.state !== 'connected' || link.session === null) {
      if (link !== undefined && link.state === 'idle') this.connect(link);
      return null;
    }
    return link.session.request({ ':method': 'POST', ':path': path, ...headers });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Receiving

  /**
   * Who may send Raft messages: by default, exactly the configured peers. Return a refusal to turn the request away.
   * A join endpoint (membership changes, later) overrides this to admit a joining node.
   */
  protected admitSender(from: NodeId, request: RouteRequest): RequestRefusal | null {
    if (!this.links.has(from)) return { status: 403, code: 'UNKNOWN_SENDER', message: `${from} is not a member of this cluster` };
    if (this.options.tls?.peerIdentity === 'common-name' && request.peerCommonName !== from) {
      return { status: 403, code: 'IDENTITY_MISMATCH', message: `the client certificate does not name ${from}` };
    }
    return null;
  }

  /**
   * A request carrying Raft messages (a batch, or a snapshot chunk): refused unless its content type (when given)
   * is `contentType`, it decodes, and it comes from an admitted sender of this cluster to this node. Then every
   * message is delivered, in order.
   */
  private receiveMessages(request: RouteRequest, contentType: string, decode: (body: Buffer) => DecodeResult): RouteResponse {
    const type = request.headers['content-type'];
    if (type !== undefined && !type.startsWith(contentType)) {
      return refuse({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: `send ${contentType}` });
    }
    const decoded = decode(request.body);
    if (!decoded.ok) return refuse({ status: 400, ...decoded.error });
    const { batch } = decoded;
    if (batch.clusterId !== this.clusterId) {
      return refuse({ status: 403, code: 'WRONG_CLUSTER', message: `this node belongs to another cluster than ${JSON.stringify(batch.clusterId)}` });
    }
    if (batch.to !== this.id) return refuse({ status: 421, code: 'WRONG_NODE', message: `this is ${this.id}, not ${batch.to}` });
    const refusal = this.admitSender(batch.from, request);
    if (refusal !== null) return refuse(refusal);
    if (!this.attached) return { status: 503, body: { error: { code: 'NOT_RUNNING', message: 'the node is not running' } } };
    for (const message of batch.messages) this.delivered(batch.from, message);
    this.stats.messagesReceived += batch.messages.length;
    return { status: 204 };
  }

  private handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const method = headers[':method'] ?? '';
    const rawPath = headers[':path'] ?? '';
    const queryAt = rawPath.indexOf('?');
    const path = queryAt === -1 ? rawPath : rawPath.slice(0, queryAt);
    const route = this.routes.get(`${method} ${path}`);
    if (route === undefined) {
      const known = [...this.routes.keys()].some((key) => key.slice(key.indexOf(' ') + 1) === path);
      this.answer(stream, known ? refuse({ status: 405, code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${path}` })
        : refuse({ status: 404, code: 'NOT_FOUND', message: `no route ${path.slice(0, 100)}` }));
      return;
    }
    if (route.kind === 'raw') {
      route.handler(stream, headers);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const tooLarge = (): void => {
      refused = true;
      chunks.length = 0;
      this.answer(stream, refuse({ status: 413, code: 'TOO_LARGE', message: `bodies are limited to ${this.maxBodyBytes} bytes` }));
    };
    stream.setTimeout(this.options.requestTimeoutMs ?? 10_000, () => {
      this.answer(stream, refuse({ status: 408, code: 'REQUEST_TIMEOUT', message: 'the body did not arrive in time' }));
      stream.close(NGHTTP2_CANCEL);
    });
    if (Number(headers['content-length'] ?? 0) > this.maxBodyBytes) tooLarge();
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        // The answer is out; the rest of the body is read and dropped, which keeps the session healthy (resetting
        // the stream makes the client's DATA frames count as invalid and gets the whole session torn down). A body
        // far beyond the limit is not worth reading: reset it.
        if (size > 4 * this.maxBodyBytes) stream.close(NGHTTP2_CANCEL);
        return;
      }
      if (size > this.maxBodyBytes) tooLarge();
      else chunks.push(chunk);
    });
    stream.on('end', () => {
      if (refused || stream.destroyed) return;
      const socket = stream.session?.socket as TLSSocket | undefined;
      const request: RouteRequest = {
        method,
        path,
        query: new URLSearchParams(queryAt === -1 ? '' : rawPath.slice(queryAt + 1)),
        headers,
        body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
        peerCommonName: commonName(socket),
      };
      let response: RouteResponse | Promise<RouteResponse>;
      try {
        response = route.handler(request);
      } catch (error) {
        response = { status: 500, body: { error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } } };
      }
      if (response instanceof Promise) {
        response.then(
          (settled) => this.answer(stream, settled),
          (error: unknown) =>
            this.answer(stream, { status: 500, body: { error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } } }),
        );
      } else this.answer(stream, response);
    });
  }

  /** Answer a request once (a refusal may be sent before its body has fully arrived). */
  private answer(stream: ServerHttp2Stream, response: RouteResponse): void {
    if (stream.destroyed || stream.headersSent) return;
    if (response.status >= 400 && response.status < 500) this.stats.requestsRefused++;
    const body = response.body === undefined ? undefined : JSON.stringify(response.body);
    try {
      stream.respond({ ':status': response.status, ...(body === undefined ? {} : JSON_HEADERS) }, { endStream: body === undefined });
      if (body !== undefined) stream.end(body);
      // A request body still arriving is drained by the data handler (see handleStream).
      if (!stream.readableEnded) stream.resume();
    } catch {
      stream.close(NGHTTP2_CANCEL);
    }
  }
}

function isChunk(message: RaftMessage): boolean {
  return message.type === 'InstallSnapshot';
}

/** The requests for `messages`: every message but snapshot chunks as one batch, then each chunk on its own. */
function chunksApart(messages: readonly RaftMessage[]): RaftMessage[][] {
  const batch = messages.filter((message) => !isChunk(message));
  const chunks = messages.filter(isChunk).map((message) => [message]);
  return batch.length > 0 ? [batch, ...chunks] : chunks;
}

function refuse(refusal: RequestRefusal): RouteResponse {
  return { status: refusal.status, body: { error: { code: refusal.code, message: refusal.message } } };
}

function commonName(socket: TLSSocket | undefined): string | null {
  if (socket === undefined || typeof socket.getPeerCertificate !== 'function') return null;
  const subject = socket.getPeerCertificate()?.subject as { CN?: string | string[] } | undefined;
  const name = subject?.CN;
  return typeof name === 'string' ? name : null;
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): NetworkListenError {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new NetworkListenError('PORT_IN_USE', `cannot listen on ${where}: the port is already in use`, { cause: error });
    case 'EADDRNOTAVAIL':
      return new NetworkListenError('ADDRESS_UNAVAILABLE', `cannot listen on ${where}: no such local address`, { cause: error });
    case 'EACCES':
      return new NetworkListenError('PERMISSION_DENIED', `cannot listen on ${where}: permission denied`, { cause: error });
    default:
      return new NetworkListenError('LISTEN_FAILED', `cannot listen on ${where}: ${error.message}`, { cause: error });
  }
}
