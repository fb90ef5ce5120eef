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
 * changes nothing; it is logged (through `log`) with its sender and code, rate-limited per sender and code (see
 * refusalLog.ts). Valid messages are delivered in order, whatever their term: answering stale terms is the core's
 * job. A chunk's `data` is a view of the request body, not a copy.
 *
 * This file is the actor and its Raft routes; the sending side is http2PeerLinks.ts, the server and its routing
 * http2Server.ts.
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
import type { ClientHttp2Stream } from 'node:http2';
import type { NodeId } from '../../src/core/index.js';
import { decodeBatch, decodeSnapshotChunkRequest, MAX_ID_LENGTH, type DecodeResult } from '../../src/wire.js';
import { NetworkActor, type Send, type SetPeerAddresses } from './NetworkActor.js';
import { PeerLinks } from './http2PeerLinks.js';
import { JSON_HEADERS, MESSAGES_PATH, OCTET_STREAM_HEADERS, SNAPSHOT_CHUNK_PATH } from './http2Paths.js';
import {
  refuse,
  RouteServer,
  type AnsweredRefusal,
  type RawRouteHandler,
  type RequestRefusal,
  type RouteHandler,
  type RouteRequest,
  type RouteResponse,
} from './http2Server.js';
import { RefusalLog } from './refusalLog.js';

export { MESSAGES_PATH, SNAPSHOT_CHUNK_PATH } from './http2Paths.js';
export {
  NetworkListenError,
  type RawRouteHandler,
  type RequestRefusal,
  type RouteHandler,
  type RouteRequest,
  type RouteResponse,
} from './http2Server.js';

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
  /**
   * Where to report refusals (peers refusing ours, this node refusing theirs) and connection problems, rate-limited
   * per peer (per sender and refusal code for incoming requests). Default: nothing.
   */
  readonly log?: (line: string) => void;
}

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
  private readonly links: PeerLinks;
  private readonly server: RouteServer;
  /** Null without `options.log`: refusals are then only counted. */
  private readonly refusals: RefusalLog | null;
  /** The `from` of refused requests that decoded that far, to name their sender in the log. */
  private readonly claimedSenders = new WeakMap<RouteRequest, NodeId>();
  private closing: Promise<void> | null = null;

  constructor(options: Http2NetworkOptions) {
    super();
    this.options = options;
    this.id = options.id;
    this.clusterId = options.clusterId;
    this.links = new PeerLinks({
      id: options.id,
      clusterId: options.clusterId,
      tls: options.tls,
      maxInflight: options.maxInflightRequests ?? 64,
      maxQueued: options.maxQueuedMessages ?? 65_536,
      backoff: { initialMs: options.backoff?.initialMs ?? 50, maxMs: options.backoff?.maxMs ?? 2000 },
      keepAliveMs: options.keepAliveMs ?? 1000,
      peerTimeoutMs: options.peerTimeoutMs ?? 3000,
      random: options.random ?? Math.random,
      stats: this.stats,
      log: options.log,
      unreachable: (peer) => this.unreachable(peer),
    });
    for (const [peer, address] of Object.entries(options.peers)) this.setPeer(peer, address);
    this.server = new RouteServer({
      tls: options.tls,
      maxBodyBytes: options.maxBodyBytes ?? 16 * 2 ** 20,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      log: options.log,
      refused: (refusal) => this.refused(refusal),
    });
    this.refusals = options.log === undefined ? null : new RefusalLog({ log: options.log });
    this.route('POST', MESSAGES_PATH, (request) =>
      this.receiveMessages(request, JSON_HEADERS['content-type'], (body) => decodeBatch(body.toString('utf8')), claimedInBatch),
    );
    this.route('POST', SNAPSHOT_CHUNK_PATH, (request) =>
      this.receiveMessages(request, OCTET_STREAM_HEADERS['content-type'], decodeSnapshotChunkRequest, claimedInChunk),
    );
  }

  /** The port the server listens on (after `listen`). */
  get port(): number {
    return this.server.port;
  }

  /** Start accepting peers. Rejects with `NetworkListenError` (for example code `PORT_IN_USE`). */
  listen(): Promise<number> {
    return this.server.listen(this.options.listen?.host ?? '127.0.0.1', this.options.listen?.port ?? 0);
  }

  /**
   * Add a peer at run time, or give a known one a new address (a member added by a membership change): it may then
   * send to this node, and messages to it go to `address` (`host:port`). A changed address drops the old session.
   * This node's own id is ignored.
   */
  setPeer(peer: NodeId, address: string): void {
    if (peer === this.id) return;
    this.links.set(peer, address);
  }

  /** The configuration says where its members are: add the new ones, follow changed addresses. */
  protected override onSetPeerAddresses({ addresses }: SetPeerAddresses): void {
    const known = this.peers();
    for (const [peer, address] of Object.entries(addresses)) if (known[peer] !== address) this.setPeer(peer, address);
  }

  /** Every peer this node knows: id -> `host:port`. */
  peers(): Record<NodeId, string> {
    return this.links.addresses();
  }

  /** Serve `method path` with a handler that gets the whole (size-limited) body. */
  route(method: string, path: string, handler: RouteHandler): void {
    this.server.route(method, path, handler);
  }

  /**
   * Serve `method path` with the raw request stream: nothing is buffered or size-limited, the handler owns the
   * stream and must answer it. Meant for transfers too large to buffer (snapshot chunks are not: they use a buffered
   * route). Sender checks are the handler's.
   */
  rawRoute(method: string, path: string, handler: RawRouteHandler): void {
    this.server.rawRoute(method, path, handler);
  }

  /**
   * Close every session and stop listening. Requests in flight are abandoned (Raft resends what matters).
   * Idempotent; called when the node stops the actor.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      this.links.close();
      this.refusals?.close();
      this.closing = this.server.close();
    }
    return this.closing;
  }

  protected override onStop(): Promise<void> {
    return this.close();
  }

  protected onSend({ to, message }: Send): void {
    this.links.send(to, message);
  }

  /**
   * Open a request stream to `peer` on its session, for transfers too large to buffer: the caller writes the
   * body as it reads it, so nothing large is buffered. Null when the peer has no open session right now.
   */
  protected openStream(peer: NodeId, path: string, headers: Record<string, string> = {}): ClientHttp2Stream | null {
    return this.links.openStream(peer, path, headers);
  }

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
  private receiveMessages(
    request: RouteRequest,
    contentType: string,
    decode: (body: Buffer) => DecodeResult,
    claimedSender: (body: Buffer) => NodeId | null,
  ): RouteResponse {
    const type = request.headers['content-type'];
    if (type !== undefined && !type.startsWith(contentType)) {
      return refuse({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: `send ${contentType}` });
    }
    const decoded = decode(request.body);
    if (!decoded.ok) {
      // Parsed, but not a valid batch: the envelope may still say who sent it (unchecked, like any `from`).
      const from = decoded.error.code === 'INVALID_MESSAGE' ? claimedSender(request.body) : null;
      return this.refuseFrom(request, from, { status: 400, ...decoded.error });
    }
    const { batch } = decoded;
    if (batch.clusterId !== this.clusterId) {
      return this.refuseFrom(request, batch.from, {
        status: 403,
        code: 'WRONG_CLUSTER',
        message: `this node belongs to another cluster than ${JSON.stringify(batch.clusterId)}`,
      });
    }
    if (batch.to !== this.id) return this.refuseFrom(request, batch.from, { status: 421, code: 'WRONG_NODE', message: `this is ${this.id}, not ${batch.to}` });
    const refusal = this.admitSender(batch.from, request);
    if (refusal !== null) return this.refuseFrom(request, batch.from, refusal);
    if (!this.attached) return { status: 503, body: { error: { code: 'NOT_RUNNING', message: 'the node is not running' } } };
    for (const message of batch.messages) this.delivered(batch.from, message);
    this.stats.messagesReceived += batch.messages.length;
    return { status: 204 };
  }

  /** `refusal`, remembering who `request` claims to come from (when known) for the log. */
  private refuseFrom(request: RouteRequest, from: NodeId | null, refusal: RequestRefusal): RouteResponse {
    if (from !== null) this.claimedSenders.set(request, from);
    return refuse(refusal);
  }

  /** The server answered a 4xx: count it, and log it with its sender (a claimed `from`, else the client's address). */
  private refused({ request, remoteAddress, ...refusal }: AnsweredRefusal): void {
    this.stats.requestsRefused++;
    if (this.refusals === null) return;
    const from = request === null ? undefined : this.claimedSenders.get(request);
    this.refusals.record({ ...refusal, sender: from ?? remoteAddress, address: from === undefined ? null : remoteAddress });
  }
}

/** The `from` of a JSON batch that parsed but failed validation, if it has a plausible one. */
function claimedInBatch(body: Buffer): NodeId | null {
  return claimedIn(body.toString('utf8'));
}

/** The `from` in the JSON header of a snapshot chunk request (`[u32 header length][header]...`, see src/wire.ts). */
function claimedInChunk(body: Buffer): NodeId | null {
  if (body.length < 4) return null;
  const headerEnd = 4 + body.readUInt32BE(0);
  return headerEnd > body.length ? null : claimedIn(body.toString('utf8', 4, headerEnd));
}

function claimedIn(json: string): NodeId | null {
  try {
    const from: unknown = (JSON.parse(json) as { from?: unknown } | null)?.from;
    return typeof from === 'string' && from.length > 0 && from.length <= MAX_ID_LENGTH ? from : null;
  } catch {
    return null;
  }
}
