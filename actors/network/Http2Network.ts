/**
 * The network actor over HTTP/2 (`node:http2`), with optional TLS and mutual TLS.
 *
 * Sending: one persistent HTTP/2 session per peer, opened on first use, and on it one long-lived request stream
 * (`POST /xraft/v1/stream`) that carries every message as length-prefixed JSON frames (src/wireFrames.ts): all the
 * messages for a peer produced in one turn of the event loop are one frame. Snapshot chunks are the exception: each
 * `InstallSnapshot` is a request of its own (`POST /xraft/v1/snapshot-chunk`, `application/octet-stream`: a
 * length-prefixed JSON header, then the chunk's bytes as they are; see `src/wire.ts`), so that its bytes are neither
 * base64-encoded nor copied into a JSON string; a chunk may thus arrive before or after the messages queued with it
 * (Raft tolerates reordering). While a peer cannot be reached its messages are dropped (Raft retries with its own
 * heartbeats) and the node hears `PeerUnreachable`; the session is reopened after a jittered exponential backoff.
 * A PING every `keepAliveMs` detects a peer that stopped answering (a paused process, a dead link) within
 * `peerTimeoutMs` and replaces its session.
 *
 * Receiving (http2Endpoint.ts): a stream is checked once as it opens (content type, cluster id, addressee, that the
 * sender is a member and, with `tls.peerIdentity: 'common-name'`, that the client certificate names it), then every
 * frame (its length, its JSON, the zod schema of every message in `src/wire.ts`). A single batch may also be posted
 * to `POST /xraft/v1/messages` (tools do), with the same checks. A refused request or stream gets a 4xx and a JSON
 * body `{ error: { code, message } }`, a refused frame resets its stream; either way nothing changes, and the
 * refusal is logged (through `log`) with its sender and code, rate-limited per sender and code (refusalLog.ts). Valid
 * messages are delivered in order, whatever their term: answering stale terms is the core's job.
 *
 * This file is the actor; the endpoint it stands on is http2Endpoint.ts (checks), http2PeerLinks.ts (sending) and
 * http2Server.ts (the server and its routing).
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
import { NetworkActor, type Send, type SetPeerAddresses } from './NetworkActor.js';
import { Http2Endpoint, type SenderCredentials } from './http2Endpoint.js';
import type { RawRouteHandler, RequestRefusal, RouteHandler } from './http2Server.js';

export { MESSAGES_PATH, SNAPSHOT_CHUNK_PATH, STREAM_PATH } from './http2Paths.js';
export type { SenderCredentials } from './http2Endpoint.js';
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
   * Largest request body accepted on buffered routes (larger gets 413), and the longest frame read from a peer's
   * stream and written to one (a turn's messages beyond it go as more frames). Default 16 MiB. A snapshot chunk request
   * is the node's `snapshotChunkBytes` plus a header of a few hundred bytes (more with many members): keep room for it;
   * an append with its largest command (`maxCommandBytes`) must fit too. The same on every member.
   */
  readonly maxBodyBytes?: number;
  /** Snapshot chunk requests to one peer awaiting an answer; more chunks wait. Default 64. */
  readonly maxInflightRequests?: number;
  /** Bytes a peer's stream may hold unsent (a slow peer) before messages wait in its queue. Default 8 MiB. */
  readonly maxBufferedBytes?: number;
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
  /** Requests sent to peers: frame streams opened, and snapshot chunks. */
  requestsSent: number;
  /** Frames written on the streams, and the messages sent (`messagesSent / framesSent` is the coalescing). */
  framesSent: number;
  messagesSent: number;
  /** Host-level signals sent in frames (multi-Raft: liveness beats, quiesce and wake notices). */
  signalsSent: number;
  /** Messages dropped because their peer was unreachable or its queue was full. */
  messagesDropped: number;
  /** Requests a peer answered with a non-2xx status. */
  requestsRefusedByPeers: number;
  /** Messages from peers delivered to the node, and the snapshot chunks among them (each a request of its own). */
  messagesReceived: number;
  chunksReceived: number;
  /** Requests this node refused (4xx). */
  requestsRefused: number;
  /** Sessions opened to peers. */
  connects: number;
}

export class Http2Network extends NetworkActor {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly stats: Http2NetworkStats;
  protected readonly options: Http2NetworkOptions;
  private readonly endpoint: Http2Endpoint;

  constructor(options: Http2NetworkOptions) {
    super();
    this.options = options;
    this.id = options.id;
    this.clusterId = options.clusterId;
    this.endpoint = new Http2Endpoint(options, {
      running: () => this.attached,
      // A single-group node is group "": a frame for a named group is meant for a host of many.
      hostsGroup: (group) => group === '',
      admit: (from, credentials) => this.admitSender(from, credentials),
      deliver: (from, _group, message) => this.delivered(from, message),
      signalSchema: null,
      signalled: () => undefined,
      unreachable: (peer) => this.unreachable(peer),
    });
    this.stats = this.endpoint.stats;
    this.endpoint.setPeers(options.peers);
  }

  /** The port the server listens on (after `listen`). */
  get port(): number {
    return this.endpoint.server.port;
  }

  /** Start accepting peers. Rejects with `NetworkListenError` (for example code `PORT_IN_USE`). */
  listen(): Promise<number> {
    return this.endpoint.listen();
  }

  /**
   * Add a peer at run time, or give a known one a new address (a member added by a membership change): it may then
   * send to this node, and messages to it go to `address` (`host:port`). A changed address drops the old session.
   * This node's own id is ignored.
   */
  setPeer(peer: NodeId, address: string): void {
    this.endpoint.setPeer(peer, address);
  }

  /** The configuration says where its members are: add the new ones, follow changed addresses. */
  protected override onSetPeerAddresses({ addresses }: SetPeerAddresses): void {
    this.endpoint.setPeers(addresses);
  }

  /** Every peer this node knows: id -> `host:port`. */
  peers(): Record<NodeId, string> {
    return this.endpoint.links.addresses();
  }

  /** Serve `method path` with a handler that gets the whole (size-limited) body. */
  route(method: string, path: string, handler: RouteHandler): void {
    this.endpoint.server.route(method, path, handler);
  }

  /**
   * Serve `method path` with the raw request stream: nothing is buffered or size-limited, the handler owns the
   * stream and must answer it. Meant for transfers too large to buffer (snapshot chunks are not: they use a buffered
   * route). Sender checks are the handler's.
   */
  rawRoute(method: string, path: string, handler: RawRouteHandler): void {
    this.endpoint.server.rawRoute(method, path, handler);
  }

  /**
   * Close every session and stop listening. Requests in flight are abandoned (Raft resends what matters).
   * Idempotent; called when the node stops the actor.
   */
  close(): Promise<void> {
    return this.endpoint.close();
  }

  protected override onStop(): Promise<void> {
    return this.close();
  }

  protected onSend({ to, message }: Send): void {
    this.endpoint.links.send(to, '', message);
  }

  /**
   * Open a request stream to `peer` on its session, for transfers too large to buffer: the caller writes the
   * body as it reads it, so nothing large is buffered. Null when the peer has no open session right now.
   */
  protected openStream(peer: NodeId, path: string, headers: Record<string, string> = {}): ClientHttp2Stream | null {
    return this.endpoint.links.openStream(peer, path, headers);
  }

  /**
   * Who may send Raft messages: by default, exactly the configured peers. Return a refusal to turn the request away.
   * A join endpoint (membership changes, later) overrides this to admit a joining node.
   */
  protected admitSender(from: NodeId, credentials: SenderCredentials): RequestRefusal | null {
    return this.endpoint.admitPeer(from, credentials);
  }
}
